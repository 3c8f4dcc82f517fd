"""Every email Pawtal sends: one function per message, each queued in the outbox (services.outbox)."""
from __future__ import annotations

from filters import formatted, money, month_param, ngettext
from filters import gettext as _
from models import ClientLogin, ClientProfile, Invitation, StaffUser, VisitStatus
from services import invoice_pdf
from services.outbox import MESSAGE_TO_CLIENT, external_url, queue_email
from services.settings import business, get_settings


def send_invitation_email(invitation: Invitation, client: ClientProfile, code: str, token: str) -> None:
    """The "Account Invitation" to every primary email of the profile."""
    name = business().name
    queue_email(
        "invitation", client.primary_emails, _("Your %(business)s account invitation", business=name), "invitation",
        secrets={"link": external_url("auth.register", invite=token), "code": format_code(code)},
        client=client, invitation=invitation,
    )


def send_password_email(account: ClientLogin | StaffUser, token: str, purpose: str) -> None:
    """A link to set (a new account: a login staff added, a team member invited) or reset a password."""
    name = business().name
    staff = isinstance(account, StaffUser)
    if purpose == "reset":
        subject = _("Reset your %(business)s password", business=name)
    elif staff:
        subject = _("You're invited to the %(business)s team", business=name)
    else:
        subject = _("Set your %(business)s password", business=name)
    queue_email(
        f"{'staff-' if staff else ''}password-{purpose}", [account.email], subject, "password_link",
        secrets={"link": external_url("staff.open_password_link" if staff else "auth.open_password_link",
                                      purpose=purpose, token=token)},
        login=account, purpose=purpose, staff=staff,
    )


def send_first_password_email(client: ClientProfile, address: str, token: str) -> None:
    """A client on file with no login asked for a password: a link to choose one, which creates their login."""
    queue_email(
        "password-first", [address], _("Set your %(business)s password", business=business().name),
        "password_first", secrets={"link": external_url("auth.open_first_password_link", token=token)},
        client=client, address=address,
    )


def send_password_set_by_staff_email(login: ClientLogin, staff: StaffUser) -> None:
    """Tell a client that the business set their password (never the password itself)."""
    queue_email(
        "password-set-by-staff", [login.email], _("%(business)s set a password for you", business=business().name),
        "password_set_by_staff", login=login, staff=staff, sign_in_url=external_url("auth.login"),
        forgot_url=external_url("auth.forgot_password"),
    )


def send_sign_in_email_changed(account: StaffUser, old: str, new: str) -> None:
    """Tell the old address that the account now signs in with another one (in case it was not them)."""
    queue_email(
        "sign-in-email-changed", [old], _("Your %(business)s sign-in email was changed",
                                          business=business().name),
        "sign_in_email_changed", account=account, old=old, new=new,
    )


def send_unknown_reset_email(address: str) -> None:
    """Tell the team that someone asked to reset a password for an address with no client login."""
    queue_email(
        "password-unknown", [business().email], _("Password help asked for an unknown address"),
        "password_unknown", address=address, desk_url=external_url("clients.index", q=address),
    )


def format_code(code: str) -> str:
    """ABCDEFGH -> ABCD-EFGH, easier to read aloud and type."""
    return f"{code[:4]}-{code[4:]}"


def _client_recipients(client: ClientProfile, login: ClientLogin | None = None) -> list[str]:
    """Who hears about a client's visits: the login that asked, else every active login, else the
    profile's primary emails."""
    if login is not None and login.active:
        return [login.email]
    active = [each.email for each in client.logins if each.active]
    return active or client.primary_emails


def visit_lines(visits) -> list[dict]:
    """What an email lists of each visit, in the business's time zone."""
    return [{"day": formatted(v.day, "day"), "when": v.when,
             "service": v.service.name, "pets": ", ".join(p.name for p in v.pets), "price_cents": v.price_cents,
             "sitter": v.sitter.first_name if v.sitter else "", "status": v.status.value,
             "late": v.late_cancellation} for v in visits]


def send_request_received_email(visit_request) -> None:
    """Tell the business a client asked for visits, with a link to the request."""
    client = visit_request.client
    # The English says "visits" even for one, as it always has; translations still get their plural forms.
    subject = ngettext("Visit request from %(client)s (%(num)d visit)",
                       "Visit request from %(client)s (%(num)d visits)", len(visit_request.visits), client=client.name)
    queue_email(
        "request-received", [business().email], subject, "request_received",
        client=client, visit_request=visit_request, lines=visit_lines(visit_request.visits),
        total_cents=visit_request.total_cents, link=external_url("requests.show", request_id=visit_request.id),
    )


