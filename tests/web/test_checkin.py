"""The officer in the field (issue 17): the check-in list of a street, its search, bulk "arrived", undo within a
minute (and refused after it), scoping across streets, who is missing once the order has started, the drop-out
alerts, and the board's sites bars filled by the order under way."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update

from mobilize.models import (
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Demand,
    Order,
    OrderState,
    OutboundMessage,
    OutboundStatus,
)
from mobilize.models._types import utcnow
from mobilize.wartime import checkin
from tests import factories
from tests.web.conftest import STREET_A, STREET_B, csrf_token


@dataclass
class Field:
    order_id: int
    a: list[int]  # assignment ids in street A (八大关), in the order of `names_a`
    b: list[int]
    names_a: list[str]
    phones_a: list[str]


def place(session, order_id: int, site_id: int, volunteer_id: int, status=AssignmentStatus.confirmed) -> int:
    demand = session.scalar(select(Demand).where(Demand.order_id == order_id, Demand.site_id == site_id))
    demand.filled += 1
    now = utcnow()
    assignment = Assignment(order_id=order_id, demand_id=demand.id, volunteer_id=volunteer_id, status=status,
                            notified_at=now, confirmed_at=now if status is AssignmentStatus.confirmed else None)
    session.add(assignment)
    session.flush()
    return assignment.id


def running_order(app, web_runtime, registry, people_a: int = 6, starts_in=timedelta(hours=2)) -> Field:
    """An order under way with `people_a` people placed at street A's site (half dispatched, half confirmed)
    and two at street B's."""
    starts = utcnow() + starts_in
    body = {"title": "核酸检测", "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=5)).isoformat(),
            "demands": [{"site_id": registry.site_a, "role": "registration", "capacity": people_a + 4},
                        {"site_id": registry.site_b, "role": "queue_keeping", "capacity": 5}]}
    created = app.test_client().post("/api/v1/orders", json=body,
                                     headers={"Authorization": f"Bearer {registry.tokens['commander']}"})
    assert created.status_code == 201, created.get_data(as_text=True)
    order_id = created.json["id"]
    with web_runtime.transaction() as session:
        session.execute(update(Order).where(Order.id == order_id).values(state=OrderState.open,
                                                                       launched_at=utcnow()))
        volunteers = [factories.volunteer(session, "八大关", name=f"签到{chr(0x4e00 + n)}{n}",
                                          phone=f"+86137{n:04d}{5000 + n:04d}") for n in range(people_a)]
        a = [place(session, order_id, registry.site_a, v.id,
                   AssignmentStatus.notified if n % 2 else AssignmentStatus.confirmed)
             for n, v in enumerate(volunteers)]
        b = [place(session, order_id, registry.site_b, volunteer_id)
             for volunteer_id, _, _ in registry.volunteers_b[:2]]
        return Field(order_id, a, b, [v.name for v in volunteers], [v.phone for v in volunteers])


def post(client, path: str, data: dict):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path.rsplit("/", 1)[0])})


def statuses(web_runtime, ids) -> dict[int, str]:
    with web_runtime.transaction() as session:
        return dict(session.execute(select(Assignment.id, Assignment.status).where(Assignment.id.in_(ids))).all())


def arrive(client, ids, street: str = STREET_A):
    return post(client, f"/board/{street}/checkin/arrive", {"assignment": [str(i) for i in ids]})


