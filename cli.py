"""Admin chores as flask commands."""
from __future__ import annotations

import click
from flask import Flask

from extensions import db
from models import Role
from services import accounts, demo, outbox
from services.errors import DomainError

# Each command owns its transaction, as a request does: it commits once at the end.


@click.command("create-owner")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted for when omitted.")
@click.option("--first-name", default="Owner", show_default=True)
@click.option("--last-name", default="")
def create_owner(email: str, password: str, first_name: str, last_name: str) -> None:
    """Create an owner account that can sign in at /staff/login."""
    try:
        user = accounts.create_staff(email, first_name, last_name, Role.OWNER, password)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Owner {user.email} created.")


@click.command("seed-demo")
@click.option("--clients", "client_count", default=40, show_default=True)
def seed_demo(client_count: int) -> None:
    """Load demo data once (a second run changes nothing) and print the demo logins."""
    created = demo.seed(client_count)
    db.session.commit()
    click.echo("Demo data loaded." if created else "Demo data already present; nothing changed.")
    click.echo("Demo staff logins (sign in at /staff/login):")
    for role, email, password in demo.STAFF_LOGINS:
        click.echo(f"  {role:<8} {email:<28} {password}")
    click.echo("Demo client logins (sign in at /login):")
    for email, password in demo.CLIENT_LOGINS:
        click.echo(f"  client   {email:<28} {password}")


outbox_cli = click.Group("outbox", help="The email outbox.")


@outbox_cli.command("run")
def outbox_run() -> None:
    """Deliver every email that is due now; failures wait for their next attempt."""
    sent, failed = outbox.deliver_all()
    click.echo(f"Sent {sent}, failed {failed}.")
    if failed:
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(create_owner)
    app.cli.add_command(seed_demo)
    app.cli.add_command(outbox_cli)
