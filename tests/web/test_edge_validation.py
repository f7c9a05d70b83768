"""Input is validated at the edge: ids and pages within the databases' range (a 404 or a 422, never a 500),
`next` without control characters and still no open redirect, strict types in JSON bodies, errors that keep
their own message and headers, and an OpenAPI document that says so.

The walk at the top goes through every route of the app (API, pages, webhooks, streams), as an admin, with ids
and page numbers past what a 64-bit database integer holds.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from mobilize.models._types import utcnow
from mobilize.web.api.pagination import MAX_PAGE
from mobilize.web.converters import DATABASE_INT_MAX, decimal_up_to
from tests.web.conftest import PASSWORD, STREET_A, csrf_token, login

OUT_OF_RANGE = (2**63, 10**20, 0)
QUERY_NUMBERS = (2**63, 10**20, -1, "1e400")
# Every number a query string of the API or of the pages reads (pages, counts, row ids).
QUERY_PARAMETERS = ("page", "per_page", "days", "site_id", "post_id", "shift_id", "volunteer_id")
JSON_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
# What a route's text arguments are set to: an existing street, a known action, an event channel.
TEXT_ARGUMENTS = {"street": STREET_A, "action": "launch", "channel": "command", "filename": "app.css"}


def _bearer(registry, role: str = "admin") -> dict:
    return {"Authorization": f"Bearer {registry.tokens[role]}"}


def _path(rule, number: int) -> str:
    def value(match: re.Match) -> str:
        if match.group("converter") == "int":
            return str(number)
        return TEXT_ARGUMENTS.get(match.group("name"), "x")

    return _ARGUMENT.sub(value, rule.rule)


def _send(client, app, registry, method: str, path: str):
    """As an admin: the API with the admin's token, a page with the admin's session (and its CSRF token)."""
    if path.startswith("/api/"):
        body = {"json": {}} if method in JSON_METHODS else {}
        return client.open(path, method=method, headers=_bearer(registry), **body)
    data = {"csrf_token": csrf_token(client)} if method in JSON_METHODS else None
    return client.open(path, method=method, data=data)


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


@pytest.fixture
def admin(app, registry):
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    return client


def test_every_route_answers_an_out_of_range_id_with_a_404(app, registry, admin):
    walked, wrong = 0, []
    for rule, method in _routes(app):
        if "int" not in {match.group("converter") for match in _ARGUMENT.finditer(rule.rule)}:
            continue
        for number in OUT_OF_RANGE:
            path = _path(rule, number)
            response = _send(admin, app, registry, method, path)
            walked += 1
            if response.status_code != 404:
                wrong.append(f"{method} {path}: {response.status_code}")
    assert walked > 100, "the walk found too few routes with an id"
    assert not wrong, "an id out of range must match no route:\n" + "\n".join(wrong)


def test_every_route_survives_the_largest_id(app, registry, admin):
    """The largest id the databases hold reaches the views (no such row): they answer, never a 5xx."""
    server_errors = []
    for rule, method in _routes(app):
        path = _path(rule, DATABASE_INT_MAX)
        response = _send(admin, app, registry, method, path)
        if response.status_code >= 500:
            server_errors.append(f"{method} {path}: {response.status_code}")
    assert not server_errors, "\n".join(server_errors)


def test_every_get_route_survives_numbers_out_of_range_in_its_query(app, registry, admin):
    server_errors, refused = [], 0
    for rule, method in _routes(app):
        if method != "GET" or rule.endpoint in ("static", "events.events"):
            continue
        for parameter in QUERY_PARAMETERS:
            for number in QUERY_NUMBERS:
                path = f"{_path(rule, 1)}?{parameter}={number}"
                response = _send(admin, app, registry, method, path)
                refused += response.status_code == 422
                if response.status_code >= 500:
                    server_errors.append(f"GET {path}: {response.status_code}")
    assert refused > 100, "the query walk reached too few parameters"
    assert not server_errors, "\n".join(server_errors)


@pytest.mark.parametrize("page, status", [(1, 200), (MAX_PAGE, 200), (MAX_PAGE + 1, 422), (2**63, 422),
                                          (10**20, 422), (0, 422), ("2.0", 200)])
def test_pages_are_bounded_so_that_the_offset_fits_the_database(app, registry, page, status):
    response = app.test_client().get(f"/api/v1/volunteers?page={page}&per_page=200",
                                     headers=_bearer(registry))
    assert response.status_code == status, response.json
    if status == 422:
        assert "query.page" in response.json["error"]["message"]
    elif page == MAX_PAGE:
        assert response.json["items"] == [] and response.json["pagination"]["page"] == MAX_PAGE


@pytest.mark.parametrize("path", ["/api/v1/volunteers/99999999999999999999", "/api/v1/orders/0",
                                  "/api/v1/sites/-1", "/api/v1/shifts/007",
                                  "/command/orders/99999999999999999999"])
def test_an_id_out_of_range_is_a_404_that_says_so(app, registry, admin, path):
    response = (app.test_client().get(path, headers=_bearer(registry)) if path.startswith("/api/")
                else admin.get(path))
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert "out of range" in response.json["error"]["message"]


def test_the_largest_id_reaches_the_view(app, registry):
    response = app.test_client().get(f"/api/v1/volunteers/{DATABASE_INT_MAX}", headers=_bearer(registry))
    assert response.status_code == 404
    assert response.json["error"]["message"] == f"no volunteer {DATABASE_INT_MAX}"


@pytest.mark.parametrize("limit", [1, 7, 9, 10, 15, 99, 100, 101, 509, 1000, 2024])
def test_the_id_pattern_matches_exactly_one_to_the_limit(limit):
    pattern = re.compile(decimal_up_to(limit))
    for number in range(0, 3 * limit + 20):
        assert bool(pattern.fullmatch(str(number))) == (1 <= number <= limit), number
    assert not pattern.fullmatch(f"0{limit}")


def test_the_id_pattern_stops_at_the_database_limit():
    pattern = re.compile(decimal_up_to(DATABASE_INT_MAX))
    assert pattern.fullmatch(str(DATABASE_INT_MAX)) and pattern.fullmatch(str(DATABASE_INT_MAX - 8))
    assert not pattern.fullmatch(str(DATABASE_INT_MAX + 1)) and not pattern.fullmatch(str(10**19))


# --- next ---------------------------------------------------------------------------------------------------

CONTROL_TARGETS = ["/\r\nX-Injected: 1", "/\rX:1", "/\nX:1", "/\t/evil.example.org", "/command\x01", "/\x7f"]
# (a NUL is refused before `next` is read: nul_characters, tested below)


@pytest.mark.parametrize("target", CONTROL_TARGETS)
def test_login_form_drops_a_next_with_control_characters(app, registry, admin, target):
    anonymous = app.test_client().get("/login", query_string={"next": target})
    assert anonymous.status_code == 200 and target not in anonymous.get_data(as_text=True)
    logged_in = admin.get("/login", query_string={"next": target})
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == "/command"


@pytest.mark.parametrize("target", CONTROL_TARGETS + ["//evil.example.org", "/\\evil.example.org",
                                                      "https://evil.example.org/"])
def test_login_and_language_never_redirect_to_control_characters_or_elsewhere(app, registry, target):
    client = app.test_client()
    form = {"username": "commander", "password": PASSWORD, "csrf_token": csrf_token(client), "next": target}
    response = client.post("/login", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/command"
    response = client.post("/language", data={"lang": "en", "next": target, "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_local_next_is_still_followed(app, registry):
    client = app.test_client()
    form = {"username": "commander", "password": PASSWORD, "csrf_token": csrf_token(client),
            "next": "/command/orders?state=open"}
    assert client.post("/login", data=form).headers["Location"] == "/command/orders?state=open"


# --- strict types in JSON bodies; query strings keep their text --------------------------------------------


@pytest.mark.parametrize("value", [0, 1, "true", "false", "yes", None, [], {}])
def test_a_json_boolean_is_true_or_false_only(app, registry, value):
    response = app.test_client().post("/api/v1/orders/1/open-call", json={"open_call": value},
                                      headers=_bearer(registry))
    assert response.status_code == 422 and "json.open_call" in response.json["error"]["message"]


def test_a_json_boolean_passes(app, registry):
    response = app.test_client().post("/api/v1/orders/1/open-call", json={"open_call": True},
                                      headers=_bearer(registry))
    assert response.status_code == 404  # through the schema, to the view: there is no order 1


@pytest.mark.parametrize("body, field", [
    ({"volunteer_id": "1"}, "volunteer_id"), ({"volunteer_id": True}, "volunteer_id"),
    ({"volunteer_id": 1.5}, "volunteer_id"), ({"volunteer_id": 2**63}, "volunteer_id"),
    ({"volunteer_id": 0}, "volunteer_id"), ({"volunteer_id": 1, "waitlist": 1}, "waitlist"),
])
def test_json_integers_are_numbers_in_the_databases_range(app, registry, body, field):
    response = app.test_client().post("/api/v1/shifts/1/signups", json=body, headers=_bearer(registry))
    assert response.status_code == 422 and f"json.{field}" in response.json["error"]["message"]


def test_a_json_integer_may_have_a_zero_fraction(app, registry):
    response = app.test_client().post("/api/v1/shifts/1/signups", json={"volunteer_id": 1.0},
                                      headers=_bearer(registry))
    assert response.status_code == 404  # past the schema: there is no shift 1


@pytest.mark.parametrize("hours", ["2.5", True])
def test_json_numbers_are_not_strings(app, registry, hours):
    response = app.test_client().post("/api/v1/service-records/1/certify", json={"hours": hours},
                                      headers=_bearer(registry))
    assert response.status_code == 422 and "json.hours" in response.json["error"]["message"]


@pytest.mark.parametrize("path", ["/api/v1/roster/gaps?date=0001-01-01",
                                  "/api/v1/roster/gaps?date=9999-12-31", "/api/v1/shifts?date=1899-12-31"])
def test_dates_are_within_the_years_the_service_computes_with(app, registry, path):
    """Year 1 in Asia/Shanghai is before the first datetime in UTC, the day after 9999-12-31 does not exist:
    both were 500s of the local-time arithmetic."""
    response = app.test_client().get(path, headers=_bearer(registry))
    assert response.status_code == 422
    assert response.json["error"]["message"] == \
        "invalid input: query.date: Must be in the years 1900 to 2999."


def test_json_dates_and_times_are_within_those_years(app, registry):
    client = app.test_client()
    holiday = client.post("/api/v1/holidays", json={"date": "9999-12-31", "reason": "x"},
                          headers=_bearer(registry))
    shift = client.post("/api/v1/posts/1/shifts", headers=_bearer(registry), json={
        "starts_at": "0001-01-01T00:00:00", "ends_at": "0001-01-01T02:00:00"})
    assert holiday.status_code == 422 and "json.date" in holiday.json["error"]["message"]
    assert shift.status_code == 422 and "json.starts_at" in shift.json["error"]["message"]


def test_query_strings_are_read_as_text_as_before(app, registry):
    client = app.test_client()
    for query in ("active=true&protected=0&site_id=1", "page=2&per_page=10", "open_only=1&days=2.0"):
        path = "/api/v1/shifts" if "open_only" in query else "/api/v1/posts"
        assert client.get(f"{path}?{query}", headers=_bearer(registry)).status_code == 200, query


# --- errors keep their message and their headers -----------------------------------------------------------


def test_a_views_own_422_keeps_its_message(app, registry):
    response = app.test_client().get("/api/v1/volunteers?skill=x", headers=_bearer(registry))
    assert response.status_code == 422
    assert response.json["error"] == {"code": "unknown_skill", "message": "unknown skill 'x'", "details": {}}


def test_a_schema_422_names_the_field_and_the_problem(app, registry):
    response = app.test_client().get("/api/v1/volunteers?per_page=0", headers=_bearer(registry))
    assert response.status_code == 422
    assert response.json["error"]["message"] == \
        "invalid input: query.per_page: Must be greater than or equal to 1 and less than or equal to 200."


def test_a_body_that_is_not_json_is_a_400_that_says_so(app, registry):
    response = app.test_client().post("/api/v1/orders", data=b"{\xff", headers={
        **_bearer(registry), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith("the request body is not valid JSON")


def test_the_apis_405_lists_the_allowed_methods(app, registry):
    response = app.test_client().delete("/api/v1/orders", headers=_bearer(registry))
    assert response.status_code == 405 and response.json["error"]["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


@pytest.mark.parametrize("path, allowed", [("/login", {"GET", "HEAD", "OPTIONS", "POST"}),
                                           ("/logout", {"OPTIONS", "POST"}),
                                           (f"/board/{STREET_A}", {"GET", "HEAD", "OPTIONS"})])
def test_a_pages_405_lists_the_allowed_methods(app, registry, admin, path, allowed):
    response = admin.open(path, method="PUT", headers={"Accept": "text/html"})
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) == allowed
    assert response.mimetype == "text/html"


# --- the pages' forms read their numbers within range ------------------------------------------------------


def _order(app, registry) -> int:
    starts = utcnow() + timedelta(days=1)
    body = {"title": "全员核酸检测志愿者招募", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=5)).isoformat(),
            "demands": [{"site_id": registry.site_a, "role": "registration", "capacity": 2}]}
    response = app.test_client().post("/api/v1/orders", json=body, headers=_bearer(registry))
    assert response.status_code == 201, response.json
    return response.json["id"]


def _order_form(registry, **extra) -> dict:
    starts = utcnow() + timedelta(days=1)
    return {"title": "招募", "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (starts + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M"),
            f"cap-{registry.site_a}-registration": "2", **extra}


@pytest.mark.parametrize("field, value", [("rest_hours", "1e400"), ("max_distance_km", "1e400"),
                                          ("wave_interval_min", "1e400"),
                                          ("rest_hours", "99999999999999999999")])
def test_the_order_form_refuses_numbers_out_of_range(app, registry, admin, field, value):
    form = {**_order_form(registry, **{field: value}), "csrf_token": csrf_token(admin, "/command")}
    for path in ("/command/orders", f"/command/orders/{_order(app, registry)}/edit"):
        assert admin.post(path, data=form).status_code == 422, path


@pytest.mark.parametrize("site_id", [2**63, 10**20])
def test_the_order_form_ignores_a_place_at_a_site_id_out_of_range(app, registry, admin, site_id):
    """As it ignores any other capacity field that names no site id: the form's other places are saved."""
    form = {**_order_form(registry, **{f"cap-{site_id}-registration": "1"}), "csrf_token": csrf_token(admin)}
    for path in ("/command/orders", f"/command/orders/{_order(app, registry)}/edit"):
        assert admin.post(path, data=form).status_code == 303, path


