"""The newsletter: signing up (public pages, the portal), confirming and unsubscribing by link (no sign-in), and
for owners and managers the campaigns (write, preview, test, send) and the subscriber list."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user

from access import client_required, id_arg, manager_required, or_404, public
from extensions import csrf, limiter
from filters import gettext as _
from forms.errors import show_errors
from forms.newsletter import CampaignForm, PortalNewsletterForm, SignupForm
from models import SUBSCRIBER_STATES, NewsletterCampaign, Territory, parse_id
from rendering import done, perform, render_page, submit
from services import newsletter, resources
from services.errors import DomainError

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter")


def _limit() -> str:
    return current_app.config["NEWSLETTER_LIMIT"]


def _signup_page(form: SignupForm, status: int = 200, sent: bool = False):
    form.form_key.data = newsletter.new_form_key()
    return render_page("newsletter/subscribe.html", "newsletter/_signup.html", status, form=form, sent=sent)


@bp.get("/subscribe")
@public
def subscribe_page():
    return _signup_page(SignupForm(formdata=None))


@bp.post("/subscribe")
@public
@csrf.exempt
@limiter.limit(_limit, methods=["POST"])
def subscribe():
    """Signed form key instead of the session's CSRF token (see forms.newsletter); the same answer whether the
    address was new, pending or subscribed already, and for a robot."""
    form = SignupForm()
    if not form.validate():
        return _signup_page(form, 422)
    try:
        newsletter.subscribe(form.email.data or "", form.name.data or "", form.form_key.data or "",
                             form.website.data or "")
    except DomainError as refused:
        show_errors(form, refused)
        return _signup_page(form, 422)
    return _signup_page(form, sent=True)


def _link_problem(problem: newsletter.LinkProblem):
    return render_template("newsletter/link_problem.html", message=problem.message), \
        404 if problem.reason == "invalid" else 400


@bp.get("/confirm/<token>")
@public
def confirm_page(token: str):
    """Shows a button: a link opened by a mail scanner confirms nothing (a GET changes no state)."""
    try:
        subscriber = newsletter.check_confirmation(token)
    except newsletter.LinkProblem as problem:
        return _link_problem(problem)
    return render_template("newsletter/confirm.html", subscriber=subscriber, token=token)


@bp.post("/confirm/<token>")
@public
def confirm(token: str):
    try:
        subscriber = newsletter.confirm(token)
    except newsletter.LinkProblem as problem:
        return _link_problem(problem)
    return render_template("newsletter/confirmed.html", subscriber=subscriber)


@bp.get("/unsubscribe/<token>")
@public
def unsubscribe_page(token: str):
    """The link of every newsletter: a page with a button (a GET changes no state)."""
    subscriber = or_404(newsletter.by_token(token))
    return render_template("newsletter/unsubscribe.html", subscriber=subscriber, token=token,
                           campaign_id=id_arg("c"))


@bp.post("/unsubscribe/<token>")
@public
@csrf.exempt
def unsubscribe(token: str):
    """The page's button, and the one-click POST of RFC 8058 (body List-Unsubscribe=One-Click) that a mail
    program sends without cookies: the unguessable token in the URL is the authority, so no CSRF token."""
    subscriber = or_404(newsletter.by_token(token))
    newsletter.unsubscribe(subscriber, id_arg("c"))
    return render_template("newsletter/unsubscribed.html", subscriber=subscriber)


@bp.post("/me")
@client_required
def portal_choice():
    """A client's "Send me the newsletter" box on the portal home."""
    form = PortalNewsletterForm()
    if not form.validate():
        abort(400)
    state = newsletter.set_client_subscription(current_user, bool(form.wanted.data))
    message = {"pending": _("Almost done: we emailed you a link to confirm."),
               "confirmed": _("You get the newsletter.")}.get(state or "", _("You will not get the newsletter."))
    return done(message, url_for("portal.index"), "newsletter/_portal.html", newsletter_state=state,
                newsletter_form=PortalNewsletterForm(formdata=None, wanted=state in ("pending", "confirmed")))


@bp.get("/")
@manager_required
def index():
    return render_page("newsletter/index.html", "newsletter/_campaigns.html", rows=newsletter.list_campaigns(),
                       counts=newsletter.subscriber_counts())


def _campaign_form(form: CampaignForm) -> CampaignForm:
    form.territory_id.choices = [(None, _("Choose…"))] + [(t.id, t.name) for t in resources.list_of(Territory)]
    return form


