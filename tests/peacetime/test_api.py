"""The roster API: posts, patterns, shifts by street and date, exceptions, sign-ups, check-in and out, swaps,
service records and certification, hours and stars, the certificate; officers limited to their street."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mobilize.accounts import issue_token
from mobilize.app import create_app
from mobilize.models import (AuditEvent, ServiceKind, ServiceRecord, ServiceStatus, Site, Street, User, UserRole,
                             Volunteer)
from mobilize.models._types import utcnow
from tests import factories
from tests.peacetime.conftest import people, shift


@pytest.fixture
def client(sqlite_runtime):
    return create_app(runtime=sqlite_runtime).test_client()


@pytest.fixture
def world(sqlite_runtime):
    with sqlite_runtime.transaction() as session:
        tokens = {}
        for username, role, street in (("cmd", "commander", None), ("off", "officer", "八大关"),
                                       ("zs", "officer", "湛山"), ("view", "viewer", None)):
            # no password (argon2 is slow on purpose): these users only need API tokens
            street_id = session.scalar(select(Street.id).where(Street.short_name == street)) if street else None
            user = User(username=username, password_hash="!", role=UserRole(role), street_id=street_id, active=True,
                        failed_logins=0)
            session.add(user)
            session.flush()
            tokens[username] = issue_token(session, user)
        badaguan = factories.site(session, "八大关", "太平角路口", roles={"civility_guide": 3})
        zhanshan = factories.site(session, "湛山", "湛山地铁站", roles={"civility_guide": 3}, lat=36.0605, lon=120.367)
        volunteers = [v.id for v in people(session, 4)]
        return {"tokens": tokens, "badaguan": badaguan.id, "zhanshan": zhanshan.id, "volunteers": volunteers}


def auth(world, who: str) -> dict:
    return {"Authorization": f"Bearer {world['tokens'][who]}"}


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.json
    error = response.json["error"]
    assert error["message"] and (code is None or error["code"] == code), error
    return error


def test_posts_patterns_and_shifts_scoped_to_the_officers_street(client, world) -> None:
    off, zs, cmd, view = (auth(world, who) for who in ("off", "zs", "cmd", "view"))
    created = client.post("/api/v1/posts", json={"site_id": world["badaguan"], "role": "civility_guide", "slots": 2},
                          headers=off)
    assert created.status_code == 201, created.json
    post_id = created.json["id"]
    assert created.json["name"] == "太平角路口文明引导" and created.json["protected"] is False
    _error(client.post("/api/v1/posts", json={"site_id": world["zhanshan"], "role": "civility_guide", "slots": 2},
                       headers=off), 403, "other_street")
    _error(client.patch(f"/api/v1/posts/{post_id}", json={"protected": True}, headers=off), 403)
    assert client.patch(f"/api/v1/posts/{post_id}", json={"protected": True}, headers=cmd).json["protected"]
    _error(client.post("/api/v1/posts", json={"site_id": world["badaguan"], "role": "nope", "slots": 2},
                       headers=cmd), 422, "invalid_roster_input")
    _error(client.post(f"/api/v1/posts/{post_id}/patterns", json={"weekdays": "9", "start_time": "07:00",
                                                                  "end_time": "09:00"}, headers=off), 422)
    _error(client.post(f"/api/v1/posts/{post_id}/patterns", json={"weekdays": "1-5", "start_time": "7am",
                                                                  "end_time": "09:00"}, headers=off), 422)
    pattern = client.post(f"/api/v1/posts/{post_id}/patterns",
                          json={"weekdays": "1-7", "start_time": "07:00", "end_time": "09:00"}, headers=off)
    assert pattern.status_code == 201 and pattern.json["shifts_created"] in (13, 14)
    tomorrow = (utcnow().astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date()
    listed = client.get(f"/api/v1/shifts?street=八大关&date={tomorrow}&days=2", headers=view).json
    assert [s["local_date"] for s in listed["items"]] == [str(tomorrow), str(tomorrow + timedelta(days=1))]
    assert listed["items"][0]["starts_at"].endswith("T23:00:00Z") or "23:00:00" in listed["items"][0]["starts_at"]
    assert client.get("/api/v1/shifts?street=八大关", headers=zs).status_code == 403
    assert client.get("/api/v1/posts", headers=zs).json["items"] == []  # their street has none
    assert client.get(f"/api/v1/posts/{post_id}", headers=zs).status_code == 403
    _error(client.post("/api/v1/posts", json={"site_id": world["badaguan"], "role": "patrol", "slots": 2},
                       headers=view), 403)


def _post_and_shift(client, world, who="off") -> tuple[int, dict]:
    post_id = client.post("/api/v1/posts", json={"site_id": world["badaguan"], "role": "civility_guide",
                                                 "slots": 1}, headers=auth(world, who)).json["id"]
    start = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    created = client.post(f"/api/v1/posts/{post_id}/shifts", headers=auth(world, who), json={
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()})
    assert created.status_code == 201, created.json
    return post_id, created.json


def test_sign_ups_full_overlap_waitlist_cancel_and_holiday(client, world, sqlite_runtime) -> None:
    off = auth(world, "off")
    a, b, c, _ = world["volunteers"]
    post_id, extra = _post_and_shift(client, world)
    assert extra["extra"] and extra["capacity"] == 1 and len(extra["code"]) == 4
    booked = client.post(f"/api/v1/shifts/{extra['id']}/signups", json={"volunteer_id": a}, headers=off)
    assert booked.status_code == 201 and booked.json["outcome"] == "booked" and booked.json["source"] == "officer"
    _error(client.post(f"/api/v1/shifts/{extra['id']}/signups", json={"volunteer_id": b}, headers=off), 409,
           "shift_full")
    waiting = client.post(f"/api/v1/shifts/{extra['id']}/signups", json={"volunteer_id": b, "waitlist": True},
                          headers=off).json
    assert (waiting["status"], waiting["waitlist_position"]) == ("waitlisted", 1)
    start = extra["starts_at"]
    twin = client.post(f"/api/v1/posts/{post_id}/shifts", headers=off, json={
        "starts_at": start.replace("Z", "+00:00"), "ends_at": extra["ends_at"].replace("Z", "+00:00")})
    _error(twin, 409, "duplicate_shift")
    other_post = client.post("/api/v1/posts", json={"site_id": world["badaguan"], "role": "patrol", "slots": 2},
                             headers=off).json["id"]
    overlapping = client.post(f"/api/v1/posts/{other_post}/shifts", headers=off, json={
        "starts_at": start.replace("Z", "+00:00"), "ends_at": extra["ends_at"].replace("Z", "+00:00")}).json
    error = _error(client.post(f"/api/v1/shifts/{overlapping['id']}/signups", json={"volunteer_id": a},
                               headers=off), 409, "overlapping_booking")
    assert error["details"]["overlaps"][0]["code"] == extra["code"]
    cancelled = client.post(f"/api/v1/signups/{booked.json['id']}/cancel", json={}, headers=off).json
    assert cancelled["status"] == "removed"
    detail = client.get(f"/api/v1/shifts/{extra['id']}", headers=off).json
    assert [(s["volunteer"]["id"], s["status"]) for s in detail["signups"]] == [(a, "removed"), (b, "booked")]
    assert detail["filled"] == 1 and detail["waitlisted"] == 0
    masked = client.get(f"/api/v1/shifts/{extra['id']}", headers=auth(world, "view")).json
    assert "*" in masked["signups"][0]["volunteer"]["phone"]
    local_day = extra["local_date"]
    holiday = client.post("/api/v1/holidays", json={"date": local_day, "reason": "台风停岗", "street": "八大关"},
                          headers=off)
    assert holiday.status_code == 201 and holiday.json["cancelled_shifts"] == 2
    assert client.get(f"/api/v1/shifts/{extra['id']}", headers=off).json["status"] == "cancelled"
    _error(client.post("/api/v1/holidays", json={"date": local_day, "reason": "x"}, headers=off), 403)
    _error(client.post("/api/v1/holidays", json={"date": local_day, "reason": "x", "street": "湛山"},
                       headers=off), 403, "other_street")


def test_check_in_out_certify_hours_and_certificate(client, world, sqlite_runtime) -> None:
    off, zs, view = auth(world, "off"), auth(world, "zs"), auth(world, "view")
    a = world["volunteers"][0]
    post_id, _ = _post_and_shift(client, world)
    now = utcnow()
    with sqlite_runtime.transaction() as session:
        from mobilize.models import Post

        current = shift(session, session.get(Post, post_id), now - timedelta(hours=3), hours=2)
        current_id = current.id
        session.add(ServiceRecord(volunteer_id=a, kind=ServiceKind.imported, description="导入", hours=98,
                                  certified_hours=98, status=ServiceStatus.certified))
    # booked before the start (the API refuses started shifts): written directly
    with sqlite_runtime.transaction() as session:
        from mobilize.models import ShiftSignup

        signup = ShiftSignup(shift_id=current_id, volunteer_id=a, status="booked", source="officer", created_by="t",
                             booked_at=now - timedelta(days=1))
        session.add(signup)
        session.flush()
        signup_id = signup.id
        session.get(type(current), current_id).filled = 1
    started = client.post(f"/api/v1/signups/{signup_id}/check-in",
                          json={"at": (now - timedelta(hours=3) + timedelta(minutes=20)).isoformat()}, headers=off)
    assert started.status_code == 200 and started.json["late_minutes"] == 20
    _error(client.post(f"/api/v1/signups/{signup_id}/check-in", json={}, headers=zs), 403, "other_street")
    record = client.post(f"/api/v1/signups/{signup_id}/check-out",
                         json={"at": (now - timedelta(hours=1)).isoformat()}, headers=off).json
    assert (record["status"], record["hours"]) == ("pending", round(100 / 60, 2))
    pending = client.get("/api/v1/service-records?status=pending&street=八大关", headers=off).json
    assert [r["id"] for r in pending["items"]] == [record["id"]]
    _error(client.post(f"/api/v1/service-records/{record['id']}/certify", json={"hours": 2}, headers=off), 422,
           "reason_required")
    _error(client.post(f"/api/v1/service-records/{record['id']}/certify", json={}, headers=view), 403)
    _error(client.post(f"/api/v1/service-records/{record['id']}/certify", json={}, headers=zs), 403)
    certified = client.post(f"/api/v1/service-records/{record['id']}/certify",
                            json={"hours": 2, "reason": "迟到经核实为交通管制"}, headers=off).json
    assert (certified["status"], certified["certified_hours"], certified["certified_by"]) == ("certified", 2, "off")
    hours = client.get(f"/api/v1/volunteers/{a}/hours", headers=off).json
    assert (hours["certified_hours"], hours["points"], hours["stars"], hours["next_threshold"]) == (100, 100, 1, 300)
    assert client.get(f"/api/v1/volunteers/{a}/hours", headers=zs).status_code == 403
    page = client.get(f"/api/v1/volunteers/{a}/certificate", headers=off)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "志愿服务时长证明" in html and "100</strong> 小时" in html and "★" in html and "迟到" not in html
    csv_text = client.get(f"/api/v1/volunteers/{a}/certificate.csv", headers=off).get_data(as_text=True)
    lines = csv_text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("record_id,kind,date") and len(lines) == 3
    assert client.get(f"/api/v1/volunteers/{a}/certificate").status_code == 401
    with sqlite_runtime.transaction() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "off")))
    assert {"shift.checked_in", "shift.checked_out", "service.adjusted"} <= set(actions)


def test_no_show_swap_and_gaps(client, world, sqlite_runtime) -> None:
    off, zs = auth(world, "off"), auth(world, "zs")
    a, b = world["volunteers"][:2]
    post_id, extra = _post_and_shift(client, world)
    signup = client.post(f"/api/v1/shifts/{extra['id']}/signups", json={"volunteer_id": a}, headers=off).json
    _error(client.post(f"/api/v1/signups/{signup['id']}/no-show", headers=off), 409, "shift_not_started")
    swap = client.post("/api/v1/swaps", json={"signup_id": signup["id"], "with_volunteer_id": b}, headers=off)
    assert swap.status_code == 201 and swap.json["status"] == "proposed"
    swap_id = swap.json["id"]
    assert client.post(f"/api/v1/swaps/{swap_id}/answer", json={"volunteer_id": a, "accept": True},
                       headers=off).json["status"] == "proposed"
    done = client.post(f"/api/v1/swaps/{swap_id}/answer", json={"volunteer_id": b, "accept": True}, headers=off)
    assert done.json["status"] == "completed"
    detail = client.get(f"/api/v1/shifts/{extra['id']}", headers=off).json
    assert [(s["volunteer"]["id"], s["status"]) for s in detail["signups"]] == [(a, "swapped"), (b, "booked")]
    gaps = client.get(f"/api/v1/roster/gaps?date={extra['local_date']}&days=1", headers=off).json
    assert [s["street"] for s in gaps["streets"]] == ["八大关街道"]  # an officer's own street only
    assert client.get("/api/v1/roster/gaps?street=八大关", headers=zs).status_code == 403
    assert client.get("/api/v1/roster/gap-reports", headers=off).json["items"] == []
    assert client.post("/api/v1/roster/generate", headers=off).status_code == 403
    assert client.post("/api/v1/roster/generate", headers=auth(world, "cmd")).json["created"] == 0


def test_the_roster_is_in_the_openapi_document(client) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/posts", "/api/v1/shifts", "/api/v1/shifts/{shift_id}/signups",
                 "/api/v1/signups/{signup_id}/check-in", "/api/v1/service-records/{record_id}/certify",
                 "/api/v1/volunteers/{volunteer_id}/hours", "/api/v1/volunteers/{volunteer_id}/certificate",
                 "/api/v1/roster/gaps", "/api/v1/swaps", "/api/v1/holidays"):
        assert path in paths, path


def test_a_swap_across_two_streets_concerns_both_officers_each_for_their_own_side(client, world,
                                                                                   sqlite_runtime) -> None:
    off, zs, cmd = auth(world, "off"), auth(world, "zs"), auth(world, "cmd")
    a, b, c = world["volunteers"][:3]
    with sqlite_runtime.transaction() as session:  # b and c live in 湛山; a's shift is in 八大关
        zhanshan_street = session.get(Site, world["zhanshan"]).street_id
        for volunteer_id in (b, c):
            session.get(Volunteer, volunteer_id).street_id = zhanshan_street
    _post_id, extra = _post_and_shift(client, world)
    signup = client.post(f"/api/v1/shifts/{extra['id']}/signups", json={"volunteer_id": a}, headers=off).json
    swap_id = client.post("/api/v1/swaps", json={"signup_id": signup["id"], "with_volunteer_id": b},
                          headers=cmd).json["id"]
    assert client.get(f"/api/v1/swaps/{swap_id}", headers=zs).status_code == 200  # b's side is in 湛山
    _error(client.post(f"/api/v1/swaps/{swap_id}/answer", json={"volunteer_id": a, "accept": True}, headers=zs),
           403, "other_street")
    _error(client.post(f"/api/v1/swaps/{swap_id}/answer", json={"volunteer_id": b, "accept": True}, headers=off),
           403, "other_street")
    assert client.post(f"/api/v1/swaps/{swap_id}/answer", json={"volunteer_id": b, "accept": True},
                       headers=zs).json["status"] == "proposed"
    assert client.post(f"/api/v1/swaps/{swap_id}/answer", json={"volunteer_id": a, "accept": True},
                       headers=off).json["status"] == "completed"
