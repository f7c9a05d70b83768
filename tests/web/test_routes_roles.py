"""Every route of the app, with every role: the access rule of each is written down in RULES, and the walk
checks it. A route that is not in RULES fails `test_every_route_has_a_rule`: whoever adds one decides who may
use it.

What the walk asserts, for each probe (a request with sample arguments) and each role:
- anonymous: pages redirect to /login, the API and event streams answer 401, webhooks 403 (unsigned);
- a role the rule does not list: 403;
- a listed role: neither 401 nor 403, nor a redirect to /login, nor a 5xx;
- the officer of street A on a probe naming street B (a path, a filter or an object of B, or a sub-resource of
  one: an order with places only in B, its progress and assignments, a notice to B...): 403;
- every answer an officer gets shows nothing of street B (its sites, people, phone numbers, and the texts of
  its own objects: its holidays' reasons, its notices, its order's title), except on the routes marked
  `district_wide`; lists are filtered, and an order spanning both streets shows the officer its street-A part;
- every answer a viewer gets shows no phone number in clear: neither the people's nor those planted in free
  text (a notice, an order's title, a holiday's reason, a post's notes, a service record, an SMS in the log);
- every state-changing request outside the API and the webhooks is refused (400) without a CSRF token.
"""
from __future__ import annotations

import io
import json
import re
import traceback
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Demand,
    GapReport,
    InboundMessage,
    Order,
    OrderState,
    Post,
    ServiceRecord,
    Site,
)
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
    "health.metrics": Rule("api", frozenset({"admin"}),
                           note="the district's figures: a bearer token, MOBILIZE_METRICS_TOKEN (Prometheus) "
                                "or an admin's API token"),
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
    # issue 17: the order form's estimate (commanders), an order's funnel and the filtered message log
    "ui.order_estimate": Rule("page", COMMANDERS),
    "ui.order_funnel": Rule("page", COMMAND_CENTER),
    "ui.message_log_page": Rule("page", COMMAND_CENTER, note="phone filter refused to viewers (403)"),
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
    # The officer in the field (issue 17): a street's check-in list, its alerts and its map data are the
    # street's (viewers read, numbers masked); checking in and undoing are the officer's and the commanders'.
    # The streets' approximate areas are the district's geography, with no one's data in them.
    "ui.checkin_page": Rule("page"),
    "ui.checkin_list": Rule("page"),
    "ui.checkin_arrive": Rule("page", OFFICER_ACTIONS),
    "ui.checkin_undo": Rule("page", OFFICER_ACTIONS),
    "ui.board_alerts": Rule("page"),
    "ui.board_map_sites": Rule("page"),
    "ui.district_geojson": Rule("page", note="street areas only: names and outlines, no people"),
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
    # Volunteer pages (issue 16): everyone searches and reads (officers their street's volunteers only, viewers
    # with phones masked and no search by phone); admins, commanders and officers edit and deactivate; the
    # import writes any street's volunteers, so it is the command center's (admins and commanders).
    "ui.volunteers": Rule("page", note="officers: their street only; viewers: masked phones, no phone search"),
    "ui.volunteer_page": Rule("page"),
    "ui.volunteer_edit": Rule("page", OFFICER_ACTIONS),
    "ui.volunteer_update": Rule("page", OFFICER_ACTIONS),
    "ui.volunteer_deactivate": Rule("page", OFFICER_ACTIONS),
    "ui.volunteer_reactivate": Rule("page", OFFICER_ACTIONS),
    "ui.import_form": Rule("page", COMMANDERS),
    "ui.import_upload": Rule("page", COMMANDERS),
    "ui.import_run": Rule("page", COMMANDERS),
    "ui.import_apply": Rule("page", COMMANDERS),
    # Exports (issue 17): the order's is the command center's, like its page; the hours and a street's roster
    # are every role's, an officer's held to their street (the hours: the service given there).
    "ui.order_xlsx": Rule("page", COMMAND_CENTER, note="phone numbers masked for viewers"),
    "ui.hours_export": Rule("page", note="officers: their street only; phone numbers masked for viewers"),
    "ui.roster_export": Rule("page", note="officers: their street only; phone numbers masked for viewers"),
})
ADMINS = frozenset({"admin"})
RULES.update({
    # The admin pages (issue 16): accounts, tokens, the audit trail and the background side are the admins'.
    f"ui.{name}": Rule("page", ADMINS) for name in (
        "admin_home", "admin_users", "admin_user_create", "admin_user", "admin_user_role", "admin_user_lock",
        "admin_user_unlock", "admin_user_password", "admin_tokens", "admin_token_create", "admin_token_revoke",
        "admin_audit", "admin_audit_csv", "admin_system", "admin_system_status", "admin_retry_failed_job",
        "admin_retry_dead_letter")
})
# The roster pages (issue 16): everyone reads a street's roster (officers their own street; viewers with numbers
# masked); officers (their street), admins and commanders change it. The backfill preview lists recipients'
# numbers and leads to sending, so it is for those who may send it.
RULES.update({f"ui.{name}": Rule("page") for name in (
    "roster", "roster_street", "roster_print", "roster_shift", "roster_posts", "roster_post")})