def send_request_decided_email(visit_request) -> None:
    """Tell the client what was approved (with the sitter) and what was declined (with the reason)."""
    client = visit_request.client
    approved = [v for v in visit_request.visits if v.status == VisitStatus.SCHEDULED]
    declined = [v for v in visit_request.visits if v.status == VisitStatus.DECLINED]
    name = business().name
    if approved and declined:
        subject = _("%(business)s: some of your visits are booked", business=name)
    elif approved:
        subject = _("%(business)s: your visits are booked", business=name)
    else:
        subject = _("%(business)s: we cannot take your visit request", business=name)
    queue_email(
        "request-decided", _client_recipients(client, visit_request.login), subject, "request_decided",
        client=client, visit_request=visit_request, approved=visit_lines(approved), declined=visit_lines(declined),
        reason=visit_request.decline_reason, link=external_url("portal.calendar", month=month_param(visit_request.visits[0].day)),
    )


def send_visit_cancelled_email(visit, staff) -> None:
    """Staff cancelled a visit: the client hears why."""
    subject = _("%(business)s: your visit on %(day)s is cancelled", business=business().name,
                day=formatted(visit.day, "day_month"))
    queue_email(
        "visit-cancelled", _client_recipients(visit.client), subject, "visit_cancelled",
        client=visit.client, lines=visit_lines([visit]), reason=visit.reason,
        link=external_url("portal.calendar", month=month_param(visit.day)),
    )


def send_client_cancelled_email(visit, login, fee=None) -> None:
    """A client cancelled a visit: the business hears, marked when it is a late cancellation, with the fee
    (`fee`, a services.fees.Quote) that goes on the client's next invoice."""
    who, day = visit.client.name, formatted(visit.day, "day_month")
    charged = fee is not None and not fee.free
    if charged:
        subject = _("%(client)s cancelled a visit on %(day)s (LATE cancellation, fee %(fee)s)", client=who, day=day,
                    fee=money(fee.cents))
    elif visit.late_cancellation:
        subject = _("%(client)s cancelled a visit on %(day)s (LATE cancellation)", client=who, day=day)
    else:
        subject = _("%(client)s cancelled a visit on %(day)s", client=who, day=day)
    queue_email(
        "client-cancelled", [business().email], subject, "client_cancelled",
        client=visit.client, login=login, lines=visit_lines([visit]), late=visit.late_cancellation,
        fee=fee if charged else None, link=external_url("schedule.index", view="day", date=visit.day.isoformat()),
    )


def send_blockout_notice_email(blockout, visits) -> None:
    """A new block-out covers some of a client's open visits: they hear which, and that we will call."""
    client = visits[0].client
    subject = _("%(business)s is closed on some of your visit days", business=business().name)
    queue_email(
        "blockout-notice", _client_recipients(client), subject, "blockout_notice",
        client=client, blockout=blockout, lines=visit_lines(visits),
        link=external_url("portal.calendar", month=month_param(blockout.starts_on)),
    )


def _sitter_address(sitter: StaffUser | None, actor=None) -> list[str]:
    """Where a sitter hears about her visits: nowhere when she made the change herself or has left the team."""
    if sitter is None or not sitter.active or (getattr(actor, "is_staff", False) and actor.id == sitter.id):
        return []
    return [sitter.email]


def sitter_visit_lines(visits, links: bool = True) -> list[dict]:
    """What a sitter's email lists of each visit: never a price; a link to the visit on the staff schedule."""
    return [{"day": formatted(v.day, "day"), "when": v.when, "service": v.service.name, "client": v.client.name,
             "pets": ", ".join(p.name for p in v.pets),
             "link": external_url("schedule.show_visit", visit_id=v.id) if links else ""}
            for v in sorted(visits, key=lambda v: (v.starts_at, v.id))]


