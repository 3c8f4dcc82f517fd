"""The newsletter: sign-up with double opt-in (public pages and the portal), campaigns written in Markdown for an
audience, sent once through the outbox at a steady rate, and unsubscribing in one click (RFC 8058).

A sign-up makes a pending subscriber and emails a confirmation link (signed, with an expiry, and usable once: the
nonce it carries is cleared when used); only confirmed subscribers get newsletters. Every newsletter carries its
subscriber's own unsubscribe link, whose random token is the only authority needed to leave.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from extensions import db
from filters import gettext as _
from models import (
    AUDIENCES, MAX_ID, SUBSCRIBER_STATES, ClientEmail, ClientLogin, ClientProfile, ClientStatus, NewsletterCampaign,
    NewsletterDelivery, NewsletterSubscriber, OutboxMessage, StaffUser, Territory, utcnow,
)
from services import spam
from services.accounts import clean_email, normalize_email
from services.errors import DomainError, FieldErrors
from services.outbox import PLACEHOLDER, external_url, queue_email
from services.settings import business
from services.texts import markdown_html

FORM_SALT = "newsletter-form"
CONFIRM_SALT = "newsletter-confirm"
MIN_SECONDS = 3  # a person takes longer than this to type an address
MAX_AGE = 24 * 3600
BODY_MAX = 50_000
PER_PAGE = 50
NAME_MAX = 160  # NewsletterSubscriber.name; a login's or profile's name may be 80 + 1 + 80
PENDING, CONFIRMED, UNSUBSCRIBED = "pending", "confirmed", "unsubscribed"
KIND, TEST_KIND, CONFIRM_KIND = "newsletter", "newsletter-test", "newsletter-confirm"


class LinkProblem(DomainError):
    """A confirmation link that cannot be used: `reason` is invalid, expired or used."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def new_form_key() -> str:
    return spam.new_form_key(FORM_SALT)


def subscribe(email: str, name: str, signed_key: str, honeypot: str) -> str:
    """A sign-up from a public page. Returns what happened ("pending", "known" or "ignored"); every outcome is
    answered alike, so the page never tells whether an address was subscribed already."""
    if honeypot.strip():
        return "ignored"
    address = clean_email(email)
    try:
        spam.read_form_key(signed_key, FORM_SALT, MIN_SECONDS, MAX_AGE)
    except spam.TooFast:
        return "ignored"
    return _sign_up(address, name.strip(), "public")


def _sign_up(address: str, name: str, source: str) -> str:
    """Make (or wake) the subscriber of `address` as pending and email it a confirmation link; a confirmed one
    is left as it is ("known")."""
    name = name[:NAME_MAX]
    subscriber = _by_email(address)
    if subscriber is not None and subscriber.state == CONFIRMED:
        return "known"
    if subscriber is None:
        subscriber = NewsletterSubscriber(email=address, name=name, source=source, state=PENDING)
        try:
            with db.session.begin_nested():  # two sign-ups of one address at once: the second finds the first
                db.session.add(subscriber)
        except IntegrityError:
            subscriber = _by_email(address)
            if subscriber.state == CONFIRMED:
                return "known"
    subscriber.state, subscriber.unsubscribed_at = PENDING, None
    subscriber.name = subscriber.name or name
    subscriber.client_id = subscriber.client_id or _client_of(address)
    if not subscriber.name and subscriber.client_id:
        subscriber.name = db.session.get(ClientProfile, subscriber.client_id).name[:NAME_MAX]
    subscriber.confirm_nonce = secrets.token_hex(16)
    db.session.flush()
    _send_confirmation(subscriber)
    return "pending"


def _by_email(address: str) -> NewsletterSubscriber | None:
    return db.session.scalar(select(NewsletterSubscriber).where(NewsletterSubscriber.email == address))


