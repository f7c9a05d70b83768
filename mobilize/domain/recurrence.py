"""Recurring peacetime shifts: which dated occurrences a weekly pattern has, in the district's time zone.

Pure (zoneinfo, no database). A pattern says "weekdays 1-5, 07:00-09:00, Asia/Shanghai"; its occurrences are
stored as UTC instants, computed from local wall-clock times in the pattern's zone, so the result is the same
whatever the server's own time zone (TZ) is. A pattern whose end is not after its start ends on the next day
(22:00-02:00 is a night patrol of four hours), and belongs to the local date it starts on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

ISO_WEEKDAYS = range(1, 8)  # Monday = 1 ... Sunday = 7
_RANGE = re.compile(r"^([1-7])-([1-7])$")


class PatternError(ValueError):
    """A pattern that cannot generate shifts; the message names the problem."""


@dataclass(frozen=True)
class Occurrence:
    local_date: date  # the local date the shift starts on
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC


def parse_weekdays(value) -> str:
    """'1-5', '135', '1,3,5', [1, 3, 5] -> '135' (ISO weekdays, Monday = 1, sorted, unique)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        days = set()
        for item in value:
            try:
                days.add(int(item))
            except (TypeError, ValueError):
                raise PatternError(f"weekday {item!r} is not a number 1-7") from None
    else:
        text = str(value or "").replace(" ", "")
        match = _RANGE.match(text)
        if match:
            first, last = int(match.group(1)), int(match.group(2))
            if first > last:
                raise PatternError(f"weekday range {text!r} runs backwards")
            days = set(range(first, last + 1))
        else:
            parts = text.split(",") if "," in text else list(text)
            if not parts or not all(part.isdigit() for part in parts):
                raise PatternError(f"weekdays {value!r}: use ISO numbers 1-7 (Monday = 1), e.g. '1-5' or '67'")
            days = {int(part) for part in parts}
    if not days or not days <= set(ISO_WEEKDAYS):
        raise PatternError(f"weekdays {value!r}: use ISO numbers 1-7 (Monday = 1)")
    return "".join(str(day) for day in sorted(days))


def duration(start: time, end: time) -> timedelta:
    """Length of a shift from local `start` to local `end` (next day when end <= start); wall-clock time."""
    if start == end:
        raise PatternError("a shift cannot start and end at the same time")
    first = datetime.combine(date(2000, 1, 1), start)
    last = datetime.combine(date(2000, 1, 1) if end > start else date(2000, 1, 2), end)
    return last - first


def at_local(day: date, moment: time, zone: str) -> datetime:
    """The UTC instant of a local wall-clock time on a local date."""
    return datetime.combine(day, moment.replace(tzinfo=None), tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def occurrence(day: date, start: time, end: time, zone: str) -> Occurrence:
    """The shift of one local date: starts at `start` that day, ends at `end` the same or the next day."""
    duration(start, end)  # validates
    end_day = day if end > start else day + timedelta(days=1)
    return Occurrence(day, at_local(day, start, zone), at_local(end_day, end, zone))


def occurrences(weekdays: str, start: time, end: time, first: date, last: date, zone: str) -> list[Occurrence]:
    """Every occurrence of the pattern whose local start date is in [first, last], in date order."""
    days = {int(day) for day in parse_weekdays(weekdays)}
    result = []
    day = first
    while day <= last:
        if day.isoweekday() in days:
            result.append(occurrence(day, start, end, zone))
        day += timedelta(days=1)
    return result


def local_date(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of a local date, as UTC instants."""
    return at_local(day, time(0), zone), at_local(day + timedelta(days=1), time(0), zone)
