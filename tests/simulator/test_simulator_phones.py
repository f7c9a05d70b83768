"""Simulated phones: profiles answer with the right rates under a seed, responders can be replaced, time
scales, the control API and the /phones page."""
from __future__ import annotations

import time
import unicodedata

import pytest
import requests

from mobilize.sms.simulator import PhoneProfile, Reply, register_responder
from mobilize.sms.simulator.control import SimulatorControl, SimulatorControlError
from mobilize.sms.simulator.carrier import OPT_OUT_KEYWORDS
from mobilize.sms.simulator.phones import (ACCEPT_VARIANTS, DECLINE_VARIANTS, Phone, ProfileError,
                                           default_responder, full_width)
from mobilize.sms.twilio_client import make_twilio_client
from sim_support import ACCOUNT_SID, AUTH_TOKEN, SERVICE_NUMBER, wait_until

INVITATION = "【招募令 #27】明天8:00 八大关街道核酸检测点，排队引导。回复 Y27 参加，N27 不参加。"


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+86138{index:08d}" for index in range(start, start + count)]


def phone(number: str, profile: PhoneProfile) -> Phone:
    item = Phone(number=number)
    item.register(profile)
    return item


def run_profile(profile: PhoneProfile, count: int) -> dict[str, list[Reply]]:
    return {number: default_responder(phone(number, profile), INVITATION) for number in numbers(count)}


# -- the default responder, in-process -----------------------------------------------------------------------

def test_default_responder_rates_over_many_phones():
    profile = PhoneProfile(answer_rate=0.6, decline_rate=0.25, stop_rate=0.05, typo_rate=0.0, seed=7)
    replies = run_profile(profile, 2000)
    answered = [reply for answer in replies.values() for reply in answer]
    intents = [reply.intent for reply in answered]
    # binomial sd at n=2000 is ~1.1 points: bounds of ~+-6 sd never flake, and the seed fixes the draw anyway
    assert 0.53 <= len(answered) / 2000 <= 0.67
    assert 0.01 <= intents.count("stop") / len(answered) <= 0.10
    declines = intents.count("decline") / (len(answered) - intents.count("stop"))
    assert 0.18 <= declines <= 0.32
    assert all(len(answer) <= 1 for answer in replies.values())


def test_default_responder_is_deterministic_under_a_seed():
    profile = PhoneProfile(seed=11, typo_rate=0.3)
    first = run_profile(profile, 300)
    second = run_profile(profile, 300)
    assert first == second
    other = run_profile(PhoneProfile(seed=12, typo_rate=0.3), 300)
    assert other != first


def test_answers_carry_the_code_in_the_phones_language():
    zh = run_profile(PhoneProfile(answer_rate=1.0, stop_rate=0.0, typo_rate=0.0, language="zh", seed=1), 400)
    en = run_profile(PhoneProfile(answer_rate=1.0, stop_rate=0.0, typo_rate=0.0, language="en", seed=1), 400)
    for replies in (zh, en):
        for [reply] in replies.values():
            assert "27" in unicodedata.normalize("NFKC", reply.body)
            assert reply.delay > 0
    zh_bodies = {reply.body for [reply] in zh.values()}
    assert any("是" in body or "好" in body for body in zh_bodies)
    assert "Ｙ２７" in zh_bodies  # full-width, as Chinese input methods type it
    assert not any("是" in reply.body for [reply] in en.values())
    assert full_width("Y27") == "Ｙ２７"
    assert {"Y{c}", "N{c}"} <= set(ACCEPT_VARIANTS["zh"]) | set(DECLINE_VARIANTS["zh"])


def test_typos_keep_the_reply_code_and_stops_are_opt_outs():
    typed = run_profile(PhoneProfile(answer_rate=1.0, stop_rate=0.0, typo_rate=1.0, seed=5), 300)
    clean = run_profile(PhoneProfile(answer_rate=1.0, stop_rate=0.0, typo_rate=0.0, seed=5), 300)
    assert sum(typed[n][0].body != clean[n][0].body for n in typed) > 250
    assert all("27" in unicodedata.normalize("NFKC", answer[0].body) for answer in typed.values())
    stops = run_profile(PhoneProfile(answer_rate=1.0, stop_rate=1.0, seed=5), 100)
    assert {answer[0].body for answer in stops.values()} <= {"退订", "TD", "STOP"}


def test_each_invitation_is_answered_once_and_other_texts_not_at_all():
    item = phone("+8613800000001", PhoneProfile(answer_rate=1.0, seed=3))
    assert default_responder(item, "您好，明天见") == []
    assert len(default_responder(item, INVITATION)) == 1
    assert default_responder(item, "提醒：" + INVITATION) == []
    assert len(default_responder(item, "新招募令 ＃31 请回复")) == 1  # full-width hash too