def _client_of(address: str) -> int | None:
    """The client profile whose email (or login) this is, if any."""
    return (db.session.scalar(select(ClientEmail.client_id).where(func.lower(ClientEmail.email) == address)
                              .order_by(ClientEmail.id).limit(1))
            or db.session.scalar(select(ClientLogin.client_id).where(ClientLogin.email == address)))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def _send_confirmation(subscriber: NewsletterSubscriber) -> None:
    """The confirmation link of a double opt-in."""
    token = _serializer().dumps([subscriber.id, subscriber.confirm_nonce])
    queue_email(CONFIRM_KIND, [subscriber.email], _("Confirm your %(business)s newsletter", business=business().name),
                "newsletter_confirm", secrets={"link": external_url("newsletter.confirm", token=token)},
                subscriber=subscriber, days=current_app.config["NEWSLETTER_CONFIRM_DAYS"])


def check_confirmation(token: str) -> NewsletterSubscriber:
    """The subscriber a confirmation link is for; LinkProblem when it is not ours, expired or used."""
    max_age = current_app.config["NEWSLETTER_CONFIRM_DAYS"] * 86400
    try:
        subscriber_id, nonce = _serializer().loads(token or "", max_age=max_age)
    except SignatureExpired:
        raise LinkProblem("expired", _("This confirmation link has expired. Sign up again to get a new one.")) \
            from None
    except (BadSignature, TypeError, ValueError):
        raise LinkProblem("invalid", _("This confirmation link is not valid. Check that the whole address was "
                                       "copied, or sign up again.")) from None
    subscriber = db.session.get(NewsletterSubscriber, subscriber_id) \
        if isinstance(subscriber_id, int) and 0 < subscriber_id <= MAX_ID else None
    if subscriber is None:
        raise LinkProblem("invalid", _("This confirmation link is not valid any more. Sign up again."))
    if subscriber.state != CONFIRMED and subscriber.confirm_nonce != nonce:
        raise LinkProblem("used", _("This confirmation link has been used already. Sign up again to get a new one."))
    return subscriber


def confirm(token: str) -> NewsletterSubscriber:
    """Confirm the sign-up of a link (once: the conditional update clears its nonce)."""
    subscriber = check_confirmation(token)
    if subscriber.state == CONFIRMED:
        return subscriber
    done = db.session.execute(
        update(NewsletterSubscriber)
        .where(NewsletterSubscriber.id == subscriber.id, NewsletterSubscriber.confirm_nonce == subscriber.confirm_nonce)
        .values(state=CONFIRMED, confirm_nonce=None, confirmed_at=utcnow(), unsubscribed_at=None,
                unsubscribed_campaign_id=None)
        .execution_options(synchronize_session=False))
    db.session.refresh(subscriber)
    if done.rowcount != 1 and subscriber.state != CONFIRMED:
        raise LinkProblem("used", _("This confirmation link has been used already. Sign up again to get a new one."))
    return subscriber


