"""The volunteer pages (issue 16): search by name, phone, street, community, team, skill and stars; a
volunteer's page; edit with the importer's rules and an audit event; deactivate (out of every audience) and
reactivate; officers kept to their street, viewers shown masked phones and unable to search by phone."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from mobilize.domain.phones import mask_phone
from mobilize.models import AuditEvent, ServiceRecord, Volunteer
from mobilize.models.roster import ServiceKind, ServiceStatus
from mobilize.wartime.audience import load_pool
from tests import factories
from tests.web.conftest import csrf_token


@pytest.fixture
def people(web_runtime, registry):
    """Three more volunteers in street A with teams, skills and certified hours (0, 120 and 350: 0, 1, 2 stars)."""
    ids = {}
    with web_runtime.transaction() as session:
        for name, hours, skills, teams, community in (
                ("王秀英", 0, ("medical",), ("太平角红十字队",), "太平角社区"),
                ("李建国", 120, ("driving",), ("八大关巡逻队",), "香港西路社区"),
                ("陈静", 350, ("english", "medical"), ("八大关巡逻队", "太平角红十字队"), "太平角社区")):
            row = factories.volunteer(session, "八大关", name=name, skills=skills, teams=teams)
            row.community = _community(session, row.street_id, community)
            if hours:
                session.add(ServiceRecord(volunteer_id=row.id, kind=ServiceKind.imported, description="历史时长",
                                          hours=hours, certified_hours=hours, status=ServiceStatus.certified,
                                          street_id=row.street_id))
            ids[name] = (row.id, row.phone)
    return ids


def _community(session, street_id: int, name: str):
    from mobilize.models import Community

    found = session.scalar(select(Community).where(Community.street_id == street_id, Community.name == name))
    if found is None:
        found = Community(street_id=street_id, name=name)
        session.add(found)
        session.flush()
    return found


def _names(page: str, people) -> set[str]:
    """The people listed as results (a link to their page), not merely named in the search box."""
    return {name for name, (volunteer_id, _) in people.items() if f'href="/volunteers/{volunteer_id}"' in page}


def _search(client, **args) -> str:
    response = client.get("/volunteers", query_string=args)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_search_by_name_community_team_skill_and_street(clients, people):
    admin = clients["admin"]
    assert _names(_search(admin, q="秀英"), people) == {"王秀英"}
    assert _names(_search(admin, q="太平角社区"), people) == {"王秀英", "陈静"}
    assert _names(_search(admin, q="巡逻队"), people) == {"李建国", "陈静"}
    assert _names(_search(admin, q="医护"), people) == {"王秀英", "陈静"}  # a skill by its Chinese name
    assert _names(_search(admin, skill="driving"), people) == {"李建国"}
    assert _names(_search(admin, team="太平角红十字队"), people) == {"王秀英", "陈静"}
    page = _search(admin, street="zhanshan")
    assert "湛山志愿者0" in page and not _names(page, people)


def test_search_by_star_rating_in_the_box_or_the_filter(clients, people):
    admin = clients["admin"]
    assert _names(_search(admin, q="2星"), people) == {"陈静"}
    assert _names(_search(admin, q="★"), people) == {"李建国"}
    assert _names(_search(admin, stars="1"), people) == {"李建国"}
    page = _search(admin, stars="0")
    assert _names(page, people) == {"王秀英"} and "八大关志愿者0" in page


def test_phone_search_works_for_commanders_and_never_for_viewers(clients, people):
    _, phone = people["陈静"]
    assert _names(_search(clients["commander"], q=phone[-8:]), people) == {"陈静"}
    page = _search(clients["viewer"], q=phone[-8:])
    assert not _names(page, people)
    assert "Viewers cannot search by phone number" in page or "观察员不能按手机号搜索" in page
    full = _search(clients["viewer"], q="陈静")
    assert phone not in full and phone[3:] not in full and mask_phone(phone) in full


def test_officers_search_only_their_street(clients, registry, people):
    page = _search(clients["officer"], street="zhanshan", q="志愿者")
    assert "八大关志愿者0" in page
    assert not any(name in page for _, name, _ in registry.volunteers_b)


def test_a_volunteers_page_shows_standing_teams_skills_and_messages(clients, registry, people):
    volunteer_id, phone = people["陈静"]
    page = clients["commander"].get(f"/volunteers/{volunteer_id}").get_data(as_text=True)
    for shown in ("<b>350</b>", "八大关巡逻队", "太平角红十字队", "★★", phone):
        assert shown in page
    first_a, _, phone_a = registry.volunteers_a[0]
    log = clients["viewer"].get(f"/volunteers/{first_a}").get_data(as_text=True)
    assert "Y27" in log and phone_a not in log and mask_phone(phone_a) in log


def test_officers_open_only_their_streets_volunteers(clients, registry):
    assert clients["officer"].get(f"/volunteers/{registry.volunteers_b[0][0]}").status_code == 403
    assert clients["officer"].get(f"/volunteers/{registry.volunteers_a[0][0]}").status_code == 200
    assert clients["officer"].get("/volunteers/999999").status_code == 404


def _edit(client, volunteer_id: int, **changes):
    page = client.get(f"/volunteers/{volunteer_id}/edit")
    assert page.status_code == 200
    form = {"name": "", "phone": "", "street": "", "community": "", "lat": "", "lon": "", "teams": "",
            "language": "zh"}
    html = page.get_data(as_text=True)
    for name in form:
        match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
        if match:
            form[name] = match.group(1)
    form["street"] = re.search(r'<option value="([^"]+)" selected', html).group(1)
    skills = re.findall(r'name="skills" value="([^"]+)" checked', html)
    form.update(changes)
    data = {**form, "csrf_token": csrf_token(client)}
    if "skills" not in changes:
        data["skills"] = skills
    return client.post(f"/volunteers/{volunteer_id}/edit", data=data)


def test_an_edit_is_checked_by_the_importers_rules_and_audited(clients, web_runtime, people):
    volunteer_id, phone = people["王秀英"]
    refused = _edit(clients["commander"], volunteer_id, phone="12345", language="fr")
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "不是有效的手机号码" in text and "只能是 zh 或 en" in text  # the importer's reasons, in Chinese
    taken = _edit(clients["commander"], volunteer_id, phone=people["陈静"][1])
    assert taken.status_code == 409
    with web_runtime.transaction() as session:
        assert session.get(Volunteer, volunteer_id).phone == phone  # nothing half-written

    done = _edit(clients["commander"], volunteer_id, name="王秀英（组长）", teams="太平角红十字队;新建应急队",
                 phone="139 0532 7788")
    assert done.status_code == 302
    with web_runtime.transaction() as session:
        volunteer = session.get(Volunteer, volunteer_id)
        assert volunteer.name == "王秀英（组长）" and volunteer.phone == "+8613905327788"
        assert sorted(t.name for t in volunteer.teams) == ["太平角红十字队", "新建应急队"]
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "volunteer.updated",
                                                        AuditEvent.subject_id == volunteer_id))
        assert event.actor == "commander"
        assert set(event.details["changes"]) == {"name", "phone", "teams"}
        assert "+8613905327788" not in str(event.details)  # the audit trail masks phones


def test_officers_cannot_move_a_volunteer_to_another_street(clients, web_runtime, registry):
    volunteer_id = registry.volunteers_a[0][0]
    refused = _edit(clients["officer"], volunteer_id, street="湛山街道")
    assert refused.status_code == 403
    assert clients["officer"].post(f"/volunteers/{registry.volunteers_b[0][0]}/edit",
                                   data={"csrf_token": csrf_token(clients["officer"])}).status_code == 403
    assert clients["viewer"].get(f"/volunteers/{volunteer_id}/edit").status_code == 403


def test_deactivate_takes_a_volunteer_out_of_the_pool_and_reactivate_brings_them_back(clients, web_runtime,
                                                                                     registry, people):
    volunteer_id, _ = people["李建国"]
    client = clients["officer"]
    done = client.post(f"/volunteers/{volunteer_id}/deactivate",
                       data={"csrf_token": csrf_token(client), "reason": "搬离本区"})
    assert done.status_code == 302
    with web_runtime.transaction() as session:
        assert session.get(Volunteer, volunteer_id).deactivated_at is not None
        assert volunteer_id not in set(load_pool(session).ids.tolist())
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "volunteer.deactivated"))
        assert event.details["reason"] == "搬离本区" and event.actor == "officer-a"
        assert event.details["released"] == {"shifts": 0, "waitlist": 0, "assignments": 0, "invitations": 0,
                                             "kept_arrived": 0}
    link = f'href="/volunteers/{volunteer_id}"'
    assert link not in _search(clients["admin"], q="李建国")
    assert link in _search(clients["admin"], q="李建国", state="deactivated")
    again = client.post(f"/volunteers/{volunteer_id}/deactivate", data={"csrf_token": csrf_token(client)},
                        follow_redirects=True)
    assert "already deactivated" in again.get_data(as_text=True) or "已停用" in again.get_data(as_text=True)
    client.post(f"/volunteers/{volunteer_id}/reactivate", data={"csrf_token": csrf_token(client)})
    with web_runtime.transaction() as session:
        assert session.get(Volunteer, volunteer_id).deactivated_at is None
        assert volunteer_id in set(load_pool(session).ids.tolist())
    assert clients["viewer"].post(f"/volunteers/{volunteer_id}/deactivate",
                                  data={"csrf_token": csrf_token(clients["viewer"])}).status_code == 403
    assert clients["officer"].post(f"/volunteers/{registry.volunteers_b[0][0]}/deactivate",
                                   data={"csrf_token": csrf_token(client)}).status_code == 403


def test_the_volunteers_page_is_chinese_first_with_the_english_switch(clients):
    page = _search(clients["admin"])
    assert "志愿者" in page
    client = clients["admin"]
    client.post("/language", data={"lang": "en", "next": "/volunteers", "csrf_token": csrf_token(client)})
    assert "Volunteers" in _search(client)


def test_the_deactivate_form_says_what_is_given_up_and_the_page_after_what_was(clients, web_runtime, people):
    """A booked shift and a dispatch not reached yet: listed on the form, released by the deactivation (the
    dispatch as an officer's release), reported in Chinese; a place on site is kept; reactivating says it does
    not give them back."""
    from datetime import timedelta

    from mobilize.models import Assignment, AssignmentStatus, ShiftSignup, SignupStatus
    from mobilize.models._types import utcnow
    from mobilize.peacetime import staffing
    from tests.peacetime.conftest import CFG, OFFICER, post, shift, wartime_assignment

    volunteer_id, _ = people["李建国"]
    now = utcnow()
    with web_runtime.transaction() as session:
        volunteer = session.get(Volunteer, volunteer_id)
        booked = staffing.sign_up(session, shift(session, post(session, slots=2), now + timedelta(days=3)).id,
                                  volunteer_id, actor=OFFICER, now=now, cfg=CFG, source="officer", notify=False)
        dispatched = wartime_assignment(session, volunteer, now + timedelta(hours=5), now + timedelta(hours=9))
        on_site = wartime_assignment(session, volunteer, now - timedelta(hours=1), now + timedelta(hours=2),
                                     status=AssignmentStatus.arrived, code="28")
        ids = (booked.signup.id, dispatched.id, on_site.id)
    client = clients["officer"]
    page = client.get(f"/volunteers/{volunteer_id}").get_data(as_text=True)
    for held in ("shifts", "assignments", "arrived"):
        assert f'data-held="{held}"' in page, held
    assert 'data-held="waitlist"' not in page
    done = client.post(f"/volunteers/{volunteer_id}/deactivate", data={"csrf_token": csrf_token(client)},
                       follow_redirects=True).get_data(as_text=True)
    assert "停用：已取消 1 个班次，释放 1 个派遣" in done, done
    assert "停用时放弃的班次、派遣和邀请不会退回" in done
    with web_runtime.transaction() as session:
        assert session.get(ShiftSignup, ids[0]).status is SignupStatus.removed
        assert session.get(Assignment, ids[1]).status is AssignmentStatus.released
        assert session.get(Assignment, ids[2]).status is AssignmentStatus.arrived
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"shift.removed", "assignment.released", "volunteer.deactivated"} <= actions
