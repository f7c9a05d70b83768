"""The registry's volunteers one at a time (issue 16, `mobilize.registry.volunteers`) and the importer's per-row
decisions, on SQLite and PostgreSQL: search by text, phone and stars; an edit checked by the importer's rules
and audited; deactivation; a dry run's decisions are the apply's."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from mobilize.models import AuditEvent, ServiceRecord, Volunteer
from mobilize.models._types import utcnow
from mobilize.models.roster import ServiceKind, ServiceStatus
from mobilize.registry import volunteers as registry
from mobilize.registry.importer import import_volunteers
from mobilize.registry.volunteers import Search, VolunteerError
from mobilize.wartime.audit import Actor
from tests import factories

THRESHOLDS = (100, 300, 600, 1000, 1500)
ACTOR = Actor.user("commander", None)


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
        registry.deactivate(session, volunteer_id, actor=ACTOR, now=utcnow(), reason=" 退出 \n 志愿队 ")
    with runtime.transaction() as session:
        with pytest.raises(VolunteerError):
            registry.deactivate(session, volunteer_id, actor=ACTOR, now=utcnow())
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
