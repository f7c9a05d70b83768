"""The migrations build exactly the schema the models describe, on both databases, and go down and up again."""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from mobilize.db import make_engine
from mobilize.migrate import alembic_config, head_revision, upgrade
from mobilize.models import Base, Role, Skill, Street


def test_models_and_migrations_agree(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert context.get_current_revision() == head_revision()
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_downgrade_to_base_and_up_again_keeps_reference_data(database_url):
    command.downgrade(alembic_config(database_url), "base")
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.connect() as connection:
        counts = [connection.scalar(select(func.count()).select_from(model)) for model in (Street, Skill, Role)]
    engine.dispose()
    assert counts == [11, 8, 6]
