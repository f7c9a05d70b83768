"""Shift reminders, the day before and an hour before, in the volunteer's language: a sweep driven by the
database (run every minute by the scheduler), so nothing is lost when a worker or Redis restarts.

Never twice: a reminder is claimed by a conditional UPDATE of `reminded_day_at` / `reminded_hour_at` (NULL ->
now; one sweep wins) and its SMS carries a dedupe key (`roster:signup:<id>:remind_day`).

- Day before: due 24 hours before the start, for volunteers booked before then (a later booking had its own
  confirmation with the time), as long as the shift is still tomorrow (local date) and more than
  `day_reminder_min_lead_h` away.
- Hour before: due an hour before the start, for volunteers booked before then.
- Quiet hours (22:00-07:00 local): reminders are not urgent. One due in quiet hours waits for 07:00 (the sweep
  simply does not send it yet, so a booking cancelled overnight gets no reminder); an hour reminder that would
  then come later than `hour_reminder_min_lead_min` before the start is skipped (the day reminder stood).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.quiet_hours import in_quiet_hours, quiet_end
from mobilize.domain.recurrence import local_date
from mobilize.models import Post, Priority, Shift, ShiftSignup, ShiftStatus, SignupStatus, Site
from mobilize.peacetime import messages
from mobilize.peacetime.config import RosterConfig

DAY, HOUR = timedelta(hours=24), timedelta(hours=1)


@dataclass
class ReminderRun:
    day: int = 0
    hour: int = 0
    skipped: int = 0
    waiting_for_morning: int = 0
    signups: list[int] = field(default_factory=list)


def _due(session: Session, now: datetime, lead: timedelta, column, min_lead: timedelta) -> list[ShiftSignup]:
    """Booked sign-ups of shifts starting within `lead` (and more than `min_lead` away), not yet reminded, booked
    before the reminder was due (the comparison of two columns is done here: portable and a small set)."""
    rows = list(session.scalars(
        select(ShiftSignup).join(Shift).where(
            ShiftSignup.status == SignupStatus.booked, column.is_(None), Shift.status == ShiftStatus.scheduled,
            Shift.starts_at <= now + lead, Shift.starts_at > now + min_lead)
        .options(selectinload(ShiftSignup.shift).selectinload(Shift.post).selectinload(Post.site)
                 .selectinload(Site.street),
                 selectinload(ShiftSignup.shift).selectinload(Shift.post).selectinload(Post.role),
                 selectinload(ShiftSignup.volunteer))
        .order_by(Shift.starts_at, ShiftSignup.id).limit(5000)))
    return [signup for signup in rows
            if signup.booked_at is not None and signup.booked_at <= signup.shift.starts_at - lead]


def _claim(session: Session, signup_id: int, column_name: str, now: datetime) -> bool:
    column = getattr(ShiftSignup, column_name)
    return session.execute(update(ShiftSignup).where(ShiftSignup.id == signup_id, column.is_(None),
                                                     ShiftSignup.status == SignupStatus.booked)
                           .values({column_name: now}).execution_options(synchronize_session=False)).rowcount == 1


def send_due_reminders(session: Session, now: datetime, cfg: RosterConfig) -> ReminderRun:
    run = ReminderRun()
    quiet = in_quiet_hours(now, cfg.zone, cfg.quiet_start, cfg.quiet_end)
    wake = quiet_end(now, cfg.zone, cfg.quiet_start, cfg.quiet_end)
    today = local_date(now, cfg.zone)
    for signup in _due(session, now, DAY, ShiftSignup.reminded_day_at, timedelta(hours=cfg.day_reminder_min_lead_h)):
        shift = signup.shift
        tomorrow = local_date(shift.starts_at, cfg.zone) == today + timedelta(days=1)
        if quiet and tomorrow and wake < shift.starts_at - timedelta(hours=cfg.day_reminder_min_lead_h):
            run.waiting_for_morning += 1
            continue
        if not _claim(session, signup.id, "reminded_day_at", now):
            continue
        if quiet or not tomorrow:
            run.skipped += 1  # too late for a "tomorrow" reminder: the hour reminder will do
            continue
        _send(session, signup, "shift_reminder_day", "remind_day", cfg, Priority.bulk)
        run.day += 1
        run.signups.append(signup.id)
    for signup in _due(session, now, HOUR, ShiftSignup.reminded_hour_at, timedelta(0)):
        shift = signup.shift
        latest = shift.starts_at - timedelta(minutes=cfg.hour_reminder_min_lead_min)
        if quiet and wake <= latest:
            run.waiting_for_morning += 1
            continue
        if not _claim(session, signup.id, "reminded_hour_at", now):
            continue
        if quiet:
            run.skipped += 1
            continue
        _send(session, signup, "shift_reminder_hour", "remind_hour", cfg, Priority.high)
        run.hour += 1
        run.signups.append(signup.id)
    return run


def _send(session: Session, signup: ShiftSignup, template: str, what: str, cfg: RosterConfig,
          priority: Priority) -> None:
    volunteer = signup.volunteer
    messages.send_now(session, volunteer, template, dedupe_key=messages.signup_key(signup.id, what),
                      priority=priority,
                      **messages.shift_values(signup.shift, volunteer.language, cfg.zone))
