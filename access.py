"""Who may use what: every view declares its rule (undeclared views are refused), and every object in a
URL is loaded through its service's loader with the signed-in account as the viewer, so another
client's or another sitter's id answers 404. The role-matrix tests read the rules from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from typing import Callable, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, g, make_response, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.exceptions import Forbidden

from models import (
    ClientProfile, Document, FormResponse, Invoice, LedgerEntry, Message, MessageThread, PaymentMethod, Pet, Photo, Role,
    Visit, VisitRequest,
    parse_id,
)
from services import billing, cards, clients, documents, forms, messages, onboarding, pets, two_factor, visits
from services.settings import get_settings

PUBLIC = "public"
CLIENT = "client"
STAFF = "staff"


def _declare(view: Callable, kind: str, roles: tuple[Role, ...] = ()) -> Callable:
    view.access = (kind, roles)
    return view


def public(view: Callable) -> Callable:
    """Anyone, signed in or not."""
    return _declare(view, PUBLIC)


def staff_required(*roles: Role) -> Callable:
    """Signed-in staff; with roles, only those roles."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return sign_in_first(STAFF)
            if not current_user.is_staff:
                abort(403)
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return _declare(wrapped, STAFF, roles)

    return decorator


def landing_page() -> str:
    """Where a signed-in account starts: a sitter on her day, managers at the client desk, a client in the portal."""
    if not current_user.is_staff:
        return "portal.index"
    return "clients.index" if current_user.can_manage else "today.index"


# What a manager who must set up two-factor sign-in may still open: the setup page, and signing out.
TWO_FACTOR_SETUP = "staff.two_factor_setup"
BEFORE_TWO_FACTOR = (TWO_FACTOR_SETUP, "staff.logout")


def require_two_factor_setup():
    """before_request hook: a manager the owner requires to use two-factor sign-in, who has not set it up, is sent
    to set it up from every page that is not public (an htmx request gets HX-Redirect)."""
    if request.endpoint in BEFORE_TWO_FACTOR:
        return None
    rule = rule_of(request.endpoint)  # a public page first: it does not even look at the session (/healthz)
    if rule is None or rule[0] == PUBLIC or not current_user.is_authenticated:
        return None
    if not two_factor.must_set_up(current_user):
        return None
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        response = make_response("", 401)
        response.headers["HX-Redirect"] = url_for(TWO_FACTOR_SETUP)
        return response
    return redirect(url_for(TWO_FACTOR_SETUP), 303)


def sign_in_first(kind: str):
    """To the sign-in page (staff's or clients'), coming back here after it.

    An htmx request (a search, a save) from a page whose session has ended would swap the sign-in page
    into a table: it gets 401 and HX-Redirect, which sends the whole tab there, back to the page it was on.
    """
    endpoint = "staff.login" if kind == STAFF else "auth.login"
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = page.path + (f"?{page.query}" if page.query else "") if page.path.startswith("/") else "/"
        response = make_response("", 401)
        response.headers["HX-Redirect"] = url_for(endpoint, next=back)
        return response
    return redirect(url_for(endpoint, next=request.full_path.rstrip("?")))


manager_required = staff_required(Role.OWNER, Role.MANAGER)
owner_required = staff_required(Role.OWNER)


def client_required(view: Callable) -> Callable:
    """A signed-in client login; or an owner or manager viewing a client's portal, who may only look."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return sign_in_first(CLIENT)
        if current_user.is_staff and portal_viewer() is None:
            abort(403)
        return view(*args, **kwargs)

    return _declare(wrapped, CLIENT)


# Viewing a client's portal: an owner or manager sees it as the client does, read-only. The session names
# the client; on a client's route the loaders then see that client (a PortalViewer), never the staff
# member's reach, and every change is refused.
VIEWING = "viewing_client"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ReadOnlyPortal(Forbidden):
    """A change tried while viewing a client's portal, which is read-only."""

    read_only = True
    description = "Viewing a client's portal is read-only: nothing can be changed."


@dataclass
class PortalViewer:
    """Whom the loaders serve while staff view a client's portal: that client, as a login of theirs would be
    served, with none of the staff member's reach. It has no login of its own (no name, email, feed)."""

    client_id: int
    staff_id: int
    staff_name: str
    client: ClientProfile | None = None
    is_staff = False
    can_manage = False
    is_authenticated = True
    id = None
    first_name = None
    email = ""
    calendar_token = None


def start_viewing(client: ClientProfile) -> None:
    """From now on this staff member's portal pages are `client`'s, read-only (the caller checked the role).
    The mark names the staff member too: whoever signs in next in this browser is not viewing."""
    session[VIEWING] = {"staff": current_user.id, "client": client.id}


def stop_viewing() -> int | None:
    """End viewing a client's portal; the id of the client whose portal it was, if any."""
    mark = session.pop(VIEWING, None)
    return parse_id(str(mark.get("client", ""))) if isinstance(mark, dict) else None


