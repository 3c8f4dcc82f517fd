"""Who may use which route. Every view declares its rule; undeclared views are refused."""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from models import Role

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
                return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
            if not current_user.is_staff:
                abort(403)
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return _declare(wrapped, STAFF, roles)

    return decorator


manager_required = staff_required(Role.OWNER, Role.MANAGER)
owner_required = staff_required(Role.OWNER)


def client_required(view: Callable) -> Callable:
    """A signed-in client login."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    return _declare(wrapped, CLIENT)


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