def by_token(token: str) -> NewsletterSubscriber | None:
    """The subscriber an unsubscribe link names, or None."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(NewsletterSubscriber).where(NewsletterSubscriber.token == token))


def unsubscribe(subscriber: NewsletterSubscriber, campaign_id: int | None = None) -> None:
    """Stop sending to this subscriber at once; `campaign_id` is the campaign whose link was used, if one of its
    deliveries went to them (counted on the campaigns page)."""
    if subscriber.state == UNSUBSCRIBED:
        return
    if campaign_id is not None and not db.session.scalar(select(NewsletterDelivery.id).where(
            NewsletterDelivery.campaign_id == campaign_id, NewsletterDelivery.subscriber_id == subscriber.id)):
        campaign_id = None
    subscriber.state, subscriber.unsubscribed_at, subscriber.confirm_nonce = UNSUBSCRIBED, utcnow(), None
    subscriber.unsubscribed_campaign_id = campaign_id


def state_for(email: str | None) -> str | None:
    """The newsletter state of an address (a client's login), or None when it never signed up."""
    if not email:
        return None
    return db.session.scalar(select(NewsletterSubscriber.state)
                             .where(NewsletterSubscriber.email == normalize_email(email)))


def set_client_subscription(login: ClientLogin, wanted: bool) -> str | None:
    """A client's "Send me the newsletter" box. Ticked, it sends a confirmation link as a public sign-up does
    (a login's address is not proof: self-registration does not check it); unticked, it unsubscribes at once."""
    subscriber = _by_email(normalize_email(login.email))
    if wanted:
        if subscriber is None or subscriber.state == UNSUBSCRIBED:
            _sign_up(normalize_email(login.email), login.name if login.name != login.email else "", "portal")
        elif subscriber.state == PENDING and subscriber.confirm_nonce is None:
            _sign_up(subscriber.email, "", "portal")
    elif subscriber is not None:
        unsubscribe(subscriber)
    return state_for(login.email)


@dataclass
class Draft:
    subject: str
    body_markdown: str
    audience: str = "all"
    territory_id: int | None = None
    client_status: str | None = None


def check_draft(draft: Draft) -> Draft:
    """Everything staff typed, checked at once: FieldErrors names each field refused."""
    errors: dict[str, str] = {}
    subject = " ".join(draft.subject.split())  # one line: it becomes the email's Subject header
    if not subject:
        errors["subject"] = _("Write a subject.")
    elif len(subject) > 200:
        errors["subject"] = _("Keep the subject to 200 characters.")
    if not draft.body_markdown.strip():
        errors["body_markdown"] = _("Write the newsletter.")
    elif len(draft.body_markdown) > BODY_MAX:
        errors["body_markdown"] = _("Keep the newsletter to %(num)d characters.", num=BODY_MAX)
    if draft.audience not in AUDIENCES:
        errors["audience"] = _("Choose who gets it from the list.")
    territory_id = draft.territory_id if draft.audience == "territory" else None
    status = draft.client_status if draft.audience == "status" else None
    if draft.audience == "territory" and (territory_id is None or not 0 < territory_id <= MAX_ID
                                          or db.session.get(Territory, territory_id) is None):
        errors["territory_id"] = _("Choose a territory.")
    if draft.audience == "status" and status not in {s.value for s in ClientStatus}:
        errors["client_status"] = _("Choose a client status.")
    if errors:
        raise FieldErrors(errors)
    return Draft(subject, draft.body_markdown, draft.audience, territory_id, status)


def create_campaign(draft: Draft, staff: StaffUser) -> NewsletterCampaign:
    draft = check_draft(draft)
    campaign = NewsletterCampaign(subject=draft.subject, body_markdown=draft.body_markdown, audience=draft.audience,
                                  territory_id=draft.territory_id, client_status=draft.client_status,
                                  created_by_id=staff.id)
    db.session.add(campaign)
    db.session.flush()
    return campaign


def update_campaign(campaign: NewsletterCampaign, draft: Draft) -> NewsletterCampaign:
    """Change a draft; a campaign sent meanwhile (by a conditional update) is refused."""
    draft = check_draft(draft)
    changed = db.session.execute(
        update(NewsletterCampaign).where(NewsletterCampaign.id == campaign.id, NewsletterCampaign.state == "draft")
        .values(subject=draft.subject, body_markdown=draft.body_markdown, audience=draft.audience,
                territory_id=draft.territory_id, client_status=draft.client_status, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        raise DomainError(_("This newsletter has been sent: it cannot be changed any more."))
    db.session.refresh(campaign)
    return campaign


def audience_query(audience: str, territory_id: int | None = None, client_status: str | None = None):
    """The confirmed subscribers an audience names (clients found by the profile a subscriber is linked to)."""
    query = select(NewsletterSubscriber).where(NewsletterSubscriber.state == CONFIRMED)
    if audience == "all":
        return query
    query = query.join(ClientProfile, ClientProfile.id == NewsletterSubscriber.client_id)
    if audience == "active":
        return query.where(ClientProfile.status == ClientStatus.ACTIVE)
    if audience == "territory" and territory_id is not None and 0 < territory_id <= MAX_ID:
        return query.where(ClientProfile.territory_id == territory_id)
    if audience == "status" and client_status in {s.value for s in ClientStatus}:
        return query.where(ClientProfile.status == ClientStatus(client_status))
    return query.where(False)


def count_audience(audience: str, territory_id: int | None = None, client_status: str | None = None) -> int:
    query = audience_query(audience, territory_id, client_status).with_only_columns(func.count(NewsletterSubscriber.id))
    return db.session.scalar(query.order_by(None))


def campaign_audience_count(campaign: NewsletterCampaign) -> int:
    return count_audience(campaign.audience, campaign.territory_id, campaign.client_status)


def body_html(campaign: NewsletterCampaign) -> Markup:
    return markdown_html(campaign.body_markdown)


def _queue(campaign: NewsletterCampaign, kind: str, to: str, name: str, unsubscribe_url: str,
           at: datetime | None = None, test: bool = False) -> OutboxMessage:
    """One newsletter email, carrying the List-Unsubscribe headers of RFC 2369 and RFC 8058 (its link a secret,
    filled when sent) and Precedence: bulk, which vacation responders heed (RFC 3834)."""
    subject = (_("[Test] %(subject)s", subject=campaign.subject) if test else campaign.subject)[:200]
    link = PLACEHOLDER.format("unsubscribe")
    return queue_email(kind, [to], subject, "newsletter", secrets={"unsubscribe": unsubscribe_url},
                       headers={"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                                "Precedence": "bulk"},
                       next_attempt_at=at, campaign=campaign, body_html=body_html(campaign), name=name, test=test)


def send_test(campaign: NewsletterCampaign, staff: StaffUser) -> OutboxMessage:
    """The campaign as a subscriber will get it, to the staff member's own email (its unsubscribe link is for show)."""
    return _queue(campaign, TEST_KIND, staff.email, staff.first_name,
                  external_url("newsletter.unsubscribe_page", token="test-only"), test=True)


def send_campaign(campaign_id: int, staff: StaffUser) -> int:
    """Send a draft to its audience, once: a conditional update marks it sent, so a second post (or a second
    manager at the same moment) finds it sent and queues nothing. Each recipient's message waits its turn,
    NEWSLETTER_PER_MINUTE a minute, so the outbox sends them steadily. Returns how many were queued."""
    campaign = db.session.get(NewsletterCampaign, campaign_id)
    if campaign is None or not campaign.is_draft:
        raise DomainError(_("This newsletter has been sent already."))
    if campaign_audience_count(campaign) == 0:
        raise DomainError(_("Nobody is in this audience yet: no confirmed subscriber would get it."))
    now = utcnow()
    claimed = db.session.execute(
        update(NewsletterCampaign).where(NewsletterCampaign.id == campaign_id, NewsletterCampaign.state == "draft")
        .values(state="sent", sent_at=now, sent_by_id=staff.id).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise DomainError(_("This newsletter has been sent already."))
    db.session.refresh(campaign)
    gap = 60.0 / max(1, current_app.config["NEWSLETTER_PER_MINUTE"])
    subscribers = db.session.scalars(audience_query(campaign.audience, campaign.territory_id, campaign.client_status)
                                     .order_by(NewsletterSubscriber.id)).all()
    for n, subscriber in enumerate(subscribers):
        url = external_url("newsletter.unsubscribe_page", token=subscriber.token, c=campaign.id)
        message = _queue(campaign, KIND, subscriber.email, subscriber.name, url, now + timedelta(seconds=n * gap))
        db.session.add(NewsletterDelivery(campaign_id=campaign.id, subscriber_id=subscriber.id, message=message))
    campaign.recipient_count = len(subscribers)
    db.session.flush()
    return len(subscribers)


def load_campaign(campaign_id: int) -> NewsletterCampaign | None:
    return db.session.get(NewsletterCampaign, campaign_id, options=[selectinload(NewsletterCampaign.territory),
                                                                    selectinload(NewsletterCampaign.sent_by)])


def load_subscriber(subscriber_id: int) -> NewsletterSubscriber | None:
    return db.session.get(NewsletterSubscriber, subscriber_id)


@dataclass
class CampaignRow:
    campaign: NewsletterCampaign
    queued: int = 0
    sent: int = 0
    failing: int = 0
    unsubscribed: int = 0


def list_campaigns(limit: int = 200) -> list[CampaignRow]:
    """The latest campaigns with their counts, in a few statements whatever their number."""
    campaigns = db.session.scalars(select(NewsletterCampaign).options(selectinload(NewsletterCampaign.territory))
                                   .order_by(NewsletterCampaign.created_at.desc(), NewsletterCampaign.id.desc())
                                   .limit(limit)).all()
    return _with_counts(campaigns)


def campaign_row(campaign: NewsletterCampaign) -> CampaignRow:
    return _with_counts([campaign])[0]


def _with_counts(campaigns) -> list[CampaignRow]:
    rows = {c.id: CampaignRow(c) for c in campaigns}
    if not rows:
        return []
    counts = db.session.execute(
        select(NewsletterDelivery.campaign_id, func.count(NewsletterDelivery.id), func.count(OutboxMessage.sent_at),
               func.sum(case((OutboxMessage.sent_at.is_(None) & (OutboxMessage.last_error != ""), 1), else_=0)))
        .outerjoin(OutboxMessage, OutboxMessage.id == NewsletterDelivery.message_id)
        .where(NewsletterDelivery.campaign_id.in_(rows)).group_by(NewsletterDelivery.campaign_id))
    for campaign_id, queued, sent, failing in counts:
        rows[campaign_id].queued, rows[campaign_id].sent, rows[campaign_id].failing = queued, sent, failing or 0
    left = db.session.execute(
        select(NewsletterSubscriber.unsubscribed_campaign_id, func.count(NewsletterSubscriber.id))
        .where(NewsletterSubscriber.unsubscribed_campaign_id.in_(rows))
        .group_by(NewsletterSubscriber.unsubscribed_campaign_id))
    for campaign_id, number in left:
        rows[campaign_id].unsubscribed = number
    return list(rows.values())


@dataclass
class SubscriberPage:
    rows: list[NewsletterSubscriber]
    total: int
    page: int
    pages: int


def list_subscribers(q: str = "", state: str = "", page: int = 1) -> SubscriberPage:
    """A page of subscribers, newest first, by a search of email or name and a state (clients loaded at once)."""
    query = select(NewsletterSubscriber)
    term = normalize_email(q)[:100]
    if term:
        pattern = "%" + term.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
        query = query.where(or_(NewsletterSubscriber.email.like(pattern, escape="/"),
                                func.lower(NewsletterSubscriber.name).like(pattern, escape="/")))
    if state in SUBSCRIBER_STATES:
        query = query.where(NewsletterSubscriber.state == state)
    total = db.session.scalar(query.with_only_columns(func.count(NewsletterSubscriber.id)).order_by(None))
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    rows = db.session.scalars(query.options(selectinload(NewsletterSubscriber.client))
                              .order_by(NewsletterSubscriber.created_at.desc(), NewsletterSubscriber.id.desc())
                              .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    return SubscriberPage(list(rows), total, page, pages)


def subscriber_counts() -> dict[str, int]:
    found = dict(db.session.execute(select(NewsletterSubscriber.state, func.count(NewsletterSubscriber.id))
                                    .group_by(NewsletterSubscriber.state)).all())
    return {state: found.get(state, 0) for state in SUBSCRIBER_STATES}