RULES.update({f"ui.{name}": Rule("page", OFFICER_ACTIONS) for name in (
    "roster_add_volunteer", "roster_remove_signup", "roster_answer_swap", "roster_backfill_preview",
    "roster_backfill", "roster_create_post", "roster_update_post", "roster_add_pattern", "roster_stop_pattern")})


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


# Texts only street B's own objects hold (or, for the notice to both streets, objects an officer of A may not
# read): an officer of street A must never be shown one.
B_ORDER_TITLE = "湛山专属招募令"
B_HOLIDAY_REASON = "湛山街道自行车赛封路"
B_POST_HOLIDAY_REASON = "湛山岗位检修停岗"
B_NOTICE_TEXT = "湛山街道：明早七点集合"
BOTH_NOTICE_TEXT = "两街道联合通知：周末演练"
B_GAP_POST = "湛山夜间巡逻岗"
STREET_B_TEXTS = (B_ORDER_TITLE, B_HOLIDAY_REASON, B_POST_HOLIDAY_REASON, B_NOTICE_TEXT, BOTH_NOTICE_TEXT,
                  B_GAP_POST)
# Phone numbers as people write them in free text (E.164, bare, spaced, dashed), planted in street A's texts
# and the district's, where viewers read them: a viewer must never be shown one in clear.
PLANTED_PHONES = ("+8613700000001", "13700000002", "137 0000 0003", "137-0000-0004")
DISTRICT_HOLIDAY_REASON = "全区防汛演练"


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
    # Street B's own objects, and an order spanning both streets (both under way, with people placed)
    order_b: int = 999_997
    order_both: int = 999_996
    notice_both: int = 999_997

    @property
    def street_b_markers(self) -> list[str]:
        return self.registry.street_b_markers + list(STREET_B_TEXTS)


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
        "ui.order_estimate": [Probe("POST", "/command/orders/estimate", form={
            "title": "页面估算的招募令", "starts_at": starts, "ends_at": ends,
            f"cap-{s.registry.site_a}-registration": "1"})],
        "ui.order_funnel": [Probe("GET", f"{page}/funnel")],
        "ui.message_log_page": [Probe("GET", "/command/log"), Probe("GET", f"/command/log?order={s.order_id}"),
                                Probe("GET", f"/command/log?street={STREET_B}&status=delivered&direction=out")],
        "ui.order_csv": [Probe("GET", f"{page}/assignments.csv")],
        "ui.order_xlsx": [Probe("GET", f"{page}/assignments.xlsx")],
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
        **_checkin_probes(s),
    }


