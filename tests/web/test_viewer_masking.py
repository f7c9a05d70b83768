"""Viewers read no phone number in clear, wherever it was written (issue 13): in a notice's texts, an order's
title, a holiday's reason, a service record, an SMS; in the API as on the pages, with the pages' rule
(`redact_phone_numbers`). Roles that call people (admins, commanders, officers) read them in clear.

The route walk (`test_routes_roles.py`) checks every viewer-visible response for the numbers it plants; these
tests pin the rule and the masked form.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from mobilize.domain.phones import redact_phone_numbers
from mobilize.models import InboundMessage, ServiceKind, ServiceRecord, ServiceStatus
from mobilize.models._types import utcnow
from tests.web.conftest import Registry

WRITTEN = {"+8613700000001": "+86137****0001", "13700000002": "137****0002", "137 0000 0003": "137****0003",
           "137-0000-0004": "137****0004"}
NOTICE_TEXT = "明早八点核酸检测，有事请联系 +8613700000001 或 13700000002"
NOTICE_EN = "Questions: 137 0000 0003"
NOTICE_NOTE = "值班电话 137-0000-0004"


@pytest.mark.parametrize("written, masked", list(WRITTEN.items()) + [
    ("请联系+8613800138000。", "请联系+86138****8000。"), ("+86 138 0013 8000", "+86 138****8000")])
def test_phone_numbers_are_masked_however_they_are_written(written, masked):
    assert redact_phone_numbers(written) == masked


@pytest.mark.parametrize("text", ["订单 213700000002", "2024-05-01 13:00", "#27 Y27", "第13700000002000号",
                                  "12345"])
def test_other_numbers_are_left_alone(text):
    assert redact_phone_numbers(text) == text


def _bearer(registry: Registry, role: str) -> dict:
    return {"Authorization": f"Bearer {registry.tokens[role]}"}


def _shown(app, registry: Registry, role: str, path: str) -> str:
    response = app.test_client().get(path, headers=_bearer(registry, role))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _in_clear(body: str) -> list[str]:
    return [written for written in WRITTEN if written in body or written.replace(" ", "").replace("-", "")
            .removeprefix("+86") in body]


@pytest.fixture
def notice(app, registry) -> int:
    created = app.test_client().post("/api/v1/notices", headers=_bearer(registry, "commander"), json={
        "texts": {"zh": NOTICE_TEXT, "en": NOTICE_EN}, "streets": ["八大关"], "note": NOTICE_NOTE})
    assert created.status_code == 201, created.get_data(as_text=True)
    return created.json["id"]


@pytest.mark.parametrize("path", ["/api/v1/notices", "/api/v1/notices/{id}", "/api/v1/notices/{id}/preview"])
def test_viewers_read_notices_with_the_numbers_in_them_masked(app, registry, notice, path):
    body = _shown(app, registry, "viewer", path.format(id=notice))
    assert _in_clear(body) == []
    assert "137****0002" in body  # masked as on the pages, the rest of the text kept


def test_a_viewers_notice_is_the_commanders_with_only_the_numbers_masked(app, registry, notice):
    client = app.test_client()
    commander = client.get(f"/api/v1/notices/{notice}", headers=_bearer(registry, "commander")).json
    viewer = client.get(f"/api/v1/notices/{notice}", headers=_bearer(registry, "viewer")).json
    assert commander["texts"] == {"zh": NOTICE_TEXT, "en": NOTICE_EN} and commander["note"] == NOTICE_NOTE
    assert viewer["texts"] == {"zh": redact_phone_numbers(NOTICE_TEXT), "en": "Questions: 137****0003"}
    assert viewer["note"] == "值班电话 137****0004"
    unmasked = {key: value for key, value in commander.items() if key not in ("texts", "note")}
    assert {key: viewer[key] for key in unmasked} == unmasked  # ids, counts and times untouched


@pytest.mark.parametrize("role", ["commander", "officer", "admin"])
def test_roles_that_call_people_read_the_numbers_in_clear(app, registry, notice, role):
    assert sorted(_in_clear(_shown(app, registry, role, f"/api/v1/notices/{notice}"))) == sorted(WRITTEN)


def test_viewers_read_holidays_titles_and_service_records_masked(app, registry, web_runtime):
    client, commander = app.test_client(), _bearer(registry, "commander")
    day = (utcnow() + timedelta(days=45)).date().isoformat()
    assert client.post("/api/v1/holidays", headers=commander,
                       json={"date": day, "reason": "检修，联系 13700000002"}).status_code == 201
    starts = utcnow() + timedelta(days=1)
    assert client.post("/api/v1/orders", headers=commander, json={
        "title": "招募，联系 137 0000 0003", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat(),
        "demands": [{"site_id": registry.site_a, "role": "registration", "capacity": 1}]}).status_code == 201
    volunteer_id = registry.volunteers_a[0][0]
    with web_runtime.transaction() as session:
        session.add(ServiceRecord(volunteer_id=volunteer_id, kind=ServiceKind.imported,
                                  site_id=registry.site_a, description="导入，证明人 +8613700000001", hours=2.0,
                                  status=ServiceStatus.pending))
    with web_runtime.transaction() as session:
        session.execute(update(ServiceRecord).values(status=ServiceStatus.certified, certified_hours=2.0,
                                                     certified_by="commander", certified_at=utcnow()))
    certificate = f"/api/v1/volunteers/{volunteer_id}/certificate"
    for path in ("/api/v1/holidays", "/api/v1/orders", "/api/v1/service-records", certificate,
                 f"{certificate}.csv"):
        assert _in_clear(_shown(app, registry, "viewer", path)) == [], path
        assert _in_clear(_shown(app, registry, "commander", path)) != [], path  # the check can fail


def test_the_pages_mask_an_orders_title_and_every_way_of_writing_a_number_in_an_sms(app, registry,
                                                                                      web_runtime, clients):
    starts = utcnow() + timedelta(days=1)
    created = app.test_client().post("/api/v1/orders", headers=_bearer(registry, "commander"), json={
        "title": "招募，联系 13700000002", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat(),
        "demands": [{"site_id": registry.site_a, "role": "registration", "capacity": 1}]})
    assert created.status_code == 201
    with web_runtime.transaction() as session:
        session.add(InboundMessage(message_sid="SM" + "3" * 32, from_phone=registry.volunteers_a[1][2],
                                   to_phone="+8610690000", body="新号 137 0000 0003，备用 137-0000-0004"))
    for path in ("/command", "/command/orders", f"/command/orders/{created.json['id']}", "/command/messages"):
        viewer = clients["viewer"].get(path).get_data(as_text=True)
        assert _in_clear(viewer) == [], path
        assert _in_clear(clients["commander"].get(path).get_data(as_text=True)) != [], path
