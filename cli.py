"""Admin chores as flask commands."""
from __future__ import annotations

import click
from flask import Flask

from extensions import db
from models import Role
from services import accounts, backups, billing, demo, outbox, payments, staff
from services.outbox import external_url
from services.errors import DomainError
from services.uploads import human_size

# Each command owns its transaction, as a request does: it commits once at the end.


@click.command("create-owner")
@click.argument("email")
@click.option("--first-name", prompt="First name", help="Prompted for when omitted: staff lists show it.")
@click.option("--last-name", prompt="Last name", default="", help="Prompted for when omitted (may be empty).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted for when omitted.")
def create_owner(email: str, first_name: str, last_name: str, password: str) -> None:
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


staff_cli = click.Group("staff", help="Staff accounts, for the server's admin.")


@staff_cli.command("reset")
@click.argument("email")
@click.option("--link", "want_link", is_flag=True,
              help="Print a link to pass on (they choose the password) instead of asking for one now.")
@click.password_option("--password", prompt_required=False, help="Prompted for unless --link is given.")
def staff_reset(email: str, want_link: bool, password: str | None) -> None:
    """Give a locked-out staff member (an owner, say) access again: a new password, or a link to choose one.

    The account is enabled again and every old session ends.
    """
    if not want_link and password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        user, token = staff.admin_reset(email, None if want_link else password)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    if token:
        click.echo(f"{user.email} can sign in again: send them this link (it works once):")
        click.echo(external_url("staff.open_password_link", purpose="reset" if user.password_hash else "set",
                                token=token))
    else:
        click.echo(f"{user.email} can sign in again with the new password at /staff/login.")


outbox_cli = click.Group("outbox", help="The email outbox.")


@outbox_cli.command("run")
def outbox_run() -> None:
    """Deliver every email that is due now; failures wait for their next attempt."""
    sent, failed = outbox.deliver_all()
    click.echo(f"Sent {sent}, failed {failed}.")
    if failed:
        raise SystemExit(1)


billing_cli = click.Group("billing", help="Billing jobs, for a daily timer or cron (see README).")


@billing_cli.command("remind")
def billing_remind() -> None:
    """Queue an overdue reminder for each open invoice past a reminder threshold (Site options), each once."""
    queued = billing.send_reminders()
    db.session.commit()
    click.echo(f"Queued {queued} overdue reminder{'' if queued == 1 else 's'}; the outbox delivers them "
               "(the running app's sender, or `flask outbox run`).")


@billing_cli.command("autopay")
def billing_autopay() -> None:
    """Charge each sent invoice due today to the card on file of clients with autopay (and retry failed ones on
    their days). Safe to run twice, or on two hosts at once: each try is claimed before the card is charged."""
    counts = payments.run_autopay()
    db.session.commit()
    click.echo(f"Autopay: {counts['paid']} paid, {counts['pending']} pending (bank), {counts['failed']} failed "
               f"(clients emailed), {counts['skipped']} skipped.")


@click.command("backup")
@click.option("--output", type=click.Path(dir_okay=True, writable=True),
              help="The file to write, or a folder for it (default: pawtal-backup-<UTC time>.tar.gz here).")
def backup(output: str | None) -> None:
    """Write the database and every uploaded file to one .tar.gz (mode 0600: it holds personal data)."""
    try:
        path, manifest, size = backups.write_backup(output)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    rows = sum(manifest["tables"].values())
    click.echo(f"Backup written to {path} ({human_size(size)}, {size} bytes): {rows} rows in "
               f"{len(manifest['tables'])} tables at revision {manifest['revision']}, "
               f"{len(manifest['uploads'])} uploaded files.")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
def restore(file: str) -> None:
    """Bring a `flask backup` file back into this install, which must be empty; then upgrade it to this release."""
    try:
        manifest = backups.restore_backup(file)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Restored {file} (made {manifest['created_at']} at revision {manifest['revision']}): "
               f"{sum(manifest['tables'].values())} rows in {len(manifest['tables'])} tables, "
               f"{len(manifest['uploads'])} uploaded files. The database is upgraded to this release.")


def init_app(app: Flask) -> None:
    app.cli.add_command(create_owner)
    app.cli.add_command(seed_demo)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(billing_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(backup)
    app.cli.add_command(restore)
