"""The client desk: the client table and profile views, editing profiles, prices, logins and key holders."""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, current_app, redirect, request, send_file, url_for
from flask_login import current_user

from access import client_or_404, id_arg, manager_required, or_404, staff_required, start_viewing, stop_viewing
from blueprints.setup import checklist_for_owner
from filters import business_today, formatted, money, ngettext
from filters import gettext as _
from forms.auth import SetPasswordForm
from forms.clients import ClientForm, EraseForm, LoginForm, PriceForm
from forms.errors import apply_rules
from forms.keys import KeyHolderForm, LockboxForm
from models import ClientProfile, ClientStatus, Role, Service, Territory, Vet
from rendering import conditional, done, perform, render_page, submit, wants_fragment
from services import (
    accounts, audit, billing, client_data, clients, erasure, keys, logins, messages, onboarding, portal_views, reports,
    visits,
)
from services import forms as client_forms
from services.resources import list_of
from services.settings import form_field_rules

bp = Blueprint("clients", __name__, url_prefix="/clients")

TABLE_FRAGMENTS = {"desk": "clients/_table_view.html", "client-rows": "clients/_rows.html"}


def build_client_form(client: ClientProfile | None = None) -> ClientForm:
    """The staff client form with choices filled in and the site's field rules applied."""
    form = ClientForm(obj=client) if request.method == "GET" else ClientForm()
    if request.method == "GET":
        form.show_client(client)
    form.offer(accounts.list_sitters(), list_of(Territory), list_of(Vet))
    apply_rules(form, form_field_rules("client"))
    return form


def _desk_context(query: clients.ClientQuery) -> dict:
    result = clients.search_clients(current_user, query, current_app.config["CLIENTS_PER_PAGE"])
    return {"query": query, "result": result, "statuses": list(ClientStatus),
            "onboarding_filters": clients.ONBOARDING_FILTERS}


@bp.get("/")
@staff_required()
@conditional
def index():
    query = clients.ClientQuery.from_args(request.args)
    # A new business's owner sees its first steps here (the page only: a search's rows never need them).
    checklist = checklist_for_owner() if current_user.role == Role.OWNER and not wants_fragment() else None
    return render_page(
        "clients/index.html", TABLE_FRAGMENTS, push_url=url_for("clients.index", **query.args()),
        checklist=checklist, **_desk_context(query),
    )


@bp.get("/<int:client_id>")
@staff_required()
def show(client_id: int):
    client = client_or_404(client_id)
    return render_page("clients/show.html", "clients/_profile.html", **_profile_context(client))


@bp.get("/<int:client_id>/history")
@manager_required
def history(client_id: int):
    """The profile's History tab: who changed what, newest first, by one staff member or all."""
    client = client_or_404(client_id)
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 100000 else 1
    result = audit.client_history(client.id, id_arg("staff"), page)
    query = clients.ClientQuery.from_args({})  # its own page and filter: the table's are not carried here
    return render_page("clients/history.html", "clients/_history.html", client=client, result=result, query=query,
                       push_url=url_for("clients.history", client_id=client.id, staff=result.staff_id,
                                        page=result.page if result.page > 1 else None))


def _profile_context(client: ClientProfile, price_form: PriceForm | None = None,
                     login_form: LoginForm | None = None, key_form: KeyHolderForm | None = None,
                     lockbox_form: LockboxForm | None = None) -> dict:
    query = clients.ClientQuery.from_args(request.args)
    today = business_today()
    form_tasks = client_forms.tasks_for(client)
    context = {"client": client, "query": query, "today": today, "form_tasks": form_tasks,
               "onboarding": onboarding.onboarding_for(client, form_tasks),
               "recent_reports": reports.recent_for_client(client.id), "agreements": logins.agreements_of(client.id)}
    if current_user.can_manage:
        services = list_of(Service)
        price_form = price_form or PriceForm(formdata=None, effective_on=today)
        price_form.offer(services)
        context.update(price_form=price_form, prices_in_force=clients.current_prices(client, today),
                       services=services, login_form=login_form or LoginForm(formdata=None))
        context["balance_cents"] = billing.balance(client.id)  # the Account button's badge
        context["portal_views"] = portal_views.recent_views(client.id)
        context["threads"] = messages.client_threads(client, limit=5)
        if client.uses_keys:
            key_form = key_form or KeyHolderForm(formdata=None)
            key_form.offer(keys.holder_choices(client))
            context.update(key_form=key_form,
                           lockbox_form=lockbox_form or LockboxForm(formdata=None, lockbox_code=client.lockbox_code))
    return context


