import click

from mobilize.cli import CliContext, pass_cli


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations shipped in the package)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_cli
def upgrade_command(context: CliContext, revision: str) -> None:
    """Create or upgrade the database schema."""
    from mobilize.migrate import current_revision, upgrade

    url = context.settings.database_url
    upgrade(url, revision)
    click.echo(f"database at revision {current_revision(url)}")


COMMANDS = [db_group]
