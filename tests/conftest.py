"""Shared fixtures: real databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set) and a real Redis."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from config import Settings
from mobilize.db import make_engine, normalise_url
from mobilize.migrate import upgrade
from mobilize.runtime import Runtime

# Reference data loaded by the migrations; kept between tests.
REFERENCE_TABLES = {"alembic_version", "streets", "skills", "roles"}
POSTGRES_SKIP_REASON = "PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"


def pytest_report_header(config):
    url = os.environ.get("TEST_DATABASE_URL")
    return [f"databases: sqlite{' + ' + url if url else ' only (' + POSTGRES_SKIP_REASON + ')'}",
            f"redis: {os.environ.get('REDIS_URL') or 'embedded server started for the run'}"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("db-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A fresh database of its own beside TEST_DATABASE_URL's (so that concurrent runs never meet), dropped after."""
    base_url = os.environ.get("TEST_DATABASE_URL")
    if not base_url:
        pytest.skip(POSTGRES_SKIP_REASON)
    from sqlalchemy.engine import make_url

    base = make_url(normalise_url(base_url))
    name = f"{base.database}_pytest_{os.getpid()}"
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        tables = [row[0] for row in connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
        doomed = [f'"{name}"' for name in tables if name not in REFERENCE_TABLES]
        if doomed:
            connection.execute(text(f"TRUNCATE {', '.join(doomed)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """A migrated, empty database (reference data only), once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "mobilize.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    """SQLite only, for tests whose subject is not the database."""
    path = tmp_path / "mobilize.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    url = os.environ.get("REDIS_URL")
    if url:
        yield _database_of_this_worker(url)
        return
    from mobilize.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis-instance")).start()
    yield server.url
    server.stop()


def _database_of_this_worker(url: str) -> str:
    """A Redis given by REDIS_URL, one logical database per pytest-xdist worker (gw0 -> 1, gw1 -> 2, ...): the
    tests empty their database before each test and must not empty another worker's under its feet."""
    from urllib.parse import urlsplit, urlunsplit

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    index = int(worker.removeprefix("gw")) + 1
    if index > 15:
        pytest.exit(f"REDIS_URL: a Redis has 16 logical databases; run at most 15 test processes (-n), not {index}")
    parts = urlsplit(url)
    if parts.path.strip("/") not in ("", "0"):
        pytest.exit(f"REDIS_URL: give it without a database number ({url}); each test process takes its own")
    return urlunsplit(parts._replace(path=f"/{index}"))


@pytest.fixture
def redis_client(redis_url):
    from redis import Redis

    client = Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


def make_settings(tmp_path: Path, database_url: str, redis_url: str | None = None, **overrides) -> Settings:
    return Settings(instance_path=tmp_path / "instance", database_url=database_url, redis_url=redis_url,
                    secret_key="test-secret", testing=True, **overrides)


@pytest.fixture
def runtime(tmp_path, database_url) -> Runtime:
    """A Runtime on each database, without Redis."""
    rt = Runtime(make_settings(tmp_path, database_url))
    yield rt
    rt.close()


@pytest.fixture
def sqlite_runtime(tmp_path, sqlite_url) -> Runtime:
    rt = Runtime(make_settings(tmp_path, sqlite_url))
    yield rt
    rt.close()


def _as_the_workers(runtime: Runtime):
    """The runtime the workers' code reads (workers.context), for tests that call jobs in-process."""
    from workers.context import set_runtime

    set_runtime(runtime)
    try:
        yield runtime
    finally:
        set_runtime(None)
        runtime.close()


@pytest.fixture
def rt(tmp_path, database_url) -> Runtime:
    """A runtime on each database, used by the workers' code too (no Redis: follow-ups stay in the database)."""
    yield from _as_the_workers(Runtime(make_settings(tmp_path, database_url)))


@pytest.fixture
def redis_rt(tmp_path, database_url, redis_url, redis_client) -> Runtime:
    """A runtime on each database with the test Redis (flushed), used by the workers' code too: for jobs queued
    and run for real."""
    yield from _as_the_workers(Runtime(make_settings(tmp_path, database_url, redis_url)))


@pytest.fixture
def srt(tmp_path, sqlite_url) -> Runtime:
    """SQLite only, for tests whose subject is not the database; used by the workers' code too."""
    yield from _as_the_workers(Runtime(make_settings(tmp_path, sqlite_url)))


@pytest.fixture(autouse=True)
def fixed_rate_waves(request, monkeypatch):
    """The wartime scenes of the suite were written for the fixed-rate wave sizing (`waves.PACED = False`): who
    is invited, exactly, is what their assertions name, and what they test (matching, replies, timers, endings,
    the CLI and the pages) does not depend on how a wave is sized. Tests marked `paced` run the deadline pacing,
    the service's default (tests/wartime/test_paced_waves.py, the drill's, the deadline pages'); processes started
    by a test (the live stack) run it too."""
    if request.node.get_closest_marker("paced") is None:
        from mobilize.wartime import waves

        monkeypatch.setattr(waves, "PACED", False)
