"""The admin pages for accounts (/admin/users, /admin/tokens) under the test client: admins only, every change
audited through `mobilize.accounts`, bad input refused with nothing written, the last admin kept, a new token
shown once and working against the API at once, a revoked one refused at once."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from mobilize.models import ApiToken, AuditEvent, User, UserRole
from tests.web.conftest import PASSWORD, USERS, csrf_token, login

ADMIN_PAGES = ("/admin", "/admin/users", "/admin/tokens", "/admin/audit", "/admin/audit.csv", "/admin/system",
               "/admin/system/status")
TOKEN = re.compile(r'value="(mob_[A-Za-z0-9_-]{20,})"')


def post(client, path: str, **form):
    return client.post(path, data={**form, "csrf_token": csrf_token(client)})


def counts(runtime) -> tuple[int, int, int]:
    with runtime.transaction() as session:
        return tuple(session.scalar(select(func.count()).select_from(model))
                     for model in (User, ApiToken, AuditEvent))


def user_id(runtime, username: str) -> int:
    with runtime.transaction() as session:
        return session.scalar(select(User.id).where(User.username == username))


def audit_events(runtime, action: str) -> list[AuditEvent]:
    with runtime.transaction() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                 .order_by(AuditEvent.id)).all()
        session.expunge_all()
        return events


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_only_admins_open_the_admin_pages(clients, path):
    assert clients["anonymous"].get(path).headers["Location"].startswith("/login")
    for role in ("commander", "officer", "viewer"):
        assert clients[role].get(path).status_code == 403, role
    assert clients["admin"].get(path, follow_redirects=True).status_code == 200


def test_the_nav_links_the_admin_pages_for_admins_only(clients):
    assert 'href="/admin/users"' in clients["admin"].get("/command").get_data(as_text=True)
    assert 'href="/admin/users"' not in clients["commander"].get("/command").get_data(as_text=True)


def test_other_roles_change_nothing(clients, web_runtime):
    officer = user_id(web_runtime, USERS["officer"][0])
    before = counts(web_runtime)
    for role in ("commander", "officer", "viewer"):
        client = clients[role]
        assert post(client, "/admin/users", username="sneaky", password="password-123", role="admin").status_code == 403
        assert post(client, "/admin/tokens", user_id=str(officer), name="x").status_code == 403
        assert post(client, f"/admin/users/{officer}/lock").status_code == 403
        assert post(client, f"/admin/users/{officer}/role", role="admin").status_code == 403
        assert post(client, f"/admin/users/{officer}/password", password="new-password-1",
                    password_again="new-password-1").status_code == 403
    assert counts(web_runtime) == before


def test_an_admin_creates_an_officer_gives_a_token_and_the_token_works_at_once(app, clients, web_runtime, registry):
    admin = clients["admin"]
    created = post(admin, "/admin/users", username="officer-zhanshan", password="zhanshan-pass", role="officer",
                   street="湛山街道")
    assert created.status_code == 303
    new_id = user_id(web_runtime, "officer-zhanshan")
    assert created.headers["Location"].endswith(f"/admin/users/{new_id}")
    page = admin.get(f"/admin/users/{new_id}").get_data(as_text=True)
    assert "湛山街道" in page and "zhanshan-pass" not in page

    answer = post(admin, "/admin/tokens", user_id=str(new_id), name="湛山平板")
    assert answer.status_code == 200
    token = TOKEN.search(answer.get_data(as_text=True)).group(1)
    with web_runtime.transaction() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.user_id == new_id))
        assert row.name == "湛山平板" and row.last_used_at is None
        assert token not in (row.token_hash, row.prefix) and token.startswith(row.prefix)

    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    sites = api.get("/api/v1/sites", headers=bearer)
    assert sites.status_code == 200
    assert {site["id"] for site in sites.json["items"]} == {registry.site_b}  # the officer's street only
    assert api.get("/api/v1/sites?street=八大关", headers=bearer).status_code == 403

    listing = admin.get("/admin/tokens").get_data(as_text=True)
    assert token not in listing and row.prefix in listing and "湛山平板" in listing  # shown once, never again
    with web_runtime.transaction() as session:
        assert session.get(ApiToken, row.id).last_used_at is not None

    revoked = post(admin, f"/admin/tokens/{row.id}/revoke")
    assert revoked.status_code == 303
    assert api.get("/api/v1/sites", headers=bearer).status_code == 401  # at once

    [creation] = [event for event in audit_events(web_runtime, "user.created")]
    assert (creation.actor, creation.subject_id, creation.details["street"]) == ("admin", new_id, "湛山街道")
    [issued] = audit_events(web_runtime, "token.issued")
    [revocation] = audit_events(web_runtime, "token.revoked")
    assert issued.actor == revocation.actor == "admin" and issued.subject_id == revocation.subject_id == row.id
    assert token not in str(issued.details) and "zhanshan-pass" not in str(creation.details)


def test_a_token_made_on_the_users_page_is_shown_there_once(clients, web_runtime):
    admin = clients["admin"]
    viewer = user_id(web_runtime, USERS["viewer"][0])
    answer = post(admin, "/admin/tokens", user_id=str(viewer), name="大屏", back="user")
    text = answer.get_data(as_text=True)
    token = TOKEN.search(text).group(1)
    assert "<h1>viewer" in text
    assert token not in admin.get(f"/admin/users/{viewer}").get_data(as_text=True)


@pytest.mark.parametrize("form, field_text", [
    ({"username": "x", "password": "long-enough-1", "role": "viewer"}, "2 到 60"),
    ({"username": "short-pass", "password": "1234567", "role": "viewer"}, "8"),
    ({"username": "no-street", "password": "long-enough-1", "role": "officer"}, "街道"),
    ({"username": "bad-street", "password": "long-enough-1", "role": "officer", "street": "不存在街道"}, "街道"),
    ({"username": "street-viewer", "password": "long-enough-1", "role": "viewer", "street": "湛山街道"}, "街道"),
    ({"username": "bad-role", "password": "long-enough-1", "role": "root"}, "角色"),
    ({"username": "admin", "password": "long-enough-1", "role": "viewer"}, "已被使用"),
])
def test_bad_input_is_refused_and_nothing_is_written(clients, web_runtime, form, field_text):
    before = counts(web_runtime)
    answer = post(clients["admin"], "/admin/users", **form)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert field_text in text and 'role="alert"' in text
    assert form["password"] not in text  # never sent back
    assert counts(web_runtime) == before


def test_bad_input_on_a_user_or_a_token_writes_nothing(clients, web_runtime):
    admin = clients["admin"]
    officer = user_id(web_runtime, USERS["officer"][0])
    before = counts(web_runtime)
    assert post(admin, f"/admin/users/{officer}/role", role="officer").status_code == 422  # no street
    assert post(admin, f"/admin/users/{officer}/password", password="short",
                password_again="short").status_code == 422
    assert post(admin, f"/admin/users/{officer}/password", password="new-password-1",
                password_again="new-password-2").status_code == 422
    assert post(admin, "/admin/tokens", user_id="999999", name="x").status_code == 422
    assert post(admin, "/admin/tokens", user_id="abc", name="x").status_code == 422
    assert post(admin, "/admin/users/999999/lock").status_code == 404
    assert post(admin, "/admin/tokens/999999/revoke").status_code == 404
    assert counts(web_runtime) == before
    with web_runtime.transaction() as session:
        assert session.get(User, officer).street_id is not None


def test_the_last_admin_cannot_lock_or_demote_themself(clients, web_runtime):
    admin = clients["admin"]
    me = user_id(web_runtime, USERS["admin"][0])
    before = counts(web_runtime)
    demote = post(admin, f"/admin/users/{me}/role", role="commander")
    assert demote.status_code == 422 and "最后一个" in demote.get_data(as_text=True)
    assert post(admin, f"/admin/users/{me}/lock").status_code == 422
    assert counts(web_runtime) == before
    assert admin.get("/admin/users").status_code == 200  # still an admin

    # with a second admin, demoting yourself is allowed; that admin is then the last one, and kept
    assert post(admin, "/admin/users", username="admin-2", password="admin-2-pass", role="admin").status_code == 303
    second = user_id(web_runtime, "admin-2")
    assert post(admin, f"/admin/users/{second}/lock").status_code == 303
    assert post(admin, f"/admin/users/{me}/role", role="commander").status_code == 422  # admin-2 is locked
    assert post(admin, f"/admin/users/{second}/unlock").status_code == 303
    assert post(admin, f"/admin/users/{me}/role", role="commander").status_code == 303
    assert admin.get("/admin/users").status_code == 403  # demoted: at once
    with web_runtime.transaction() as session:
        assert session.get(User, me).role is UserRole.commander


def test_locking_logs_out_and_refuses_tokens_at_once_and_unlocking_restores(app, clients, web_runtime, registry):
    officer_client, admin = clients["officer"], clients["admin"]
    officer = user_id(web_runtime, USERS["officer"][0])
    bearer = {"Authorization": f"Bearer {registry.tokens['officer']}"}
    assert officer_client.get("/board/badaguan").status_code == 200
    assert post(admin, f"/admin/users/{officer}/lock").status_code == 303
    assert officer_client.get("/board/badaguan").headers["Location"].startswith("/login")
    assert app.test_client().get("/api/v1/sites", headers=bearer).status_code == 401
    assert login(app.test_client(), "officer").status_code == 401
    assert post(admin, f"/admin/users/{officer}/unlock").status_code == 303
    assert app.test_client().get("/api/v1/sites", headers=bearer).status_code == 200
    assert login(app.test_client(), "officer").status_code == 302
    assert [event.action for event in audit_events(web_runtime, "user.locked")] == ["user.locked"]
    assert [event.details["active"] for event in audit_events(web_runtime, "user.unlocked")] == [False]


def test_unlock_ends_a_lock_after_failed_logins(app, clients, web_runtime):
    for _ in range(5):
        login(app.test_client(), "viewer", "wrong-password")
    assert login(app.test_client(), "viewer").status_code == 401  # locked by the failures
    viewer = user_id(web_runtime, USERS["viewer"][0])
    assert "登录失败" in clients["admin"].get(f"/admin/users/{viewer}").get_data(as_text=True)
    assert post(clients["admin"], f"/admin/users/{viewer}/unlock").status_code == 303
    assert login(app.test_client(), "viewer").status_code == 302


def test_a_password_reset_follows_the_rules_and_is_never_shown(app, clients, web_runtime, capsys, caplog):
    officer = user_id(web_runtime, USERS["officer"][0])
    new_password = "Reset-Secret-7731"
    answer = post(clients["admin"], f"/admin/users/{officer}/password", password=new_password,
                  password_again=new_password)
    assert answer.status_code == 303
    assert login(app.test_client(), "officer").status_code == 401  # the old one no longer works
    assert login(app.test_client(), "officer", new_password).status_code == 302
    [event] = audit_events(web_runtime, "user.password_reset")
    assert event.actor == "admin" and event.subject_id == officer
    with web_runtime.transaction() as session:
        stored = " ".join(str(row.details) for row in session.scalars(select(AuditEvent)))
    captured = capsys.readouterr()
    for where in (stored, captured.out, captured.err, caplog.text,
                  clients["admin"].get(f"/admin/users/{officer}").get_data(as_text=True),
                  clients["admin"].get("/admin/audit").get_data(as_text=True)):
        assert new_password not in where


def test_a_role_change_gives_an_officer_a_street_and_takes_it_away(clients, web_runtime):
    viewer = user_id(web_runtime, USERS["viewer"][0])
    admin = clients["admin"]
    assert post(admin, f"/admin/users/{viewer}/role", role="officer", street="湛山街道").status_code == 303
    assert clients["viewer"].get("/board/zhanshan").status_code == 200  # at once, in the logged-in session
    assert clients["viewer"].get("/board/badaguan").status_code == 403
    assert post(admin, f"/admin/users/{viewer}/role", role="viewer").status_code == 303
    with web_runtime.transaction() as session:
        user = session.get(User, viewer)
        assert (user.role, user.street_id) == (UserRole.viewer, None)
    changes = [event.details for event in audit_events(web_runtime, "user.role_changed")]
    assert [(c["role_before"], c["role"], c["street"]) for c in changes] == [
        ("viewer", "officer", "湛山街道"), ("officer", "viewer", None)]


def test_the_pages_speak_english_on_request(app, clients):
    admin = clients["admin"]
    admin.post("/language", data={"lang": "en", "next": "/admin/users", "csrf_token": csrf_token(admin)})
    text = admin.get("/admin/users").get_data(as_text=True)
    assert "Users and roles" in text and "New user" in text
    admin.post("/language", data={"lang": "zh", "next": "/admin/users", "csrf_token": csrf_token(admin)})
    assert "用户与角色" in admin.get("/admin/users").get_data(as_text=True)


def test_passwords_stay_argon2_hashes(clients, web_runtime):
    assert post(clients["admin"], "/admin/users", username="hash-check", password="hash-check-pass",
                role="commander").status_code == 303
    with web_runtime.transaction() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "hash-check"))
    assert stored.startswith("$argon2") and "hash-check-pass" not in stored
    assert PASSWORD  # (the fixtures' users keep theirs)
