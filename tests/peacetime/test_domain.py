"""Pure roster rules: points and stars at their boundaries, weekly recurrence in Shanghai whatever the server's
zone, quiet hours."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from mobilize.domain import stars
from mobilize.domain.quiet_hours import in_quiet_hours, quiet_end
from mobilize.domain.recurrence import PatternError, day_bounds, duration, occurrences, parse_weekdays

UTC = timezone.utc
SH = "Asia/Shanghai"


# --- points and stars ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("hours", "expected"), [
    (0, 0), (99.99, 0), (100, 1), (100.001, 1), (299.99, 1), (300, 2), (599.99, 2), (600, 3), (999.99, 3),
    (1000, 4), (1499.99, 4), (1500, 5), (10_000, 5),
])
def test_stars_at_the_default_thresholds(hours: float, expected: int) -> None:
    assert stars.stars(hours) == expected


def test_a_sum_of_floats_reaches_the_threshold_it_adds_up_to() -> None:
    assert stars.stars(sum([33.33, 33.33, 33.34])) == 1  # 99.99999999999999 in floats


def test_configured_thresholds_and_points() -> None:
    assert stars.stars(50, (10, 20, 50)) == 3 and stars.stars(49.99, (10, 20, 50)) == 2
    assert stars.points(4.5) == 4.5 and stars.points(4.5, 10) == 45 and stars.points(0) == 0
    assert stars.points(1 / 3, 3) == 0.99  # hours are taken at two decimals first: 0.33 h
    with pytest.raises(ValueError):
        stars.stars(-1)
    with pytest.raises(ValueError):
        stars.stars(10, (300, 100))
    with pytest.raises(ValueError):
        stars.points(1, 0)


def test_standing_says_how_far_the_next_star_is() -> None:
    s = stars.standing(250.5)
    assert (s.stars, s.points, s.next_threshold, s.hours_to_next) == (1, 250.5, 300, 49.5)
    top = stars.standing(1500, per_hour=2)
    assert (top.stars, top.points, top.next_threshold, top.hours_to_next) == (5, 3000, None, None)


# --- recurrence ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [
    ("1-5", "12345"), ("67", "67"), ("1,3,5", "135"), ([5, 1, 1], "15"), ("7", "7"), ("1-7", "1234567"),
])
def test_weekdays(given, expected) -> None:
    assert parse_weekdays(given) == expected


@pytest.mark.parametrize("bad", ["", "0", "8", "5-1", "mon", [9], "1-", None])
def test_bad_weekdays_are_named(bad) -> None:
    with pytest.raises(PatternError):
        parse_weekdays(bad)


def test_occurrences_are_shanghai_wall_clock_times_stored_in_utc() -> None:
    found = occurrences("12345", time(7), time(9), date(2026, 12, 7), date(2026, 12, 13), SH)  # Mon-Sun
    assert [o.local_date for o in found] == [date(2026, 12, d) for d in (7, 8, 9, 10, 11)]
    assert found[0].starts_at == datetime(2026, 12, 6, 23, 0, tzinfo=UTC)  # 07:00 +08:00 the day before in UTC
    assert found[0].ends_at == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def test_a_pattern_across_midnight_ends_the_next_day_and_belongs_to_its_start_date() -> None:
    (night,) = occurrences("5", time(21, 30), time(0, 30), date(2026, 12, 11), date(2026, 12, 11), SH)
    assert night.local_date == date(2026, 12, 11)
    assert night.starts_at == datetime(2026, 12, 11, 13, 30, tzinfo=UTC)
    assert night.ends_at == datetime(2026, 12, 11, 16, 30, tzinfo=UTC)  # 00:30 on the 12th, local
    assert duration(time(22), time(2)) == timedelta(hours=4)
    # a 07:00 local start is on the previous UTC date: the local date still names the day
    (morning,) = occurrences("1", time(7), time(9), date(2026, 12, 7), date(2026, 12, 7), SH)
    assert morning.starts_at.date() == date(2026, 12, 6) and morning.local_date == date(2026, 12, 7)
    with pytest.raises(PatternError):
        duration(time(7), time(7))


def test_day_bounds_are_local_midnights() -> None:
    start, end = day_bounds(date(2026, 12, 7), SH)
    assert start == datetime(2026, 12, 6, 16, 0, tzinfo=UTC) and end - start == timedelta(days=1)


_SCRIPT = """
import json, time
from datetime import date, time as t
time.tzset()
from mobilize.domain.recurrence import occurrences
found = occurrences("1234567", t(21, 30), t(0, 30), date(2026, 3, 6), date(2026, 3, 10), "Asia/Shanghai")
found += occurrences("12345", t(7), t(9), date(2026, 10, 30), date(2026, 11, 3), "Asia/Shanghai")
print(json.dumps([[str(o.local_date), o.starts_at.isoformat(), o.ends_at.isoformat()] for o in found]))
"""


def _generate_under(zone: str) -> list:
    env = {**os.environ, "TZ": zone}
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, cwd=root, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_the_server_zone_changes_nothing() -> None:
    """Generated under TZ=UTC and TZ=America/New_York (whose DST changes on 8 March and 1 November 2026, inside
    the ranges), the instants are the same, and Shanghai's wall-clock times hold."""
    in_utc, in_new_york = _generate_under("UTC"), _generate_under("America/New_York")
    assert in_utc == in_new_york
    assert len(in_utc) == 5 + 3
    assert in_utc[0] == ["2026-03-06", "2026-03-06T13:30:00+00:00", "2026-03-06T16:30:00+00:00"]
    assert all(start.endswith(("13:30:00+00:00", "23:00:00+00:00")) for _, start, _ in in_utc)


