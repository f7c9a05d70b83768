"""The API skeleton: bearer tokens, DESIGN's error format, pagination, filters, street scoping, masking."""
from __future__ import annotations

import pytest

from mobilize.accounts import create_user, issue_token, revoke_token
from mobilize.app import create_app
from tests import factories


@pytest.fixture
def app(runtime):
    return create_app(runtime=runtime)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def tokens(runtime):
    with runtime.transaction() as session:
        result = {}
        for username, role, street in (("cmd", "commander", None), ("off", "officer", "八大关"),
                                       ("view", "viewer", None)):
            user = create_user(session, username, "password-123", role, street)
            result[role] = issue_token(session, user)
        factories.site(session, "八大关", "太平角检测点")
        factories.site(session, "湛山", "湛山检测点", lat=36.06, lon=120.367)
        for number in range(7):
            factories.volunteer(session, "八大关", name=f"八大关{number}", skills=("medical",) if number < 2 else (),
                                teams=("太平角志愿服务队",))
        for number in range(4):
            factories.volunteer(session, "湛山", name=f"湛山{number}", language="en")
    return result


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_requests_without_a_valid_token_get_401_in_the_error_format(client, tokens):
    for headers in ({}, auth("mob_not-a-token"), {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/volunteers", headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"
        assert response.json["error"]["message"]


def test_revoked_token_is_refused(client, tokens, runtime):
    assert client.get("/api/v1/streets", headers=auth(tokens["commander"])).status_code == 200
    with runtime.transaction() as session:
        assert revoke_token(session, tokens["commander"])
    assert client.get("/api/v1/streets", headers=auth(tokens["commander"])).status_code == 401


def test_volunteers_paginate_and_filter(client, tokens):
    headers = auth(tokens["commander"])
    page = client.get("/api/v1/volunteers?per_page=5", headers=headers).json
    assert page["pagination"] == {"page": 1, "per_page": 5, "total": 11, "pages": 3, "next": 2, "prev": None}
    assert len(page["items"]) == 5
    last = client.get("/api/v1/volunteers?per_page=5&page=3", headers=headers).json
    assert len(last["items"]) == 1
    assert client.get("/api/v1/volunteers?street=湛山街道", headers=headers).json["pagination"]["total"] == 4
    assert client.get("/api/v1/volunteers?skill=medical", headers=headers).json["pagination"]["total"] == 2
    team = client.get("/api/v1/volunteers?team=太平角志愿服务队", headers=headers).json
    assert team["pagination"]["total"] == 7 and team["items"][0]["teams"] == ["太平角志愿服务队"]
    assert client.get("/api/v1/volunteers?language=en", headers=headers).json["pagination"]["total"] == 4


@pytest.mark.parametrize("query, code", [
    ("per_page=0", "validation_error"), ("per_page=1000", "validation_error"), ("page=abc", "validation_error"),
    ("street=火星", "unknown_street"), ("skill=juggling", "unknown_skill"), ("language=fr", "validation_error"),
])
def test_bad_queries_get_a_clear_4xx(client, tokens, query, code):
    response = client.get(f"/api/v1/volunteers?{query}", headers=auth(tokens["commander"]))
    assert 400 <= response.status_code < 500
    error = response.json["error"]
    assert error["code"] == code and error["message"]


def test_officer_sees_only_their_street(client, tokens):
    headers = auth(tokens["officer"])
    volunteers = client.get("/api/v1/volunteers", headers=headers).json
    assert volunteers["pagination"]["total"] == 7
    assert {item["street"] for item in volunteers["items"]} == {"八大关街道"}
    assert [s["short_name"] for s in client.get("/api/v1/streets", headers=headers).json["items"]] == ["八大关"]
    sites = client.get("/api/v1/sites", headers=headers).json["items"]
    assert [s["name"] for s in sites] == ["太平角检测点"]
    other = client.get("/api/v1/volunteers?street=湛山", headers=headers)
    assert other.status_code == 403 and other.json["error"]["code"] == "other_street"
    commander_sites = client.get("/api/v1/sites", headers=auth(tokens["commander"])).json["items"]
    other_site = next(s for s in commander_sites if s["name"] == "湛山检测点")
    assert client.get(f"/api/v1/sites/{other_site['id']}", headers=headers).status_code == 403


def test_viewer_gets_masked_phones_and_commander_full_ones(client, tokens):
    viewer = client.get("/api/v1/volunteers", headers=auth(tokens["viewer"])).json["items"][0]["phone"]
    commander = client.get("/api/v1/volunteers", headers=auth(tokens["commander"])).json["items"][0]["phone"]
    assert commander.startswith("+86139") and "*" not in commander
    assert viewer == commander[:6] + "****" + commander[-4:]


def test_sites_list_roles_and_capacities(client, tokens):
    sites = client.get("/api/v1/sites?street=八大关", headers=auth(tokens["commander"])).json["items"]
    assert sites[0]["roles"][0]["capacity"] in (2, 3)
    assert {r["role"] for r in sites[0]["roles"]} == {"registration", "queue_keeping"}


def test_unknown_api_path_and_method_are_json(client, tokens):
    missing = client.get("/api/v1/nothing-here", headers=auth(tokens["commander"]))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/streets", headers=auth(tokens["commander"]))
    assert wrong.status_code == 405 and wrong.json["error"]["code"] == "method_not_allowed"
    assert client.get("/api/v1/sites/999999", headers=auth(tokens["commander"])).status_code == 404


def test_openapi_document_describes_the_api(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/streets", "/api/v1/sites", "/api/v1/volunteers"} <= set(spec["paths"])
    assert "BearerAuth" in spec["components"]["securitySchemes"]
