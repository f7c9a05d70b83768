"""Times as the SMS texts write them, in the district's local time: 5月12日07:00 / 12 May 07:00.

Pure: the caller passes the time zone (Settings.timezone). Short on purpose: every character costs in a segment.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def _day(local: datetime, language: str) -> str:
    if language == "en":
        return f"{local.day} {_MONTHS_EN[local.month - 1]}"
    return f"{local.month}月{local.day}日"


def format_start(moment: datetime, language: str, zone: str) -> str:
    """'5月12日07:00' or '12 May 07:00'."""
    local = _local(moment, zone)
    return f"{_day(local, language)}{' ' if language == 'en' else ''}{local:%H:%M}"


def format_clock(moment: datetime, zone: str) -> str:
    """'07:40': a time later the same day (a confirmation deadline)."""
    return f"{_local(moment, zone):%H:%M}"


def format_window(starts_at: datetime, ends_at: datetime, language: str, zone: str) -> str:
    """'5月12日07:00-12:00'; the end's day is written only when it is another day."""
    start, end = _local(starts_at, zone), _local(ends_at, zone)
    if start.date() == end.date():
        return f"{format_start(starts_at, language, zone)}-{end:%H:%M}"
    return f"{format_start(starts_at, language, zone)}-{format_start(ends_at, language, zone)}"
