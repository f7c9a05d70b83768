"""Quiet hours: non-urgent SMS are not sent between 22:00 and 07:00 local time; they wait until 07:00.

Pure. Wartime messages (invitations, dispatch) do not use this: an emergency does not wait for the morning.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

QUIET_START = time(22, 0)
QUIET_END = time(7, 0)


def in_quiet_hours(moment: datetime, zone: str, start: time = QUIET_START, end: time = QUIET_END) -> bool:
    local = moment.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
    if start > end:  # spans midnight (22:00-07:00)
        return local >= start or local < end
    return start <= local < end


def quiet_end(moment: datetime, zone: str, start: time = QUIET_START, end: time = QUIET_END) -> datetime:
    """When a message due at `moment` may go: `moment` itself outside quiet hours, else the next local `end`."""
    if not in_quiet_hours(moment, zone, start, end):
        return moment
    local = moment.astimezone(ZoneInfo(zone))
    day = local.date() if local.time().replace(tzinfo=None) < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