def _checkin_probes(s: Sample) -> dict[str, list[Probe]]:
    since = "2026-01-01T00:00:00+00:00"
    return {
        **{endpoint: [Probe("GET", f"/board/{STREET_A}{path}", street="A"),
                      Probe("GET", f"/board/{STREET_B}{path}", street="B")]
           for endpoint, path in (("ui.checkin_page", "/checkin"), ("ui.checkin_list", "/checkin/list?view=all"),
                                  ("ui.board_alerts", f"/alerts?since={since}"),
                                  ("ui.board_map_sites", "/map.json"))},
        # street A's page naming street B's person: refused like street B's own page
        "ui.checkin_arrive": [
            Probe("POST", f"/board/{STREET_B}/checkin/arrive", form={"assignment": str(s.assignment_b)}, street="B"),
            Probe("POST", f"/board/{STREET_A}/checkin/arrive", form={"assignment": str(s.assignment_b)}, street="B"),
            Probe("POST", f"/board/{STREET_A}/checkin/arrive", form={"assignment": str(s.assignment_a)},
                  street="A")],
        "ui.checkin_undo": [Probe("POST", f"/board/{STREET_B}/checkin/undo", form={"batch": "999999"}, street="B"),
                            Probe("POST", f"/board/{STREET_A}/checkin/undo", form={"batch": "999999"}, street="A")],
        "ui.district_geojson": [Probe("GET", "/map/streets.geojson")],
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


def _other_street_probes(s: Sample) -> dict[str, list[Probe]]:
    """Street B's own objects and their sub-resources (403 for the officer of A), and lists and the order
    spanning both streets, which the officer of A reads filtered to street A (the markers check what shows)."""
    only_b, both = f"/api/v1/orders/{s.order_b}", f"/api/v1/orders/{s.order_both}"
    probes = {
        "api.list_orders": [Probe("GET", "/api/v1/orders?state=open")],
        "api.get_order": [Probe("GET", only_b, street="B"), Probe("GET", both)],
        "api.order_progress": [Probe("GET", f"{only_b}/progress", street="B"),
                               Probe("GET", f"{both}/progress")],
        "api.list_assignments": [Probe("GET", f"{only_b}/assignments", street="B"),
                                 Probe("GET", f"{only_b}/assignments?status=confirmed", street="B"),
                                 Probe("GET", f"{both}/assignments"),
                                 Probe("GET", f"{both}/assignments?site_id={s.registry.site_b}")],
        "api.get_notice": [Probe("GET", f"/api/v1/notices/{s.notice_both}", street="B")],
        "api.preview_notice": [Probe("GET", f"/api/v1/notices/{s.notice_both}/preview", street="B")],
        "api.list_notices": [Probe("GET", "/api/v1/notices?per_page=100")],
    }
    if s.roster:
        r = s.roster
        probes |= {
            "api.list_posts": [Probe("GET", f"/api/v1/posts?site_id={r.site['B']}")],
            "api.list_shifts": [Probe("GET", f"/api/v1/shifts?date={r.local_date}&post_id={r.post['B']}")],
            "api.list_signups": [Probe("GET", f"/api/v1/signups?volunteer_id={r.volunteer['B']}"),
                                 Probe("GET", f"/api/v1/signups?shift_id={r.shift['B']}")],
            "api.list_service_records": [
                Probe("GET", f"/api/v1/service-records?volunteer_id={r.volunteer['B']}")],
        }
    return probes


def _roster_page_probes(r) -> dict[str, list[Probe]]:
    """Each roster page on street A's rows and on street B's (under B's URL, and under A's URL for a row of B)."""
    week = f"?week={r.local_date}"
    sides = (("A", STREET_A), ("B", STREET_B))

    def both(method: str, template: str, key: str | None = None, form=None) -> list[Probe]:
        probes = []
        for letter, street in sides:
            path = template.format(street=street, id=r.__dict__[key][letter] if key else "")
            probes.append(Probe(method, path, street=letter, form=form(letter) if callable(form) else form))
        if key:  # street B's row under street A's URL: still B's
            probes.append(Probe(method, template.format(street=STREET_A, id=r.__dict__[key]["B"]), street="B",
                                form=form("B") if callable(form) else form))
        return probes

    return {
        "ui.roster": [Probe("GET", "/roster"), Probe("GET", f"/roster{week}")],
        "ui.roster_street": both("GET", "/roster/{street}" + week),
        "ui.roster_print": both("GET", "/roster/{street}/print" + week),
        "ui.roster_shift": both("GET", "/roster/{street}/shifts/{id}", "shift"),
        "ui.roster_add_volunteer": both("POST", "/roster/{street}/shifts/{id}/signups", "shift",
                                        form=lambda letter: {"volunteer_id": str(r.other_volunteer[letter])}),
        "ui.roster_remove_signup": both("POST", "/roster/{street}/signups/{id}/remove", "signup_to_cancel"),
        "ui.roster_answer_swap": both("POST", "/roster/{street}/swaps/{id}/answer", "swap", form={"approve": "1"}),
        "ui.roster_backfill_preview": both("GET", "/roster/{street}/shifts/{id}/backfill", "shift"),
        "ui.roster_backfill": both("POST", "/roster/{street}/shifts/{id}/backfill", "shift", form={"expected": "0"}),
        "ui.roster_posts": both("GET", "/roster/{street}/posts"),
        "ui.roster_create_post": both("POST", "/roster/{street}/posts", form=lambda letter: {
            "site_id": str(r.site[letter]), "role": "patrol", "slots": "2", "name": "页面新建巡逻岗"}),
        "ui.roster_post": both("GET", "/roster/{street}/posts/{id}", "post"),
        "ui.roster_update_post": both("POST", "/roster/{street}/posts/{id}", "post",
                                      form={"name": "页面改名的岗位", "slots": "3", "notes": "", "active": "1"}),
        "ui.roster_add_pattern": both("POST", "/roster/{street}/posts/{id}/patterns", "post", form={
            "weekdays": ["6"], "start_time": "10:00", "end_time": "12:00"}),
        "ui.roster_stop_pattern": both("POST", "/roster/{street}/patterns/{id}/stop", "pattern"),
    }


def probes(s: Sample) -> dict[str, list[Probe]]:
    table = _own_probes(s)
    if s.order_id:
        for endpoint, extra in _other_street_probes(s).items():
            table[endpoint] = table.get(endpoint, []) + extra
    return table


def _own_probes(s: Sample) -> dict[str, list[Probe]]:
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
        "ui.command_messages": [Probe("GET", "/command/messages"), Probe("GET", f"/command/messages?view=log&street={STREET_B}")],
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
        **(_roster_page_probes(s.roster) if s.roster else {}),
        **_outreach_probes(s),
        "api.list_dead_inbound": [Probe("GET", "/api/v1/inbound/dead")],
        "api.retry_dead_inbound": [Probe("POST", "/api/v1/inbound/999999/retry")],  # 404 for commanders
        **_volunteer_page_probes(s),
        **_admin_probes(),
        **_export_probes(s),
    }


