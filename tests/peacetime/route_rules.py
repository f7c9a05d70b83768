"""The roster API's access rules and probes for the route walk in `tests/web/test_routes_roles.py`.

Kept here (the roster's own file) and merged there in four lines:

    from tests.peacetime.route_rules import roster_probes, roster_rules, seed_roster_sample
    RULES.update(roster_rules(Rule, EVERYONE, OFFICER_ACTIONS, COMMANDERS))          # after RULES
    roster: object = None                                                            # a field of Sample
    data.roster = seed_roster_sample(web_runtime, registry)                          # in the `sample` fixture
    **(roster_probes(Probe, s.roster) if s.roster else {}),                          # in probes()

Street A is 八大关 (the officer's), B is 湛山. Probes that change state use rows of their own (a shift to
cancel, a sign-up to cancel...), so that the order of the walk does not matter; a listed role may still get a
409 or 422 when an earlier role already did the thing, which the walk accepts (neither 401/403 nor 5xx).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mobilize.models import ServiceKind, ServiceRecord, ServiceStatus
from mobilize.models._types import utcnow
from mobilize.peacetime import posts, staffing, swaps
from mobilize.peacetime.config import RosterConfig
from mobilize.wartime.audit import Actor

CFG = RosterConfig()
SYSTEM = Actor("roster-sample")


@dataclass(frozen=True)
class RosterSample:
    site: dict  # "A"/"B" -> id, likewise below
    post: dict
    pattern: dict
    shift: dict
    shift_to_cancel: dict
    signup: dict
    signup_to_cancel: dict
    swap: dict
    record: dict
    volunteer: dict
    other_volunteer: dict
    local_date: str  # of the shifts
    far_date: str  # for holidays: no shift that day


def seed_roster_sample(runtime, registry) -> RosterSample:
    """Posts, patterns, shifts, sign-ups, a swap and a service record on each street."""
    now = utcnow()
    start = (now + timedelta(days=2)).replace(microsecond=0)
    ids: dict[str, dict] = {key: {} for key in ("site", "post", "pattern", "shift", "shift_to_cancel", "signup",
                                                "signup_to_cancel", "swap", "record", "volunteer",
                                                "other_volunteer")}
    with runtime.transaction() as session:
        from datetime import time

        for street, site_id, people in (("A", registry.site_a, registry.volunteers_a),
                                        ("B", registry.site_b, registry.volunteers_b)):
            post = posts.create_post(session, site_id=site_id, role="civility_guide", slots=3, actor=SYSTEM, now=now)
            pattern = posts.add_pattern(session, post.id, weekdays="1-7", start_time=time(7), end_time=time(9),
                                        actor=SYSTEM, now=now, cfg=CFG, valid_from=(now + timedelta(days=30)).date())
            shift = posts.add_extra_shift(session, post.id, starts_at=start, ends_at=start + timedelta(hours=2),
                                          actor=SYSTEM, now=now, cfg=CFG)
            doomed = posts.add_extra_shift(session, post.id, starts_at=start + timedelta(hours=5),
                                           ends_at=start + timedelta(hours=7), actor=SYSTEM, now=now, cfg=CFG)
            (v0, _, _), (v1, _, _), (v2, _, _) = people
            signup = staffing.sign_up(session, shift.id, v0, actor=SYSTEM, now=now, cfg=CFG, source="api",
                                      notify=False).signup
            leaving = staffing.sign_up(session, doomed.id, v2, actor=SYSTEM, now=now, cfg=CFG, source="api",
                                       notify=False).signup
            swap = swaps.propose(session, leaving.id, v1, actor=SYSTEM, now=now, cfg=CFG)
            record = ServiceRecord(volunteer_id=v0, kind=ServiceKind.imported, street_id=post.site.street_id,
                                   site_id=site_id, description="导入", hours=3.0, status=ServiceStatus.pending)
            session.add(record)
            session.flush()
            for key, value in (("site", site_id), ("post", post.id), ("pattern", pattern.id), ("shift", shift.id),
                               ("shift_to_cancel", doomed.id), ("signup", signup.id),
                               ("signup_to_cancel", leaving.id), ("swap", swap.id), ("record", record.id),
                               ("volunteer", v0), ("other_volunteer", v1)):
                ids[key][street] = value
        local_date = shift.local_date.isoformat()
    return RosterSample(**ids, local_date=local_date, far_date=(now + timedelta(days=60)).date().isoformat())


def roster_rules(Rule, everyone, officer_actions, commanders) -> dict:
    reads = ("list_posts", "get_post", "list_shifts", "get_shift", "list_holidays", "list_signups", "get_swap",
             "list_service_records", "volunteer_hours", "volunteer_certificate", "volunteer_certificate_csv",
             "roster_gaps", "roster_gap_reports")
    changes = ("create_post", "update_post", "add_pattern", "deactivate_pattern", "add_shift", "update_shift",
               "cancel_shift", "add_holiday", "create_signup", "cancel_signup", "check_in", "check_out",
               "mark_late", "mark_no_show", "create_swap", "answer_swap", "certify_record")
    rules = {f"api.{name}": Rule("api", everyone) for name in reads}
    rules |= {f"api.{name}": Rule("api", officer_actions) for name in changes}
    rules["api.roster_generate"] = Rule("api", commanders)
    return rules


def roster_probes(Probe, r: RosterSample) -> dict:
    def both(method: str, path: str, key: str | None = None, json=None) -> list:
        """The same request on street A's row and on street B's."""
        rows = getattr(r, key) if key else {}
        return [Probe(method, path.format(id=rows.get(street, 0)), street=street,
                      json=json(street) if callable(json) else json) for street in ("A", "B")]

    streets = {"A": "八大关", "B": "湛山"}
    return {
        "api.list_posts": [Probe("GET", "/api/v1/posts"), Probe("GET", "/api/v1/posts?street=湛山", street="B")],
        "api.create_post": both("POST", "/api/v1/posts", json=lambda s: {
            "site_id": r.site[s], "role": "patrol", "slots": 2}),
        "api.get_post": both("GET", "/api/v1/posts/{id}", "post"),
        "api.update_post": both("PATCH", "/api/v1/posts/{id}", "post", json={"notes": "早高峰加强"}),
        "api.add_pattern": both("POST", "/api/v1/posts/{id}/patterns", "post", json={
            "weekdays": "67", "start_time": "09:00", "end_time": "11:00", "generate": False}),
        "api.deactivate_pattern": both("DELETE", "/api/v1/patterns/{id}", "pattern"),
        "api.add_shift": both("POST", "/api/v1/posts/{id}/shifts", "post", json={
            "starts_at": f"{r.far_date}T10:00:00", "ends_at": f"{r.far_date}T12:00:00"}),
        "api.list_shifts": [Probe("GET", f"/api/v1/shifts?date={r.local_date}"),
                            Probe("GET", f"/api/v1/shifts?date={r.local_date}&street=湛山", street="B")],
        "api.get_shift": both("GET", "/api/v1/shifts/{id}", "shift"),
        "api.update_shift": both("PATCH", "/api/v1/shifts/{id}", "shift", json={"capacity": 4}),
        "api.cancel_shift": both("POST", "/api/v1/shifts/{id}/cancel", "shift_to_cancel", json={"reason": "演练"}),
        "api.add_holiday": both("POST", "/api/v1/holidays", json=lambda s: {
            "date": r.far_date, "reason": "演练", "street": streets[s]}),
        "api.list_holidays": [Probe("GET", "/api/v1/holidays")],
        "api.create_signup": both("POST", "/api/v1/shifts/{id}/signups", "shift", json=lambda s: {
            "volunteer_id": r.other_volunteer[s], "notify": False}),
        "api.list_signups": [Probe("GET", "/api/v1/signups"),
                             Probe("GET", "/api/v1/signups?street=湛山", street="B")],
        "api.cancel_signup": both("POST", "/api/v1/signups/{id}/cancel", "signup_to_cancel", json={}),
        "api.check_in": both("POST", "/api/v1/signups/{id}/check-in", "signup", json={}),
        "api.check_out": both("POST", "/api/v1/signups/{id}/check-out", "signup", json={}),
        "api.mark_late": both("POST", "/api/v1/signups/{id}/late", "signup", json={"minutes": 5}),
        "api.mark_no_show": both("POST", "/api/v1/signups/{id}/no-show", "signup"),
        "api.create_swap": both("POST", "/api/v1/swaps", json=lambda s: {
            "signup_id": r.signup[s], "with_volunteer_id": r.other_volunteer[s]}),
        "api.get_swap": both("GET", "/api/v1/swaps/{id}", "swap"),
        "api.answer_swap": both("POST", "/api/v1/swaps/{id}/answer", "swap", json=lambda s: {
            "volunteer_id": r.other_volunteer[s], "accept": False}),
        "api.list_service_records": [Probe("GET", "/api/v1/service-records"),
                                     Probe("GET", "/api/v1/service-records?street=湛山", street="B")],
        "api.certify_record": both("POST", "/api/v1/service-records/{id}/certify", "record", json={}),
        "api.volunteer_hours": both("GET", "/api/v1/volunteers/{id}/hours", "volunteer"),
        "api.volunteer_certificate": both("GET", "/api/v1/volunteers/{id}/certificate", "volunteer"),
        "api.volunteer_certificate_csv": both("GET", "/api/v1/volunteers/{id}/certificate.csv", "volunteer"),
        "api.roster_gaps": [Probe("GET", "/api/v1/roster/gaps"),
                            Probe("GET", "/api/v1/roster/gaps?street=湛山", street="B")],
        "api.roster_gap_reports": [Probe("GET", "/api/v1/roster/gap-reports")],
        "api.roster_generate": [Probe("POST", "/api/v1/roster/generate")],
    }
