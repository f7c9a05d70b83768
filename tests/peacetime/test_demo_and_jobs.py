"""The demo roster on the demo district, and the periodic jobs as the scheduler runs them."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from mobilize.models import (
    Post,
    ServiceKind,
    ServiceRecord,
    ServiceStatus,
    Shift,
    ShiftSignup,
    ShiftStatus,
    SignupStatus,
    SiteKind,
)
from mobilize.domain.recurrence import local_date
from mobilize.models._types import utcnow
from mobilize.peacetime.demo import seed_roster
from mobilize.registry.demo import seed_demo
from tests.peacetime.conftest import check_capacity
from workers import roster


def test_the_demo_roster_is_realistic_and_idempotent(srt) -> None:
    rt = srt
    now = utcnow()
    with rt.transaction() as session:
        seed_demo(session, volunteers=800)
        summary = seed_roster(session, now=now)
        assert summary.status == "created"
        assert seed_roster(session, now=now).status == "already_seeded"
    assert summary.posts >= 11 and 0 < summary.protected_posts < summary.posts
    assert summary.shifts > 200 and summary.signups > summary.shifts and summary.service_records > 0
    with rt.transaction() as session:
        kinds = {row.site.kind for row in session.scalars(select(Post))}
        assert {SiteKind.intersection, SiteKind.station, SiteKind.community_post} <= kinds
        roles = set(session.scalars(select(Post.role_id).distinct()))
        assert len(roles) == 2  # civility guides and patrols
        last = session.scalar(select(func.max(Shift.starts_at)).where(Shift.status == ShiftStatus.scheduled))
        assert timedelta(days=12) < last - now < timedelta(days=15)  # the coming two weeks
        upcoming = session.scalars(select(Shift).where(Shift.status == ShiftStatus.scheduled)).all()
        assert any(s.filled == s.capacity for s in upcoming) and any(s.filled < s.capacity for s in upcoming)
        night = [s for s in upcoming if s.starts_at.astimezone(ZoneInfo("Asia/Shanghai")).hour == 21]  # to 00:30
        assert night and all(local_date(s.ends_at, "Asia/Shanghai") == s.local_date + timedelta(days=1)
                             for s in night)
        certified = session.scalar(select(func.count()).select_from(ServiceRecord).where(
            ServiceRecord.kind == ServiceKind.shift, ServiceRecord.status == ServiceStatus.certified))
        completed = session.scalar(select(func.count()).select_from(ShiftSignup).where(
            ShiftSignup.status == SignupStatus.completed))
        assert certified == completed > 0
    check_capacity(rt)


def test_the_periodic_jobs_generate_remind_and_report_without_doing_anything_twice(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        seed_demo(session, volunteers=300)
        seed_roster(session, now=now, weeks=1, history_weeks=0)
    first = roster.generate_roster(now + timedelta(days=1))
    assert first["created"] > 0 and roster.generate_roster(now + timedelta(days=1))["created"] == 0
    later = now + timedelta(hours=12)
    done = roster.sweep_roster(later)
    assert "failed" not in done.values(), done
    again = roster.sweep_roster(later)
    assert again["reminders"]["day"] == 0 and again["reminders"]["hour"] == 0
    reported = [result["gap_report"] for result in (done, again)]
    assert reported.count(None) >= 1  # at most one report a day
    check_capacity(rt)