def _volunteer_page_probes(s: Sample) -> dict[str, list[Probe]]:
    """The volunteer pages: street A's volunteer and street B's; an edit without its fields (a 400 naming them,
    nothing changed); deactivate then reactivate (the walk runs them in that order); the import's upload
    without a file (400) and a run that does not exist (404)."""
    def both(method: str, suffix: str = "", form: dict | None = None) -> list[Probe]:
        return [Probe(method, f"/volunteers/{s.volunteer_b}{suffix}", street="B", form=form),
                Probe(method, f"/volunteers/{s.volunteer_a}{suffix}", street="A", form=form)]

    return {
        "ui.volunteers": [Probe("GET", "/volunteers"), Probe("GET", "/volunteers?q=志愿者&state=all"),
                          Probe("GET", f"/volunteers?street={STREET_B}"),
                          Probe("GET", f"/volunteers?q={s.registry.volunteers_b[0][2][-8:]}")],
        "ui.volunteer_page": both("GET"),
        "ui.volunteer_edit": both("GET", "/edit"),
        "ui.volunteer_update": both("POST", "/edit", form={"name": ""}),
        "ui.volunteer_deactivate": both("POST", "/deactivate", form={"reason": "演练"}),
        "ui.volunteer_reactivate": both("POST", "/reactivate"),
        "ui.import_form": [Probe("GET", "/volunteers/import")],
        "ui.import_upload": [Probe("POST", "/volunteers/import")],
        "ui.import_run": [Probe("GET", "/volunteers/import/AAAAAAAAAAAAAAAAAAAAAA")],
        "ui.import_apply": [Probe("POST", "/volunteers/import/AAAAAAAAAAAAAAAAAAAAAA/apply")],
    }


