"""Orders in the pages: create -> preview -> launch from the command center's forms, CSRF, the service's 409
shown on the page, officers acting only on their street, viewers reading with masked numbers, the CSV export,
and the live events a commit publishes."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import select

from mobilize.domain.phones import mask_phone
from mobilize.live import history_key
from mobilize.models import Assignment, AssignmentStatus, AuditEvent, Demand, Order, OrderState
from mobilize.models._types import utcnow
from tests.web.conftest import csrf_token


def _form(registry, **extra) -> dict:
    starts = utcnow() + timedelta(hours=9)  # local time (Asia/Shanghai) is UTC+8: starts in an hour
    return {"title": "全员核酸检测志愿者招募", "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (starts + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M"),
            f"cap-{registry.site_a}-registration": "2", f"cap-{registry.site_b}-queue_keeping": "1",
            "expected_answer_rate": "50", "confirmation_required": "1", **extra}


def _post(client, path: str, data: dict | None = None):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, "/command" if
                                                                          "command" in path else path)})


def _create(client, registry) -> int:
    response = _post(client, "/command/orders", _form(registry))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/command/orders/(\d+)$", response.headers["Location"]).group(1))


def _assign(runtime, order_id: int, site_id: int, volunteer_id: int,
            status=AssignmentStatus.confirmed) -> int:
    with runtime.transaction() as session:
        demand = session.scalar(select(Demand).where(Demand.order_id == order_id, Demand.site_id == site_id))
        demand.filled += 1
        assignment = Assignment(order_id=order_id, demand_id=demand.id, volunteer_id=volunteer_id, status=status,
                                notified_at=utcnow(), confirmed_at=utcnow())
        session.add(assignment)
        session.flush()
        return assignment.id


def test_create_preview_and_launch(clients, registry, web_runtime):
    commander = clients["commander"]
    form = commander.get("/command/orders/new").get_data(as_text=True)
    assert f'name="cap-{registry.site_a}-registration"' in form and "太平角检测点" in form
    order_id = _create(commander, registry)
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert "发布前：邀请对象与短信费用" in page and "条第一轮邀请" in page and "计费段" in page
    assert re.search(r'data-preview="eligible"><b>6</b>', page)  # 3 + 3 volunteers, nobody left out
    assert f'/command/orders/{order_id}/confirm/launch' in page  # the launch is confirmed first
    launched = _post(commander, f"/command/orders/{order_id}/launch")
    assert launched.status_code == 303
    with web_runtime.transaction() as session:
        order = session.get(Order, order_id)
        assert order.state is OrderState.open and order.launched_at is not None
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "order.launched")).actor == "commander"
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert "已发布" in page and "招募中" in page and "发布前" not in page
    assert "全员核酸检测志愿者招募" in commander.get("/command").get_data(as_text=True)


def test_an_invalid_form_says_what_is_wrong_and_writes_nothing(clients, registry, web_runtime):
    data = _form(registry, title="")
    data.pop(f"cap-{registry.site_a}-registration")
    data.pop(f"cap-{registry.site_b}-queue_keeping")
    response = _post(clients["commander"], "/command/orders", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "请填写招募令标题" in page and "请至少填写一个名额" in page
    past = _form(registry, ends_at=(utcnow() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    response = _post(clients["commander"], "/command/orders", past)
    assert response.status_code == 422 and "ends_at" in response.get_data(as_text=True)
    with web_runtime.transaction() as session:
        assert session.scalar(select(Order)) is None


def test_forms_need_their_csrf_token(clients, registry):
    commander = clients["commander"]
    assert commander.post("/command/orders", data=_form(registry)).status_code == 400
    order_id = _create(commander, registry)
    for action in ("launch", "cancel", "stop-recruiting", "finish", "top-up"):
        assert commander.post(f"/command/orders/{order_id}/{action}").status_code == 400


def test_illegal_actions_show_the_409_on_the_page(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _create(commander, registry)
    response = _post(commander, f"/command/orders/{order_id}/finish")  # a draft cannot be finished
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "招募令当前状态下不能执行此操作" in page and "draft" in page
    assert _post(commander, f"/command/orders/{order_id}/launch").status_code == 303
    assert _post(commander, f"/command/orders/{order_id}/launch").status_code == 409
    assignment = _assign(web_runtime, order_id, registry.site_a, registry.volunteers_a[1][0])
    officer = clients["officer"]
    assert _post(officer, f"/board/badaguan/assignments/{assignment}/arrive").status_code == 303
    again = _post(officer, f"/board/badaguan/assignments/{assignment}/no-show")
    assert again.status_code == 409 and "此人当前状态下不能再执行此操作" in again.get_data(as_text=True)


def test_an_officer_acts_on_their_street_only(clients, registry, web_runtime):
    order_id = _create(clients["commander"], registry)
    _post(clients["commander"], f"/command/orders/{order_id}/launch")
    mine = _assign(web_runtime, order_id, registry.site_a, registry.volunteers_a[1][0])
    theirs = _assign(web_runtime, order_id, registry.site_b, registry.volunteers_b[1][0])
    officer = clients["officer"]
    board = officer.get("/board/badaguan").get_data(as_text=True)
    assert registry.volunteers_a[1][1] in board and registry.volunteers_b[1][1] not in board
    assert f"/board/badaguan/assignments/{mine}/arrive" in board
    assert _post(officer, f"/board/zhanshan/assignments/{theirs}/arrive").status_code == 403
    # the other street's assignment through the officer's own board's URL: refused too
    assert _post(officer, f"/board/badaguan/assignments/{theirs}/release").status_code == 403
    with web_runtime.transaction() as session:
        demand_b = session.scalar(select(Demand.id).where(Demand.order_id == order_id,
                                                          Demand.site_id == registry.site_b))
        assert session.get(Assignment, theirs).status is AssignmentStatus.confirmed
    assert _post(officer, f"/board/badaguan/demands/{demand_b}/backfill").status_code == 403
    done = _post(officer, f"/board/badaguan/assignments/{mine}/arrive")
    assert done.status_code == 303
    with web_runtime.transaction() as session:
        assignment = session.get(Assignment, mine)
        assert assignment.status is AssignmentStatus.arrived and assignment.arrived_at is not None
        events = session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "assignment.arrived")).all()
    page = officer.get("/board/badaguan").get_data(as_text=True)
    assert "已将" in page and "标记为到岗" in page and "已到岗" in page
    assert events == ["officer-a"]  # audited by the service (replies.mark_arrived)


def test_backfill_is_requested_and_audited(clients, registry, web_runtime):
    order_id = _create(clients["commander"], registry)
    _post(clients["commander"], f"/command/orders/{order_id}/launch")
    with web_runtime.transaction() as session:
        demand_a = session.scalar(select(Demand.id).where(Demand.order_id == order_id,
                                                          Demand.site_id == registry.site_a))
    response = _post(clients["officer"], f"/board/badaguan/demands/{demand_a}/backfill")
    assert response.status_code == 303
    with web_runtime.transaction() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "demand.backfill_requested"))


def test_a_viewer_reads_with_masked_phones_and_cannot_act(clients, registry, web_runtime):
    order_id = _create(clients["commander"], registry)
    _post(clients["commander"], f"/command/orders/{order_id}/launch")
    assignment = _assign(web_runtime, order_id, registry.site_a, registry.volunteers_a[1][0])
    viewer = clients["viewer"]
    _, name, phone = registry.volunteers_a[1]
    board = viewer.get("/board/badaguan").get_data(as_text=True)
    assert name in board and mask_phone(phone) in board and phone not in board
    assert "/arrive" not in board and "请求补招" not in board
    assert _post(viewer, f"/board/badaguan/assignments/{assignment}/arrive").status_code == 403
    assert _post(viewer, f"/command/orders/{order_id}/cancel").status_code == 403
    page = viewer.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert "取消招募令" not in page and "导出派遣名单" in page
    exported = viewer.get(f"/command/orders/{order_id}/assignments.csv")
    text = exported.get_data(as_text=True)
    assert exported.mimetype == "text/csv" and phone not in text and mask_phone(phone) in text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(row["志愿者"], row["状态"], row["站点"]) for row in rows] == [(name, "已确认", "太平角检测点")]
    commander_csv = clients["commander"].get(f"/command/orders/{order_id}/assignments.csv").get_data(as_text=True)
    assert phone in commander_csv


def test_a_commit_publishes_order_and_street_events(clients, registry, redis_client):
    order_id = _create(clients["commander"], registry)
    _post(clients["commander"], f"/command/orders/{order_id}/launch")
    command = [fields for _id, fields in redis_client.xrange(history_key("command"))]
    assert any(fields[b"event"] == b"order" and str(order_id).encode() in fields[b"data"] for fields in command)
    for street in ("badaguan", "zhanshan"):
        events = [fields[b"event"] for _id, fields in redis_client.xrange(history_key(f"street-{street}"))]
        assert b"assignment" in events


def test_top_up_cancel_and_the_english_page(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _create(commander, registry)
    _post(commander, f"/command/orders/{order_id}/launch")
    assert _post(commander, f"/command/orders/{order_id}/top-up",
                 {f"add-{registry.site_a}-registration": "3"}).status_code == 303
    with web_runtime.transaction() as session:
        assert session.scalar(select(Demand.capacity).where(Demand.order_id == order_id,
                                                            Demand.site_id == registry.site_a)) == 5
    commander.set_cookie("mobilize_lang", "en")
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert "Progress" in page and "Cancel order…" in page and "By street" in page
    response = _post(commander, f"/command/orders/{order_id}/cancel", {"reason": "drill"})
    assert response.status_code == 303
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert "Cancelled: everyone dispatched or who said yes is told" in page and "cancelled" in page


def test_the_pages_show_todays_peacetime_shifts(clients):
    assert "今日平时排班" in clients["commander"].get("/command").get_data(as_text=True)
    board = clients["officer"].get("/board/badaguan").get_data(as_text=True)
    assert "今日平时排班" in board and "今天没有平时排班" in board


def test_the_order_is_published_openly_from_its_page(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _create(commander, registry)
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert "公开招募" in page and "data-announcement" not in page
    assert _post(commander, f"/command/orders/{order_id}/open-call", {"open_call": "1"}).status_code == 303
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    with web_runtime.transaction() as session:
        order = session.get(Order, order_id)
        assert order.open_call
        code = order.reply_code
        assert session.scalar(select(AuditEvent.actor).where(AuditEvent.action == "order.open_call_set")) \
            == "commander"
    assert f"报名{code}" in page and f"JOIN {code}" in page and "停止公开招募" in page
    assert _post(clients["officer"], f"/command/orders/{order_id}/open-call", {"open_call": "0"}).status_code \
        == 403
    assert _post(commander, f"/command/orders/{order_id}/open-call", {"open_call": "0"}).status_code == 303
    with web_runtime.transaction() as session:
        assert not session.get(Order, order_id).open_call


def test_an_officer_checks_the_id_of_someone_who_joined_by_sms(clients, registry, web_runtime):
    from mobilize.models import Volunteer

    order_id = _create(clients["commander"], registry)
    _post(clients["commander"], f"/command/orders/{order_id}/launch")
    volunteer_id = registry.volunteers_a[1][0]
    with web_runtime.transaction() as session:
        session.get(Volunteer, volunteer_id).provisional = True
    assignment = _assign(web_runtime, order_id, registry.site_a, volunteer_id)
    officer = clients["officer"]
    board = officer.get("/board/badaguan").get_data(as_text=True)
    verify = f"/board/badaguan/assignments/{assignment}/verify"
    assert "待核验" in board and verify in board
    assert _post(officer, verify).status_code == 303
    with web_runtime.transaction() as session:
        assert not session.get(Volunteer, volunteer_id).provisional
        assert session.scalar(select(AuditEvent.actor).where(AuditEvent.action == "volunteer.verified")) \
            == "officer-a"
    board = officer.get("/board/badaguan").get_data(as_text=True)
    assert "待核验" not in board and verify not in board
    again = _post(officer, verify)  # already verified: the service's 409, shown on the page
    assert again.status_code == 409
