"""The daily gap report per street (once a day) and backfill invitations to nearby free volunteers."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from mobilize.domain.recurrence import at_local
from mobilize.models import GapReport, OutboundMessage
from mobilize.models._types import utcnow
from mobilize.peacetime import gaps, staffing
from mobilize.peacetime.config import RosterConfig
from tests.peacetime.conftest import BADAGUAN, CFG, OFFICER, ZHANSHAN, people, post, sent, shift, wartime_assignment

DAY = date(2026, 12, 14)


def local(n: int, hh: int, mm: int = 0) -> datetime:
    return at_local(DAY + timedelta(days=n), time(hh, mm), CFG.zone)


def test_the_daily_report_lists_unfilled_shifts_per_street_once_a_day(rt) -> None:
    with rt.transaction() as session:
        badaguan = post(session, at=BADAGUAN, slots=3)
        zhanshan = post(session, "湛山", at=ZHANSHAN, slots=2, protected=True)
        short = shift(session, badaguan, local(1, 7))
        full = shift(session, zhanshan, local(1, 17))
        beyond = shift(session, badaguan, local(3, 7))  # after tomorrow: not in today's report
        a, b, c = people(session, 3, near=ZHANSHAN, street="湛山")
        for volunteer in (a, b):
            staffing.sign_up(session, full.id, volunteer.id, actor=OFFICER, now=local(0, 9), cfg=CFG,
                             source="officer", notify=False)
        staffing.sign_up(session, short.id, c.id, actor=OFFICER, now=local(0, 9), cfg=CFG, source="officer",
                         notify=False)
        assert gaps.run_daily(session, local(0, 16, 59), CFG) is None  # before 17:00
        report = gaps.run_daily(session, local(0, 17, 1), CFG)
        assert (report.report_date, report.shifts, report.open_places) == (DAY, 1, 2)
        assert gaps.run_daily(session, local(0, 21), CFG) is None  # once a day
        by_street = {s["street"]: s for s in report.streets}
        assert by_street["八大关街道"]["items"][0]["code"] == short.code
        assert by_street["八大关街道"]["open_places"] == 2 and by_street["湛山街道"]["shifts"] == 0
        live = gaps.report(session, local(0, 9), CFG, first_day=DAY + timedelta(days=3), days=1)
        assert [i["shift_id"] for s in live["streets"] for i in s["items"]] == [beyond.id]
    with rt.transaction() as session:
        assert session.scalar(select(func.count()).select_from(GapReport)) == 1


def test_backfill_invites_nearest_free_volunteers_first_and_never_twice(rt) -> None:
    with rt.transaction() as session:
        row = post(session, at=BADAGUAN, slots=2)
        target = shift(session, row, local(1, 9))
        crowd = people(session, 8, step_m=200)  # 200 m, 400 m, ... 1.6 km east
        booked_here, busy_elsewhere, at_war, opted_out = crowd[0], crowd[1], crowd[2], crowd[3]
        staffing.sign_up(session, target.id, booked_here.id, actor=OFFICER, now=local(0, 9), cfg=CFG,
                         source="officer", notify=False)
        other = shift(session, post(session), local(1, 8))
        staffing.sign_up(session, other.id, busy_elsewhere.id, actor=OFFICER, now=local(0, 9), cfg=CFG,
                         source="officer", notify=False)
        wartime_assignment(session, at_war, local(1, 6), local(1, 12))
        opted_out.opted_out_at = utcnow()
        far = people(session, 1, near=(BADAGUAN[0] + 0.05, BADAGUAN[1]))[0]  # 5.5 km north
        session.flush()
        cfg = RosterConfig(backfill_per_place=3)
        assert gaps.invite_backfill(session, target, local(0, 17), cfg) == 3  # one open place, three invited
        assert gaps.invite_backfill(session, target, local(0, 18), cfg) == 1  # the only other one nearby
        assert gaps.invite_backfill(session, target, local(0, 19), cfg) == 0  # nobody twice
        invited = [m.volunteer_id for m in session.scalars(
            select(OutboundMessage).where(OutboundMessage.kind == "shift_backfill").order_by(OutboundMessage.id))]
    assert invited == [v.id for v in crowd[4:8]]  # nearest first; booked, busy, dispatched, opted out skipped
    assert far.id not in invited
    body = sent(rt, "shift_backfill")[0].body
    assert body.startswith("【值班空缺】") and f"回复班次{target.code}" in body and "还缺1人" in body


def test_no_backfill_for_shifts_about_to_start_and_quiet_hours_respected(srt) -> None:
    with srt.transaction() as session:
        target = shift(session, post(session, slots=2), local(1, 9))
        soon = shift(session, post(session, slots=2), local(0, 23, 30))
        people(session, 3)
        assert gaps.invite_backfill(session, soon, local(0, 22, 0), CFG) == 0  # within two hours
        assert gaps.invite_backfill(session, target, local(0, 22, 30), CFG) == 3
        messages = session.scalars(select(OutboundMessage)).all()
        assert {m.not_before for m in messages} == {local(1, 7)}
