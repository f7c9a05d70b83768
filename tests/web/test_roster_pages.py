"""The roster pages (issue 16) under Flask's test client: the week by post, a shift's people, adding and removing
volunteers, swaps, backfill with its preview, posts and patterns, the printed week. The same rules, SMS and audit
trail as the API (the very service calls); officers only in their street; viewers read with numbers masked; bad
input is a 4xx naming the problem, and nothing is half-written."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from mobilize.models import (
    AuditEvent,
    OutboundMessage,
    Post,
    Shift,
    ShiftPattern,
    ShiftSignup,
    ShiftSwap,
    SignupStatus,
    SwapStatus,
)
from mobilize.models._types import utcnow
from mobilize.peacetime import posts, staffing, swaps
from mobilize.peacetime.config import RosterConfig
from mobilize.runtime import Runtime
from mobilize.wartime.audit import Actor
from tests.conftest import make_settings
from tests.web.conftest import STREET_A, STREET_B, csrf_token
from workers.context import set_runtime

ZONE = ZoneInfo("Asia/Shanghai")
CFG = RosterConfig()
SEEDER = Actor("roster-test")


@pytest.fixture
def web_runtime(tmp_path, database_url, redis_url, redis_client) -> Runtime:
    """tests/web's runtime, on SQLite and on PostgreSQL (the week's sums, the swaps' joins, the search)."""
    rt = Runtime(make_settings(tmp_path, database_url, redis_url))
    set_runtime(rt)
    yield rt
    set_runtime(None)
    rt.close()


@dataclass
class Roster:
    post_a: int
    post_b: int
    shift_a: int  # 2 places, a0 booked: a gap of one
    shift_full: int  # 1 place, a1 booked
    shift_b: int
    signup_a0: int
    signup_full: int
    monday: date  # of the shifts' week (next week, local)


def next_monday() -> date:
    today = utcnow().astimezone(ZONE).date()
    return today - timedelta(days=today.weekday()) + timedelta(days=7)


def local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZONE)


@pytest.fixture
def roster(web_runtime, registry) -> Roster:
    monday = next_monday()
    now = utcnow()
    with web_runtime.transaction() as session:
        post_a = posts.create_post(session, site_id=registry.site_a, role="civility_guide", slots=2, actor=SEEDER,
                                   now=now, name="太平角路口文明引导", protected=True)
        post_b = posts.create_post(session, site_id=registry.site_b, role="civility_guide", slots=2, actor=SEEDER,
                                   now=now, name="湛山站文明引导")
        shift_a = posts.add_extra_shift(session, post_a.id, starts_at=local(monday, 7), ends_at=local(monday, 9),
                                        actor=SEEDER, now=now, cfg=CFG)
        shift_full = posts.add_extra_shift(session, post_a.id, starts_at=local(monday + timedelta(days=2), 17),
                                           ends_at=local(monday + timedelta(days=2), 19), slots=1, actor=SEEDER,
                                           now=now, cfg=CFG)
        shift_b = posts.add_extra_shift(session, post_b.id, starts_at=local(monday, 7), ends_at=local(monday, 9),
                                        actor=SEEDER, now=now, cfg=CFG)
        (a0, _, _), (a1, _, _), _ = registry.volunteers_a
        signup_a0 = staffing.sign_up(session, shift_a.id, a0, actor=SEEDER, now=now, cfg=CFG, source="api",
                                     notify=False).signup
        signup_full = staffing.sign_up(session, shift_full.id, a1, actor=SEEDER, now=now, cfg=CFG, source="api",
                                       notify=False).signup
        staffing.sign_up(session, shift_b.id, registry.volunteers_b[0][0], actor=SEEDER, now=now, cfg=CFG,
                         source="api", notify=False)
        return Roster(post_a.id, post_b.id, shift_a.id, shift_full.id, shift_b.id, signup_a0.id, signup_full.id,
                      monday)


def post_form(client, path: str, data: dict | None = None, page: str | None = None):
    form = {"csrf_token": csrf_token(client, page) if page else csrf_token(client), **(data or {})}
    return client.post(path, data=form)


def count(runtime, model, *where) -> int:
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def messages_to(runtime, volunteer_id: int) -> list[str]:
    with runtime.transaction() as session:
        return list(session.scalars(select(OutboundMessage.kind).where(OutboundMessage.volunteer_id == volunteer_id)
                                    .order_by(OutboundMessage.id)))


def week_path(street: str, monday: date) -> str:
    return f"/roster/{street}?week={monday.isoformat()}"


# --- the weeks -----------------------------------------------------------------------------------------------


