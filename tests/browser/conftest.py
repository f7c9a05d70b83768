"""Browser tests: Playwright drives Debian's chromium (no browser download) against the live stack of
tests/stack.py (the real app on a socket, the SMS simulator calling it back, a real Redis).

Skipped, with the reason shown by `pytest -ra`, when the playwright package or a chromium is missing;
`.ci/install-browser` installs Debian's chromium so that CI always runs them (with CI=true a missing
chromium fails instead). Screenshots go to test-artifacts/screenshots/ (gitignored), one per step worth
looking at.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from mobilize.accounts import create_user
from mobilize.models import Street, Volunteer
from tests.stack import start_stack

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "password-123"
USERS = {"admin": ("admin", None), "commander": ("commander", None), "officer": ("officer-badaguan", "八大关"),
         "viewer": ("viewer", None)}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip(
        "playwright.sync_api",
        reason="the playwright package is not installed (pip install playwright; no `playwright install`)")
    executable = find_chromium()
    if executable is None:
        reason = ("no chromium found (apt-get install chromium, or run .ci/install-browser; CHROMIUM_PATH may "
                  "name another)")
        if os.environ.get("CI") == "true":  # CI installs it (.ci/install-browser): never pass by skipping there
            pytest.fail(reason)
        pytest.skip(reason)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory, sqlite_template, redis_url):
    """The stack with a small demo district and a user of each role (cheap argon2, as in tests/web)."""
    from argon2 import PasswordHasher
    from redis import Redis

    from mobilize import accounts
    from mobilize.registry.demo import seed_demo

    Redis.from_url(redis_url).flushdb()
    folder = tmp_path_factory.mktemp("browser")
    shutil.copy(sqlite_template, folder / "mobilize.db")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        stack = start_stack(folder / "instance", f"sqlite:///{folder / 'mobilize.db'}", redis_url)
        with stack.runtime.transaction() as session:
            seed_demo(session, volunteers=400, seed=2022)
            for username, street in USERS.values():
                role = next(role for role, (name, _) in USERS.items() if name == username)
                create_user(session, username, PASSWORD, role, street)
        yield stack
        stack.close()


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def volunteer_phone(stack, street_short_name: str = "八大关") -> str:
    with stack.runtime.transaction() as session:
        return session.scalar(select(Volunteer.phone).join(Street, Street.id == Volunteer.street_id)
                              .where(Street.short_name == street_short_name, Volunteer.opted_out_at.is_(None))
                              .order_by(Volunteer.id))
