"""Roster SMS: values for the templates, quiet hours for what is not urgent, dedupe keys naming the reason.

Keys: `roster:signup:<id>:<what>` (booked, waitlisted, promoted, remind_day, remind_hour, cancelled...),
`roster:swap:<id>:<volunteer>:<what>`, `roster:backfill:shift:<id>:volunteer:<id>`. The same reason never sends
twice; cancelling a sign-up cancels what is still waiting in the outbox under its key (a reminder, a notice).

Answers to a volunteer's own SMS go at once (priority high): they just wrote to us. Notices nobody asked for
(promotion from the waitlist, a cancelled shift, a swap request, backfill invitations) are non-urgent: between
22:00 and 07:00 local they wait until 07:00 (`not_before`), unless that would be too late to be of use.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from mobilize.domain.quiet_hours import quiet_end
from mobilize.domain.templates import render
from mobilize.domain.timefmt import format_start, format_window
from mobilize.models import OutboundMessage, OutboundStatus, Priority, Shift, Volunteer
from mobilize.peacetime.config import RosterConfig
from mobilize.sms import outbox


def signup_key(signup_id: int, what: str) -> str:
    return f"roster:signup:{signup_id}:{what}"


def shift_values(shift: Shift, language: str, zone: str) -> dict[str, Any]:
    post, site = shift.post, shift.post.site
    return {
        "code": shift.code, "start": format_start(shift.starts_at, language, zone),
        "window": format_window(shift.starts_at, shift.ends_at, language, zone), "site": site.name,
        "address": site.address or site.name,
        "role": post.role.name_zh if language == "zh" else post.role.name_en,
        "officer": site.contact_name or "-", "officer_phone": site.contact_phone or "-",
    }


def send_now(session: Session, volunteer: Volunteer, template: str, *, dedupe_key: str | None = None,
             priority: Priority = Priority.high, **values: Any) -> OutboundMessage | None:
    """An answer or a time-critical notice: sent as soon as possible (None: opted out, or already sent)."""
    body = render(template, volunteer.language, **values)
    return outbox.queue_message(session, body=body, kind=template, priority=priority, volunteer=volunteer,
                                dedupe_key=dedupe_key)


def send_notice(session: Session, cfg: RosterConfig, volunteer: Volunteer, template: str, now: datetime, *,
                dedupe_key: str | None = None, useful_until: datetime | None = None,
                priority: Priority = Priority.bulk, **values: Any) -> OutboundMessage | None:
    """A non-urgent notice: in quiet hours it waits until they end, unless that is after `useful_until`, in which
    case it goes now (a place that starts at 06:30 is worth a late message)."""
    message = send_now(session, volunteer, template, dedupe_key=dedupe_key, priority=priority, **values)
    if message is not None:
        wake = quiet_end(now, cfg.zone, cfg.quiet_start, cfg.quiet_end)
        if wake > now and (useful_until is None or wake <= useful_until):
            message.not_before = wake
    return message


def cancel_pending(session: Session, signup_id: int, now: datetime) -> int:
    """Messages about a sign-up still waiting in the outbox are not sent any more (it was cancelled)."""
    return session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.status == OutboundStatus.pending,
               OutboundMessage.dedupe_key.startswith(f"roster:signup:{signup_id}:"))
        .values(status=OutboundStatus.cancelled, error_message="sign-up ended", status_at=now)
        .execution_options(synchronize_session=False)).rowcount
