"""The registry's volunteers one at a time (issue 16, `mobilize.registry.volunteers`) and the importer's per-row
decisions, on SQLite and PostgreSQL: search by text, phone and stars; an edit checked by the importer's rules
and audited; deactivation; a dry run's decisions are the apply's."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mobilize.models import (
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Invitation,
    InvitationStatus,
    OutboundMessage,
    ServiceRecord,
    Shift,
    ShiftSignup,
    SignupStatus,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.models.roster import ServiceKind, ServiceStatus
from mobilize.peacetime import staffing
from mobilize.peacetime.config import RosterConfig
from mobilize.registry import volunteers as registry
from mobilize.registry.importer import import_volunteers
from mobilize.registry.volunteers import Search, VolunteerError
from mobilize.wartime.audit import Actor
from tests import factories

THRESHOLDS = (100, 300, 600, 1000, 1500)
ACTOR = Actor.user("commander", None)
CFG = RosterConfig()


@pytest.fixture
def people(runtime):
    with runtime.transaction() as session:
        made = {}
        for name, hours, teams in (("王_秀%英", 0, ("太平角红十字队",)), ("李建国", 99.996, ()),
                                   ("陈静", 300, ("八大关巡逻队",))):
            row = factories.volunteer(session, "八大关", name=name, teams=teams, skills=("medical",))
            if hours:
                session.add(ServiceRecord(volunteer_id=row.id, kind=ServiceKind.imported, description="历史",
                                          hours=hours, certified_hours=hours, status=ServiceStatus.certified))
            made[name] = (row.id, row.phone)
        factories.volunteer(session, "湛山", name="湛山人")
    return made


def found(runtime, **search) -> list[str]:
    with runtime.sessions() as session:
        page = registry.search_volunteers(session, Search(**search), THRESHOLDS)
        return sorted(item.volunteer.name for item in page.items)


def test_search(runtime, people):
    assert found(runtime, q="建国") == ["李建国"]
    assert found(runtime, q="_秀%") == ["王_秀%英"]  # LIKE wildcards are searched as themselves
    assert found(runtime, q="巡逻") == ["陈静"]
    assert found(runtime, q="medical") == ["李建国", "王_秀%英", "陈静"]
    assert found(runtime, q="zhanshan") == ["湛山人"]
    phone = people["陈静"][1]
    assert found(runtime, q=phone[-6:]) == ["陈静"]
    assert found(runtime, q=phone[-6:], may_search_phone=False) == []
    assert found(runtime, q="1星") == ["李建国"]  # 99.996 hours show as 100.00: one star
    assert found(runtime, stars=2) == ["陈静"]
    assert found(runtime, stars=0, street_id=people and _street(runtime, "湛山")) == ["湛山人"]


def _street(runtime, short_name: str) -> int:
    from mobilize.models import Street

    with runtime.sessions() as session:
        return session.scalar(select(Street.id).where(Street.short_name == short_name))


def test_edit_and_deactivate(runtime, people):
    volunteer_id, phone = people["李建国"]
    with runtime.transaction() as session:
        values = registry.form_values(session.get(Volunteer, volunteer_id))
    with pytest.raises(VolunteerError) as refused, runtime.transaction() as session:
        registry.edit_volunteer(session, volunteer_id, {**values, "phone": "123", "language": "de"}, actor=ACTOR,
                                now=utcnow())
    assert set(refused.value.by_field) == {"phone", "language"}
    with pytest.raises(VolunteerError) as moved, runtime.transaction() as session:
        registry.edit_volunteer(session, volunteer_id, {**values, "street": "湛山"}, actor=ACTOR, now=utcnow(),
                                street_id_allowed=_street(runtime, "八大关"))
    assert moved.value.status == 403
    with runtime.transaction() as session:
        changed = registry.edit_volunteer(session, volunteer_id, {**values, "community": "新社区",
                                                                  "skills": "驾驶;medical"},
                                          actor=ACTOR, now=utcnow())
    assert changed == ["community", "skills"]
    with runtime.transaction() as session:
        assert registry.edit_volunteer(session, volunteer_id, {**values, "community": "新社区",
                                                               "skills": "driving;medical"},
                                       actor=ACTOR, now=utcnow()) == []
        registry.deactivate(session, volunteer_id, actor=ACTOR, now=utcnow(), cfg=CFG,
                            reason=" 退出 \n 志愿队 ")
    with runtime.transaction() as session:
        with pytest.raises(VolunteerError):
            registry.deactivate(session, volunteer_id, actor=ACTOR, now=utcnow(), cfg=CFG)
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == volunteer_id)
                                  .order_by(AuditEvent.id)).all()
        assert actions == ["volunteer.updated", "volunteer.deactivated"]
    assert found(runtime, q="李建国") == [] and found(runtime, q="李建国", state="deactivated") == ["李建国"]


def test_a_dry_runs_decisions_are_the_applys(runtime, people):
    _, phone = people["陈静"]
    text = ("name,phone,street,community,lat,lon,skills,teams,language\n"
            "新人甲,13905328001,八大关,,36.05,120.35,,,zh\n"
            f"陈静,{phone},八大关,,36.053,120.351,medical,八大关巡逻队;新队,zh\n"
            "坏行,1,八大关,,36.05,120.35,,,zh\n")
    dry = import_volunteers(runtime.sessions, io.StringIO(text), dry_run=True, record_rows=True)
    with runtime.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Volunteer))
    applied = import_volunteers(runtime.sessions, io.StringIO(text), record_rows=True)
    assert dry.decisions == applied.decisions
    assert [(d.line, d.action, d.changes) for d in dry.decisions] == [(2, "create", ()),
                                                                      (3, "update", ("teams",))]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Volunteer)) == before + 1


# --- deactivation gives up what is coming ------------------------------------------------------------------------


def _holding_everything(rt):
    """The volunteer `target` holds: a booked shift with someone waitlisted behind, a waitlist place on a full
    shift, a dispatch (placed by matching, with `waiting` on standby for the place), a place on site in another
    order, and an unanswered invitation to a third order."""
    from tests.peacetime.conftest import post, shift, wartime_assignment
    from tests.wartime.conftest import active, handed_to_the_gateway, launched, people, run_match, sites, text

    now = utcnow()
    with rt.transaction() as session:
        site, _ = sites(session)
        target, waiting, behind, ahead = people(session, 4)
        first = shift(session, post(session, slots=1), now + timedelta(days=3))
        second = shift(session, post(session, slots=1), now + timedelta(days=4))
        for shift_row, volunteer in ((first, target), (first, behind), (second, ahead), (second, target)):
            staffing.sign_up(session, shift_row.id, volunteer.id, actor=ACTOR, now=now, cfg=CFG, source="officer",
                             waitlist=True, notify=False)
        on_site = wartime_assignment(session, target, now - timedelta(hours=1), now + timedelta(hours=3),
                                     status=AssignmentStatus.arrived, code="31")
        ids = {"target": target.id, "waiting": waiting.id, "behind": behind.id, "first": first.id,
               "second": second.id, "on_site": on_site.id}
        phones = (target.phone, waiting.phone)
    dispatched = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.5)
    for phone in phones:
        assert text(rt, phone, "Y") == "accepted"
    run_match(rt, dispatched)
    [placed] = active(rt, dispatched)
    assert placed.volunteer_id == ids["target"]
    invited = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.5,
                       starts_at=utcnow() + timedelta(hours=48), ends_at=utcnow() + timedelta(hours=53))
    handed_to_the_gateway(rt)
    ids.update(dispatched=dispatched, placed=placed.id, invited=invited)
    return ids


def test_deactivation_releases_shifts_dispatches_and_invitations(rt):
    from tests.wartime.conftest import active, check_capacity_invariants, run_match

    ids = _holding_everything(rt)
    with rt.transaction() as session:
        held = registry.holdings(session, ids["target"], utcnow())
        assert (held.booked, held.waitlisted, len(held.assignments), len(held.arrived)) == (1, 1, 1, 1)
        assert {i.order_id for i in held.invitations} >= {ids["invited"]}
    with rt.transaction() as session:
        released = registry.deactivate(session, ids["target"], actor=ACTOR, now=utcnow(), cfg=CFG,
                                       reason="搬走了")
    assert (released.shifts, released.waitlist, released.assignments, released.kept_arrived) == (1, 1, 1, 1)
    assert released.invitations == len(held.invitations)
    with rt.transaction() as session:
        signups = {(s.shift_id, s.volunteer_id): s for s in session.scalars(select(ShiftSignup))}
        assert signups[(ids["first"], ids["target"])].status is SignupStatus.removed
        assert signups[(ids["first"], ids["behind"])].status is SignupStatus.booked  # the waitlist moved up
        assert signups[(ids["second"], ids["target"])].status is SignupStatus.removed
        assert session.get(Shift, ids["first"]).filled == 1
        placed = session.get(Assignment, ids["placed"])
        assert placed.status is AssignmentStatus.released and placed.end_reason == "released_by_officer"
        assert session.get(Assignment, ids["on_site"]).status is AssignmentStatus.arrived  # on site: kept
        invitations = {i.order_id: i.status for i in session.scalars(
            select(Invitation).where(Invitation.volunteer_id == ids["target"]))}
        assert invitations[ids["invited"]] is InvitationStatus.cancelled
        assert invitations[ids["dispatched"]] is InvitationStatus.declined
        assert registry.holdings(session, ids["target"], utcnow()).anything is False
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    for action in ("shift.removed", "shift.promoted", "assignment.released", "invitation.withdrawn",
                   "volunteer.deactivated"):
        assert action in actions, action
    kinds = {m.kind for m in factories.sent(rt)}
    assert {"shift_cancelled", "shift_promoted", "dispatch_released"} <= kinds
    check_capacity_invariants(rt, ids["dispatched"])
    run_match(rt, ids["dispatched"])  # the backfill the release requested: the standby takes the place
    [backfill] = active(rt, ids["dispatched"])
    assert backfill.volunteer_id == ids["waiting"]


def test_a_refused_deactivation_changes_nothing(rt):
    ids = _holding_everything(rt)
    with rt.transaction() as session:
        session.get(Volunteer, ids["target"]).deactivated_at = utcnow()  # deactivated already (no release)
    before = _state_of(rt)
    with pytest.raises(VolunteerError) as refused:
        with rt.transaction() as session:
            registry.deactivate(session, ids["target"], actor=ACTOR, now=utcnow(), cfg=CFG)
    assert refused.value.status == 409
    assert _state_of(rt) == before


def _state_of(rt) -> tuple:
    with rt.transaction() as session:
        return (sorted((s.id, s.status.value) for s in session.scalars(select(ShiftSignup))),
                sorted((a.id, a.status.value) for a in session.scalars(select(Assignment))),
                sorted((i.id, i.status.value) for i in session.scalars(select(Invitation))),
                session.scalar(select(func.count()).select_from(AuditEvent)),
                session.scalar(select(func.count()).select_from(OutboundMessage)))
