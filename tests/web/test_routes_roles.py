"""Every route of the app, with every role: the access rule of each is written down in RULES, and the walk
checks it. A route that is not in RULES fails `test_every_route_has_a_rule`: whoever adds one decides who may
use it.

What the walk asserts, for each probe (a request with sample arguments) and each role:
- anonymous: pages redirect to /login, the API and event streams answer 401, webhooks 403 (unsigned);
- a role the rule does not list: 403;
- a listed role: neither 401 nor 403, nor a redirect to /login, nor a 5xx;
- the officer of street A on a probe naming street B (a path, a filter or an object of B): 403;
- every answer an officer gets shows nothing of street B (its sites, people, phone numbers), except on the
  routes marked `district_wide`;
- every answer a viewer gets shows no phone number in clear;
- every state-changing request outside the API and the webhooks is refused (400) without a CSRF token.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from mobilize.models import Assignment, AssignmentStatus, Demand
from mobilize.models._types import utcnow
from tests.peacetime.route_rules import roster_probes, roster_rules, seed_roster_sample
from tests.web.conftest import ROLES, STREET_A, STREET_B, Registry, csrf_token, login

ANONYMOUS = "anonymous"
EVERYONE = frozenset(ROLES)
COMMAND_CENTER = frozenset({"admin", "commander", "viewer"})
COMMANDERS = frozenset({"admin", "commander"})
OFFICER_ACTIONS = frozenset({"admin", "commander", "officer"})


@dataclass(frozen=True)
class Rule:
    """Who may use a route. kind: public (no login), page (login, HTML), events (login, SSE), api (bearer
    token), webhook (Twilio's signature)."""

    kind: str
    roles: frozenset = EVERYONE
    district_wide: bool = False  # officers are shown other streets' data here, deliberately (see the note)
    note: str = ""


RULES: dict[str, Rule] = {
    "static": Rule("public"),
    "health.healthz": Rule("public", note="reachability only, no data"),
    "health.metrics": Rule("public", note="counts only; restrict /metrics at the proxy in production"),
    "openapi.spec": Rule("public"),
    "twilio.inbound_sms": Rule("webhook"),
    "twilio.delivery_status": Rule("webhook"),
    "auth.login_form": Rule("public"),
    "auth.login": Rule("public"),
    "auth.logout": Rule("public"),
    "auth.language": Rule("public"),
    "ui.home": Rule("page"),
    "ui.command": Rule("page", COMMAND_CENTER),
    "ui.command_messages": Rule("page", COMMAND_CENTER),
    "ui.board": Rule("page"),
    "ui.board_sites": Rule("page"),
    "ui.phones": Rule("page", COMMANDERS, note="the simulator shows every number in clear"),
    "events.events": Rule("events"),  # per channel: see the probes
    # Orders in the pages (issue 6): the command center's order pages are district-wide (no officers); the
    # board's order fragment and its one-click actions are per street, not for viewers.
    "ui.orders_list": Rule("page", COMMAND_CENTER),
    "ui.order_new": Rule("page", COMMANDERS),
    "ui.order_create": Rule("page", COMMANDERS),
    "ui.order_page": Rule("page", COMMAND_CENTER),
    "ui.order_progress": Rule("page", COMMAND_CENTER),
    "ui.order_csv": Rule("page", COMMAND_CENTER, note="phone numbers masked for viewers"),
    "ui.order_launch": Rule("page", COMMANDERS),
    "ui.order_top_up": Rule("page", COMMANDERS),
    "ui.order_cancel": Rule("page", COMMANDERS),
    "ui.order_open_call": Rule("page", COMMANDERS),
    # Say it before sending it (issue 10): the confirmation step shows who gets which SMS (phone numbers
    # included), so it is the commanders' alone, like the actions it confirms; a draft is edited and discarded.
    "ui.order_confirm": Rule("page", COMMANDERS),
    "ui.order_stop_recruiting": Rule("page", COMMANDERS),
    "ui.order_finish": Rule("page", COMMANDERS),
    "ui.order_edit": Rule("page", COMMANDERS),
    "ui.order_update": Rule("page", COMMANDERS),
    "ui.order_discard": Rule("page", COMMANDERS),
    "ui.board_orders": Rule("page"),
    "ui.board_action": Rule("page", OFFICER_ACTIONS),
    "ui.board_backfill": Rule("page", OFFICER_ACTIONS),
    "api.list_streets": Rule("api"),
    "api.list_sites": Rule("api"),
    "api.get_site": Rule("api"),
    "api.list_volunteers": Rule("api"),
    "api.get_volunteer": Rule("api"),
    # Wartime orders: an officer sees the orders with places in their street, and only those places; the
    # audience preview is district-wide, so it is for the command center only.
    "api.create_order": Rule("api", COMMANDERS),
    "api.list_orders": Rule("api"),
    "api.get_order": Rule("api"),
    "api.update_order": Rule("api", COMMANDERS),
    "api.preview_order": Rule("api", COMMAND_CENTER),
    "api.order_progress": Rule("api"),
    "api.list_assignments": Rule("api"),
    "api.arrive_assignment": Rule("api", OFFICER_ACTIONS),
    "api.no_show_assignment": Rule("api", OFFICER_ACTIONS),
    "api.release_assignment": Rule("api", OFFICER_ACTIONS),
    "api.launch_order": Rule("api", COMMANDERS),
    "api.top_up_order": Rule("api", COMMANDERS),
    "api.cancel_order": Rule("api", COMMANDERS),
    "api.stop_recruiting_order": Rule("api", COMMANDERS),
    "api.finish_order": Rule("api", COMMANDERS),
    # What an action will send: district-wide (every recipient of the order), so for the command center only;
    # viewers see the phone numbers masked.
    "api.preview_action": Rule("api", COMMAND_CENTER, note="phone numbers masked for viewers"),
    "api.preview_top_up": Rule("api", COMMAND_CENTER, note="phone numbers masked for viewers"),
}
RULES.update(roster_rules(Rule, EVERYONE, OFFICER_ACTIONS, COMMANDERS))  # the roster's own file
RULES.update({
    # Notices: an officer drafts, previews and sends to their own street only; viewers read.
    "api.create_notice": Rule("api", OFFICER_ACTIONS),
    "api.list_notices": Rule("api"),
    "api.get_notice": Rule("api"),
    "api.preview_notice": Rule("api"),
    "api.send_notice": Rule("api", OFFICER_ACTIONS),
    # Open call: publishing an order openly is the command center's; verifying a provisional volunteer is
    # for the officer of their street (or of a street where they serve) and the command center.
    "api.set_open_call": Rule("api", COMMANDERS),
    "api.verify_volunteer": Rule("api", OFFICER_ACTIONS),
    # Dead letters (issue 12): the district's inbound messages that failed processing; the command center
    # lists them (viewers with numbers masked), admins and commanders retry one.
    "api.list_dead_inbound": Rule("api", COMMAND_CENTER, note="phone numbers masked for viewers"),
    "api.retry_dead_inbound": Rule("api", COMMANDERS),
})


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    street: str | None = None  # "A" or "B" when the request names a street's data
    roles: frozenset | None = None  # overrides the rule's roles for this probe (event channels)
    form: dict | None = None
    json: dict | None = None
    expect: int | None = None  # the status every role gets (public forms answer the same to everyone)
    fresh_login: bool = False  # the probe ends the session (logout): use a login of its own


@dataclass
class Sample:
    registry: Registry
    order_id: int | None = None
    assignment_a: int = 999_999
    assignment_b: int = 999_998
    volunteer_a: int = 0
    volunteer_b: int = 0
    demands: list = field(default_factory=list)
    roster: object = None
    notice_a: int = 999_999
    notice_b: int = 999_998


def _order_probes(s: Sample) -> dict[str, list[Probe]]:
    order = f"/api/v1/orders/{s.order_id}"
    demand = {"site_id": s.registry.site_a, "role": "registration"}
    return {
        "api.create_order": [Probe("POST", "/api/v1/orders", json=_order_body(s.registry))],
        "api.list_orders": [Probe("GET", "/api/v1/orders")],
        "api.get_order": [Probe("GET", order)],
        "api.update_order": [Probe("PATCH", order, json={"title": "改名的招募令"})],
        "api.preview_order": [Probe("GET", f"{order}/preview")],
        "api.order_progress": [Probe("GET", f"{order}/progress"), Probe("GET", f"{order}/progress?street=八大关",
                                                                        street="A"),
                               Probe("GET", f"{order}/progress?street=湛山", street="B")],
        "api.list_assignments": [Probe("GET", f"{order}/assignments"),
                                 Probe("GET", f"{order}/assignments?street={STREET_B}", street="B")],
        **{f"api.{name}_assignment": [
            Probe("POST", f"{order}/assignments/{s.assignment_b}/{path}", street="B"),
            Probe("POST", f"{order}/assignments/{s.assignment_a}/{path}", street="A")]
           for name, path in (("arrive", "arrive"), ("no_show", "no-show"), ("release", "release"))},
        "api.launch_order": [Probe("POST", f"{order}/launch")],
        "api.top_up_order": [Probe("POST", f"{order}/top-up", json={"demands": [{**demand, "add": 1}]})],
        # (the previews first, while the sample order is a draft with two confirmed volunteers: they have
        # messages, with phone numbers, to show; the actions below then end it)
        "api.preview_action": [Probe("GET", f"{order}/preview/{action}") for action in (
            "launch", "stop-recruiting", "finish", "cancel",
            "top-up?demands=" + json.dumps([{**demand, "add": 1}]))],
        "api.preview_top_up": [Probe("POST", f"{order}/preview/top-up", json={"demands": [{**demand, "add": 1}]})],
        "api.cancel_order": [Probe("POST", f"{order}/cancel", json={"reason": "演练"})],
        "api.stop_recruiting_order": [Probe("POST", f"{order}/stop-recruiting")],
        "api.finish_order": [Probe("POST", f"{order}/finish")],
        **_order_page_probes(s),
    }


def _order_page_probes(s: Sample) -> dict[str, list[Probe]]:
    page = f"/command/orders/{s.order_id}"
    starts = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    ends = (utcnow() + timedelta(days=1, hours=4)).strftime("%Y-%m-%dT%H:%M")
    demand_a, demand_b = s.demands or (999_999, 999_998)
    return {
        "ui.orders_list": [Probe("GET", "/command/orders")],
        "ui.order_new": [Probe("GET", "/command/orders/new")],
        "ui.order_create": [Probe("POST", "/command/orders", form={
            "title": "页面创建的招募令", "starts_at": starts, "ends_at": ends,
            f"cap-{s.registry.site_a}-registration": "1"})],
        "ui.order_page": [Probe("GET", page)],
        "ui.order_progress": [Probe("GET", f"{page}/progress")],
        "ui.order_csv": [Probe("GET", f"{page}/assignments.csv")],
        "ui.order_launch": [Probe("POST", f"{page}/launch")],
        "ui.order_top_up": [Probe("POST", f"{page}/top-up",
                                  form={f"add-{s.registry.site_a}-registration": "1"})],
        "ui.order_cancel": [Probe("POST", f"{page}/cancel", form={"reason": "演练"})],
        "ui.order_open_call": [Probe("POST", f"{page}/open-call", form={"open_call": "1"})],
        "ui.order_confirm": [Probe("GET", f"{page}/confirm/{action}") for action in (
            "launch", "stop-recruiting", "finish", "cancel?reason=演练", "discard",
            f"top-up?add-{s.registry.site_a}-registration=1")],
        "ui.order_stop_recruiting": [Probe("POST", f"{page}/stop-recruiting")],
        "ui.order_finish": [Probe("POST", f"{page}/finish")],
        "ui.order_edit": [Probe("GET", f"{page}/edit")],
        "ui.order_update": [Probe("POST", f"{page}/edit", form={
            "title": "改过的招募令", "starts_at": starts, "ends_at": ends,
            f"cap-{s.registry.site_a}-registration": "1"})],
        "ui.order_discard": [Probe("POST", f"{page}/discard")],
        "ui.board_orders": [Probe("GET", f"/board/{STREET_A}/orders", street="A"),
                            Probe("GET", f"/board/{STREET_B}/orders", street="B")],
        "ui.board_action": [
            Probe("POST", f"/board/{street}/assignments/{assignment}/{action}", street=letter)
            for action in ("arrive", "no-show", "release")
            for street, assignment, letter in ((STREET_B, s.assignment_b, "B"), (STREET_A, s.assignment_a, "A"))],
        "ui.board_backfill": [Probe("POST", f"/board/{STREET_B}/demands/{demand_b}/backfill", street="B"),
                              Probe("POST", f"/board/{STREET_A}/demands/{demand_a}/backfill", street="A")],
    }


def _outreach_probes(s: Sample) -> dict[str, list[Probe]]:
    notice_body = {"texts": {"zh": "明早八点核酸检测，请带身份证"}}
    probes = {
        "api.create_notice": [Probe("POST", "/api/v1/notices", json={**notice_body, "streets": ["湛山"]}, street="B"),
                              Probe("POST", "/api/v1/notices", json={**notice_body, "streets": ["八大关"]},
                                    street="A")],
        "api.list_notices": [Probe("GET", "/api/v1/notices")],
        "api.get_notice": [Probe("GET", f"/api/v1/notices/{s.notice_a}", street="A"),
                           Probe("GET", f"/api/v1/notices/{s.notice_b}", street="B")],
        "api.preview_notice": [Probe("GET", f"/api/v1/notices/{s.notice_a}/preview", street="A"),
                               Probe("GET", f"/api/v1/notices/{s.notice_b}/preview", street="B")],
        "api.send_notice": [Probe("POST", f"/api/v1/notices/{s.notice_b}/send", street="B"),
                            Probe("POST", f"/api/v1/notices/{s.notice_a}/send", street="A")],
        "api.verify_volunteer": [Probe("POST", f"/api/v1/volunteers/{s.volunteer_b}/verify", json={}, street="B"),
                                 Probe("POST", f"/api/v1/volunteers/{s.volunteer_a}/verify", json={},
                                       street="A")],
    }
    if s.order_id:
        probes["api.set_open_call"] = [Probe("POST", f"/api/v1/orders/{s.order_id}/open-call",
                                             json={"open_call": True})]
    return probes


def probes(s: Sample) -> dict[str, list[Probe]]:
    r = s.registry
    return {
        "static": [Probe("GET", "/static/app.css")],
        "health.healthz": [Probe("GET", "/healthz")],
        "health.metrics": [Probe("GET", "/metrics")],
        "openapi.spec": [Probe("GET", "/api/v1/openapi.json")],
        "twilio.inbound_sms": [Probe("POST", "/twilio/sms", expect=403,
                                     form={"MessageSid": "SM1", "From": "+8613900000001"})],
        "twilio.delivery_status": [Probe("POST", "/twilio/status", form={"MessageSid": "SM1",
                                                                           "MessageStatus": "delivered"},
                                         expect=403)],
        "auth.login_form": [Probe("GET", "/login")],
        "auth.login": [Probe("POST", "/login", form={"username": "nobody", "password": "wrong-password"},
                             expect=401)],
        "auth.logout": [Probe("POST", "/logout", expect=302, fresh_login=True)],
        "auth.language": [Probe("POST", "/language", form={"lang": "zh", "next": "/login"}, expect=302)],
        "ui.home": [Probe("GET", "/")],
        "ui.command": [Probe("GET", "/command")],
        "ui.command_messages": [Probe("GET", "/command/messages")],
        "ui.board": [Probe("GET", f"/board/{STREET_A}", street="A"), Probe("GET", "/board/八大关街道", street="A"),
                     Probe("GET", f"/board/{STREET_B}", street="B"), Probe("GET", "/board/湛山", street="B")],
        "ui.board_sites": [Probe("GET", f"/board/{STREET_A}/sites", street="A"),
                           Probe("GET", f"/board/{STREET_B}/sites", street="B")],
        "ui.phones": [Probe("GET", "/phones")],
        "events.events": [Probe("GET", "/events/command", roles=COMMAND_CENTER),
                          Probe("GET", f"/events/street-{STREET_A}", street="A"),
                          Probe("GET", f"/events/street-{STREET_B}", street="B")],
        "api.list_streets": [Probe("GET", "/api/v1/streets")],
        "api.list_sites": [Probe("GET", "/api/v1/sites"),
                           Probe("GET", "/api/v1/sites?street=湛山街道", street="B")],
        "api.get_site": [Probe("GET", f"/api/v1/sites/{r.site_a}", street="A"),
                         Probe("GET", f"/api/v1/sites/{r.site_b}", street="B")],
        "api.list_volunteers": [Probe("GET", "/api/v1/volunteers"),
                                Probe("GET", f"/api/v1/volunteers?street={STREET_B}", street="B")],
        "api.get_volunteer": [Probe("GET", f"/api/v1/volunteers/{s.volunteer_a}", street="A"),
                              Probe("GET", f"/api/v1/volunteers/{s.volunteer_b}", street="B")],
        **(_order_probes(s) if s.order_id else {}),
        **(roster_probes(Probe, s.roster) if s.roster else {}),
        **_outreach_probes(s),
        "api.list_dead_inbound": [Probe("GET", "/api/v1/inbound/dead")],
        "api.retry_dead_inbound": [Probe("POST", "/api/v1/inbound/999999/retry")],  # 404 for commanders
    }


# --- the sample data ----------------------------------------------------------------------------------------


def _order_body(registry: Registry) -> dict:
    starts = utcnow() + timedelta(days=1)
    return {"title": "全员核酸检测志愿者招募", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=5)).isoformat(),
            "demands": [{"site_id": registry.site_a, "role": "registration", "capacity": 2},
                        {"site_id": registry.site_b, "role": "queue_keeping", "capacity": 2}]}