def _saved_profile(message: Callable[[str], str]):
    """Answer a saved profile with `message(name)`."""
    def then(client: ClientProfile):
        client = client_or_404(client.id)
        return done(message(client.name), url_for("clients.show", client_id=client.id),
                    "clients/_profile.html", **_profile_context(client))
    return then


def _edit_page(form: ClientForm, client: ClientProfile | None, status: int = 200):
    """The client form; for a client on file it says whether it can be deleted (no history) or not."""
    history = clients.history_of(client) if client is not None else 0
    return render_page("clients/edit.html", "clients/_form.html", status=status, form=form, client=client,
                       history=history)


@bp.get("/new")
@manager_required
def new():
    return _edit_page(build_client_form(), None)


@bp.post("/")
@manager_required
def create():
    form = build_client_form()
    return submit(form, lambda: clients.save_client(None, form.values()),
                  _saved_profile(lambda name: _("Added %(name)s.", name=name)),
                  lambda status: _edit_page(form, None, status))


@bp.get("/<int:client_id>/edit")
@manager_required
def edit(client_id: int):
    client = client_or_404(client_id)
    return _edit_page(build_client_form(client), client)


@bp.post("/<int:client_id>")
@manager_required
def update(client_id: int):
    client = client_or_404(client_id)
    form = build_client_form(client)
    return submit(form, lambda: clients.save_client(client, form.values()),
                  _saved_profile(lambda name: _("Saved %(name)s.", name=name)),
                  lambda status: _edit_page(form, client, status))


@bp.post("/<int:client_id>/delete")
@manager_required
def delete(client_id: int):
    client = client_or_404(client_id)
    name = client.name
    return perform(lambda: clients.delete_client(client),
                   lambda _none: done(_("Deleted %(name)s.", name=name), url_for("clients.index")),
                   lambda error: _refused_delete(client_id, error))


@bp.route("/<int:client_id>/erase", methods=["GET", "POST"])
@staff_required(Role.OWNER)
def erase(client_id: int):
    """Erase a client's personal data (owners only, confirmed by typing the name); the money records stay."""
    client = client_or_404(client_id)
    form = EraseForm()

    def erased(_client):
        current_app.logger.warning("erasure: %s (staff %s) erased client %s", current_user.name, current_user.id,
                                   client.id)
        return done(_("The client's personal data is erased."), url_for("clients.show", client_id=client.id))

    return submit(form, lambda: erasure.erase(client, current_user, form.confirm.data),
                  erased, lambda status: render_page("clients/erase.html", "clients/erase.html", status=status,
                                                     client=client, form=form))


def _refused_delete(client_id: int, error):
    """A client with history stays: say why on its edit page (409: it conflicts with what is on record)."""
    client = client_or_404(client_id)
    form = build_client_form(client)
    form.form_errors.append(error.message)
    return _edit_page(form, client, 409)


@bp.post("/<int:client_id>/prices")
@manager_required
def add_price(client_id: int):
    client = client_or_404(client_id)
    form = PriceForm()
    form.offer(list_of(Service))

    def added(result: clients.PriceAdded):
        fresh = client_or_404(client_id)
        message = _price_message(result)
        return done(message, url_for("clients.show", client_id=client_id), "clients/_prices.html",
                    price_notice=message, **_profile_context(fresh))

    return submit(form, lambda: clients.add_custom_price(client, form.service_id.data, form.price.data,
                                                         form.effective_on.data, current_user), added,
                  lambda status: render_page("clients/show.html", {"prices": "clients/_prices.html"}, status=status,
                                             **_profile_context(client, form)))


