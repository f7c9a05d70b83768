"""Run the Alembic migrations shipped inside the package."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from mobilize.db import normalise_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser would read '%' in a password as interpolation
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from mobilize.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


class SchemaNotReady(RuntimeError):
    """The database is missing the schema this code needs; the message says what to run."""


def require_current_schema(database_url: str) -> None:
    current, head = current_revision(database_url), head_revision()
    if current == head:
        return
    from sqlalchemy.engine import make_url

    where = make_url(normalise_url(database_url)).render_as_string(hide_password=True)
    if current is None:
        raise SchemaNotReady(f"the database {where} has no schema yet; run `mobilize db upgrade`")
    raise SchemaNotReady(f"the database is at revision {current} but this code needs {head}; "
                         "run `mobilize db upgrade`")
