"""Logins: argon2 passwords, lockout stored on the user, failures limited per client address, CSRF on every
form, server-side sessions (logout kills a copied cookie; a login never reuses the session it found), audit.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from mobilize.app import create_app
from mobilize.models import AuditEvent, User
from mobilize.models._types import utcnow
from mobilize.runtime import Runtime
from mobilize.web.ui.auth import IpLimiter
from mobilize.web.ui.login import LOCK_MINUTES, MAX_FAILURES
from tests.conftest import make_settings
from tests.web.conftest import PASSWORD, USERS, csrf_token, login, seed_registry

COOKIE = "mobilize_session"


def actions(runtime, username: str | None = None) -> list[str]:
    with runtime.transaction() as session:
        statement = select(AuditEvent.action).order_by(AuditEvent.id)
        if username:
            statement = statement.where(AuditEvent.actor == username)
        return list(session.scalars(statement))


def without_tokens(response) -> str:
    return re.sub(r'(name="csrf[-_]token" (?:value|content))="[^"]+"', r"\1", response.get_data(as_text=True))


def user_row(runtime, username: str) -> User:
    with runtime.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        session.expunge(user)
        return user


@pytest.mark.parametrize("role, home", [("commander", "/command"), ("admin", "/command"),
                                        ("viewer", "/command"), ("officer", "/board/badaguan")])
def test_login_leads_each_role_home_and_is_audited(app, registry, web_runtime, role, home):
    client = app.test_client()
    response = login(client, role)
    assert response.status_code == 302 and response.headers["Location"] == home
    page = client.get(home)
    assert page.status_code == 200 and USERS[role][0] in page.get_data(as_text=True)
    assert actions(web_runtime, USERS[role][0]) == ["login"]


def test_wrong_password_and_unknown_user_get_the_same_answer(app, registry, web_runtime):
    client = app.test_client()
    wrong = login(client, "commander", "not-the-password")
    unknown = login(client, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.get_data(as_text=True)
    assert without_tokens(wrong).replace("commander", "nobody-here") == without_tokens(unknown)
    assert client.get("/command").status_code == 302  # still anonymous
    assert actions(web_runtime) == ["login_failed", "login_failed"]
    assert user_row(web_runtime, "commander").failed_logins == 1


def test_lockout_after_repeated_failures_refuses_even_the_right_password(database_url, tmp_path, redis_url,
                                                                         redis_client):
    # On SQLite and PostgreSQL: the failure count is one atomic UPDATE ... RETURNING.
    runtime = Runtime(make_settings(tmp_path, database_url, redis_url))
    app = create_app(runtime=runtime)
    seed_registry(runtime)
    client = app.test_client()
    for _ in range(MAX_FAILURES):
        assert login(client, "commander", "guess-again").status_code == 401
    locked = user_row(runtime, "commander")
    assert locked.failed_logins == 0
    assert utcnow() + timedelta(minutes=LOCK_MINUTES - 1) < locked.locked_until <= utcnow() + timedelta(
        minutes=LOCK_MINUTES)
    assert login(client, "commander", PASSWORD).status_code == 401  # locked: the right password is refused
    assert "account_locked" in actions(runtime, "commander")
    assert actions(runtime, "commander")[-1] == "login_refused_locked"
    with runtime.transaction() as session:  # the lock runs out
        session.scalar(select(User).where(User.username == "commander")).locked_until = utcnow() - timedelta(
            seconds=1)
    assert login(client, "commander", PASSWORD).status_code == 302
    assert user_row(runtime, "commander").locked_until is None
    runtime.close()


def test_failures_per_address_are_limited(app, registry):
    app.extensions["mobilize_login_limiter"] = IpLimiter(app.extensions["mobilize"].redis_url, failures=3)
    client = app.test_client()
    attacker = {"REMOTE_ADDR": "203.0.113.7"}
    for number in range(3):  # different usernames: no account gets locked, the address does
        assert login(client, f"guess{number}", "x", **attacker).status_code == 401
    limited = login(client, "commander", PASSWORD, **attacker)
    assert limited.status_code == 429 and client.get("/command").status_code == 302
    other_address = login(client, "commander", PASSWORD, REMOTE_ADDR="198.51.100.2")
    assert other_address.status_code == 302  # others still log in


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_login_without_a_valid_csrf_token_is_refused(app, registry, token):
    client = app.test_client()
    client.get("/login")
    form = {"username": "commander", "password": PASSWORD}
    if token is not None:
        form["csrf_token"] = token
    response = client.post("/login", data=form)
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)
    assert client.get("/command").status_code == 302


def test_logout_and_language_need_the_csrf_token_too(clients):
    commander = clients["commander"]
    assert commander.post("/logout").status_code == 400
    assert commander.post("/language", data={"lang": "en"}).status_code == 400
    assert commander.get("/command").status_code == 200  # still logged in, still Chinese
    assert "指挥中心" in commander.get("/command").get_data(as_text=True)


def test_logout_ends_the_session_even_for_a_copied_cookie(clients, web_runtime):
    commander = clients["commander"]
    copied = commander.get_cookie(COOKIE).value
    response = commander.post("/logout", data={"csrf_token": csrf_token(commander)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert commander.get("/command").status_code == 302
    thief = commander.application.test_client()
    thief.set_cookie(COOKIE, copied)
    assert thief.get("/command").status_code == 302  # the signed cookie alone proves nothing any more
    assert actions(web_runtime, "commander")[-1] == "logout"


def test_login_never_keeps_the_session_it_found(app, registry):
    """Session fixation: whatever session the browser had before (e.g. planted by an attacker), the login
    replaces it, and the old cookie stays anonymous."""
    client = app.test_client()
    client.get("/login")
    before = client.get_cookie(COOKIE).value
    assert login(client, "commander").status_code == 302
    after = client.get_cookie(COOKIE).value
    assert after != before
    planted = app.test_client()
    planted.set_cookie(COOKIE, before)
    assert planted.get("/command").status_code == 302
    # two logins of the same user are two sessions: logging one out leaves the other
    other = app.test_client()
    login(other, "commander")
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert other.get("/command").status_code == 200


def test_session_cookie_flags(app, registry, tmp_path, sqlite_url, redis_url):
    response = login(app.test_client(), "commander")
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith(COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # http://127.0.0.1
    secure_runtime = Runtime(make_settings(tmp_path / "https", sqlite_url, redis_url,
                                           public_base_url="https://mobilize.example.org"))
    assert create_app(runtime=secure_runtime).config["SESSION_COOKIE_SECURE"] is True
    secure_runtime.close()


def test_a_deactivated_user_is_logged_out_at_once(clients, web_runtime):
    with web_runtime.transaction() as session:
        session.scalar(select(User).where(User.username == "commander")).active = False
    assert clients["commander"].get("/command").status_code == 302
    assert login(clients["commander"].application.test_client(), "commander").status_code == 401


@pytest.mark.parametrize("target, expected", [
    ("/board/badaguan", "/board/badaguan"),
    ("//evil.example.org/x", "/command"),
    ("https://evil.example.org/", "/command"),
    ("/\\evil.example.org", "/command"),
])
def test_after_login_only_local_paths_are_followed(app, registry, target, expected):
    client = app.test_client()
    form = {"username": "commander", "password": PASSWORD, "csrf_token": csrf_token(client), "next": target}
    assert client.post("/login", data=form).headers["Location"] == expected


def test_anonymous_visitors_are_sent_to_login_and_back(app, registry):
    client = app.test_client()
    response = client.get("/board/badaguan")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/board/badaguan"
    form = {"username": "officer-a", "password": PASSWORD, "csrf_token": csrf_token(client),
            "next": "/board/badaguan"}
    assert client.post("/login", data=form).headers["Location"] == "/board/badaguan"


def test_without_redis_logins_get_a_clear_503(tmp_path, sqlite_url):
    runtime = Runtime(make_settings(tmp_path, sqlite_url, "redis://127.0.0.1:1/0"))
    client = create_app(runtime=runtime).test_client()
    assert client.get("/login").status_code == 200  # the form itself needs no Redis
    response = login(client, "commander")
    assert response.status_code == 503 and "服务暂时不可用" in response.get_data(as_text=True)
    runtime.close()