@pytest.mark.parametrize("bad", [{"answer_rate": 1.5}, {"language": "fr"}, {"delay_median": -1},
                                 {"unknown": 1}, {"seed": "x"}])
def test_bad_profiles_are_refused(bad):
    with pytest.raises(ProfileError):
        PhoneProfile.from_dict(bad)


# -- phones behind the simulator -----------------------------------------------------------------------------

def test_registered_phones_answer_invitations_with_their_rates(sim, client, control, receiver):
    profile = PhoneProfile(answer_rate=0.6, decline_rate=0.3, stop_rate=0.05, typo_rate=0.0,
                           delay_median=20.0, delay_sigma=0.5, seed=42)
    volunteers = numbers(300, start=1000)
    assert control.register_phones(volunteers, profile=profile)["registered"] == 300
    for number in volunteers:
        client.messages.create(to=number, from_=SERVICE_NUMBER, body=INVITATION)
    assert control.wait_idle(timeout=20)

    inbound = control.messages(direction="inbound", limit=1000)
    hooks = receiver.received("/twilio/sms")
    assert len(hooks) == len(inbound)
    assert {hook.form["MessageSid"] for hook in hooks} == {message["sid"] for message in inbound}
    assert 0.45 <= len(inbound) / 300 <= 0.75
    intents = [message["intent"] for message in inbound]
    assert set(intents) <= {"accept", "decline", "stop"}
    assert 0.15 <= intents.count("decline") / len(intents) <= 0.45
    assert all(message["origin"] == "phone" and message["to"] == SERVICE_NUMBER for message in inbound)
    opted_out = control.stats()["phones"]["opted_out"]
    carrier_stops = {message["from"] for message in inbound
                     if message["body"].strip().upper() in OPT_OUT_KEYWORDS}
    assert opted_out == len(carrier_stops)  # STOP is a carrier keyword; 退订/TD are the service's business


def test_same_seed_same_conversations(make_sim):
    def run() -> list[tuple[str, str]]:
        server = make_sim(webhook_url=None)
        control = SimulatorControl(server.url)
        client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, server.url)
        control.register_phones(numbers(60), profile={"seed": 99, "answer_rate": 0.7, "typo_rate": 0.2})
        for number in numbers(60):
            client.messages.create(to=number, from_=SERVICE_NUMBER, body=INVITATION)
        assert control.wait_idle(timeout=20)
        return sorted((m["from"], m["body"]) for m in control.messages(direction="inbound"))

    assert run() == run()


def test_unregistered_numbers_only_receive(client, control):
    message = client.messages.create(to="+8613600000000", from_=SERVICE_NUMBER, body=INVITATION)
    assert control.wait_idle(timeout=5)
    assert [m["sid"] for m in control.conversation("+8613600000000")] == [message.sid]
    assert control.phone("+8613600000000")["phone"]["registered"] is False


def test_responders_can_be_replaced_globally_per_phone_and_by_name(sim, client, control):
    first, second, third = numbers(3, start=500)
    control.register_phones([first, second], profile={"answer_rate": 1.0, "seed": 1})
    sim.simulator.set_responder(lambda phone, text: [Reply("global " + phone.number[-3:], 1.0, "accept")])
    sim.simulator.set_responder(lambda phone, text: [Reply("only me", 0.0)], number=second)
    register_responder("echo", lambda phone, text: [Reply("echo: " + text, 0.5)])
    control.register_phones([{"number": third, "responder": "echo"}])
    for number in (first, second, third):
        client.messages.create(to=number, from_=SERVICE_NUMBER, body="ping")
    assert control.wait_idle(timeout=5)
    bodies = {m["from"]: m["body"] for m in control.messages(direction="inbound")}
    assert bodies == {first: "global " + first[-3:], second: "only me", third: "echo: ping"}
    with pytest.raises(SimulatorControlError):
        control.register_phones(["+8613800009999"], responder="no-such-responder")


def shout(phone, text):
    """A responder loaded by import path (as `mobilize simulator --responder module:function` does)."""
    return [Reply(text.upper(), 0.0, "echo")]


def test_a_responder_can_be_loaded_by_import_path(make_sim):
    server = make_sim(responder="test_simulator_phones:shout", webhook_url=None)
    control = SimulatorControl(server.url)
    client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, server.url)
    control.register_phone("+8613800000050")
    control.register_phone("+8613800000051", responder="silent")
    client.messages.create(to="+8613800000050", from_=SERVICE_NUMBER, body="hello #1")
    client.messages.create(to="+8613800000051", from_=SERVICE_NUMBER, body="hello #1")
    assert control.wait_idle(timeout=5)
    assert [m["body"] for m in control.messages(direction="inbound")] == ["HELLO #1"]
    with pytest.raises(SimulatorControlError):
        control.register_phone("+8613800000052", responder="no_such_module:fn")


