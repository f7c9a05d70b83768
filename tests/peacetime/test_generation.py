"""The generator: idempotent, Shanghai wall-clock times whatever the server's zone, holidays and one-off shifts."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mobilize.domain.recurrence import local_date
from mobilize.models import Shift, ShiftSignup, ShiftStatus, SignupStatus
from mobilize.models._types import utcnow
from mobilize.peacetime import generation, posts, staffing
from mobilize.peacetime.errors import Conflict, Invalid
from tests.peacetime.conftest import CFG, OFFICER, check_capacity, people, post, sent

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc)  # Sunday 6 December 2026, 12:00 in Shanghai


def _post_with_patterns(session, **kwargs):
    row = post(session, **kwargs)
    posts.add_pattern(session, row.id, weekdays="1-5", start_time=time(7), end_time=time(9), actor=OFFICER,
                      now=NOW, cfg=CFG, valid_from=date(2026, 12, 1))
    posts.add_pattern(session, row.id, weekdays="56", start_time=time(21, 30), end_time=time(0, 30), slots=4,
                      actor=OFFICER, now=NOW, cfg=CFG, valid_from=date(2026, 12, 1))
    return row


def test_generation_is_idempotent_and_in_local_time(rt) -> None:
    with rt.transaction() as session:
        row = _post_with_patterns(session)
        first = generation.generate_shifts(session, NOW, CFG, weeks=2)
    with rt.transaction() as session:
        again = generation.generate_shifts(session, NOW, CFG, weeks=2)
        later = generation.generate_shifts(session, NOW + timedelta(days=2), CFG, weeks=2)
        shifts = session.scalars(select(Shift).where(Shift.post_id == row.id).order_by(Shift.starts_at)).all()
    # Sun 6 .. Sat 19 December: 10 weekday mornings and 4 Friday/Saturday nights; two days later adds Monday 21st
    assert (first.created, again.created, later.created) == (14, 0, 1)
    assert len(shifts) == 15 and len({s.code for s in shifts}) == 15
    assert all(len(s.code) == 4 and s.code.isdigit() for s in shifts)
    morning = shifts[0]
    assert morning.local_date == date(2026, 12, 7)
    assert morning.starts_at == datetime(2026, 12, 6, 23, 0, tzinfo=timezone.utc)
    assert morning.capacity == 2
    night = next(s for s in shifts if s.capacity == 4)
    assert night.local_date == date(2026, 12, 11)  # Friday
    assert (night.starts_at, night.ends_at) == (datetime(2026, 12, 11, 13, 30, tzinfo=timezone.utc),
                                                datetime(2026, 12, 11, 16, 30, tzinfo=timezone.utc))


def test_shifts_already_started_are_not_generated_and_old_ones_free_their_codes(srt) -> None:
    with srt.transaction() as session:
        row = post(session)
        posts.add_pattern(session, row.id, weekdays="1-7", start_time=time(11), end_time=time(13), actor=OFFICER,
                          now=NOW, cfg=CFG, valid_from=date(2026, 12, 1))
        result = generation.generate_shifts(session, NOW, CFG, weeks=1)  # 12:00 local: today's 11:00 started
        assert result.created == 6
        assert generation.end_past_shifts(session, NOW + timedelta(days=2), CFG) == 1
        assert session.scalar(select(func.count()).where(Shift.status == ShiftStatus.ended)) == 1


def _seed_for_zone_test(url: str) -> None:
    from mobilize.db import make_engine, make_session_factory, transaction
    from tests import factories

    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        site = factories.site(session, "八大关", "太平角路口", roles={"civility_guide": 2})
        row = posts.create_post(session, site_id=site.id, role="civility_guide", slots=2, actor=OFFICER, now=NOW)
        posts.add_pattern(session, row.id, weekdays="1-7", start_time=time(21, 30), end_time=time(0, 30),
                          actor=OFFICER, now=NOW, cfg=CFG, valid_from=date(2026, 1, 1))
        posts.add_pattern(session, row.id, weekdays="1-5", start_time=time(7), end_time=time(9), actor=OFFICER,
                          now=NOW, cfg=CFG, valid_from=date(2026, 1, 1))
    engine.dispose()  # the last connection closing checkpoints the WAL into the file we copy


_GENERATE = """
import sys, time
from datetime import datetime, timezone
time.tzset()
from mobilize.db import make_engine, make_session_factory, transaction
from mobilize.peacetime import generation
from mobilize.peacetime.config import RosterConfig
now = datetime.fromisoformat(sys.argv[2])
with transaction(make_session_factory(make_engine(sys.argv[1]))) as session:
    print(generation.generate_shifts(session, now, RosterConfig(), weeks=2).created)