def batch_of(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    return int(re.search(r"done=(\d+)", response.headers["Location"]).group(1))


def rows(page: str) -> list[str]:
    return re.findall(r'data-assignment-id="(\d+)"', page)


# --- the list and its search ---------------------------------------------------------------------------------


def test_the_officer_sees_their_streets_people_one_line_each(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry)
    page = clients["officer"].get(f"/board/{STREET_A}/checkin?view=all").get_data(as_text=True)
    assert sorted(map(int, rows(page))) == sorted(field.a)
    for name, phone in zip(field.names_a, field.phones_a):
        assert name in page and f'data-phone="{phone}"' in page
    assert not any(marker in page for marker in registry.street_b_markers)
    assert "待签到" in page or "To check in" in page  # the page's language: Chinese by default
    assert clients["officer"].get(f"/board/{STREET_B}/checkin").status_code == 403
    assert clients["officer"].get(f"/board/{STREET_B}/checkin/list").status_code == 403


def test_search_by_name_or_the_last_digits_of_the_phone(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry)
    officer = clients["officer"]
    by_digits = officer.get(f"/board/{STREET_A}/checkin/list?view=all&q={field.phones_a[3][-4:]}").get_data(
        as_text=True)
    assert rows(by_digits) == [str(field.a[3])]
    by_name = officer.get(f"/board/{STREET_A}/checkin/list?view=all&q={field.names_a[2][2:]}").get_data(
        as_text=True)
    assert rows(by_name) == [str(field.a[2])]


def test_a_viewer_reads_the_list_masked_cannot_search_digits_nor_act(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry)
    viewer = clients["viewer"]
    page = viewer.get(f"/board/{STREET_A}/checkin?view=all").get_data(as_text=True)
    assert sorted(map(int, rows(page))) == sorted(field.a)
    assert not any(phone in page for phone in field.phones_a) and "data-phone" not in page
    assert rows(viewer.get(f"/board/{STREET_A}/checkin/list?view=all&q={field.phones_a[3][-4:]}")
                .get_data(as_text=True)) == []
    assert arrive(viewer, field.a[:2]).status_code == 403
    assert set(statuses(web_runtime, field.a[:2]).values()) <= {AssignmentStatus.confirmed,
                                                                AssignmentStatus.notified}


# --- bulk arrival and undo -----------------------------------------------------------------------------------


def test_bulk_arrived_marks_each_once_and_is_audited(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry)
    response = arrive(clients["officer"], field.a[:4])
    batch = batch_of(response)
    assert set(statuses(web_runtime, field.a[:4]).values()) == {AssignmentStatus.arrived}
    assert set(statuses(web_runtime, field.a[4:]).values()) <= {AssignmentStatus.confirmed,
                                                                AssignmentStatus.notified}
    page = clients["officer"].get(response.headers["Location"]).get_data(as_text=True)
    assert "4 人已标记到岗" in page and 'name="batch"' in page  # the undo banner
    again = arrive(clients["officer"], field.a[:5])  # four of them already arrived: only the fifth changes
    assert statuses(web_runtime, [field.a[4]])[field.a[4]] is AssignmentStatus.arrived
    with web_runtime.transaction() as session:
        first, second = session.get(AuditEvent, batch), session.get(AuditEvent, batch_of(again))
        assert [item["assignment_id"] for item in first.details["items"]] == field.a[:4]
        assert [item["assignment_id"] for item in second.details["items"]] == [field.a[4]]
        assert first.actor == "officer-a"
        acks = session.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.kind == "arrival_ack"))
        assert acks == 5


def test_undo_within_a_minute_restores_exactly_what_was_there(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry)
    before = {}
    with web_runtime.transaction() as session:
        for assignment_id in field.a[:2]:
            row = session.get(Assignment, assignment_id)
            before[assignment_id] = (row.status, row.confirmed_at, row.arrived_at)
    batch = batch_of(arrive(clients["officer"], field.a[:2]))
    response = post(clients["officer"], f"/board/{STREET_A}/checkin/undo", {"undo_one": f"{batch}:{field.a[1]}"})
    assert response.status_code == 303
    with web_runtime.transaction() as session:
        undone = session.get(Assignment, field.a[1])
        assert (undone.status, undone.confirmed_at, undone.arrived_at) == before[field.a[1]]
        assert undone.status is AssignmentStatus.notified and undone.confirmed_at is None
        assert session.get(Assignment, field.a[0]).status is AssignmentStatus.arrived  # the other one stays
        ack = session.scalar(select(OutboundMessage).where(OutboundMessage.kind == "arrival_ack",
                                                           OutboundMessage.volunteer_id == undone.volunteer_id))
        assert ack.status is OutboundStatus.cancelled  # the arrival SMS never leaves
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == checkin.UNDONE_ACTION))
        assert (event.subject_id, event.details["batch_id"], event.details["restored"]) == (
            field.a[1], batch, "notified")
    # the same undo again changes nothing (a second officer's click, a double tap)
    post(clients["officer"], f"/board/{STREET_A}/checkin/undo", {"undo_one": f"{batch}:{field.a[1]}"})
    with web_runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == checkin.UNDONE_ACTION)) == 1
    # and the person can arrive again, with a new arrival SMS
    batch_of(arrive(clients["officer"], [field.a[1]]))
    assert statuses(web_runtime, [field.a[1]])[field.a[1]] is AssignmentStatus.arrived


def test_undo_after_a_minute_is_refused_with_a_clear_message(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry)
    batch = batch_of(arrive(clients["officer"], field.a[:3]))
    with web_runtime.transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == batch)
                        .values(at=utcnow() - timedelta(seconds=checkin.UNDO_SECONDS + 1)))
    response = post(clients["officer"], f"/board/{STREET_A}/checkin/undo", {"batch": str(batch)})
    assert response.status_code == 409
    assert "已超过一分钟" in response.get_data(as_text=True)
    assert set(statuses(web_runtime, field.a[:3]).values()) == {AssignmentStatus.arrived}