@pytest.mark.parametrize("field, value", [(f"add-{2**63}-registration", "1"),
                                          (f"add-{10**20}-registration", "1"),
                                          ("new_add", "99999999999999999999"),
                                          ("new_site_role", f"{2**63}:x"),
                                          ("add-1-registration", "²"), ("new_add", "²")])
def test_the_top_up_forms_refuse_numbers_out_of_range(app, registry, admin, field, value):
    order_id = _order(app, registry)
    extra = {"new_site_role": f"{registry.site_a}:registration"} if field == "new_add" else {}
    confirm = admin.get(f"/command/orders/{order_id}/confirm/top-up", query_string={field: value, **extra})
    assert confirm.status_code < 500
    posted = admin.post(f"/command/orders/{order_id}/top-up",
                        data={field: value, **extra, "csrf_token": csrf_token(admin, "/command")})
    assert posted.status_code < 500


# --- the OpenAPI document -----------------------------------------------------------------------------------


@pytest.fixture
def spec(app) -> dict:
    return app.test_client().get("/api/v1/openapi.json").get_json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def _schema(spec: dict, reference: dict) -> dict:
    if "$ref" not in reference:
        return reference
    return spec["components"]["schemas"][reference["$ref"].rsplit("/", 1)[1]]


def test_request_bodies_with_required_fields_are_required(spec):
    bodies = {name: operation["requestBody"] for name, operation in _operations(spec)
              if "requestBody" in operation}
    assert len(bodies) > 20
    for name, body in bodies.items():
        schema = _schema(spec, body["content"]["application/json"]["schema"])
        assert body.get("required", False) == bool(schema.get("required")), name