def _price_message(result: clients.PriceAdded) -> str:
    """ "Custom price added. 3 scheduled visits repriced to $30.00 from 1 Dec 2026; 1 already invoiced kept its price." """
    price = result.price
    words = {"price": money(price.price_cents), "day": formatted(price.effective_on)}
    if result.repriced and result.invoiced:
        return ngettext("Custom price added. %(num)d scheduled visit repriced to %(price)s from %(day)s; %(kept)s",
                        "Custom price added. %(num)d scheduled visits repriced to %(price)s from %(day)s; %(kept)s",
                        result.repriced, kept=_kept(result.invoiced), **words)
    if result.repriced:
        return ngettext("Custom price added. %(num)d scheduled visit repriced to %(price)s from %(day)s.",
                        "Custom price added. %(num)d scheduled visits repriced to %(price)s from %(day)s.",
                        result.repriced, **words)
    if result.invoiced:
        return _("Custom price added. No scheduled visit repriced: %(kept)s", kept=_kept(result.invoiced))
    return _("Custom price added.")


def _kept(invoiced: int) -> str:
    return ngettext("%(num)d already invoiced kept its price.", "%(num)d already invoiced kept their price.", invoiced)


@bp.get("/<int:client_id>/logins", endpoint="logins")
@manager_required
def logins_section(client_id: int):
    """The profile's logins section (it refreshes itself after invitations change)."""
    client = client_or_404(client_id)
    return render_page("clients/show.html", "clients/_logins.html", **_profile_context(client))


def _logins_done(client_id: int, message: str, category: str = "success"):
    client = client_or_404(client_id)
    return done(message, url_for("clients.show", client_id=client_id), "clients/_logins.html", category=category,
                login_notice=message, login_notice_category=category, **_profile_context(client))


@bp.post("/<int:client_id>/logins")
@manager_required
def add_login(client_id: int):
    client = client_or_404(client_id)
    form = LoginForm()
    return submit(form, lambda: logins.add_login(client, form.email.data, form.first_name.data, form.last_name.data),
                  lambda login: _logins_done(client_id, _("Added %(email)s; we emailed a link to set the password.",
                                                          email=login.email)),
                  lambda status: render_page("clients/show.html", {"logins": "clients/_logins.html"}, status=status,
                                             **_profile_context(client_or_404(client_id), login_form=form)))


def _login_or_404(client_id: int, login_id: int):
    client_or_404(client_id)
    return or_404(logins.load_login(client_id, login_id, current_user))


@bp.post("/<int:client_id>/logins/<int:login_id>/active")
@manager_required
def set_login_active(client_id: int, login_id: int):
    login = _login_or_404(client_id, login_id)
    active = request.form.get("active") == "1"
    logins.set_active(login, active)
    return _logins_done(client_id, _("Enabled %(email)s.", email=login.email) if active
                        else _("Disabled %(email)s.", email=login.email))


@bp.post("/<int:client_id>/logins/<int:login_id>/password-link")
@manager_required
def send_login_link(client_id: int, login_id: int):
    login = _login_or_404(client_id, login_id)
    return perform(lambda: logins.send_password_link(login),
                   lambda _sent: _logins_done(client_id, _("Emailed a password link to %(email)s.",
                                                           email=login.email)),
                   lambda error: _logins_done(client_id, error.message, "error"))


@bp.post("/<int:client_id>/logins/<int:login_id>/feed")
@manager_required
def reset_login_feed(client_id: int, login_id: int):
    """A new private calendar feed address for a client login (say, one that was shared by mistake)."""
    login = _login_or_404(client_id, login_id)
    visits.reset_feed(login)
    return _logins_done(client_id, _("%(email)s has a new calendar feed address; the old one no longer works.",
                                     email=login.email))


@bp.get("/logins")
@manager_required
def list_logins():
    """Client Logins: every login with its profile, password state and last sign-in; searched, sorted, paged."""
    query = logins.LoginQuery.from_args(request.args)
    result = logins.search_logins(current_user, query, current_app.config["CLIENTS_PER_PAGE"])
    return render_page("clients/logins.html", "clients/_login_rows.html",
                       push_url=url_for("clients.list_logins", **query.args()), query=query, result=result)


def _any_login_or_404(login_id: int):
    return or_404(logins.load_any_login(login_id, current_user))


def _password_page(login, form, status: int = 200):
    return render_page("clients/login_password.html", "clients/_login_password.html", status=status, login=login,
                       form=form)