def test_the_street_week_shows_posts_places_gaps_and_protected_posts(clients, roster, registry):
    page = clients["officer"].get(week_path(STREET_A, roster.monday))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "太平角路口文明引导" in html and "受保护" in html  # Chinese first, the protected post marked
    gap = re.search(rf'data-shift="{roster.shift_a}" data-state="(\w+)"', html).group(1)
    full = re.search(rf'data-shift="{roster.shift_full}" data-state="(\w+)"', html).group(1)
    assert (gap, full) == ("gap", "full")
    assert "1/2" in html and "1/1" in html
    assert "湛山站文明引导" not in html  # street B's post is not on A's week


def test_a_shift_that_started_is_no_gap_to_fix(clients, roster, web_runtime):
    started_at = utcnow() - timedelta(minutes=30)
    with web_runtime.transaction() as session:
        shift = posts.add_extra_shift(session, roster.post_a, starts_at=started_at,
                                      ends_at=started_at + timedelta(hours=2), actor=SEEDER,
                                      now=started_at - timedelta(hours=1), cfg=CFG)
    day = started_at.astimezone(ZONE).date()
    this_monday = day - timedelta(days=day.weekday())
    html = clients["officer"].get(week_path(STREET_A, this_monday)).get_data(as_text=True)
    assert re.search(rf'data-shift="{shift.id}" data-state="past"', html)
    assert re.search(r'data-total="gaps" class=""><b>0</b>', html)
    page = clients["officer"].get(f"/roster/{STREET_A}/shifts/{shift.id}").get_data(as_text=True)
    assert 'data-action="backfill"' not in page and 'name="q"' not in page


def test_each_role_sees_only_what_it_may(clients, roster, registry):
    assert clients["officer"].get(week_path(STREET_B, roster.monday)).status_code == 403
    assert clients["officer"].get(f"/roster/{STREET_B}/shifts/{roster.shift_b}").status_code == 403
    assert clients["officer"].get(f"/roster/{STREET_A}/shifts/{roster.shift_b}").status_code == 403
    assert clients["admin"].get(f"/roster/{STREET_A}/shifts/{roster.shift_b}").status_code == 404  # not A's
    viewer = clients["viewer"].get(f"/roster/{STREET_A}/shifts/{roster.shift_a}").get_data(as_text=True)
    assert registry.volunteers_a[0][1] in viewer and registry.volunteers_a[0][2] not in viewer  # masked
    assert 'data-action="remove"' not in viewer and "roster_add_volunteer" not in viewer
    officer = clients["officer"].get(f"/roster/{STREET_A}/shifts/{roster.shift_a}").get_data(as_text=True)
    assert registry.volunteers_a[0][2] in officer and 'data-action="remove"' in officer


