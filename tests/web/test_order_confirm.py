"""Say it before sending it (issue 10, item 4) in the pages: each order action that sends SMS opens a confirmation
step that shows `previews.preview_action`'s numbers and texts, writes and sends nothing, and only its confirm
button (a POST with the CSRF token) performs the action; what the action then writes is what the step showed.
Long actions show their SMS going out; a draft is edited and discarded from its page."""
from __future__ import annotations

import re
from datetime import timedelta

from markupsafe import escape
from sqlalchemy import func, select, update

from mobilize.models import (
    AuditEvent,
    Demand,
    Invitation,
    InvitationStatus,
    Order,
    OrderState,
    OutboundMessage,
    OutboundStatus,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.wartime.drafts import DemandSpec
from mobilize.wartime.previews import preview_action
from tests.wartime.conftest import handed_to_the_gateway, run_wave
from tests.web.test_order_pages import _create, _form, _post

ZONE = "Asia/Shanghai"


def _outbox(runtime) -> list[tuple[int, str, str]]:
    with runtime.transaction() as session:
        return sorted(session.execute(select(OutboundMessage.volunteer_id, OutboundMessage.kind,
                                             OutboundMessage.body)).all())


def _preview(runtime, order_id: int, action: str, **args):
    with runtime.transaction() as session:
        result = preview_action(session, order_id, action, utcnow(), zone=ZONE, **args)
        session.rollback()
        return result


def _state(runtime, order_id: int) -> OrderState:
    with runtime.transaction() as session:
        return session.get(Order, order_id).state


def _numbers(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-confirm="(sms|segments|cost)"><b>([^<]+)</b>', page))


def _english(runtime, volunteer_id: int) -> None:
    with runtime.transaction() as session:
        session.get(Volunteer, volunteer_id).language = "en"


def _launched(clients, registry, runtime) -> int:
    """An order launched from its confirmation step, its first wave written and handed to the gateway."""
    commander = clients["commander"]
    order_id = _create(commander, registry)
    assert _post(commander, f"/command/orders/{order_id}/launch").status_code == 303
    run_wave(runtime, order_id)
    return order_id


def test_the_launch_shows_what_it_sends_and_sends_nothing_before_the_confirm(clients, registry, web_runtime):
    commander = clients["commander"]
    _english(web_runtime, registry.volunteers_b[2][0])
    order_id = _create(commander, registry)
    before = _outbox(web_runtime)
    expected = _preview(web_runtime, order_id, "launch")
    assert expected.sms_count > 0 and set(expected.by_template) == {"invitation"}

    response = commander.get(f"/command/orders/{order_id}/confirm/launch")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _numbers(page) == {"sms": str(expected.sms_count), "segments": str(expected.segments),
                              "cost": f"¥{expected.estimated_cost:.2f}"}
    assert "邀请" in page and "invitation</td>" not in page  # the template's readable name, not its code
    assert f'data-template="invitation"><td>邀请</td><td class="num">{expected.by_template["invitation"]}</td>' \
        in page
    for status, count in expected.recipients_by_status.items():
        assert f'data-status="{status}"><b>{count}</b>' in page
    for language in ("zh", "en"):  # the text itself, in each language used
        sample = next(m for m in expected.messages if m["language"] == language)
        assert f'data-language="{language}"' in page and escape(sample["text"]) in page
    for message in expected.messages:  # a commander sees the recipients with their numbers
        assert message["name"] in page and message["phone"] in page
    assert "按每段 ¥0.045 估算" in page
    assert 'action="/command/orders/%d/launch"' % order_id in page and 'name="csrf_token"' in page

    assert _outbox(web_runtime) == before and _state(web_runtime, order_id) is OrderState.draft
    with web_runtime.transaction() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "order.launched")) is None

    # the same step as a fragment for the page's <dialog>: no page around it
    fragment = commander.get(f"/command/orders/{order_id}/confirm/launch",
                             headers={"X-Requested-With": "fetch"}).get_data(as_text=True)
    assert "<html" not in fragment and 'data-confirm-step="launch"' in fragment
    assert _numbers(fragment) == _numbers(page)

    # the confirm button: the action, and the wave it requests writes what the step showed
    assert _post(commander, f"/command/orders/{order_id}/launch", {"confirm": "1"}).status_code == 303
    assert _state(web_runtime, order_id) is OrderState.open
    run_wave(web_runtime, order_id, handed=False)
    written = [row for row in _outbox(web_runtime) if row not in before]
    assert written == sorted((m["volunteer_id"], m["template"], m["text"]) for m in expected.messages)