def test_time_scale_shortens_delays(make_sim):
    def delivery_time(scale: float) -> float:
        server = make_sim(time_scale=scale, sent_delay=10.0, delivery_delay=40.0, webhook_url=None)
        client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, server.url)
        started = time.perf_counter()
        message = client.messages.create(to="+8613800000042", from_=SERVICE_NUMBER, body="hi")
        wait_until(lambda: client.messages(message.sid).fetch().status == "delivered", timeout=10)
        return time.perf_counter() - started

    slow, fast = delivery_time(0.01), delivery_time(0.0005)  # 50 simulated seconds: 0.5 s, then 25 ms
    assert slow >= 0.45  # 50 simulated seconds at 1/100 are waited out, not skipped
    assert fast < slow  # and a smaller scale waits less (no bound on the machine's speed: that is for benchmarks)


def test_time_scale_applies_to_phone_replies(make_sim):
    server = make_sim(time_scale=0.01, webhook_url=None)
    control = SimulatorControl(server.url)
    client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, server.url)
    control.register_phone("+8613800000043", profile={"answer_rate": 1.0, "stop_rate": 0.0,
                                                      "delay_median": 60.0, "delay_sigma": 0.0, "seed": 1})
    client.messages.create(to="+8613800000043", from_=SERVICE_NUMBER, body=INVITATION)
    started = time.perf_counter()
    control.wait_for_messages(1, direction="inbound", timeout=10)
    # 60 s of thinking at 1/100: at least 0.6 s is waited, and far less than the unscaled minute
    assert 0.5 <= time.perf_counter() - started < 30.0


def test_bulk_registration_of_thousands(control):
    result = control.register_phones(numbers(5000, start=20000), profile={"language": "en", "seed": 2})
    assert result["registered"] == 5000 and result["phones"]["registered"] == 5000
    listed = control.phones(limit=10, registered_only=True)
    assert len(listed) == 10 and listed[0]["profile"]["language"] == "en"
    with pytest.raises(SimulatorControlError) as raised:
        control.register_phones(["12345"])
    assert raised.value.status == 400


def test_control_api_conversation_stats_and_reset(client, control):
    number = "+8613800000077"
    control.register_phone(number, responder="silent")
    client.messages.create(to=number, from_=SERVICE_NUMBER, body="第一条：您好")
    control.send_from_phone(number, "收到 👍", wait=True)
    assert control.wait_idle(timeout=5)
    conversation = control.conversation(number)
    assert [(m["direction"], m["body"]) for m in conversation] == [("outbound-api", "第一条：您好"),
                                                                    ("inbound", "收到 👍")]
    assert [entry["status"] for entry in conversation[0]["history"]] == ["queued", "sent", "delivered"]
    stats = control.stats()
    assert stats["outbound_by_status"] == {"delivered": 1}
    assert stats["segments"]["outbound"] == 1 and stats["by_direction"]["inbound"] == 1
    summary = control.phones(number)[0]
    assert summary["last"]["body"] == "收到 👍" and summary["message_count"] == 2
    control.reset(keep_phones=True)
    assert control.messages() == [] and control.phone(number)["phone"]["registered"] is True
    control.reset()
    with pytest.raises(SimulatorControlError):
        control.phone(number)


def test_phones_page_is_self_contained(sim):
    page = requests.get(sim.url + "/phones")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert 'charset="utf-8"' in html and "/_sim/phones" in html
    assert "http://" not in html.replace(sim.simulator.webhook_url or "", "")  # no CDN, no external asset
    assert "https://" not in html
    assert requests.get(sim.url + "/").url.endswith("/phones")


def test_reset_drops_pending_replies_and_status_changes(make_sim):
    server = make_sim(time_scale=0.01, webhook_url=None)
    control = SimulatorControl(server.url)
    client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, server.url)
    control.register_phone("+8613800000060", profile={"answer_rate": 1.0, "stop_rate": 0.0, "delay_median": 30.0,
                                                      "delay_sigma": 0.0, "seed": 1})
    client.messages.create(to="+8613800000060", from_=SERVICE_NUMBER, body=INVITATION)
    wait_until(lambda: control.conversation("+8613800000060")[0]["status"] == "delivered")
    assert control.wait_idle(timeout=0.05) is False  # the phone is still thinking (0.3 s)
    control.reset(keep_phones=True)
    assert control.wait_idle(timeout=1)
    time.sleep(0.5)
    assert control.messages() == []