def _draft(form: CampaignForm) -> newsletter.Draft:
    return newsletter.Draft(form.subject.data or "", form.body_markdown.data or "", form.audience.data or "",
                            form.territory_id.data, form.client_status.data or None)


def _compose(form: CampaignForm, campaign: NewsletterCampaign | None, status: int):
    audience = newsletter.count_audience(form.audience.data or "all", form.territory_id.data,
                                         form.client_status.data) if status != 422 else None
    return render_page("newsletter/edit.html", "newsletter/_form.html", status, form=form, campaign=campaign,
                       audience_count=audience)


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def new():
    form = _campaign_form(CampaignForm())
    return submit(form, lambda: newsletter.create_campaign(_draft(form), current_user),
                  lambda campaign: done(_("Draft saved."), url_for("newsletter.edit", campaign_id=campaign.id)),
                  lambda status: _compose(form, None, status))


def campaign_or_404(campaign_id: int) -> NewsletterCampaign:
    return or_404(newsletter.load_campaign(campaign_id))


@bp.route("/<int:campaign_id>", methods=["GET", "POST"])
@manager_required
def edit(campaign_id: int):
    """A draft's page (write, see the audience, preview, test, send); a sent one is shown as it went out."""
    campaign = campaign_or_404(campaign_id)
    if not campaign.is_draft:
        refused = _("This newsletter has been sent: it cannot be changed any more.") if request.method == "POST" \
            else None
        return render_template("newsletter/show.html", campaign=campaign, body=newsletter.body_html(campaign),
                               row=newsletter.campaign_row(campaign), refused=refused), 409 if refused else 200
    form = _campaign_form(CampaignForm(obj=campaign) if request.method == "GET" else CampaignForm())
    return submit(form, lambda: newsletter.update_campaign(campaign, _draft(form)),
                  lambda saved: done(_("Draft saved."), url_for("newsletter.edit", campaign_id=saved.id)),
                  lambda status: _compose(form, campaign, status))


@bp.get("/audience")
@manager_required
def audience():
    """How many confirmed subscribers an audience has (the compose form asks as its choice changes)."""
    count = newsletter.count_audience(request.args.get("audience", "all"), id_arg("territory_id"),
                                      request.args.get("client_status"))
    return render_page("newsletter/audience.html", "newsletter/_audience.html", audience_count=count)


@bp.get("/<int:campaign_id>/preview")
@manager_required
def preview(campaign_id: int):
    campaign = campaign_or_404(campaign_id)
    return render_template("newsletter/preview.html", campaign=campaign, body=newsletter.body_html(campaign),
                           audience_count=newsletter.campaign_audience_count(campaign))


@bp.post("/<int:campaign_id>/test")
@manager_required
def send_test(campaign_id: int):
    campaign = campaign_or_404(campaign_id)
    newsletter.send_test(campaign, current_user)
    return done(_("A test is on its way to %(email)s.", email=current_user.email),
                url_for("newsletter.edit", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/send")
@manager_required
def send(campaign_id: int):
    campaign = campaign_or_404(campaign_id)
    back = url_for("newsletter.edit", campaign_id=campaign.id)
    return perform(lambda: newsletter.send_campaign(campaign.id, current_user),
                   lambda number: done(_("Sending to %(num)d subscribers.", num=number), back),
                   lambda error: done(error.message, back, category="error"))


@bp.get("/subscribers")
@manager_required
def subscribers():
    q, state = request.args.get("q", "")[:100], request.args.get("state", "")
    page = newsletter.list_subscribers(q, state, parse_id(request.args.get("page", "1")) or 1)
    return render_page("newsletter/subscribers.html", "newsletter/_subscribers.html", push_url=None, page=page,
                       q=q, state=state if state in SUBSCRIBER_STATES else "", states=SUBSCRIBER_STATES,
                       counts=newsletter.subscriber_counts())


@bp.post("/subscribers/<int:subscriber_id>/unsubscribe")
@manager_required
def remove(subscriber_id: int):
    """Staff take an address off the list (it asked by phone, or bounces): unsubscribed at once, row kept."""
    subscriber = or_404(newsletter.load_subscriber(subscriber_id))
    newsletter.unsubscribe(subscriber)
    return done(_("%(email)s will get no more newsletters.", email=subscriber.email), url_for("newsletter.subscribers"))