def test_launch_progress_shows_the_invitations_going_out(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _create(commander, registry)
    _post(commander, f"/command/orders/{order_id}/launch")
    progress = commander.get(f"/command/orders/{order_id}/progress").get_data(as_text=True)
    assert "第一轮邀请正在准备" in progress and 'data-busy="true"' in progress  # the wave job has not run yet
    run_wave(web_runtime, order_id, handed=False)
    with web_runtime.transaction() as session:
        total = session.scalar(select(func.count()).select_from(OutboundMessage)
                               .where(OutboundMessage.kind == "invitation"))
        first = session.scalar(select(OutboundMessage.id).where(OutboundMessage.kind == "invitation")
                               .order_by(OutboundMessage.id))
        session.execute(update(OutboundMessage).where(OutboundMessage.id == first)
                        .values(status=OutboundStatus.delivered))
    progress = commander.get(f"/command/orders/{order_id}/progress").get_data(as_text=True)
    assert f"邀请发送中：已发出 1 / {total}" in progress
    assert f'data-template="invitation" data-sent="1" data-total="{total}"' in progress
    handed_to_the_gateway(web_runtime)
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert f"邀请：{total} 条已全部交给运营商" in page and 'data-busy="false"' in page


def test_stop_recruiting_is_confirmed_and_sends_exactly_what_it_showed(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _launched(clients, registry, web_runtime)
    with web_runtime.transaction() as session:  # one of those invited said yes and waits on standby
        volunteer = session.scalar(select(Volunteer).join(Invitation, Invitation.volunteer_id == Volunteer.id)
                                   .where(Invitation.order_id == order_id).order_by(Volunteer.id))
    with web_runtime.transaction() as session:
        session.execute(update(Invitation).where(Invitation.order_id == order_id,
                                                 Invitation.volunteer_id == volunteer.id)
                        .values(status=InvitationStatus.accepted))
    expected = _preview(web_runtime, order_id, "stop_recruiting")
    assert expected.by_template == {"not_needed": 1}
    page = commander.get(f"/command/orders/{order_id}/confirm/stop-recruiting").get_data(as_text=True)
    assert _numbers(page) == {"sms": "1", "segments": str(expected.segments),
                              "cost": f"¥{expected.estimated_cost:.2f}"}
    assert "本次无需前往，感谢报名" in page and volunteer.name in page
    assert escape(expected.messages[0]["text"]) in page
    assert "停止招募并发送 1 条短信" in page
    before = _outbox(web_runtime)
    assert _state(web_runtime, order_id) is OrderState.open

    assert _post(commander, f"/command/orders/{order_id}/stop-recruiting").status_code == 303
    assert _state(web_runtime, order_id) is OrderState.staffed
    written = [row for row in _outbox(web_runtime) if row not in before]
    assert written == [(volunteer.id, "not_needed", expected.messages[0]["text"])]
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert "已停止招募" in page and "/confirm/finish" in page and "/confirm/cancel" in page
    assert "/confirm/stop-recruiting" not in page and "/confirm/top-up" not in page


def test_finish_before_the_window_is_refused_in_the_step(clients, registry, web_runtime):
    order_id = _launched(clients, registry, web_runtime)
    response = clients["commander"].get(f"/command/orders/{order_id}/confirm/finish")
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "停止招募或取消" in page and "data-confirm-submit" not in page


def test_finish_after_the_window_starts_shows_its_progress(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _launched(clients, registry, web_runtime)
    with web_runtime.transaction() as session:
        order = session.get(Order, order_id)
        order.starts_at = utcnow() - timedelta(hours=1)
    expected = _preview(web_runtime, order_id, "finish")
    page = commander.get(f"/command/orders/{order_id}/confirm/finish").get_data(as_text=True)
    assert _numbers(page)["sms"] == str(expected.sms_count)
    if not expected.sms_count:
        assert "没有人会收到短信" in page
    assert _post(commander, f"/command/orders/{order_id}/finish").status_code == 303
    assert _state(web_runtime, order_id) is OrderState.closed
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert "已结束" in page


def test_cancel_carries_its_reason_and_top_up_its_places(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _launched(clients, registry, web_runtime)
    page = commander.get(f"/command/orders/{order_id}/confirm/cancel?reason=演练结束").get_data(as_text=True)
    assert '<input type="hidden" name="reason" value="演练结束">' in page
    assert _state(web_runtime, order_id) is OrderState.open

    missing = commander.get(f"/command/orders/{order_id}/confirm/top-up")
    assert missing.status_code == 422 and "请至少增加一个名额" in missing.get_data(as_text=True)
    add = f"add-{registry.site_a}-registration"
    expected = _preview(web_runtime, order_id, "top_up",
                        additions=[DemandSpec(registry.site_a, "registration", 2)])
    page = commander.get(f"/command/orders/{order_id}/confirm/top-up?{add}=2").get_data(as_text=True)
    assert f'<input type="hidden" name="{add}" value="2">' in page and "+2 · 太平角检测点" in page
    assert _numbers(page)["sms"] == str(expected.sms_count)
    with web_runtime.transaction() as session:
        capacity = session.scalar(select(Demand.capacity).where(Demand.order_id == order_id,
                                                                Demand.site_id == registry.site_a))
    assert capacity == 2  # nothing added by looking
    assert _post(commander, f"/command/orders/{order_id}/top-up", {add: "2"}).status_code == 303

    assert _post(commander, f"/command/orders/{order_id}/cancel", {"reason": "演练结束"}).status_code == 303
    with web_runtime.transaction() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "order.cancelled"))
        assert event.details["reason"] == "演练结束"


def test_only_commanders_confirm_and_act(clients, registry, web_runtime):
    order_id = _launched(clients, registry, web_runtime)
    for role in ("viewer", "officer"):
        for action in ("launch", "stop-recruiting", "finish", "cancel", "discard"):
            assert clients[role].get(f"/command/orders/{order_id}/confirm/{action}").status_code == 403
        for action in ("stop-recruiting", "finish", "cancel", "discard"):
            assert _post(clients[role], f"/command/orders/{order_id}/{action}").status_code == 403
        assert clients[role].get(f"/command/orders/{order_id}/edit").status_code == 403
    assert _state(web_runtime, order_id) is OrderState.open
    viewer_page = clients["viewer"].get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert "/confirm/" not in viewer_page and "confirm-dialog" not in viewer_page
    assert clients["commander"].get(f"/command/orders/{order_id}/confirm/nonsense").status_code == 404
    assert clients["admin"].get(f"/command/orders/{order_id}/confirm/stop-recruiting").status_code == 200


def test_the_order_page_offers_the_three_honest_endings(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _launched(clients, registry, web_runtime)
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    for label, action in (("停止招募", "stop-recruiting"), ("结束（认证时长）", "finish")):
        assert f'href="/command/orders/{order_id}/confirm/{action}">{label}…</a>' in page
    assert f'action="/command/orders/{order_id}/confirm/cancel"' in page and "取消招募令…" in page
    assert f'action="/command/orders/{order_id}/confirm/top-up"' in page
    assert "结算：认证时长并致谢" not in page and 'method="post" action="/command/orders/%d/' % order_id not in \
        page.split('id="confirm-dialog"')[0].split("open-call")[-1]
    commander.set_cookie("mobilize_lang", "en")
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert "Stop recruiting…" in page and "Finish (certify hours)…" in page and "Cancel order…" in page


def test_a_draft_is_edited_from_its_page(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _create(commander, registry)
    page = commander.get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert f'href="/command/orders/{order_id}/edit"' in page and "编辑草稿" in page
    form = commander.get(f"/command/orders/{order_id}/edit").get_data(as_text=True)
    assert 'value="全员核酸检测志愿者招募"' in form and f'action="/command/orders/{order_id}/edit"' in form
    assert re.search(rf'name="cap-{registry.site_a}-registration"\s+placeholder="\d+" value="2"', form)

    bad = _post(commander, f"/command/orders/{order_id}/edit", _form(registry, title=""))
    assert bad.status_code == 422 and "请填写招募令标题" in bad.get_data(as_text=True)
    changed = _form(registry, title="改过的招募令", **{f"cap-{registry.site_a}-registration": "4"})
    assert _post(commander, f"/command/orders/{order_id}/edit", changed).status_code == 303
    with web_runtime.transaction() as session:
        order = session.get(Order, order_id)
        assert order.title == "改过的招募令" and order.state is OrderState.draft
        assert {d.site_id: d.capacity for d in order.demands} == {registry.site_a: 4, registry.site_b: 1}
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "order.updated"))
        assert event.actor == "commander" and "title" in event.details["changed"]

    _post(commander, f"/command/orders/{order_id}/launch")
    assert commander.get(f"/command/orders/{order_id}/edit").status_code == 409
    assert _post(commander, f"/command/orders/{order_id}/edit", changed).status_code == 409


def test_a_draft_is_discarded_after_a_confirmation(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _create(commander, registry)
    step = commander.get(f"/command/orders/{order_id}/confirm/discard").get_data(as_text=True)
    assert "草稿将被删除" in step and "放弃草稿" in step and 'action="/command/orders/%d/discard"' % order_id in step
    with web_runtime.transaction() as session:
        code = session.get(Order, order_id).reply_code
    response = _post(commander, f"/command/orders/{order_id}/discard")
    assert response.status_code == 303 and response.headers["Location"].endswith("/command")
    with web_runtime.transaction() as session:
        assert session.get(Order, order_id) is None
        assert session.scalar(select(func.count()).select_from(Demand)) == 0
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "order.discarded"))
        assert event.actor == "commander" and event.subject_id == order_id
        assert event.details["title"] == "全员核酸检测志愿者招募" and event.details["reply_code"] == code
        assert len(event.details["demands"]) == 2
    assert f"草稿 #{code}" in commander.get("/command").get_data(as_text=True)

    launched = _launched(clients, registry, web_runtime)  # a launched order is never deleted
    assert _post(commander, f"/command/orders/{launched}/discard").status_code == 409
    assert _state(web_runtime, launched) is OrderState.open



def test_finish_says_how_many_dispatched_become_no_shows_even_when_it_texts_nobody(clients, registry, web_runtime):
    from mobilize.models import Invitation
    from mobilize.wartime import dispatch
    from tests.factories import text
    from tests.wartime.conftest import run_match

    commander = clients["commander"]
    order_id = _launched(clients, registry, web_runtime)
    with web_runtime.transaction() as session:
        invited = session.scalars(select(Volunteer).join(Invitation, Invitation.volunteer_id == Volunteer.id)
                                  .where(Invitation.order_id == order_id).order_by(Volunteer.id).limit(2)).all()
    for volunteer in invited:
        text(web_runtime, volunteer, "Y")
    run_match(web_runtime, order_id, utcnow() + timedelta(seconds=dispatch.HOLD_MAX_S + 1))
    with web_runtime.transaction() as session:
        session.get(Order, order_id).starts_at = utcnow() - timedelta(hours=1)
    expected = _preview(web_runtime, order_id, "finish")
    assert expected.effects["no_shows"] >= 1
    page = commander.get(f"/command/orders/{order_id}/confirm/finish").get_data(as_text=True)
    no_shows = re.search(r'data-effect="no_shows"><b>(\d+)</b>', page)
    assert no_shows and int(no_shows.group(1)) == expected.effects["no_shows"]
    assert "名已派遣但未到岗的志愿者记为缺席" in page
    if not expected.sms_count:
        assert "结束（不发短信）" in page  # not "finish and send 0 SMS"