def test_every_json_body_documents_its_400(spec):
    for name, operation in _operations(spec):
        if "requestBody" in operation:
            assert "400" in operation["responses"], name


def test_path_ids_are_documented_with_their_range(spec):
    ids = [parameter["schema"] for _, operation in _operations(spec) for parameter in operation["parameters"]
           if parameter["in"] == "path" and parameter["schema"]["type"] == "integer"]
    assert len(ids) > 40
    assert all(schema["minimum"] == 1 and schema["maximum"] == DATABASE_INT_MAX for schema in ids)


def test_error_responses_document_the_error_format(spec):
    for name, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                schema = _schema(spec, response["content"]["application/json"]["schema"])
                assert schema["required"] == ["error"], (name, status)
                assert set(_schema(spec, schema["properties"]["error"])["required"]) == {"code", "message",
                                                                                        "details"}


def test_exclusive_bounds_are_documented_as_exclusive(spec):
    rate = spec["components"]["schemas"]["StrategyIn"]["properties"]["expected_answer_rate"]
    assert rate["exclusiveMinimum"] == 0 and rate["maximum"] == 1


def test_dates_document_their_years(spec):
    starts_at = spec["components"]["schemas"]["OrderIn"]["properties"]["starts_at"]
    assert re.match(starts_at["pattern"], "2026-12-06T08:00:00+08:00")
    assert not re.match(starts_at["pattern"], "0001-01-01T00:00:00Z")
    assert not re.match(starts_at["pattern"], "9999-12-31T00:00:00Z")


