import click

from mobilize.cli import CliContext, pass_cli


@click.group("users")
def users_group() -> None:
    """Users of the web UI and the API."""


@users_group.command("create")
@click.option("--username", required=True)
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--role", required=True, type=click.Choice(["admin", "commander", "officer", "viewer"]))
@click.option("--street", default=None, help="The officer's street, e.g. 八大关街道 (officers only).")
@pass_cli
def create_command(context: CliContext, username: str, password: str, role: str, street: str | None) -> None:
    """Create a user (audited as done by "cli")."""
    from mobilize.accounts import CLI, AccountError, create_user

    try:
        with context.migrated_runtime.transaction() as session:
            create_user(session, username, password, role, street, actor=CLI)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created {role} {username}" + (f" ({street})" if street else ""), err=True)


@users_group.command("token")
@click.option("--username", required=True)
@click.option("--name", default=None, help="What the token is for (shown in /admin/tokens).")
@pass_cli
def token_command(context: CliContext, username: str, name: str | None) -> None:
    """Print a new API token for the user, alone on stdout (it cannot be shown again; audited as "cli")."""
    from mobilize.accounts import CLI, find_user, issue_token

    with context.migrated_runtime.transaction() as session:
        user = find_user(session, username)
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        token = issue_token(session, user, name, actor=CLI)
    click.echo(token)


COMMANDS = [users_group]