def _admin_probes() -> dict[str, list[Probe]]:
    """The admin pages. Their changes aim at users, tokens, jobs and messages that do not exist (a 404 for the
    admin), or create a user of their own: the walk's logins must stay as they are."""
    return {
        "ui.admin_home": [Probe("GET", "/admin")],
        "ui.admin_users": [Probe("GET", "/admin/users")],
        "ui.admin_user_create": [Probe("POST", "/admin/users", form={
            "username": "walk-viewer", "password": "walk-viewer-pass", "role": "viewer"})],
        "ui.admin_user": [Probe("GET", "/admin/users/1")],
        "ui.admin_user_role": [Probe("POST", "/admin/users/999999/role", form={"role": "viewer"})],
        "ui.admin_user_lock": [Probe("POST", "/admin/users/999999/lock")],
        "ui.admin_user_unlock": [Probe("POST", "/admin/users/999999/unlock")],
        "ui.admin_user_password": [Probe("POST", "/admin/users/999999/password",
                                         form={"password": "walk-password", "password_again": "walk-password"})],
        "ui.admin_tokens": [Probe("GET", "/admin/tokens")],
        "ui.admin_token_create": [Probe("POST", "/admin/tokens", form={"user_id": "999999", "name": "walk"})],
        "ui.admin_token_revoke": [Probe("POST", "/admin/tokens/999999/revoke")],
        "ui.admin_audit": [Probe("GET", "/admin/audit"), Probe("GET", "/admin/audit?actor=admin&page=2")],
        "ui.admin_audit_csv": [Probe("GET", "/admin/audit.csv")],
        "ui.admin_system": [Probe("GET", "/admin/system")],
        "ui.admin_system_status": [Probe("GET", "/admin/system/status")],
        "ui.admin_retry_failed_job": [Probe("POST", "/admin/system/failed/default/no-such-job/retry")],
        "ui.admin_retry_dead_letter": [Probe("POST", "/admin/system/dead/999999/retry")],
    }


def _export_probes(s: Sample) -> dict[str, list[Probe]]:
    week = s.roster.local_date if s.roster else ""
    return {
        "ui.hours_export": [Probe("GET", "/exports/hours.xlsx"),
                            Probe("GET", "/exports/hours.csv?from=2025-01-01&to=2025-12-31"),
                            Probe("GET", f"/exports/hours.xlsx?street={STREET_A}", street="A"),
                            Probe("GET", "/exports/hours.csv?street=湛山", street="B")],
        "ui.roster_export": [Probe("GET", f"/board/{STREET_A}/roster.xlsx?week={week}", street="A"),
                             Probe("GET", f"/board/{STREET_A}/roster.csv?week={week}", street="A"),
                             Probe("GET", f"/board/{STREET_B}/roster.xlsx?week={week}", street="B"),
                             Probe("GET", "/board/湛山/roster.csv", street="B")],
    }


# --- the sample data ----------------------------------------------------------------------------------------


def _order_body(registry: Registry, title: str = "全员核酸检测志愿者招募", places=None) -> dict:
    starts = utcnow() + timedelta(days=1)
    places = places or ((registry.site_a, "registration"), (registry.site_b, "queue_keeping"))
    ends = starts + timedelta(hours=5)
    return {"title": title, "starts_at": starts.isoformat(), "ends_at": ends.isoformat(),
            "demands": [{"site_id": site_id, "role": role, "capacity": 2} for site_id, role in places]}


@pytest.fixture
def sample(app, registry, web_runtime) -> Sample:
    data = Sample(registry, volunteer_a=registry.volunteers_a[0][0], volunteer_b=registry.volunteers_b[0][0])
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    if "api.create_order" in endpoints:
        data.order_id = _create_order(app, registry, _order_body(registry))
        data.assignment_a, data.assignment_b = _assignments(web_runtime, data)
        data.order_b, data.order_both = _orders_under_way(app, web_runtime, registry)
    data.roster = seed_roster_sample(web_runtime, registry)
    if "api.create_notice" in endpoints:
        data.notice_a = _notice(app, registry, ["八大关"], {
            "zh": f"明早八点核酸检测，有事请联系{PLANTED_PHONES[0]}或{PLANTED_PHONES[1]}",
            "en": f"Testing at 8 tomorrow; questions: {PLANTED_PHONES[2]}"}, note=f"值班电话 {PLANTED_PHONES[3]}")
        data.notice_b = _notice(app, registry, ["湛山"], {"zh": B_NOTICE_TEXT})
        data.notice_both = _notice(app, registry, ["八大关", "湛山"], {"zh": BOTH_NOTICE_TEXT})
    if "api.add_holiday" in endpoints:
        _holidays(app, registry, data.roster)
    _plant_phone_numbers(web_runtime, registry, data.roster)
    _gap_report(web_runtime, registry)
    return data


def _create_order(app, registry: Registry, body: dict) -> int:
    created = app.test_client().post("/api/v1/orders", json=body, headers=_bearer(registry, "commander"))
    assert created.status_code == 201, created.get_data(as_text=True)
    return created.json["id"]


def _notice(app, registry: Registry, streets: list[str], texts: dict, note: str = "") -> int:
    created = app.test_client().post("/api/v1/notices", headers=_bearer(registry, "commander"),
                                     json={"texts": texts, "streets": streets, "note": note})
    assert created.status_code == 201, created.get_data(as_text=True)
    return created.json["id"]