@bp.get("/logins/<int:login_id>/password")
@manager_required
def edit_login_password(login_id: int):
    """The form where staff set a login's password (a page of its own, or swapped into Client Logins)."""
    return _password_page(_any_login_or_404(login_id), SetPasswordForm(formdata=None))


@bp.post("/logins/<int:login_id>/password")
@manager_required
def set_login_password(login_id: int):
    """Staff set the password of a client who cannot use email; the client is emailed that it was done."""
    login = _any_login_or_404(login_id)
    form = SetPasswordForm()

    def saved(_none):
        message = _("Password set for %(email)s. They were emailed that you set it (not the password), "
                    "and signed out everywhere else.", email=login.email)
        return done(message, url_for("clients.list_logins"), "clients/_login_password.html", trigger="loginsChanged",
                    login=login, form=None)

    return submit(form, lambda: logins.set_password_for(login, form.password.data, current_user), saved,
                  lambda status: _password_page(login, form, status))


def _keys_done(client_id: int, message: str, category: str = "success", status: int = 200):
    client = client_or_404(client_id)
    return done(message, url_for("clients.show", client_id=client_id), "clients/_keys.html", category=category,
                status=status, keys_notice=message, keys_notice_category=category, **_profile_context(client))


def _keys_again(client_id: int, status: int, **forms):
    return render_page("clients/show.html", {"keys": "clients/_keys.html"}, status=status,
                       **_profile_context(client_or_404(client_id), **forms))


@bp.post("/<int:client_id>/keys")
@manager_required
def add_key_holder(client_id: int):
    """Record who holds the client's key or knows the lockbox code (again for the same person: updated)."""
    client = client_or_404(client_id)
    form = KeyHolderForm()
    form.offer(keys.holder_choices(client))
    return submit(form, lambda: keys.save_holder(client, form.staff_id.data, form.has_key.data, form.knows_code.data,
                                                 form.notes.data),
                  lambda holder: _keys_done(client_id, _("%(name)s is on the list of key holders.",
                                                         name=holder.staff.name)),
                  lambda status: _keys_again(client_id, status, key_form=form))


@bp.post("/<int:client_id>/keys/<int:staff_id>/delete")
@manager_required
def remove_key_holder(client_id: int, staff_id: int):
    client = client_or_404(client_id)
    return perform(lambda: keys.remove_holder(client, staff_id),
                   lambda staff: _keys_done(client_id, _("%(name)s no longer holds a key.", name=staff.name)),
                   lambda error: _keys_done(client_id, error.message, "error", status=409))


@bp.post("/<int:client_id>/lockbox")
@manager_required
def set_lockbox_code(client_id: int):
    client = client_or_404(client_id)
    form = LockboxForm()
    return submit(form, lambda: keys.set_lockbox_code(client, form.lockbox_code.data),
                  lambda saved: _keys_done(client_id, _("Lockbox code saved.") if saved.lockbox_code
                                           else _("Lockbox code removed.")),
                  lambda status: _keys_again(client_id, status, lockbox_form=form))


@bp.get("/<int:client_id>/data")
@manager_required
def data(client_id: int):
    """The client's data as they would download it from the portal (for a request made by email or phone)."""
    client = client_or_404(client_id)
    current_app.logger.info("client data: %s downloaded client %s's data", current_user.id, client.id)
    return send_file(client_data.export(client), mimetype="application/zip", as_attachment=True,
                     download_name=client_data.filename(client), max_age=0)


@bp.post("/<int:client_id>/portal")
@manager_required
def view_portal(client_id: int):
    """Open the client's portal as they see it, read-only, until Leave (each page seen is logged)."""
    client = client_or_404(client_id)
    start_viewing(client)
    return redirect(url_for("portal.index"), 303)


@bp.post("/portal/leave")
@manager_required
def leave_portal():
    """Stop viewing a client's portal: back to that client's profile."""
    client_id = stop_viewing()
    client = clients.load_client(client_id, current_user) if client_id else None
    if client is None:
        return redirect(url_for("clients.index"), 303)
    return done(_("You left %(name)s's portal.", name=client.name), url_for("clients.show", client_id=client.id))
