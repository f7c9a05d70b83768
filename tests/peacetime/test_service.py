"""Check-in and check-out, late and no-show, service records, certification (audited), wartime service counted
the same way, hours, points and stars."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mobilize.models import (
    AssignmentStatus,
    AuditEvent,
    OrderState,
    ServiceKind,
    ServiceRecord,
    ServiceStatus,
    ShiftSignup,
    SignupStatus,
)
from mobilize.models._types import utcnow
from mobilize.peacetime import service, staffing
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.errors import Conflict, Invalid
from tests.peacetime.conftest import CFG, OFFICER, check_capacity, people, post, shift, wartime_assignment


def _on_shift(session, start, volunteers: int = 1, hours: float = 2):
    target = shift(session, post(session, slots=3), start, hours=hours)
    crowd = people(session, volunteers)
    signups = [staffing.sign_up(session, target.id, v.id, actor=OFFICER, now=start - timedelta(days=1), cfg=CFG,
                                source="officer", notify=False).signup for v in crowd]
    return target, crowd, signups


def test_check_in_late_check_out_and_the_record_counts_time_within_the_shift(rt) -> None:
    now = utcnow()
    start = now - timedelta(hours=3)
    with rt.transaction() as session:
        target, (on_time, late, absent), (s1, s2, s3) = _on_shift(session, start, 3)
        service.check_in(session, s1.id, actor=OFFICER, now=now, cfg=CFG, at=start - timedelta(minutes=20))
        service.check_in(session, s2.id, actor=OFFICER, now=now, cfg=CFG, at=start + timedelta(minutes=25))
        assert (s1.late_minutes, s2.late_minutes) == (None, 25)
        record = service.check_out(session, s1.id, actor=OFFICER, now=now, cfg=CFG,
                                   at=start + timedelta(hours=2, minutes=30))
        assert record.hours == 2.0 and record.status is ServiceStatus.pending  # early and late do not count
        record2 = service.check_out(session, s2.id, actor=OFFICER, now=now, cfg=CFG, at=start + timedelta(hours=1))
        assert record2.hours == round(35 / 60, 2)
        assert service.check_out(session, s2.id, actor=OFFICER, now=now, cfg=CFG).id == record2.id  # idempotent
        service.mark_no_show(session, s3.id, actor=OFFICER, now=now)
        assert s3.status is SignupStatus.no_show and target.filled == 2
        with pytest.raises(Conflict):
            service.check_in(session, s3.id, actor=OFFICER, now=now, cfg=CFG)
        service.mark_late(session, s1.id, 5, actor=OFFICER, now=now)
    check_capacity(rt)


def test_check_in_window_and_no_show_only_after_the_start(srt) -> None:
    now = utcnow()
    with srt.transaction() as session:
        _, _, (signup,) = _on_shift(session, now + timedelta(hours=3))
        with pytest.raises(Conflict) as error:
            service.check_in(session, signup.id, actor=OFFICER, now=now, cfg=CFG)
        assert error.value.code == "outside_check_in_window"
        with pytest.raises(Conflict):
            service.mark_no_show(session, signup.id, actor=OFFICER, now=now)
        with pytest.raises(Conflict):
            service.check_out(session, signup.id, actor=OFFICER, now=now, cfg=CFG)


def test_certification_approves_or_adjusts_with_a_reason_and_is_audited(rt) -> None:
    now = utcnow()
    start = now - timedelta(hours=3)
    with rt.transaction() as session:
        _, (a, b), (s1, s2) = _on_shift(session, start, 2)
        for signup in (s1, s2):
            service.check_in(session, signup.id, actor=OFFICER, now=now, cfg=CFG, at=start)
        r1 = service.check_out(session, s1.id, actor=OFFICER, now=now, cfg=CFG, at=start + timedelta(hours=2))
        r2 = service.check_out(session, s2.id, actor=OFFICER, now=now, cfg=CFG, at=start + timedelta(hours=2))
        service.certify(session, r1.id, actor=OFFICER, now=now)
        assert (r1.status, r1.certified_hours, r1.adjustment_reason) == (ServiceStatus.certified, 2.0, None)
        with pytest.raises(Invalid) as error:
            service.certify(session, r2.id, actor=OFFICER, now=now, hours=1.5)
        assert error.value.code == "reason_required"
        service.certify(session, r2.id, actor=OFFICER, now=now, hours=1.5, reason="提前半小时离岗")
        assert (r2.certified_hours, r2.adjustment_reason, r2.certified_by) == (1.5, "提前半小时离岗", OFFICER.name)
        service.certify(session, r1.id, actor=OFFICER, now=now)  # again as it is: nothing happens
        with pytest.raises(Invalid):
            service.certify(session, r1.id, actor=OFFICER, now=now, hours=1.0)  # a certified one needs a reason
        with pytest.raises(Invalid):
            service.certify(session, r1.id, actor=OFFICER, now=now, hours=30, reason="typo")
        assert service.standing(session, a.id, CFG).hours == 2.0
        assert service.standing(session, b.id, CFG).hours == 1.5
    with rt.transaction() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.subject_type == "service_record")
                                 .order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == ["service.certified", "service.adjusted"]
        adjusted = events[1].details
        assert (adjusted["recorded_hours"], adjusted["certified_hours"], adjusted["reason"]) == (2.0, 1.5,
                                                                                                "提前半小时离岗")
        assert adjusted["before"] == {"status": "pending", "certified_hours": None}
        assert events[1].actor == OFFICER.name


def test_wartime_service_is_recorded_once_and_counts_like_shifts(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        volunteer = people(session, 1)[0]
        assignment = wartime_assignment(session, volunteer, now - timedelta(hours=6), now - timedelta(hours=1),
                                        status=AssignmentStatus.completed, state=OrderState.closed)
        assignment.hours, assignment.arrived_at = 4.5, now - timedelta(hours=6)
        assignment.completed_at = now - timedelta(hours=1, minutes=30)
        record = service.record_wartime_service(session, assignment, now)
        assert (record.kind, record.status, record.certified_hours, record.certified_by) == (
            ServiceKind.wartime, ServiceStatus.certified, 4.5, "order close")
        assert service.record_wartime_service(session, assignment, now).id == record.id
        other = people(session, 1)[0]
        missed = wartime_assignment(session, other, now - timedelta(hours=6), now - timedelta(hours=1),
                                    status=AssignmentStatus.completed, state=OrderState.closed, code="31")
        missed.hours = 3.0
        running = wartime_assignment(session, other, now, now + timedelta(hours=3), code="32")  # not closed
        assert service.record_missing_wartime_service(session, now) == 1
        assert service.record_missing_wartime_service(session, now) == 0
        assert service.standing(session, other.id, CFG).hours == 3.0
        assert session.scalar(select(ServiceRecord).where(ServiceRecord.assignment_id == running.id)) is None


def test_points_and_stars_follow_the_configuration(srt) -> None:
    with srt.transaction() as session:
        volunteer = people(session, 1)[0]
        for hours in (60.0, 39.99):
            session.add(ServiceRecord(volunteer_id=volunteer.id, kind=ServiceKind.imported, description="导入",
                                      hours=hours, certified_hours=hours, status=ServiceStatus.certified))
        session.flush()
        standing = service.standing(session, volunteer.id, CFG)
        assert (standing.hours, standing.points, standing.stars, standing.hours_to_next) == (99.99, 99.99, 0, 0.01)
        session.add(ServiceRecord(volunteer_id=volunteer.id, kind=ServiceKind.imported, description="导入",
                                  hours=0.01, certified_hours=0.01, status=ServiceStatus.certified))
        session.flush()
        assert service.standing(session, volunteer.id, CFG).stars == 1
        local_rules = RosterConfig(star_thresholds=(50, 100), points_per_hour=10)
        standing = service.standing(session, volunteer.id, local_rules)
        assert (standing.stars, standing.points, standing.next_threshold) == (2, 1000, None)


def test_automatic_check_out_after_the_grace(srt) -> None:
    now = utcnow()
    start = now - timedelta(hours=9)
    with srt.transaction() as session:
        target, _, (signup,) = _on_shift(session, start)
        session.execute(ShiftSignup.__table__.update().where(ShiftSignup.id == signup.id).values(
            status="checked_in", checked_in_at=start))
        assert service.auto_check_out(session, now, CFG) == 1
        record = session.scalar(select(ServiceRecord).where(ServiceRecord.signup_id == signup.id))
        assert record.hours == 2.0 and record.ended_at == target.ends_at and record.status is ServiceStatus.pending