def send_sitter_assigned_email(sitter: StaffUser | None, visits, actor=None) -> None:
    """Visits were given to a sitter (approved, added or reassigned to her): one message listing them."""
    to = _sitter_address(sitter, actor)
    if not to or not visits:
        return
    lines = sitter_visit_lines(visits)
    subject = ngettext("A visit for you: %(client)s on %(day)s", "%(num)d visits for you: %(client)s from %(day)s",
                       len(lines), client=visits[0].client.name, day=lines[0]["day"])
    queue_email("sitter-assigned", to, subject, "sitter_assigned", sitter=sitter, lines=lines,
                link=external_url("schedule.index", view="week", date=min(v.day for v in visits).isoformat()))


def send_sitter_unassigned_email(sitter: StaffUser | None, visit, actor=None) -> None:
    """A visit was given to another sitter: the one who had it no longer goes (no link: it is not hers now)."""
    to = _sitter_address(sitter, actor)
    if not to:
        return
    subject = _("No longer yours: %(client)s on %(day)s", client=visit.client.name,
                day=formatted(visit.day, "day_month"))
    queue_email("sitter-unassigned", to, subject, "sitter_unassigned", sitter=sitter,
                lines=sitter_visit_lines([visit], links=False))


def send_sitter_visit_moved_email(visit, was: str, actor=None) -> None:
    """Staff moved one of a sitter's visits to another day or time."""
    to = _sitter_address(visit.sitter, actor)
    if not to:
        return
    subject = _("Visit moved: %(client)s, now on %(day)s", client=visit.client.name,
                day=formatted(visit.day, "day_month"))
    queue_email("sitter-visit-moved", to, subject, "sitter_visit_moved", sitter=visit.sitter, was=was,
                lines=sitter_visit_lines([visit]))


def send_sitter_cancelled_email(visit, by) -> None:
    """One of a sitter's visits was cancelled, by the client or by staff (with their reason)."""
    to = _sitter_address(visit.sitter, by)
    if not to:
        return
    subject = _("Visit cancelled: %(client)s on %(day)s", client=visit.client.name,
                day=formatted(visit.day, "day_month"))
    queue_email("sitter-visit-cancelled", to, subject, "sitter_visit_cancelled", sitter=visit.sitter,
                by_client=not getattr(by, "is_staff", False), client=visit.client, reason=visit.reason,
                lines=sitter_visit_lines([visit]))


def send_visit_reassigned_email(visit, old_sitter: StaffUser | None) -> None:
    """Staff gave a client's visit to another sitter: the client hears who comes now."""
    subject = _("%(business)s: a new sitter for your visit on %(day)s", business=business().name,
                day=formatted(visit.day, "day_month"))
    queue_email(
        "visit-reassigned", _client_recipients(visit.client), subject, "visit_reassigned",
        client=visit.client, lines=visit_lines([visit]), sitter=visit.sitter.first_name,
        old_sitter=old_sitter.first_name if old_sitter else "",
        link=external_url("portal.calendar", month=month_param(visit.day)),
    )


def send_visit_moved_email(visit, was: str) -> None:
    """Staff moved a client's visit to another day or time: the client hears when it is now."""
    subject = _("%(business)s: your visit is moved to %(day)s", business=business().name,
                day=formatted(visit.day, "day_month"))
    queue_email(
        "visit-moved", _client_recipients(visit.client), subject, "visit_moved",
        client=visit.client, lines=visit_lines([visit]), was=was,
        link=external_url("portal.calendar", month=month_param(visit.day)),
    )


def send_visit_report_email(visit, report, thumbnails: list[str]) -> None:
    """The sitter sent (or staff corrected) a visit's report: the client reads it, photos as thumbnails."""
    business_name = business().name
    subject = (_("%(business)s: %(pets)s's visit report, %(day)s", business=business_name,
                 pets=", ".join(p.name for p in visit.pets) or visit.service.name, day=formatted(visit.day, "day_month"))
               if report.version == 1 else
               _("%(business)s: corrected visit report, %(day)s", business=business_name,
                 day=formatted(visit.day, "day_month")))
    queue_email(
        "visit-report", _client_recipients(visit.client), subject, "visit_report",
        client=visit.client, visit=visit, report=report, lines=visit_lines([visit]), thumbnails=thumbnails,
        link=external_url("portal.show_report", visit_id=visit.id),
    )


def _account_recipients(client: ClientProfile) -> list[str]:
    """Who receives a client's invoices and receipts: every active login, else the primary emails."""
    return _client_recipients(client)