def viewing_client_id() -> int | None:
    """The client whose portal the signed-in owner or manager is viewing, or None."""
    if not (current_user.is_authenticated and current_user.is_staff and current_user.can_manage):
        return None
    mark = session.get(VIEWING)
    if not isinstance(mark, dict) or mark.get("staff") != current_user.id:
        return None
    return parse_id(str(mark.get("client", "")))


def portal_viewer() -> PortalViewer | None:
    """On a portal request of an owner or manager viewing a client's portal: that client as the viewer (kept on
    `g`, with the profile loaded once). Any change is refused with 403, whatever the route. None otherwise."""
    if "portal_viewer" in g:
        return g.portal_viewer
    client_id = viewing_client_id()
    if client_id is None:
        return None
    viewer_ = PortalViewer(client_id, current_user.id, current_user.name)
    viewer_.client = clients.load_client(client_id, viewer_)
    if viewer_.client is None:  # the client was deleted meanwhile: nothing left to view
        stop_viewing()
        abort(404)
    g.portal_viewer = viewer_
    g.my_client = viewer_.client
    if request.method not in SAFE_METHODS:
        raise ReadOnlyPortal()
    return viewer_


def viewer():
    """Whom loaders serve: the signed-in account, or on a portal request of staff viewing it, that client."""
    return g.get("portal_viewer") or current_user


def read_only() -> bool:
    """This request serves a client's portal to staff viewing it: show, never change (no write, no Stripe call)."""
    return "portal_viewer" in g


# Which site option switches which portal function.
FEATURES = {"profile": "portal_profile", "pets": "portal_pets", "forms": "portal_forms", "cards": "portal_cards",
            "requests": "portal_requests", "calendar": "portal_calendar", "reports": "portal_visit_reports",
            "invoices": "portal_invoices", "payments": "portal_payments",
            "messages": "portal_messages"}


def feature_required(name: str):
    """404 when the business switched this portal function off (cards also need Stripe set up)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            settings = get_settings()
            if not getattr(settings, FEATURES[name]) or (name == "cards" and not cards.cards_available(settings)):
                abort(404)
            return view(*args, **kwargs)

        wrapped.feature = name
        return wrapped

    return decorator


def onboarded(not_ready: Callable) -> Callable:
    """Pages that wait until the client has finished onboarding; until then `not_ready()` says what is left."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not onboarding.onboarding_for(my_client()).complete:
                return not_ready()
            return view(*args, **kwargs)

        wrapped.needs_onboarding = True
        return wrapped

    return decorator


T = TypeVar("T")


def id_arg(name: str, source=None) -> int | None:
    """An id from the query string (or `source`), or None when it is missing or could be no id of ours."""
    value = (source if source is not None else request.args).get(name, "")
    return parse_id(value)


def or_404(found: T | None) -> T:
    if found is None:
        abort(404)
    return found


def my_client() -> ClientProfile:
    """The signed-in client login's own profile (or the viewed client's), loaded once per request."""
    if "my_client" not in g:
        g.my_client = or_404(clients.load_client(viewer().client_id, viewer()))
    return g.my_client


def client_or_404(client_id: int) -> ClientProfile:
    return or_404(clients.load_client(client_id, viewer()))


def pet_or_404(pet_id: int) -> Pet:
    return or_404(pets.load_pet(pet_id, viewer()))


def photo_or_404(photo_id: int) -> Photo:
    return or_404(pets.load_photo(photo_id, viewer()))


def document_or_404(document_id: int) -> Document:
    return or_404(documents.load_document(document_id, viewer()))


def response_or_404(response_id: int) -> FormResponse:
    return or_404(forms.load_response(response_id, viewer()))


def visit_or_404(visit_id: int) -> Visit:
    return or_404(visits.load_visit(visit_id, viewer()))


def request_or_404(request_id: int) -> VisitRequest:
    return or_404(visits.load_request(request_id, viewer()))


def method_or_404(method_id: int) -> PaymentMethod:
    return or_404(cards.load_method(method_id, viewer()))


def invoice_or_404(invoice_id: int) -> Invoice:
    return or_404(billing.load_invoice(invoice_id, viewer()))


def receipt_or_404(entry_id: int) -> LedgerEntry:
    return or_404(billing.load_receipt(entry_id, viewer()))


def thread_or_404(thread_id: int) -> MessageThread:
    return or_404(messages.load_thread(thread_id, viewer()))


def attachment_or_404(message_id: int) -> Message:
    return or_404(messages.load_attachment(message_id, viewer()))


def rule_of(endpoint: str | None) -> tuple[str, tuple[Role, ...]] | None:
    """The declared access rule of an endpoint, or None when it has none."""
    if endpoint is None:
        return None
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "access", None)


def refuse_undeclared() -> None:
    """before_request hook: fail closed on any view that did not state who may use it."""
    if request.endpoint in (None, "static"):
        return
    if rule_of(request.endpoint) is None:
        current_app.logger.error("view %s declares no access rule", request.endpoint)
        abort(403)
