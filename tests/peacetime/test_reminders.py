"""Reminders the day before and an hour before, in the volunteer's language, never twice; quiet hours 22:00-07:00
for everything not urgent (wartime messages are not delayed)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from mobilize.domain.recurrence import at_local
from mobilize.models import OutboundMessage, Priority, ShiftSignup
from mobilize.peacetime import reminders, staffing
from mobilize.sms import outbox
from tests.peacetime.conftest import CFG, OFFICER, people, post, sent, shift

DAY = date(2026, 12, 14)  # a Monday; every time below is Shanghai local time on DAY + n


def local(n: int, hh: int, mm: int = 0) -> datetime:
    return at_local(DAY + timedelta(days=n), time(hh, mm), CFG.zone)


def sweep(runtime, now: datetime) -> reminders.ReminderRun:
    with runtime.transaction() as session:
        return reminders.send_due_reminders(session, now, CFG)


def _booked(runtime, start: datetime, booked_at: datetime, languages=("zh", "en")):
    with runtime.transaction() as session:
        target = shift(session, post(session, slots=3), start)
        volunteers = [people(session, 1, language=language)[0] for language in languages]
        for volunteer in volunteers:
            staffing.sign_up(session, target.id, volunteer.id, actor=OFFICER, now=booked_at, cfg=CFG,
                             source="officer", notify=False)
        return target, volunteers


def test_day_before_and_hour_before_in_each_language_and_never_twice(rt) -> None:
    start = local(2, 10)
    target, (zh, en) = _booked(rt, start, booked_at=local(0, 9))
    assert sweep(rt, start - timedelta(hours=25)).day == 0
    run = sweep(rt, start - timedelta(hours=24) + timedelta(minutes=1))
    assert run.day == 2
    assert sweep(rt, start - timedelta(hours=24) + timedelta(minutes=2)).day == 0  # never twice
    assert sweep(rt, start - timedelta(hours=3)).day == 0
    assert sweep(rt, start - timedelta(minutes=61)).hour == 0
    assert sweep(rt, start - timedelta(minutes=59)).hour == 2
    assert sweep(rt, start - timedelta(minutes=30)).hour == 0
    day_zh, day_en = (sent(rt, "shift_reminder_day", volunteer=v) for v in (zh, en))
    assert len(day_zh) == len(day_en) == 1
    assert day_zh[0].body.startswith("【值班提醒】明天12月16日10:00") and day_zh[0].dedupe_key.endswith("remind_day")
    assert day_en[0].body.startswith("Shift tomorrow 16 Dec 10:00")
    hour_en = sent(rt, "shift_reminder_hour", volunteer=en)
    assert len(hour_en) == 1 and hour_en[0].body.startswith("Shift in 1 hour, 16 Dec 10:00")
    assert hour_en[0].priority is Priority.high and day_en[0].priority is Priority.bulk


def test_a_booking_made_within_the_day_gets_only_the_hour_reminder(rt) -> None:
    start = local(2, 10)
    _booked(rt, start, booked_at=start - timedelta(hours=20), languages=("zh",))
    assert sweep(rt, start - timedelta(hours=20)).day == 0
    assert sweep(rt, start - timedelta(minutes=50)).hour == 1
    assert len(sent(rt, "shift_reminder_day")) == 0


def test_a_cancelled_booking_gets_no_reminder(rt) -> None:
    start = local(2, 10)
    target, (volunteer,) = _booked(rt, start, booked_at=local(0, 9), languages=("zh",))
    with rt.transaction() as session:
        signup = session.scalar(select(ShiftSignup).where(ShiftSignup.volunteer_id == volunteer.id))
        staffing.cancel_signup(session, signup.id, actor=OFFICER, now=local(0, 12), cfg=CFG, notify=False)
    assert sweep(rt, start - timedelta(hours=23)).day == 0
    assert sweep(rt, start - timedelta(minutes=50)).hour == 0


def test_reminders_due_in_quiet_hours_wait_for_seven_or_are_skipped_when_too_late(rt) -> None:
    early = local(2, 6, 30)  # day reminder due at 06:30 the day before: quiet
    _booked(rt, early, booked_at=local(0, 9), languages=("zh",))
    run = sweep(rt, local(1, 6, 31))
    assert (run.day, run.waiting_for_morning) == (0, 1)
    assert sweep(rt, local(1, 7, 0)).day == 1  # sent at seven
    # the hour reminder is due at 05:30, quiet; at seven the shift has started: skipped, never sent later
    run = sweep(rt, local(2, 5, 31))
    assert (run.hour, run.skipped) == (0, 1)
    assert sweep(rt, local(2, 6, 0)).hour == 0
    assert len(sent(rt, "shift_reminder_hour")) == 0


def test_an_hour_reminder_in_quiet_hours_waits_until_seven_when_still_useful(srt) -> None:
    start = local(2, 7, 30)
    _booked(srt, start, booked_at=local(0, 9), languages=("en",))
    run = sweep(srt, local(2, 6, 31))
    assert (run.hour, run.waiting_for_morning) == (0, 1)
    assert sweep(srt, local(2, 7, 0)).hour == 1


def test_non_urgent_notices_wait_for_the_morning_but_answers_and_wartime_messages_do_not(rt) -> None:
    start = local(1, 10)
    late_evening = local(0, 23, 10)
    with rt.transaction() as session:
        target = shift(session, post(session, slots=1), start)
        holder, waiting, texting = people(session, 3)
        first = staffing.sign_up(session, target.id, holder.id, actor=OFFICER, now=late_evening, cfg=CFG,
                                 source="officer")
        staffing.sign_up(session, target.id, waiting.id, actor=OFFICER, now=late_evening, cfg=CFG, source="sms",
                         waitlist=True)
        staffing.cancel_signup(session, first.signup.id, actor=OFFICER, now=late_evening, cfg=CFG, by_officer=True)
        outbox.queue_message(session, body="【招募令#27】...", kind="invitation", priority=Priority.bulk,
                             volunteer=texting)
    messages = {m.kind: m for m in sent(rt)}
    seven = local(1, 7)
    assert messages["shift_booked"].not_before == seven  # the officer's booking notice at 23:10 waited...
    assert messages["shift_booked"].status.value == "cancelled"  # ...and went away with the booking
    assert messages["shift_cancelled"].not_before == seven  # taken off by the officer
    assert messages["shift_promoted"].not_before == seven
    assert messages["shift_waitlisted"].not_before is None  # the answer to their own SMS
    assert messages["invitation"].not_before is None  # wartime: no quiet hours
    with rt.transaction() as session:
        assert outbox.pending_count(session, now=late_evening) == 2
        assert outbox.pending_count(session, now=seven) == 4


def test_a_notice_that_would_come_too_late_goes_at_once(srt) -> None:
    start = local(1, 6, 30)  # a place on an early shift freed at 23:00: 07:00 would be too late
    with srt.transaction() as session:
        target = shift(session, post(session, slots=1), start)
        holder, waiting = people(session, 2)
        first = staffing.sign_up(session, target.id, holder.id, actor=OFFICER, now=local(0, 9), cfg=CFG,
                                 source="officer", notify=False)
        staffing.sign_up(session, target.id, waiting.id, actor=OFFICER, now=local(0, 9), cfg=CFG, source="api",
                         waitlist=True, notify=False)
        staffing.cancel_signup(session, first.signup.id, actor=OFFICER, now=local(0, 23), cfg=CFG, notify=False)
        promoted = session.scalar(select(OutboundMessage).where(OutboundMessage.kind == "shift_promoted"))
        assert promoted is not None and promoted.not_before is None