def test_an_officer_can_never_touch_another_street(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry)
    officer = clients["officer"]
    for street, ids in ((STREET_A, field.b), (STREET_A, [field.a[0], field.b[0]]), (STREET_B, field.b)):
        assert arrive(officer, ids, street).status_code == 403
    assert set(statuses(web_runtime, field.b + [field.a[0]]).values()) == {AssignmentStatus.confirmed}
    # a batch of street B (made by the commander) cannot be undone through street A's page
    batch = batch_of(arrive(clients["commander"], field.b, STREET_B))
    assert post(officer, f"/board/{STREET_A}/checkin/undo", {"batch": str(batch)}).status_code == 403
    assert post(officer, f"/board/{STREET_B}/checkin/undo", {"batch": str(batch)}).status_code == 403
    assert set(statuses(web_runtime, field.b).values()) == {AssignmentStatus.arrived}


def test_bad_input_is_refused_and_changes_nothing(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry)
    officer = clients["officer"]
    assert arrive(officer, ["x1"]).status_code == 400
    assert arrive(officer, [999_999]).status_code == 404
    nothing = post(officer, f"/board/{STREET_A}/checkin/arrive", {})
    assert nothing.status_code == 409 and "请先选择" in nothing.get_data(as_text=True)
    assert post(officer, f"/board/{STREET_A}/checkin/undo", {"batch": "abc"}).status_code == 422
    assert set(statuses(web_runtime, field.a).values()) <= {AssignmentStatus.confirmed, AssignmentStatus.notified}


# --- who is missing ------------------------------------------------------------------------------------------


def test_the_missing_view_at_the_start_time(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry)
    officer = clients["officer"]
    before = officer.get(f"/board/{STREET_A}/checkin/list?view=missing").get_data(as_text=True)
    assert rows(before) == [] and "还没有开始" in before
    batch_of(arrive(officer, field.a[:2]))
    with web_runtime.transaction() as session:
        session.execute(update(Order).where(Order.id == field.order_id)
                        .values(starts_at=utcnow() - timedelta(minutes=5)))
    after = officer.get(f"/board/{STREET_A}/checkin/list?view=missing").get_data(as_text=True)
    assert sorted(map(int, rows(after))) == sorted(field.a[2:])
    assert all(f'href="tel:{phone}"' in after for phone in field.phones_a[2:])  # to call them


# --- alerts --------------------------------------------------------------------------------------------------


def test_a_drop_out_is_an_alert_on_the_board_an_officers_release_is_not(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry)
    since = (utcnow() - timedelta(seconds=1)).isoformat()
    with web_runtime.transaction() as session:
        phone = session.get(Assignment, field.a[0]).volunteer.phone
    factories.text(web_runtime, phone, "放弃")
    post(clients["officer"], f"/board/{STREET_A}/assignments/{field.a[1]}/release", {})
    alerts = clients["officer"].get(f"/board/{STREET_A}/alerts", query_string={"since": since}).get_data(
        as_text=True)
    assert re.findall(r'data-alert-id="(\d+)"', alerts) == [str(field.a[0])]
    assert field.names_a[0] in alerts and "已放弃" in alerts and "需要补位" in alerts
    board = clients["officer"].get(f"/board/{STREET_A}").get_data(as_text=True)
    assert 'id="board-alerts"' in board and field.names_a[0] in board
    assert clients["officer"].get(f"/board/{STREET_B}/alerts").status_code == 403


# --- the board's sites bars ----------------------------------------------------------------------------------


def test_the_sites_bars_show_the_orders_live_fill(clients, registry, app, web_runtime):
    field = running_order(app, web_runtime, registry, people_a=6)
    batch_of(arrive(clients["officer"], field.a[:2]))
    sites = clients["officer"].get(f"/board/{STREET_A}/sites").get_data(as_text=True)
    registration = re.search(r'data-role="registration">(.*?)</li>', sites, re.S).group(1)
    assert 'data-fill="6/10"' in registration
    assert "已确认 4" in registration and "已到岗 2" in registration  # 3 confirmed + 2 arrived (arrival confirms)
    assert 'class="assigned"' in registration
    queue = re.search(r'data-role="queue_keeping">(.*?)</li>', sites, re.S).group(1)
    assert "data-fill" not in queue  # no order under way for this role here: the usual capacity, empty
    data = clients["officer"].get(f"/board/{STREET_A}/map.json").json
    assert data["sites"][0]["assigned"] == 6 and data["sites"][0]["arrived"] == 2
