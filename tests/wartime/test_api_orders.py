"""The orders API: commands for commanders, street-scoped boards for officers, masked phones for viewers, and
DESIGN's error format for every refusal (422 for bad input, 409 for a state that does not allow it)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from mobilize.accounts import issue_token
from mobilize.app import create_app
from sqlalchemy import update

from mobilize.models import Order, User, UserRole
from mobilize.models._types import utcnow
from tests import factories
from tests.wartime.conftest import ZHANSHAN, people, run_match, run_wave, sites, text


@pytest.fixture
def client(srt):
    return create_app(runtime=srt).test_client()


@pytest.fixture
def world(srt):
    """Users of every role, a site in 八大关 and one in 湛山, volunteers near both."""
    with srt.transaction() as session:
        tokens = {}
        for username, role, street in (("cmd", "commander", None), ("off", "officer", "八大关"),
                                       ("zhan", "officer", "湛山"), ("view", "viewer", None)):
            # straight rows: these tests log in with tokens only, and argon2 hashing is slow on purpose
            user = User(username=username, password_hash="-", role=UserRole(role), active=True, failed_logins=0,
                        street_id=factories.street(session, street).id if street else None)
            session.add(user)
            session.flush()
            tokens[username] = issue_token(session, user)
        site, other = sites(session)
        crowd = people(session, 4) + people(session, 4, "湛山", near=ZHANSHAN)
        return {"tokens": tokens, "site": site.id, "other": other.id, "crowd": crowd}


def auth(world, who: str = "cmd") -> dict:
    return {"Authorization": f"Bearer {world['tokens'][who]}"}


def payload(world, **overrides) -> dict:
    body = {"title": "全员核酸检测志愿者招募", "starts_at": (utcnow() + timedelta(days=1)).isoformat(),
            "ends_at": (utcnow() + timedelta(days=1, hours=5)).isoformat(),
            "demands": [{"site_id": world["site"], "role": "registration", "capacity": 2},
                        {"site_id": world["other"], "role": "queue_keeping", "capacity": 2}],
            "eligibility": {"max_distance_m": 8000, "rest_hours": 12},
            "strategy": {"expected_answer_rate": 0.5, "over_recruit_factor": 1.0, "wave_interval_s": 300}}
    body.update(overrides)
    return body


def create(client, world, **overrides) -> dict:
    response = client.post("/api/v1/orders", json=payload(world, **overrides), headers=auth(world))
    assert response.status_code == 201, response.json
    return response.json


def test_create_read_list_update_while_draft(client, world):
    order = create(client, world)
    assert order["state"] == "draft" and order["reply_code"] == "10" and order["capacity"] == 4
    assert [(d["role"], d["capacity"], d["open"]) for d in order["demands"]] == [("registration", 2, 2),
                                                                                 ("queue_keeping", 2, 2)]
    assert order["eligibility"]["streets"] is None and order["strategy"]["wave_interval_s"] == 300
    got = client.get(f"/api/v1/orders/{order['id']}", headers=auth(world, "view")).json
    assert got == order
    patched = client.patch(f"/api/v1/orders/{order['id']}", headers=auth(world),
                           json={"title": "第二轮", "eligibility": {"streets": ["八大关"]},
                                 "demands": [{"site_id": world["site"], "role": "registration", "capacity": 3}]})
    assert patched.status_code == 200, patched.json
    assert patched.json["title"] == "第二轮" and patched.json["capacity"] == 3
    assert patched.json["eligibility"]["streets"] == ["八大关街道"]
    listing = client.get("/api/v1/orders?state=draft", headers=auth(world, "off")).json
    assert [o["id"] for o in listing["items"]] == [order["id"]] and listing["pagination"]["total"] == 1


def test_naive_times_are_local(client, world):
    order = create(client, world, starts_at="2031-05-12T07:00:00", ends_at="2031-05-12T12:00:00")
    assert order["starts_at"].startswith("2031-05-11T23:00:00")  # 07:00 in Qingdao is 23:00 UTC


@pytest.mark.parametrize("change, where", [
    ({"title": ""}, "title"),
    ({"demands": []}, "demands"),
    ({"demands": [{"site_id": 1, "role": "registration", "capacity": 0}]}, "capacity"),
    ({"demands": [{"site_id": "x", "role": "registration", "capacity": 1}]}, "site_id"),
    ({"starts_at": "tomorrow"}, "starts_at"),
    ({"strategy": {"expected_answer_rate": 1.5}}, "expected_answer_rate"),
    ({"eligibility": {"languages": ["fr"]}}, "languages"),
    ({"colour": "red"}, "colour"),
])
def test_bad_payloads_get_422_naming_the_field(client, world, change, where):
    response = client.post("/api/v1/orders", json=payload(world, **change), headers=auth(world))
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "validation_error" and where in error["message"]


@pytest.mark.parametrize("change, words", [
    ({"demands": [{"site_id": 999, "role": "registration", "capacity": 1}]}, "unknown site 999"),
    ({"demands": [{"site_id": 1, "role": "juggling", "capacity": 1}]}, "unknown role"),
    ({"ends_at": (utcnow() + timedelta(hours=20)).isoformat()}, "must end after it starts"),
    ({"eligibility": {"streets": ["火星"]}}, "unknown street"),
])
def test_domain_refusals_are_422_too(client, world, change, words):
    response = client.post("/api/v1/orders", json=payload(world, **change), headers=auth(world))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_order" and words in response.json["error"]["message"]


def test_not_json_and_unknown_orders(client, world):
    assert client.post("/api/v1/orders", data="x", headers=auth(world)).status_code in (400, 415, 422)
    missing = client.get("/api/v1/orders/999", headers=auth(world))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_the_whole_life_and_illegal_transitions_get_409(client, srt, world):
    order = create(client, world)
    url = f"/api/v1/orders/{order['id']}"
    finished_draft = client.post(f"{url}/finish", headers=auth(world))
    assert finished_draft.status_code == 409
    assert finished_draft.json["error"]["code"] == "illegal_transition"
    assert "cannot finish order: it is still a draft" in finished_draft.json["error"]["message"]
    assert client.post(f"{url}/close", headers=auth(world)).status_code in (404, 405)  # close is gone
    preview = client.get(f"{url}/preview", headers=auth(world)).json
    assert preview["eligible"] == 8 and preview["open_places"] == 4
    assert preview["sms"]["first_wave"]["invitations"] == 8
    launched = client.post(f"{url}/launch", headers=auth(world))
    assert launched.status_code == 200 and launched.json["state"] == "open"
    again = client.post(f"{url}/launch", headers=auth(world))
    assert again.status_code == 409 and "it is open" in again.json["error"]["message"]
    edit = client.patch(url, json={"title": "x"}, headers=auth(world))
    assert edit.status_code == 409 and "top up" in edit.json["error"]["message"]
    run_wave(srt, order["id"])
    for volunteer in world["crowd"]:
        text(srt, volunteer, "Y")
    run_match(srt, order["id"])
    assert client.get(url, headers=auth(world)).json["state"] == "filled"
    topped = client.post(f"{url}/top-up", headers=auth(world),
                         json={"demands": [{"site_id": world["site"], "role": "registration", "add": 1}]})
    assert topped.status_code == 200 and topped.json["state"] == "open" and topped.json["capacity"] == 5
    early = client.post(f"{url}/finish", headers=auth(world))  # the window starts tomorrow
    assert early.status_code == 409 and early.json["error"]["code"] == "window_not_started"
    assert "stop recruiting" in early.json["error"]["message"] and "cancel" in early.json["error"]["message"]
    stopped = client.post(f"{url}/stop-recruiting", headers=auth(world))
    assert stopped.status_code == 200 and stopped.json["order"]["state"] == "staffed"
    assert stopped.json["order"]["recruiting_stopped_at"] is not None
    assert client.post(f"{url}/top-up", headers=auth(world), json={
        "demands": [{"site_id": world["site"], "role": "registration", "add": 1}]}).status_code == 409
    with srt.transaction() as session:  # the window has started
        session.execute(update(Order).where(Order.id == order["id"]).values(starts_at=utcnow() - timedelta(hours=1)))
    finished = client.post(f"{url}/finish", headers=auth(world))
    assert finished.status_code == 200 and finished.json["order"]["state"] == "closed"
    assert finished.json["no_shows"] == 4 and finished.json["order"]["closed_at"] is not None
    cancel = client.post(f"{url}/cancel", json={}, headers=auth(world))
    assert cancel.status_code == 409 and "it is closed" in cancel.json["error"]["message"]


def test_cancel_reports_who_was_told(client, srt, world):
    order = create(client, world)
    client.post(f"/api/v1/orders/{order['id']}/launch", headers=auth(world))
    run_wave(srt, order["id"])
    text(srt, world["crowd"][0], "Y")
    run_match(srt, order["id"])
    response = client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "天气"}, headers=auth(world))
    assert response.status_code == 200
    assert response.json["order"]["state"] == "cancelled" and response.json["released"] == 1


def test_only_commanders_change_orders(client, world):
    for who in ("off", "view"):
        response = client.post("/api/v1/orders", json=payload(world), headers=auth(world, who))
        assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    order = create(client, world)
    assert client.post(f"/api/v1/orders/{order['id']}/launch", headers=auth(world, "view")).status_code == 403


def running_order(client, srt, world) -> dict:
    order = create(client, world, strategy={"expected_answer_rate": 0.5, "over_recruit_factor": 1.0})
    client.post(f"/api/v1/orders/{order['id']}/launch", headers=auth(world))
    run_wave(srt, order["id"])
    for volunteer in world["crowd"]:
        text(srt, volunteer, "Y")
    run_match(srt, order["id"])
    return order


def test_progress_per_street_site_and_role_and_officer_scoping(client, srt, world):
    order = running_order(client, srt, world)
    url = f"/api/v1/orders/{order['id']}/progress"
    progress = client.get(url, headers=auth(world, "view")).json
    totals = progress["totals"]
    assert (totals["capacity"], totals["assigned"], totals["invited"], totals["accepted"], totals["standby"]) \
        == (4, 4, 8, 8, 4)
    assert {s["street"]: s["capacity"] for s in progress["streets"]} == {"八大关街道": 2, "湛山街道": 2}
    assert sorted(r["role"] for r in progress["roles"]) == ["queue_keeping", "registration"]
    assert len(progress["sites"]) == 2
    own = client.get(url, headers=auth(world, "off")).json
    assert [s["street"] for s in own["streets"]] == ["八大关街道"] and own["totals"]["capacity"] == 2
    assert client.get(f"{url}?street=湛山", headers=auth(world, "off")).status_code == 403
    assert client.get(f"{url}?street=湛山", headers=auth(world, "zhan")).status_code == 200


def test_assignments_masked_for_viewers_and_officer_actions_in_their_street_only(client, srt, world):
    order = running_order(client, srt, world)
    url = f"/api/v1/orders/{order['id']}/assignments"
    full = client.get(url, headers=auth(world)).json
    assert full["pagination"]["total"] == 4 and "*" not in full["items"][0]["volunteer"]["phone"]
    masked = client.get(url, headers=auth(world, "view")).json
    assert all("****" in item["volunteer"]["phone"] for item in masked["items"])
    own = client.get(url, headers=auth(world, "off")).json
    assert {item["street"] for item in own["items"]} == {"八大关街道"} and own["pagination"]["total"] == 2
    assert client.get(f"{url}?street=湛山", headers=auth(world, "off")).status_code == 403
    filtered = client.get(f"{url}?street=湛山&status=notified", headers=auth(world)).json
    assert {item["street"] for item in filtered["items"]} == {"湛山街道"}
    mine = own["items"][0]["id"]
    theirs = next(item["id"] for item in full["items"] if item["street"] == "湛山街道")
    assert client.post(f"{url}/{theirs}/arrive", headers=auth(world, "off")).status_code == 403
    assert client.post(f"{url}/{mine}/arrive", headers=auth(world, "view")).status_code == 403
    arrived = client.post(f"{url}/{mine}/arrive", headers=auth(world, "off"))
    assert arrived.status_code == 200 and arrived.json["status"] == "arrived" and arrived.json["arrived_at"]
    twice = client.post(f"{url}/{mine}/no-show", headers=auth(world, "off"))
    assert twice.status_code == 409 and "it is arrived" in twice.json["error"]["message"]
    no_show = client.post(f"{url}/{own['items'][1]['id']}/no-show", headers=auth(world, "off"))
    assert no_show.status_code == 200 and no_show.json["status"] == "no_show"
    released = client.post(f"{url}/{theirs}/release", headers=auth(world, "zhan"))
    assert released.status_code == 200 and released.json["end_reason"] == "released_by_officer"
    assert client.get(f"/api/v1/orders/{order['id']}", headers=auth(world)).json["filled"] == 2
    assert client.post(f"{url}/99999/arrive", headers=auth(world)).status_code == 404


def test_the_openapi_document_describes_the_orders_api(client, world):
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/api/v1/orders", "/api/v1/orders/{order_id}/launch", "/api/v1/orders/{order_id}/top-up",
                 "/api/v1/orders/{order_id}/preview", "/api/v1/orders/{order_id}/progress",
                 "/api/v1/orders/{order_id}/assignments/{assignment_id}/no-show"):
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    assert {"OrderIn", "OrderOut", "PreviewOut", "ProgressOut", "AssignmentOut"} <= set(schemas)
    assert "capacity" in schemas["DemandIn"]["properties"]


def test_needed_by_and_urgent_are_set_read_and_checked(client, world):
    order = create(client, world)
    assert order["needed_by"] is None and order["deadline"] == order["starts_at"] and order["urgent"] is False
    needed_by = (utcnow() + timedelta(hours=20)).isoformat()
    paced = create(client, world, needed_by=needed_by, urgent=True)
    assert paced["needed_by"] == paced["deadline"] and paced["deadline"].startswith(needed_by[:19])
    assert paced["urgent"] is True
    patched = client.patch(f"/api/v1/orders/{paced['id']}", headers=auth(world), json={"needed_by": None})
    assert patched.status_code == 200 and patched.json["deadline"] == patched.json["starts_at"]
    for when, words in (((utcnow() - timedelta(minutes=5)).isoformat(), "must be in the future"),
                        ((utcnow() + timedelta(days=2)).isoformat(), "must not be after the order ends")):
        refused = client.post("/api/v1/orders", json=payload(world, needed_by=when), headers=auth(world))
        assert refused.status_code == 422, refused.json
        error = refused.json["error"]
        assert error["code"] == "invalid_order" and words in error["details"]["needed_by"]
    bad = client.post("/api/v1/orders", json=payload(world, needed_by="soon"), headers=auth(world))
    assert bad.status_code == 422 and "needed_by" in bad.json["error"]["message"]