"""


@pytest.mark.parametrize("now", [datetime(2026, 3, 5, 4, 0, tzinfo=timezone.utc),
                                 datetime(2026, 10, 29, 4, 0, tzinfo=timezone.utc)],
                         ids=["new-york-dst-starts", "new-york-dst-ends"])
def test_generated_instants_are_the_same_with_the_server_in_utc_or_new_york(sqlite_url, tmp_path, now) -> None:
    from mobilize.db import make_engine

    _seed_for_zone_test(sqlite_url)
    source = Path(sqlite_url.removeprefix("sqlite:///"))
    results = {}
    for zone in ("UTC", "America/New_York"):
        copy = tmp_path / f"{zone.replace('/', '_')}.db"
        shutil.copy(source, copy)
        root = Path(__file__).resolve().parents[2]
        subprocess.run([sys.executable, "-c", _GENERATE, f"sqlite:///{copy}", now.isoformat()], cwd=root,
                       env={**os.environ, "TZ": zone}, check=True, capture_output=True, text=True)
        engine = make_engine(f"sqlite:///{copy}")
        with engine.connect() as connection:
            results[zone] = connection.execute(select(Shift.local_date, Shift.starts_at, Shift.ends_at)
                                               .order_by(Shift.starts_at)).all()
        engine.dispose()
    assert results["UTC"] == results["America/New_York"]
    nights = [row for row in results["UTC"] if row[2] - row[1] == timedelta(hours=3)]
    assert len(nights) == 14 and len(results["UTC"]) - 14 in (9, 10)  # today's 07:00 passed (it is noon)
    for day, starts_at, ends_at in results["UTC"]:
        local = starts_at.replace(tzinfo=timezone.utc).astimezone(timezone(timedelta(hours=8)))
        assert (local.hour, local.minute) in ((21, 30), (7, 0)) and local.date() == day
        assert ends_at - starts_at == timedelta(hours=3 if local.hour == 21 else 2)


def test_a_holiday_cancels_generated_shifts_and_the_generator_skips_it(rt) -> None:
    with rt.transaction() as session:
        row = _post_with_patterns(session)
        generation.generate_shifts(session, NOW, CFG, weeks=2)
        monday = session.scalar(select(Shift).where(Shift.local_date == date(2026, 12, 7)))
        volunteer = people(session, 1)[0]
        staffing.sign_up(session, monday.id, volunteer.id, actor=OFFICER, now=NOW, cfg=CFG, source="officer")
        holiday, cancelled = posts.add_holiday(session, on_date=date(2026, 12, 7), reason="元旦调休",
                                               street_id=row.site.street_id, actor=OFFICER, now=NOW, cfg=CFG)
        assert [s.id for s in cancelled] == [monday.id]
        posts.add_holiday(session, on_date=date(2026, 12, 21), reason="全区活动", actor=OFFICER, now=NOW, cfg=CFG)
    with rt.transaction() as session:
        monday = session.get(Shift, monday.id)
        assert monday.status is ShiftStatus.cancelled and monday.filled == 0
        signup = session.scalar(select(ShiftSignup).where(ShiftSignup.shift_id == monday.id))
        assert signup.status is SignupStatus.cancelled and signup.end_reason == "shift_cancelled"
        result = generation.generate_shifts(session, NOW + timedelta(days=2), CFG, weeks=2)
        assert (result.created, result.skipped_holidays) == (0, 1)  # Monday 21st is the district's holiday
    assert [m.kind for m in sent(rt, volunteer=volunteer)] == ["shift_booked", "shift_cancelled"]
    check_capacity(rt)


def test_a_one_off_extra_shift(rt) -> None:
    with rt.transaction() as session:
        row = post(session)
        start = NOW + timedelta(days=3)
        extra = posts.add_extra_shift(session, row.id, starts_at=start, ends_at=start + timedelta(hours=3), slots=6,
                                      actor=OFFICER, now=NOW, cfg=CFG)
        assert extra.extra and extra.capacity == 6 and extra.local_date == local_date(start, CFG.zone)
        with pytest.raises(Conflict):
            posts.add_extra_shift(session, row.id, starts_at=start, ends_at=start + timedelta(hours=1),
                                  actor=OFFICER, now=NOW, cfg=CFG)
        with pytest.raises(Invalid):
            posts.add_extra_shift(session, row.id, starts_at=start, ends_at=start, actor=OFFICER, now=NOW, cfg=CFG)
        with pytest.raises(Invalid):
            posts.add_extra_shift(session, row.id, starts_at=NOW - timedelta(hours=1), ends_at=NOW,
                                  actor=OFFICER, now=NOW, cfg=CFG)


def test_bad_patterns_are_refused(srt) -> None:
    with srt.transaction() as session:
        row = post(session)
        for kwargs in ({"weekdays": "8"}, {"start_time": time(7), "end_time": time(7)},
                       {"start_time": time(6), "end_time": time(23)}):
            values = {"weekdays": "1-5", "start_time": time(7), "end_time": time(9), **kwargs}
            with pytest.raises(Invalid):
                posts.add_pattern(session, row.id, actor=OFFICER, now=utcnow(), cfg=CFG, **values)