@pytest.fixture
def sample(app, registry, web_runtime) -> Sample:
    data = Sample(registry, volunteer_a=registry.volunteers_a[0][0], volunteer_b=registry.volunteers_b[0][0])
    if "api.create_order" in {rule.endpoint for rule in app.url_map.iter_rules()}:
        created = app.test_client().post("/api/v1/orders", json=_order_body(registry),
                                         headers=_bearer(registry, "commander"))
        assert created.status_code == 201, created.get_data(as_text=True)
        data.order_id = created.json["id"]
        data.assignment_a, data.assignment_b = _assignments(web_runtime, data)
    data.roster = seed_roster_sample(web_runtime, registry)
    if "api.create_notice" in {rule.endpoint for rule in app.url_map.iter_rules()}:
        for street, attribute in (("八大关", "notice_a"), ("湛山", "notice_b")):
            created = app.test_client().post("/api/v1/notices", headers=_bearer(registry, "commander"),
                                             json={"texts": {"zh": "明早八点核酸检测"}, "streets": [street]})
            assert created.status_code == 201, created.get_data(as_text=True)
            setattr(data, attribute, created.json["id"])
    return data


def _assignments(runtime, data: Sample) -> tuple[int, int]:
    """One confirmed volunteer at each street's demand, as matching would leave them."""
    with runtime.transaction() as session:
        ids = []
        for site_id, (volunteer_id, _, _) in ((data.registry.site_a, data.registry.volunteers_a[1]),
                                              (data.registry.site_b, data.registry.volunteers_b[1])):
            demand = session.scalar(select(Demand).where(Demand.order_id == data.order_id,
                                                         Demand.site_id == site_id))
            demand.filled += 1
            assignment = Assignment(order_id=data.order_id, demand_id=demand.id, volunteer_id=volunteer_id,
                                    status=AssignmentStatus.confirmed, notified_at=utcnow(),
                                    confirmed_at=utcnow())
            session.add(assignment)
            session.flush()
            ids.append(assignment.id)
            data.demands.append(demand.id)
    return ids[0], ids[1]