# --- quiet hours -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("local", "quiet"), [
    ((21, 59), False), ((22, 0), True), ((23, 30), True), ((0, 0), True), ((6, 59), True), ((7, 0), False),
    ((12, 0), False),
])
def test_quiet_hours_are_22_to_7_local(local, quiet) -> None:
    moment = datetime(2026, 12, 7, *local, tzinfo=timezone(timedelta(hours=8)))
    assert in_quiet_hours(moment, SH) is quiet


def test_quiet_end_is_the_next_7_oclock() -> None:
    evening = datetime(2026, 12, 7, 23, 10, tzinfo=timezone(timedelta(hours=8)))
    assert quiet_end(evening, SH) == datetime(2026, 12, 8, 7, 0, tzinfo=timezone(timedelta(hours=8)))
    night = datetime(2026, 12, 8, 3, 0, tzinfo=timezone(timedelta(hours=8)))
    assert quiet_end(night, SH) == datetime(2026, 12, 8, 7, 0, tzinfo=timezone(timedelta(hours=8)))
    day = datetime(2026, 12, 8, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    assert quiet_end(day, SH) == day


# --- the replies the roster's texts teach are understood as what the texts say ------------------------------------

TAUGHT = [
    ("shift_list", "zh", "班次27", "shift_take"), ("shift_list", "en", "SHIFT 27", "shift_take"),
    ("shift_booked", "zh", "取消班次27", "shift_leave"), ("shift_booked", "en", "DROP SHIFT 27", "shift_leave"),
    ("shift_promoted", "zh", "取消班次27", "shift_leave"), ("shift_promoted", "en", "DROP SHIFT 27", "shift_leave"),
    ("shift_backfill", "zh", "班次27", "shift_take"), ("shift_backfill", "en", "SHIFT 27", "shift_take"),
    ("shift_backfill", "zh", "TD", "opt_out"), ("shift_unavailable", "zh", "班次", "shifts"),
    ("shift_unavailable", "en", "SHIFTS", "shifts"), ("shift_mine_none", "zh", "班次", "shifts"),
    ("shift_checkin_ack", "zh", "签退", "done"), ("shift_checkin_ack", "en", "DONE", "done"),
    ("swap_request", "zh", "换班27", "swap_accept"), ("swap_request", "zh", "不换班27", "swap_decline"),
    ("swap_request", "en", "SWAP 27", "swap_accept"), ("swap_request", "en", "NO SWAP 27", "swap_decline"),
    ("swap_which", "zh", "换班27", "swap_accept"), ("swap_which", "en", "SWAP 27", "swap_accept"),
]


@pytest.mark.parametrize(("name", "language", "reply", "intent"), TAUGHT)
def test_the_replies_roster_texts_teach_are_understood(name, language, reply, intent) -> None:
    from mobilize.domain.replies import parse_reply
    from mobilize.domain.templates import SAMPLE_VALUES, render

    assert reply in render(name, language, **SAMPLE_VALUES[language])
    parsed = parse_reply(reply)
    assert (parsed.intent.value, parsed.code) == (intent, "27" if "27" in reply else None)