def _assignments(runtime, data: Sample) -> tuple[int, int]:
    """One confirmed volunteer at each street's demand, as matching would leave them."""
    with runtime.transaction() as session:
        ids = []
        for site_id, (volunteer_id, _, _) in ((data.registry.site_a, data.registry.volunteers_a[1]),
                                              (data.registry.site_b, data.registry.volunteers_b[1])):
            assignment_id, demand_id = _place(session, data.order_id, site_id, volunteer_id)
            ids.append(assignment_id)
            data.demands.append(demand_id)
    return ids[0], ids[1]


def _place(session, order_id: int, site_id: int, volunteer_id: int) -> tuple[int, int]:
    """A confirmed volunteer at the order's demand of the site: (assignment id, demand id)."""
    demand = session.scalar(select(Demand).where(Demand.order_id == order_id, Demand.site_id == site_id))
    demand.filled += 1
    assignment = Assignment(order_id=order_id, demand_id=demand.id, volunteer_id=volunteer_id,
                            status=AssignmentStatus.confirmed, notified_at=utcnow(), confirmed_at=utcnow())
    session.add(assignment)
    session.flush()
    return assignment.id, demand.id


def _orders_under_way(app, runtime, registry: Registry) -> tuple[int, int]:
    """An order with places only in street B, and one spanning both streets (its title holds a phone number),
    both recruiting, with street B's people placed in B (and street A's in A): the walk's actions leave them
    alone, so that the boards show them to the end."""
    only_b = _create_order(app, registry, _order_body(registry, B_ORDER_TITLE,
                                                      [(registry.site_b, "queue_keeping")]))
    both = _create_order(app, registry, _order_body(registry, f"全区联合招募，联系{PLANTED_PHONES[1]}"))
    with runtime.transaction() as session:
        session.execute(update(Order).where(Order.id.in_([only_b, both]))
                        .values(state=OrderState.open, launched_at=utcnow()))
        _place(session, only_b, registry.site_b, registry.volunteers_b[2][0])
        _place(session, both, registry.site_a, registry.volunteers_a[2][0])
        _place(session, both, registry.site_b, registry.volunteers_b[2][0])
    return only_b, both


def _holidays(app, registry: Registry, roster) -> None:
    """Street B's holiday and its post's (their reasons are street B's), street A's (a phone number in its
    reason) and the district's, on a day without shifts."""
    day = (utcnow() + timedelta(days=50)).date().isoformat()
    client, commander = app.test_client(), _bearer(registry, "commander")
    for where in ({"street": "湛山", "reason": B_HOLIDAY_REASON},
                  {"post_id": roster.post["B"], "reason": B_POST_HOLIDAY_REASON},
                  {"street": "八大关", "reason": f"检修，联系{PLANTED_PHONES[0]}"},
                  {"reason": DISTRICT_HOLIDAY_REASON}):
        created = client.post("/api/v1/holidays", headers=commander, json={"date": day, **where})
        assert created.status_code == 201, created.get_data(as_text=True)


def _plant_phone_numbers(runtime, registry: Registry, roster) -> None:
    """Phone numbers in more free texts that viewers read: a post's notes, a service record's description, and
    an SMS in the command center's message log (bare, as people text them)."""
    with runtime.transaction() as session:
        session.execute(update(Post).where(Post.id == roster.post["A"])
                        .values(notes=f"早高峰人多，联系 {PLANTED_PHONES[2]}"))
        session.execute(update(ServiceRecord).where(ServiceRecord.id == roster.record["A"])
                        .values(description=f"导入，证明人 {PLANTED_PHONES[3]}"))
        session.add(InboundMessage(message_sid="SM" + "2" * 32, from_phone=registry.volunteers_a[2][2],
                                   to_phone="+8610690000", body=f"我换号了 {PLANTED_PHONES[1]}"))


def _gap_report(runtime, registry: Registry) -> None:
    """A stored daily gap report of both streets; street B's part names its post, its site and its backfill."""
    with runtime.transaction() as session:
        street_a, street_b = (session.scalar(select(Site.street_id).where(Site.id == site_id))
                              for site_id in (registry.site_a, registry.site_b))
        streets = [_gap_street(street_a, "八大关街道", "太平角早岗", "太平角检测点", invited=2),
                   _gap_street(street_b, "湛山街道", B_GAP_POST, registry.site_b_name, invited=5)]
        session.add(GapReport(report_date=utcnow().date(), created_at=utcnow(), shifts=2, open_places=2,
                              invitations=7, streets=streets))


