"""An API token is no way around a locked or disabled account (issue 13).

Five wrong passwords in a row lock an account for 15 minutes (`mobilize.web.ui.login`); while it is locked
its API tokens are refused (401) like its password, and they work again when the lock runs out. A disabled
account's tokens are refused while it is disabled, and work again if it is enabled again (not revoked).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from mobilize.accounts import authenticate_token
from mobilize.models import User
from mobilize.models._types import utcnow
from mobilize.web.ui.login import MAX_FAILURES
from tests.web.conftest import USERS, login


def _api_status(app, registry, role: str = "commander", path: str = "/api/v1/streets") -> int:
    headers = {"Authorization": f"Bearer {registry.tokens[role]}"}
    return app.test_client().get(path, headers=headers).status_code


def _set_user(runtime, role: str, **values) -> None:
    with runtime.transaction() as session:
        session.execute(update(User).where(User.username == USERS[role][0]).values(**values))


def test_failed_logins_that_lock_the_account_stop_its_api_tokens(app, registry, web_runtime):
    assert _api_status(app, registry) == 200
    browser = app.test_client()
    for _ in range(MAX_FAILURES):
        assert login(browser, "commander", "wrong-password").status_code == 401
    response = app.test_client().get("/api/v1/streets",
                                     headers={"Authorization": f"Bearer {registry.tokens['commander']}"})
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert _api_status(app, registry, "viewer") == 200  # other accounts are not concerned


def test_a_locked_accounts_token_works_again_when_the_lock_runs_out(app, registry, web_runtime):
    _set_user(web_runtime, "officer", locked_until=utcnow() + timedelta(minutes=10))
    assert _api_status(app, registry, "officer") == 401
    _set_user(web_runtime, "officer", locked_until=utcnow() - timedelta(seconds=1))
    assert _api_status(app, registry, "officer") == 200


def test_a_disabled_accounts_token_is_refused_until_it_is_enabled_again(app, registry, web_runtime):
    _set_user(web_runtime, "viewer", active=False)
    assert _api_status(app, registry, "viewer") == 401
    _set_user(web_runtime, "viewer", active=True)
    assert _api_status(app, registry, "viewer") == 200


def test_a_locked_admins_token_does_not_read_the_metrics_either(app, registry, web_runtime):
    assert _api_status(app, registry, "admin", "/metrics") == 200
    _set_user(web_runtime, "admin", locked_until=utcnow() + timedelta(minutes=10))
    assert _api_status(app, registry, "admin", "/metrics") == 401


def test_the_lock_ends_at_its_time(registry, web_runtime):
    until = utcnow() + timedelta(minutes=15)
    _set_user(web_runtime, "commander", locked_until=until)
    token = registry.tokens["commander"]
    with web_runtime.transaction() as session:
        assert authenticate_token(session, token, until - timedelta(seconds=1)) is None
        assert authenticate_token(session, token, until).username == USERS["commander"][0]