def send_invoice_email(invoice) -> None:
    """An issued invoice: its lines and totals in the body, how to pay, a link to it in the portal, and
    the invoice as a PDF attached."""
    name = business().name
    queue_email("invoice", _account_recipients(invoice.client),
                _("Invoice %(number)s from %(business)s", number=invoice.number, business=name), "invoice",
                attachments=[invoice_pdf.email_attachment(invoice)],
                invoice=invoice, client=invoice.client, how_to_pay=get_settings().how_to_pay,
                link=external_url("portal.invoice", invoice_id=invoice.id))


def send_invoice_reminder_email(invoice, days_overdue: int) -> None:
    """An invoice still open some days after its due date."""
    name = business().name
    queue_email("invoice-reminder", _account_recipients(invoice.client),
                _("Reminder: invoice %(number)s from %(business)s is overdue", number=invoice.number,
                  business=name), "invoice_reminder",
                invoice=invoice, client=invoice.client, days=days_overdue, how_to_pay=get_settings().how_to_pay,
                link=external_url("portal.invoice", invoice_id=invoice.id))


def send_receipt_email(entry, tip_refunded_cents: int = 0) -> None:
    """A receipt for a payment (recorded by staff, or made online), or for a refund of one (with the part of
    its tip refunded too, if any)."""
    name = business().name
    subject = (_("Refund receipt from %(business)s", business=name) if entry.kind == "refund"
               else _("Payment receipt from %(business)s", business=name))
    client = entry.payment.client
    allocations: dict[str, int] = {}
    if entry.kind == "payment":
        for allocation in entry.payment.allocations:
            allocations[allocation.invoice.title] = allocations.get(allocation.invoice.title, 0) + allocation.amount_cents
    queue_email(f"receipt-{entry.kind}", _account_recipients(client), subject, "receipt", entry=entry,
                payment=entry.payment, client=client,
                allocations=[{"number": number, "amount": amount} for number, amount in allocations.items() if amount],
                tip_refunded=tip_refunded_cents,
                link=external_url("portal.receipt", entry_id=entry.id))


def send_payment_failed_email(online, autopay: bool, next_try_on=None) -> None:
    """A card or bank payment that did not go through (an autopay charge declined, a bank debit returned):
    why, what is still due, and a link to pay in the portal."""
    client = online.client
    queue_email("payment-failed", _account_recipients(client),
                _("Your payment to %(business)s did not go through", business=business().name), "payment_failed",
                online=online, client=client, autopay=autopay, next_try_on=next_try_on,
                link=external_url("portal.pay"))


def send_intake_email(client: ClientProfile, intake, known_client: bool) -> None:
    """Tell the office of a new client from the public intake form (or of a known one who sent it again)."""
    subject = (_("An existing client sent the intake form: %(name)s", name=client.name) if known_client
               else _("New client from the intake form: %(name)s", name=client.name))
    queue_email("intake-received", [business().email], subject, "intake_received", client=client, intake=intake,
                known_client=known_client, profile_url=external_url("clients.show", client_id=client.id))


def send_message_to_client_email(thread, message) -> None:
    """The business wrote in a thread: the client (or the Contact page's visitor) reads it, with a link to the
    whole thread in the portal when they have a login and the portal shows messages. Written by a person, so not
    marked automatic."""
    client = thread.client
    recipients = _client_recipients(client) if client is not None else [thread.contact_email]
    link = (external_url("portal.thread", thread_id=thread.id)
            if client is not None and get_settings().portal_messages and any(each.active for each in client.logins)
            else "")
    subject = thread.subject if len(thread.messages) <= 1 else _("Re: %(subject)s", subject=thread.subject)
    queue_email(MESSAGE_TO_CLIENT, recipients, subject, "message_to_client", thread=thread, message=message, link=link)


def send_message_to_staff_email(thread, message, recipients: list[str]) -> None:
    """A client, visitor or colleague wrote in a thread: the staff it concerns read it, with a link to answer."""
    who = message.author_name or thread.contact_name
    queue_email("message-received", recipients, _("Message from %(name)s: %(subject)s", name=who, subject=thread.subject),
                "message_received", thread=thread, message=message, link=external_url("messages.show", thread_id=thread.id))


def send_message_assigned_email(thread, staff: StaffUser, by: StaffUser) -> None:
    queue_email("message-assigned", [staff.email], _("Assigned to you: %(subject)s", subject=thread.subject),
                "message_assigned", thread=thread, by=by, link=external_url("messages.show", thread_id=thread.id))
