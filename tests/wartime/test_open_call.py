"""Open call: unregistered senders join an open order by an SMS dialogue (name, street, confirm) and become
provisional volunteers, placed only where provisional volunteers are accepted and verified by the officer."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mobilize.accounts import issue_token
from mobilize.app import create_app
from mobilize.conversation import handle_inbound
from mobilize.domain.district import STREETS
from mobilize.domain.templates import render
from mobilize.models import (
    AuditEvent,
    DialogueStep,
    InboundMessage,
    Invitation,
    InvitationStatus,
    OpenCallDialogue,
    OutboundMessage,
    OutboundStatus,
    Street,
    User,
    UserRole,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.wartime import open_call
from mobilize.wartime.audit import Actor
from tests import factories
from tests.wartime.conftest import active, launched, run_match, sites

PHONE = "+8613700000001"
_sids = iter(range(10_000_000, 99_999_999))


@pytest.fixture
def call(rt):
    """An open order published openly: registration (no provisional) near 八大关's centre, queue keeping (accepts
    provisional volunteers) in 湛山."""
    with rt.transaction() as session:
        near, far = sites(session)
        ids = (near.id, far.id)
    order_id = launched(rt, [(ids[0], "registration", 2), (ids[1], "queue_keeping", 2)], wave=False)
    with rt.transaction() as session:
        order = open_call.set_open_call(session, order_id, True, Actor("cmd"), utcnow())
        return {"id": order_id, "code": order.reply_code, "near": ids[0], "far": ids[1]}


def say(rt, body: str, phone: str = PHONE, now=None) -> str:
    """One inbound SMS handled as the worker does, at `now`."""
    with rt.transaction() as session:
        inbound = InboundMessage(message_sid=f"SM{next(_sids):032d}", from_phone=phone, to_phone="+8610690000",
                                 body=body, processed_at=utcnow())
        session.add(inbound)
        session.flush()
        return handle_inbound(session, rt.settings, inbound, now=now)


def to_phone(rt, phone: str = PHONE) -> list[OutboundMessage]:
    with rt.transaction() as session:
        return list(session.scalars(select(OutboundMessage).where(OutboundMessage.to_phone == phone)
                                    .order_by(OutboundMessage.id)))


def dialogue(rt, phone: str = PHONE) -> OpenCallDialogue | None:
    with rt.transaction() as session:
        return session.scalar(select(OpenCallDialogue).where(OpenCallDialogue.phone == phone))


def volunteers(rt, phone: str = PHONE) -> list[Volunteer]:
    with rt.transaction() as session:
        return list(session.scalars(select(Volunteer).where(Volunteer.phone == phone)))


def test_happy_path_in_chinese_places_only_on_provisional_demands(rt, call):
    assert say(rt, "报名") == "open_call_started"
    assert say(rt, "张伟") == "open_call_named"
    assert say(rt, "八大关街道") == "open_call_street_set"
    assert say(rt, "是") == "open_call_joined"
    assert [m.kind for m in to_phone(rt)] == ["open_call_ask_name", "open_call_ask_street", "open_call_confirm",
                                             "open_call_joined"]
    assert "张伟" in to_phone(rt)[2].body and "八大关街道" in to_phone(rt)[2].body
    assert all(m.segments <= 2 for m in to_phone(rt))
    [person] = volunteers(rt)
    badaguan = next(s for s in STREETS if s.short_name == "八大关")
    assert person.provisional and person.location_approximate and person.language == "zh"
    assert (person.name, person.lat, person.lon) == ("张伟", badaguan.lat, badaguan.lon)
    with rt.transaction() as session:
        assert session.get(Street, person.street_id).name == "八大关街道"
        invitation = session.scalar(select(Invitation).where(Invitation.volunteer_id == person.id))
        assert invitation.order_id == call["id"] and invitation.status is InvitationStatus.accepted
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "volunteer.joined_open_call", AuditEvent.subject_id == person.id)) == 1
    assert dialogue(rt).step is DialogueStep.joined and dialogue(rt).volunteer_id == person.id
    # the registration place is nearer, but only queue keeping accepts provisional volunteers
    run_match(rt, call["id"])
    [assignment] = active(rt, call["id"])
    with rt.transaction() as session:
        from mobilize.models import Demand

        demand = session.get(Demand, assignment.demand_id)
        assert (demand.site_id, demand.accepts_provisional) == (call["far"], True)
    # now a registered volunteer: no second dialogue, answers go to the order flow
    assert say(rt, "报名") != "open_call_started"
    assert len(volunteers(rt)) == 1


def test_provisional_volunteer_is_not_placed_where_provisional_is_not_accepted(rt):
    with rt.transaction() as session:
        near, _far = sites(session)
        site_id = near.id
    order_id = launched(rt, [(site_id, "registration", 3)], wave=False)
    with rt.transaction() as session:
        open_call.set_open_call(session, order_id, True, Actor("cmd"), utcnow())
    for body in ("报名", "李娜", "6", "Y"):
        say(rt, body)
    assert len(volunteers(rt)) == 1
    run_match(rt, order_id)
    assert active(rt, order_id) == []
    assert [m.kind for m in to_phone(rt)][-1] == "standby"


def test_happy_path_in_english_with_the_code_and_a_street_number(rt, call):
    assert say(rt, f"JOIN {call['code']}") == "open_call_started"
    assert say(rt, "wang wei") == "open_call_named"
    assert say(rt, "7") == "open_call_street_set"
    assert say(rt, "Y") == "open_call_joined"
    messages = to_phone(rt)
    assert messages[0].body == render("open_call_ask_name", "en", code=call["code"])
    assert "Wang Wei, Zhanshan Street" in messages[2].body
    [person] = volunteers(rt)
    assert (person.name, person.language, person.provisional) == ("Wang Wei", "en", True)


def test_street_list_in_the_sms_matches_the_numbers_understood():
    for language in ("zh", "en"):
        listing = render("open_call_ask_street", language)
        for number, street in enumerate(STREETS, start=1):
            label = street.short_name if language == "zh" else street.name_en
            assert f"{number}{'' if language == 'zh' else ' '}{label}" in listing
            assert open_call.street_answer(str(number)) == street
            assert open_call.street_answer(street.name) == street
            assert open_call.street_answer(street.short_name) == street
    assert open_call.street_answer("12") is None and open_call.street_answer("火星") is None


def test_bad_names_are_asked_again_then_the_dialogue_ends(rt, call):
    say(rt, "报名")
    assert say(rt, "12345") == "open_call_bad_name"
    assert say(rt, "到") == "open_call_bad_name"
    assert say(rt, "张") == "open_call_ended_too_many_tries"
    assert dialogue(rt).step is DialogueStep.ended and volunteers(rt) == []
    assert to_phone(rt)[-1].kind == "open_call_ended"
    # may start again
    assert say(rt, "报名") == "open_call_started"


@pytest.mark.parametrize(("body", "reason"), [("张伟 http://spam.example.com", "link"),
                                              ("www.win-prize.cn", "link"),
                                              ("傻逼", "abuse"), ("fuck you", "abuse"), ("张" * 101, "too_long")])
def test_links_abuse_and_overlong_input_end_it_politely_and_the_phone_is_ignored_a_day(rt, call, body, reason):
    say(rt, "报名")
    assert say(rt, body) == f"open_call_refused_{reason}"
    assert to_phone(rt)[-1].kind == "open_call_refused"
    count = len(to_phone(rt))
    assert say(rt, "报名") == "open_call_ignored"
    assert len(to_phone(rt)) == count
    assert say(rt, "报名", now=utcnow() + timedelta(hours=25)) == "open_call_started"


def test_unknown_street_is_asked_again(rt, call):
    say(rt, "报名")
    say(rt, "张伟")
    assert say(rt, "火星街道") == "open_call_bad_street"
    assert to_phone(rt)[-1].kind == "open_call_ask_street"
    assert say(rt, "湛山") == "open_call_street_set"
    assert say(rt, "N") == "open_call_restarted"  # details wrong: start over
    assert say(rt, "李娜") == "open_call_named"


def test_timeout_expires_the_dialogue(rt, call):
    start = utcnow()
    say(rt, "报名", now=start)
    say(rt, "张伟", now=start + timedelta(minutes=5))
    late = start + timedelta(minutes=40)
    assert say(rt, "八大关", now=late) == "open_call_expired"
    assert dialogue(rt).end_reason == "timeout" and volunteers(rt) == []
    assert to_phone(rt)[-1].kind == "open_call_expired"
    assert say(rt, "报名", now=late) == "open_call_started"
    with rt.transaction() as session:  # the periodic sweep does the same without a message
        assert open_call.expire_dialogues(session, late + timedelta(minutes=31)) == 1
    assert dialogue(rt).step is DialogueStep.ended


def test_stop_mid_dialogue_opts_out_and_nothing_more_is_sent(rt, call):
    say(rt, "报名")
    say(rt, "张伟")
    assert say(rt, "STOP") == "open_call_opted_out"
    assert dialogue(rt).opted_out_at is not None and dialogue(rt).step is DialogueStep.ended
    count = len(to_phone(rt))  # STOP is answered by the carrier: nothing from us
    assert say(rt, "八大关") == "ignored_opted_out"
    assert say(rt, "报名") == "ignored_opted_out"
    assert len(to_phone(rt)) == count and volunteers(rt) == []
    # 订阅 / START lets the phone sign up again
    say(rt, "订阅")
    assert say(rt, "报名") == "open_call_started"


def test_td_mid_dialogue_is_confirmed_and_cancels_what_waits(rt, call):
    say(rt, "报名")
    assert all(m.status is OutboundStatus.pending for m in to_phone(rt))
    assert say(rt, "TD") == "open_call_opted_out"
    kinds = [(m.kind, m.status) for m in to_phone(rt)]
    assert kinds == [("open_call_ask_name", OutboundStatus.cancelled), ("opt_out_confirm", OutboundStatus.pending)]


def test_unknown_sender_hint_without_an_open_call_and_the_call_hint_with_one(rt):
    assert say(rt, "报名", phone="+8613700000099") == "unknown_sender_hint"
    with rt.transaction() as session:
        site_id = sites(session)[1].id
    order_id = launched(rt, [(site_id, "queue_keeping", 2)], wave=False)
    with rt.transaction() as session:
        open_call.set_open_call(session, order_id, True, Actor("cmd"), utcnow())
    assert say(rt, "你好", phone="+8613700000098") == "open_call_hint"
    assert say(rt, "你好", phone="+8613700000098") == "open_call_hint_quiet"


def test_several_open_calls_ask_which(rt, call):
    with rt.transaction() as session:
        site_id = factories.site(session, "湛山", "第二检测点").id
    other = launched(rt, [(site_id, "queue_keeping", 1)], wave=False)
    with rt.transaction() as session:
        open_call.set_open_call(session, other, True, Actor("cmd"), utcnow())
    assert say(rt, "报名") == "open_call_asked_which"
    assert say(rt, f"报名{call['code']}") == "open_call_started"
    assert dialogue(rt).order_id == call["id"]


def test_repeated_first_message_does_not_restart_or_double_the_question(rt, call):
    assert say(rt, "报名") == "open_call_started"
    assert say(rt, "报名") == "open_call_repeat_quiet"
    assert say(rt, "报名", now=utcnow() + timedelta(minutes=3)) == "open_call_repeat"
    assert [m.kind for m in to_phone(rt)] == ["open_call_ask_name", "open_call_ask_name"]


def _concurrently(rt, bodies: list[str], phone: str = PHONE) -> list[str]:
    from workers.sms import process_inbound

    ids = []
    with rt.transaction() as session:
        for body in bodies:
            inbound = InboundMessage(message_sid=f"SM{next(_sids):032d}", from_phone=phone, to_phone="+8610690000",
                                     body=body)
            session.add(inbound)
            session.flush()
            ids.append(inbound.id)
    barrier = threading.Barrier(len(ids))
    outcomes: list[str] = []

    def work(inbound_id: int) -> None:
        barrier.wait()
        outcomes.append(process_inbound(inbound_id))

    threads = [threading.Thread(target=work, args=(inbound_id,)) for inbound_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return sorted(outcomes)


def test_concurrent_first_messages_from_one_phone_make_one_dialogue(rt, call):
    outcomes = _concurrently(rt, ["报名", "报名", "报名"])
    assert outcomes.count("open_call_started") == 1, outcomes
    assert [m.kind for m in to_phone(rt)] == ["open_call_ask_name"]


def test_concurrent_confirmations_make_one_volunteer(rt, call):
    for body in ("报名", "张伟", "八大关"):
        say(rt, body)
    outcomes = _concurrently(rt, ["是", "Y", "好"])
    assert outcomes.count("open_call_joined") == 1, outcomes
    assert len(volunteers(rt)) == 1
    with rt.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Invitation)) == 1
    assert [m.kind for m in to_phone(rt)].count("open_call_joined") == 1


# --- the webhook and the API ---------------------------------------------------------------------------------


def test_duplicate_inbound_webhook_is_one_step(tmp_path, database_url, redis_url, redis_client):
    from mobilize.runtime import Runtime
    from tests.conftest import make_settings
    from tests.test_twilio_webhooks import PUBLIC, TOKEN, inbound_form, signed_post
    from workers.context import set_runtime
    from workers.sms import process_inbound

    rt = Runtime(make_settings(tmp_path, database_url, redis_url, twilio_auth_token=TOKEN,
                               twilio_account_sid="AC" + "0" * 32, public_base_url=PUBLIC))
    set_runtime(rt)
    try:
        with rt.transaction() as session:
            site_id = sites(session)[1].id
        order_id = launched(rt, [(site_id, "queue_keeping", 2)], wave=False)
        with rt.transaction() as session:
            open_call.set_open_call(session, order_id, True, Actor("cmd"), utcnow())
        client = create_app(runtime=rt).test_client()
        for sid, body in (("SM" + "1" * 32, "报名"), ("SM" + "1" * 32, "报名"), ("SM" + "2" * 32, "张伟"),
                          ("SM" + "2" * 32, "张伟")):
            assert signed_post(client, "/twilio/sms", inbound_form(sid=sid, sender=PHONE, body=body)).status_code == 200
            with rt.transaction() as session:
                pending = list(session.scalars(select(InboundMessage.id).where(InboundMessage.processed_at.is_(None))))
            for inbound_id in pending:
                process_inbound(inbound_id)
                process_inbound(inbound_id)  # a job run twice
        assert [m.kind for m in to_phone(rt)] == ["open_call_ask_name", "open_call_ask_street"]
        assert dialogue(rt).step is DialogueStep.street and dialogue(rt).messages == 2
    finally:
        set_runtime(None)
        rt.close()


@pytest.fixture
def api(srt):
    with srt.transaction() as session:
        tokens = {}
        for username, role, street in (("cmd", "commander", None), ("off", "officer", "湛山"),
                                       ("other", "officer", "金湖路"), ("view", "viewer", None)):
            user = User(username=username, password_hash="-", role=UserRole(role), active=True, failed_logins=0,
                        street_id=factories.street(session, street).id if street else None)
            session.add(user)
            session.flush()
            tokens[username] = issue_token(session, user)
        site_id = sites(session)[1].id
    order_id = launched(srt, [(site_id, "queue_keeping", 2)], wave=False)
    return {"client": create_app(runtime=srt).test_client(), "tokens": tokens, "order": order_id}


def headers(api, who: str) -> dict:
    return {"Authorization": f"Bearer {api['tokens'][who]}"}


def test_api_publishes_and_officer_verifies_street_scoped(srt, api):
    client = api["client"]
    url = f"/api/v1/orders/{api['order']}/open-call"
    assert client.post(url, json={"open_call": True}, headers=headers(api, "off")).status_code == 403
    assert client.post(url, json={}, headers=headers(api, "cmd")).status_code == 422
    published = client.post(url, json={"open_call": True}, headers=headers(api, "cmd"))
    assert published.status_code == 200 and published.json["open_call"] is True
    assert f"报名{published.json['reply_code']}" in published.json["announcement"]["zh"]
    for body in ("报名", "欧阳娜娜", "金湖路", "Y"):  # lives in 金湖路, sent to 湛山
        say(srt, body)
    run_match(srt, api["order"])
    [person] = volunteers(srt)
    verify = f"/api/v1/volunteers/{person.id}/verify"
    assert client.post(verify, json={}, headers=headers(api, "view")).status_code == 403
    assert client.post(verify, json={"name": ""}, headers=headers(api, "off")).status_code == 422
    with srt.transaction() as session:  # an officer of a street with no link to the person
        other_street = factories.street(session, "八大关").id
        user = User(username="third", password_hash="-", role=UserRole.officer, active=True, failed_logins=0,
                    street_id=other_street)
        session.add(user)
        session.flush()
        third = issue_token(session, user)
    assert client.post(verify, json={}, headers={"Authorization": f"Bearer {third}"}).status_code == 403
    done = client.post(verify, json={"name": "欧阳娜", "notes": "身份证已核验"}, headers=headers(api, "off"))
    assert done.status_code == 200, done.json
    assert done.json["provisional"] is False and done.json["name"] == "欧阳娜"
    again = client.post(verify, json={}, headers=headers(api, "other"))
    assert again.status_code == 409 and again.json["error"]["code"] == "not_provisional"
    assert client.post("/api/v1/volunteers/999999/verify", json={}, headers=headers(api, "cmd")).status_code == 404
    with srt.transaction() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "volunteer.verified"))
        assert event.actor == "off" and event.details["name"] == {"from": "欧阳娜娜", "to": "欧阳娜"}
    closed = client.post(f"/api/v1/orders/{api['order']}/cancel", json={}, headers=headers(api, "cmd"))
    assert closed.status_code == 200
    assert client.post(url, json={"open_call": True}, headers=headers(api, "cmd")).status_code == 409