def _bearer(registry: Registry, role: str) -> dict:
    return {"Authorization": f"Bearer {registry.tokens[role]}"}


# --- the walk -----------------------------------------------------------------------------------------------


def test_every_route_has_a_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    unclassified = sorted(endpoints - set(RULES))
    assert not unclassified, (f"routes without an access rule: {unclassified}. Add each to RULES in "
                              f"{__file__} (who may use it?) and give it probes.")


def test_every_route_and_method_is_probed(app, sample):
    table = probes(sample)
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in RULES:
            continue  # test_every_route_has_a_rule reports it
        methods = rule.methods - {"HEAD", "OPTIONS"}
        probed = {probe.method for probe in table.get(rule.endpoint, [])}
        missing += [f"{method} {rule.rule} ({rule.endpoint})" for method in sorted(methods - probed)]
    assert not missing, f"no probe for: {missing}"


def test_every_route_with_every_role(app, sample):
    clients = _clients(app, sample.registry)
    table = probes(sample)
    failures: list[str] = []
    for endpoint in sorted(table):
        rule = RULES[endpoint]
        for probe in table[endpoint]:
            for role in (ANONYMOUS, "viewer", "officer", "admin", "commander"):
                client = _client_for(app, clients, role, probe)
                response = _send(client, probe, rule, role, sample.registry)
                failures += [f"{role:9} {probe.method} {probe.path}: {problem}"
                             for problem in _check(rule, probe, role, response, sample.registry)]
    assert not failures, "access rules broken:\n" + "\n".join(failures)