def test_the_webhooks_stay_out_of_the_document(spec):
    assert not [path for path in spec["paths"] if not path.startswith("/api/v1/")]


# --- NUL characters and names with nothing visible ---------------------------------------------------------


def test_a_nul_in_an_api_query_is_an_unknown_name_not_a_500(app, registry):
    response = app.test_client().get("/api/v1/volunteers?skill=a%00b", headers=_bearer(registry))
    assert response.status_code == 422
    assert response.json["error"]["message"] == "unknown skill 'a\ufffdb'"


def test_a_nul_in_an_api_json_string_is_an_unknown_name_not_a_500(app, registry):
    response = app.test_client().post("/api/v1/posts", headers=_bearer(registry),
                                      json={"site_id": registry.site_a, "role": "civility\x00guide", "slots": 2})
    assert response.status_code == 422 and "civility\ufffdguide" in response.json["error"]["message"]


@pytest.mark.parametrize("body, expected", [
    (rb'{"a": "x\u0000y"}', {"a": "x\ufffdy"}),
    (rb'{"a": "x\\u0000y"}', {"a": "x\\u0000y"}),  # a literal backslash and "u0000": text, kept
    (rb'{"a": "x\\\u0000y"}', {"a": "x\\\ufffdy"}),  # a literal backslash, then a NUL
])
def test_the_json_rewrite_keeps_escaped_backslashes_and_the_length(body, expected):
    import io
    import json

    from mobilize.web.nul_characters import _replace_in_json_body

    environ = {"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    _replace_in_json_body(environ)
    rewritten = environ["wsgi.input"].read()
    assert len(rewritten) == len(body) and json.loads(rewritten) == expected


def test_a_page_form_with_a_nul_character_is_refused_with_a_400_that_names_it(app, registry):
    response = app.test_client().post("/login", data={"username": "admin\x00", "password": PASSWORD})
    assert response.status_code == 400 and b"NUL" in response.data
    response = app.test_client().get("/login", query_string={"next": "/command\x00"})
    assert response.status_code == 400 and b"NUL" in response.data


@pytest.mark.parametrize("name", ["\u202e", "\u200b\u200d", " \t\n", "\u3164"])
def test_a_name_with_nothing_visible_is_a_422_never_a_500(app, registry, name):
    response = app.test_client().post("/api/v1/posts", headers=_bearer(registry), json={
        "site_id": registry.site_a, "role": "civility_guide", "slots": 2, "name": name})
    assert response.status_code == 422, response.json
    assert "control and direction characters" in response.json["error"]["message"] or \
        "name" in response.json["error"]["message"]