def _gap_street(street_id: int, street: str, post: str, site: str, invited: int) -> dict:
    starts = utcnow() + timedelta(hours=20)
    ends = starts + timedelta(hours=2)
    item = {"shift_id": 0, "code": "S1", "post_id": 0, "post": post, "site": site, "role": "civility_guide",
            "protected": False, "starts_at": starts.isoformat(), "ends_at": ends.isoformat(), "capacity": 2,
            "filled": 1, "open": 1, "invited": invited}
    return {"street_id": street_id, "street": street, "shifts": 1, "open_places": 1, "items": [item]}


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
                try:
                    response = _send(client, probe, rule, role, sample.registry)
                except Exception:  # noqa: BLE001 - named with its route, and the walk goes on
                    failures.append(f"{role:9} {probe.method} {probe.path}: raised\n{traceback.format_exc(-4)}")
                    continue
                failures += [f"{role:9} {probe.method} {probe.path}: {problem}"
                             for problem in _check(rule, probe, role, response, sample)]
    assert not failures, "access rules broken:\n" + "\n".join(failures)


def test_what_the_walk_looks_for_is_there_to_be_found(app, sample):
    """Commanders read street B's own texts and the numbers planted in free text, in clear, on routes the walk
    probes: were they no longer filtered for officers or masked for viewers, the walk would see it."""
    client, commander, roster = app.test_client(), _bearer(sample.registry, "commander"), sample.roster
    paths = ("/api/v1/holidays", "/api/v1/notices?per_page=100", "/api/v1/orders?state=open",
             f"/api/v1/orders/{sample.order_b}/assignments", f"/api/v1/orders/{sample.order_both}/progress",
             "/api/v1/roster/gap-reports", f"/api/v1/posts/{roster.post['A']}",
             f"/api/v1/service-records?volunteer_id={roster.volunteer['A']}")
    shown = "".join(client.get(path, headers=commander).get_data(as_text=True) for path in paths)
    expected = list(STREET_B_TEXTS) + [sample.registry.site_b_name]
    assert [marker for marker in expected if marker not in shown] == []
    assert [written for written in PLANTED_PHONES if not in_clear(written, shown)] == []


def test_the_walk_reads_inside_excel_files(app, sample):
    """An .xlsx is a zip: the walk reads its XML, where a commander sees street B's site and numbers in clear
    (so an officer's or a viewer's file showing them would be caught)."""
    client = app.test_client()
    login(client, "commander")
    shown = _readable(client.get(f"/command/orders/{sample.order_both}/assignments.xlsx"))
    assert sample.registry.site_b_name in shown
    assert any(phone in shown for phone in sample.registry.phones)


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


def _check(rule: Rule, probe: Probe, role: str, response, sample: Sample) -> list[str]:
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
        problems += _check_shown(rule, role, _readable(response), sample)
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


def _readable(response) -> str:
    """The body as text; an Excel file (a zip of XML parts, compressed) as the text of its parts."""
    if response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
            return "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    return response.get_data(as_text=True)


def _check_shown(rule: Rule, role: str, body: str, sample: Sample) -> list[str]:
    problems = []
    if role == "officer" and not rule.district_wide:
        problems += [f"shows street B's {marker!r}" for marker in sample.street_b_markers if marker in body]
    if role == "viewer":
        problems += [f"shows the phone number {phone} in clear" for phone in sample.registry.phones
                     if phone in body or phone[3:] in body]
        problems += [f"shows the phone number {written!r} written in a text in clear"
                     for written in PLANTED_PHONES if in_clear(written, body)]
    return problems


def in_clear(written: str, body: str) -> bool:
    """Whether a phone number is readable in the body: as it was written, or its digits in a row."""
    return written in body or re.sub(r"\D", "", written)[-11:] in body


def test_the_rules_say_what_they_mean():
    """A rule that grants a role nobody has would make the walk pass vacuously."""
    for endpoint, rule in RULES.items():
        assert rule.kind in ("public", "page", "events", "api", "webhook"), endpoint
        assert rule.roles and rule.roles <= EVERYONE, endpoint