def test_state_changing_pages_need_a_csrf_token(app, sample):
    """Every POST/PUT/PATCH/DELETE outside the API and the webhooks: 400 without the form's token."""
    client = app.test_client()
    login(client, "commander")
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] in ("api", "twilio"):
            continue  # bearer tokens, Twilio's signature: no cookies, no CSRF
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            path = next(p.path for p in probes(sample)[rule.endpoint] if p.method == method)
            response = client.open(path, method=method, data={"lang": "en", "username": "commander"})
            assert response.status_code == 400, f"{method} {path} accepted without a CSRF token"
            checked.append(path)
    assert {"/login", "/logout", "/language"} <= set(checked)
    assert client.get("/command").status_code == 200  # the refused logout left the session alone


def test_the_api_ignores_session_cookies(app, sample):
    """The API is exempt from CSRF because a browser's cookies never authenticate it: bearer tokens do."""
    client = app.test_client()
    login(client, "commander")
    assert client.get("/command").status_code == 200
    assert client.get("/api/v1/volunteers").status_code == 401
    assert client.post("/api/v1/orders", json=_order_body(sample.registry)).status_code == 401


def _clients(app, registry: Registry) -> dict:
    result = {}
    for role in ROLES:
        client = app.test_client()
        assert login(client, role).status_code == 302
        result[role] = client
    return result