def test_the_district_week_is_per_street_and_officers_go_to_their_own(clients, roster):
    page = clients["commander"].get(f"/roster?week={roster.monday.isoformat()}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-street="badaguan"' in html and 'data-street="zhanshan"' in html
    officer = clients["officer"].get(f"/roster?week={roster.monday.isoformat()}")
    assert officer.status_code == 302 and officer.headers["Location"].startswith(f"/roster/{STREET_A}?week=")


def test_a_week_that_is_not_a_date_is_a_400_naming_it(clients, roster):
    page = clients["commander"].get(f"/roster/{STREET_A}?week=next-tuesday")
    assert page.status_code == 400 and "2026-12-07" in page.get_data(as_text=True)
    assert clients["commander"].get("/roster?week=2026-13-01").status_code == 400


def test_next_week_is_the_districts_next_week(clients, roster, monkeypatch):
    """Sunday 20:00 UTC is already Monday 04:00 in Qingdao: "this week" starts that Monday, not the UTC one."""
    from mobilize.web.ui import roster as roster_views

    monkeypatch.setattr(roster_views, "utcnow", lambda: datetime(2026, 12, 13, 20, 0, tzinfo=timezone.utc))
    html = clients["commander"].get(f"/roster/{STREET_A}").get_data(as_text=True)
    assert "12-14 – 12-20" in html
    assert re.search(r'href="/roster/badaguan\?week=2026-12-21"[^>]*data-week="next"', html)


def test_the_today_card_links_to_the_roster(clients, roster):
    board = clients["officer"].get(f"/board/{STREET_A}").get_data(as_text=True)
    assert f'href="/roster/{STREET_A}"' in board
    assert 'href="/roster"' in clients["commander"].get("/command").get_data(as_text=True)


# --- people on a shift ---------------------------------------------------------------------------------------


def test_an_officer_adds_a_volunteer_who_gets_the_apis_sms_and_audit(clients, roster, registry, web_runtime):
    volunteer = registry.volunteers_a[2][0]
    response = post_form(clients["officer"], f"/roster/{STREET_A}/shifts/{roster.shift_a}/signups",
                         {"volunteer_id": str(volunteer)})
    assert response.status_code == 303
    assert count(web_runtime, ShiftSignup, ShiftSignup.shift_id == roster.shift_a,
                 ShiftSignup.volunteer_id == volunteer, ShiftSignup.status == SignupStatus.booked) == 1
    assert messages_to(web_runtime, volunteer) == ["shift_booked"]
    assert count(web_runtime, AuditEvent, AuditEvent.action == "shift.booked",
                 AuditEvent.actor == "officer-a") == 1
    shown = clients["officer"].get(response.headers["Location"]).get_data(as_text=True)
    assert "已报名" in shown and registry.volunteers_a[2][1] in shown


def test_adding_is_refused_with_the_reason_and_nothing_written(clients, roster, registry, web_runtime):
    officer = clients["officer"]
    path = f"/roster/{STREET_A}/shifts/{roster.shift_full}/signups"
    signups = count(web_runtime, ShiftSignup)
    full = post_form(officer, path, {"volunteer_id": str(registry.volunteers_a[2][0])})
    assert full.status_code == 409 and "班次已满" in full.get_data(as_text=True)
    assert post_form(officer, path, {"volunteer_id": str(registry.volunteers_b[2][0])}).status_code == 403
    assert post_form(officer, path, {"volunteer_id": "abc"}).status_code == 422
    assert post_form(officer, path, {"volunteer_id": "999999"}).status_code == 422
    assert post_form(clients["viewer"], path, {"volunteer_id": str(registry.volunteers_a[2][0])}).status_code == 403
    assert count(web_runtime, ShiftSignup) == signups
    assert messages_to(web_runtime, registry.volunteers_a[2][0]) == []
    waitlisted = post_form(officer, path, {"volunteer_id": str(registry.volunteers_a[2][0]), "waitlist": "1"})
    assert waitlisted.status_code == 303
    assert messages_to(web_runtime, registry.volunteers_a[2][0]) == ["shift_waitlisted"]


def test_taking_someone_off_tells_them_and_promotes_the_waitlist(clients, roster, registry, web_runtime):
    officer = clients["officer"]
    waiting = registry.volunteers_a[2][0]
    post_form(officer, f"/roster/{STREET_A}/shifts/{roster.shift_full}/signups",
              {"volunteer_id": str(waiting), "waitlist": "1"})
    removed = post_form(officer, f"/roster/{STREET_A}/signups/{roster.signup_full}/remove")
    assert removed.status_code == 303
    assert messages_to(web_runtime, registry.volunteers_a[1][0]) == ["shift_cancelled"]
    assert messages_to(web_runtime, waiting) == ["shift_waitlisted", "shift_promoted"]
    again = post_form(officer, f"/roster/{STREET_A}/signups/{roster.signup_full}/remove")
    assert again.status_code == 409  # already taken off: the service's refusal, shown
    assert post_form(officer, f"/roster/{STREET_B}/signups/{roster.signup_full}/remove").status_code == 403


# --- swaps ---------------------------------------------------------------------------------------------------


def test_an_officer_approves_a_swap_for_both_and_both_are_told(clients, roster, registry, web_runtime):
    with web_runtime.transaction() as session:
        swap_id = swaps.propose(session, roster.signup_a0, registry.volunteers_a[2][0], actor=SEEDER, now=utcnow(),
                                cfg=CFG).id
    page = clients["officer"].get(week_path(STREET_A, roster.monday)).get_data(as_text=True)
    assert f'data-swap="{swap_id}"' in page
    approved = post_form(clients["officer"], f"/roster/{STREET_A}/swaps/{swap_id}/answer", {"approve": "1"})
    assert approved.status_code == 303
    with web_runtime.transaction() as session:
        assert session.get(ShiftSwap, swap_id).status is SwapStatus.completed
        holder = session.scalar(select(ShiftSignup.volunteer_id).where(
            ShiftSignup.shift_id == roster.shift_a, ShiftSignup.status == SignupStatus.booked))
    assert holder == registry.volunteers_a[2][0]
    assert "swap_done" in messages_to(web_runtime, registry.volunteers_a[0][0])


def test_a_refused_swap_and_bad_answers(clients, roster, registry, web_runtime):
    with web_runtime.transaction() as session:
        swap_id = swaps.propose(session, roster.signup_a0, registry.volunteers_a[2][0], actor=SEEDER, now=utcnow(),
                                cfg=CFG).id
    path = f"/roster/{STREET_A}/swaps/{swap_id}/answer"
    officer = clients["officer"]
    assert post_form(officer, path, {"volunteer_id": "x", "accept": "1"}).status_code == 422
    assert post_form(officer, path, {"volunteer_id": str(registry.volunteers_a[0][0]), "accept": "maybe"}
                     ).status_code == 422
    assert post_form(officer, f"/roster/{STREET_B}/swaps/{swap_id}/answer", {"approve": "1"}).status_code == 403
    assert post_form(clients["viewer"], path, {"approve": "1"}).status_code == 403
    refused = post_form(officer, path, {"volunteer_id": str(registry.volunteers_a[2][0]), "accept": "0"})
    assert refused.status_code == 303
    with web_runtime.transaction() as session:
        assert session.get(ShiftSwap, swap_id).status is SwapStatus.declined
    assert post_form(officer, path, {"approve": "1"}).status_code == 409  # no longer open


# --- backfill ------------------------------------------------------------------------------------------------


def test_backfill_shows_what_it_sends_then_sends_exactly_that(clients, roster, registry, web_runtime):
    officer = clients["officer"]
    before = count(web_runtime, OutboundMessage)
    preview = officer.get(f"/roster/{STREET_A}/shifts/{roster.shift_a}/backfill")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    sms = int(re.search(r'data-confirm="sms"><b>(\d+)</b>', html).group(1))
    assert sms >= 1 and "班次" in html and "空缺补员邀请" in html  # the invitation, its text in Chinese
    # neighbouring street B's volunteers are invited too (they live near), counted but not named to A's officer
    b_name, b_phone = registry.volunteers_b[1][1], registry.volunteers_b[1][2]
    assert b_name not in html and b_phone not in html and "相邻街道的志愿者" in html
    commander = clients["commander"].get(f"/roster/{STREET_A}/shifts/{roster.shift_a}/backfill").get_data(as_text=True)
    assert b_name in commander and b_phone in commander
    assert count(web_runtime, OutboundMessage) == before  # the preview wrote nothing
    assert count(web_runtime, AuditEvent, AuditEvent.action == "shift.backfill_requested") == 0
    stale = post_form(officer, f"/roster/{STREET_A}/shifts/{roster.shift_a}/backfill", {"expected": str(sms + 1)})
    assert stale.status_code == 409 and count(web_runtime, OutboundMessage) == before
    sent = post_form(officer, f"/roster/{STREET_A}/shifts/{roster.shift_a}/backfill", {"expected": str(sms)})
    assert sent.status_code == 303
    with web_runtime.transaction() as session:
        keys = list(session.scalars(select(OutboundMessage.dedupe_key).where(
            OutboundMessage.kind == "shift_backfill")))
    assert len(keys) == sms and all(f"shift:{roster.shift_a}:" in key for key in keys)
    assert count(web_runtime, AuditEvent, AuditEvent.action == "shift.backfill_requested") == 1


def test_backfill_is_refused_for_a_full_shift_viewers_and_other_streets(clients, roster, web_runtime):
    full = clients["officer"].get(f"/roster/{STREET_A}/shifts/{roster.shift_full}/backfill")
    assert full.status_code == 409 and "班次已满" in full.get_data(as_text=True)
    assert 'name="expected"' not in full.get_data(as_text=True)
    assert clients["viewer"].get(f"/roster/{STREET_A}/shifts/{roster.shift_a}/backfill").status_code == 403
    assert clients["officer"].get(f"/roster/{STREET_B}/shifts/{roster.shift_b}/backfill").status_code == 403
    assert post_form(clients["officer"], f"/roster/{STREET_A}/shifts/{roster.shift_a}/backfill",
                     {}).status_code == 422
    assert count(web_runtime, OutboundMessage, OutboundMessage.kind == "shift_backfill") == 0


# --- posts and patterns --------------------------------------------------------------------------------------


def test_an_officer_creates_a_post_and_a_weekly_pattern_with_its_shifts(clients, roster, registry, web_runtime):
    officer = clients["officer"]
    created = post_form(officer, f"/roster/{STREET_A}/posts", {
        "site_id": str(registry.site_a), "role": "patrol", "slots": "3", "name": "夜间巡逻"})
    assert created.status_code == 303, created.get_data(as_text=True)
    post_id = int(re.search(r"/posts/(\d+)", created.headers["Location"]).group(1))
    pattern = post_form(officer, f"/roster/{STREET_A}/posts/{post_id}/patterns", {
        "weekdays": ["1", "3", "5"], "start_time": "19:00", "end_time": "21:00", "generate": "1"})
    assert pattern.status_code == 303
    with web_runtime.transaction() as session:
        stored = session.scalar(select(ShiftPattern).where(ShiftPattern.post_id == post_id))
        shifts = session.scalar(select(func.count()).select_from(Shift).where(Shift.post_id == post_id))
    assert stored.weekdays == "135" and stored.start_time == time(19) and shifts >= 3
    week = officer.get(week_path(STREET_A, roster.monday)).get_data(as_text=True)
    assert "夜间巡逻" in week
    stopped = post_form(officer, f"/roster/{STREET_A}/patterns/{stored.id}/stop")
    assert stopped.status_code == 303
    with web_runtime.transaction() as session:
        assert session.get(ShiftPattern, stored.id).active is False


def test_post_forms_refuse_bad_input_and_write_nothing(clients, roster, registry, web_runtime):
    officer = clients["officer"]
    posts_before, patterns_before = count(web_runtime, Post), count(web_runtime, ShiftPattern)
    for form, status in (({"site_id": str(registry.site_a), "role": "patrol", "slots": "zero"}, 422),
                         ({"site_id": "", "role": "patrol", "slots": "2"}, 422),
                         ({"site_id": str(registry.site_a), "role": "no-such-role", "slots": "2"}, 422),
                         ({"site_id": str(registry.site_a), "role": "patrol", "slots": "501"}, 422),
                         ({"site_id": str(registry.site_a), "role": "civility_guide", "slots": "2",
                           "name": "太平角路口文明引导"}, 409),
                         ({"site_id": str(registry.site_b), "role": "patrol", "slots": "2"}, 403),
                         ({"site_id": str(registry.site_a), "role": "patrol", "slots": "2", "protected": "1"}, 403)):
        response = post_form(officer, f"/roster/{STREET_A}/posts", form)
        assert response.status_code == status, (form, response.status_code)
    pattern_path = f"/roster/{STREET_A}/posts/{roster.post_a}/patterns"
    for form in ({"start_time": "07:00", "end_time": "09:00"},  # no day
                 {"weekdays": ["1"], "start_time": "7am", "end_time": "09:00"},
                 {"weekdays": ["1"], "start_time": "07:00", "end_time": "07:00"},  # the service: no length
                 {"weekdays": ["1"], "start_time": "07:00", "end_time": "09:00", "valid_from": "2026-02-30"}):
        response = post_form(officer, pattern_path, form)
        assert response.status_code == 422, form
    assert (count(web_runtime, Post), count(web_runtime, ShiftPattern)) == (posts_before, patterns_before)


def test_only_commanders_mark_a_post_protected(clients, roster, registry, web_runtime):
    path = f"/roster/{STREET_A}/posts/{roster.post_a}"
    keep = {"name": "太平角路口文明引导", "slots": "2", "notes": "", "active": "1"}
    assert post_form(clients["officer"], path, {**keep, "protected_shown": "1"}).status_code == 403
    assert post_form(clients["officer"], path, {**keep, "slots": "4"}).status_code == 303  # officers change the rest
    assert post_form(clients["commander"], path, {**keep, "slots": "4", "protected_shown": "1"}).status_code == 303
    with web_runtime.transaction() as session:
        post = session.get(Post, roster.post_a)
        assert (post.slots, post.protected) == (4, False)
    assert post_form(clients["officer"], path, {**keep, "slots": "-1"}).status_code == 422
    assert post_form(clients["officer"], path, {**keep, "name": "岗" * 81}).status_code == 422
    assert post_form(clients["officer"], path, {**keep, "name": " "}).status_code == 422
    assert post_form(clients["viewer"], path, keep).status_code == 403


# --- the printed week ----------------------------------------------------------------------------------------


def test_the_printed_week_is_chinese_with_names_and_open_lines(clients, roster, registry):
    client = clients["officer"]
    client.post("/language", data={"lang": "en", "csrf_token": csrf_token(client), "next": "/"})
    assert "Roster" in client.get(week_path(STREET_A, roster.monday)).get_data(as_text=True)
    page = client.get(f"/roster/{STREET_A}/print?week={roster.monday.isoformat()}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="zh-CN">' in html
    assert "志愿服务排班表" in html and "roster-print.css" in html
    assert registry.volunteers_a[0][1] in html  # the booked volunteer's name
    assert html.count('class="blank"') == 1  # shift A's one open place, a line to write on
    assert "湛山站文明引导" not in html
    assert clients["officer"].get(f"/roster/{STREET_B}/print").status_code == 403