def _client_for(app, clients: dict, role: str, probe: Probe):
    if role == ANONYMOUS:
        return app.test_client()
    if probe.fresh_login:
        client = app.test_client()
        login(client, role)
        return client
    return clients[role]


def _send(client, probe: Probe, rule: Rule, role: str, registry: Registry):
    headers = {}
    if rule.kind == "api" and role != ANONYMOUS:
        headers = _bearer(registry, role)
    form = dict(probe.form or {})
    if probe.method != "GET" and rule.kind in ("public", "page"):
        form["csrf_token"] = csrf_token(client)
    response = client.open(probe.path, method=probe.method, headers=headers, json=probe.json,
                           data=form if form else None)
    response.get_data()
    response.close()  # streams give their slot back
    return response


def _check(rule: Rule, probe: Probe, role: str, response, registry: Registry) -> list[str]:
    status = response.status_code
    location = response.headers.get("Location", "")
    problems = []
    if status >= 500:
        return [f"server error {status}"]
    if probe.expect is not None:
        if status != probe.expect:
            problems.append(f"expected {probe.expect}, got {status}")
    elif role == ANONYMOUS and rule.kind != "public":
        wanted = {"page": 302, "events": 401, "api": 401, "webhook": 403}[rule.kind]
        if status != wanted or (wanted == 302 and not location.startswith("/login")):
            target = " to /login" if wanted == 302 else ""
            problems.append(f"anonymous should get {wanted}{target}, got {status}")
    elif role != ANONYMOUS:
        problems += _check_role(rule, probe, role, status, location)
    if 200 <= status < 300:
        problems += _check_shown(rule, role, response.get_data(as_text=True), registry)
    return problems


def _check_role(rule: Rule, probe: Probe, role: str, status: int, location: str) -> list[str]:
    allowed = role in (probe.roles if probe.roles is not None else rule.roles)
    if rule.kind != "public" and role == "officer" and probe.street == "B":
        allowed = False
    if not allowed:
        return [] if status == 403 else [f"should be 403, got {status}"]
    if status in (401, 403) or location.startswith("/login"):
        return [f"should be allowed, got {status} {location}"]
    return []


def _check_shown(rule: Rule, role: str, body: str, registry: Registry) -> list[str]:
    problems = []
    if role == "officer" and not rule.district_wide:
        problems += [f"shows street B's {marker!r}" for marker in registry.street_b_markers if marker in body]
    if role == "viewer":
        problems += [f"shows the phone number {phone} in clear" for phone in registry.phones
                     if phone in body or phone[3:] in body]
    return problems


def test_the_rules_say_what_they_mean():
    """A rule that grants a role nobody has would make the walk pass vacuously."""
    for endpoint, rule in RULES.items():
        assert rule.kind in ("public", "page", "events", "api", "webhook"), endpoint
        assert rule.roles and rule.roles <= EVERYONE, endpoint

