"""Injected faults as the real twilio client sees them: 429, 5xx, latency, undelivered/failed, duplicates."""
from __future__ import annotations

import json
import time

import pytest
from twilio.base.exceptions import TwilioRestException

from mobilize.sms.simulator import FaultConfig
from mobilize.sms.simulator.control import SimulatorControlError
from sim_support import SERVICE_NUMBER, wait_until

VOLUNTEER = "+8613700137000"


def send(client, body="hi", **extra):
    return client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body=body, **extra)


def test_throttling_is_429_with_code_20429(client, control):
    control.set_faults(throttle_rate=1.0)
    with pytest.raises(TwilioRestException) as raised:
        send(client)
    assert raised.value.status == 429 and raised.value.code == 20429
    assert "Too Many Requests" in raised.value.msg
    control.set_faults(throttle_rate=0.0)
    assert send(client).status == "queued"
    assert control.messages(direction="outbound-api", limit=10)[0]["body"] == "hi"
    assert len(control.messages()) == 1  # the throttled request created nothing
    assert control.stats()["counters"]["throttled"] == 1


def test_server_errors_are_500_or_503(client, control):
    control.set_faults(server_error_rate=1.0, seed=3)
    statuses = set()
    for _ in range(12):
        with pytest.raises(TwilioRestException) as raised:
            send(client)
        assert (raised.value.status, raised.value.code) in ((500, 20500), (503, 20503))
        statuses.add(raised.value.status)
    assert statuses == {500, 503}
    assert control.messages() == []


def test_latency_fixed_and_range(client, control):
    control.set_faults(latency_ms=150)
    started = time.perf_counter()
    send(client)
    assert time.perf_counter() - started >= 0.15
    assert control.set_faults(latency_ms="40-60")["latency_ms"] == [40.0, 60.0]
    started = time.perf_counter()
    send(client)
    assert time.perf_counter() - started >= 0.04  # the range's low end is waited at least


def test_undelivered_messages_report_an_error_code(client, control, receiver, message_validator):
    control.set_faults(undelivered_rate=1.0)
    message = send(client, status_callback=receiver.url("/twilio/status"))
    hooks = receiver.wait_for(2, "/twilio/status")
    assert [hook.form["MessageStatus"] for hook in hooks] == ["sent", "undelivered"]
    code = int(hooks[1].form["ErrorCode"])
    assert code in (30003, 30005, 30006)
    fetched = client.messages(message.sid).fetch()
    assert fetched.status == "undelivered" and fetched.error_code == code and fetched.error_message
    message_validator.validate(json.loads(client.http_client._test_only_last_response.text))


def test_failed_messages_never_reach_sent(client, control, receiver):
    control.set_faults(failed_rate=1.0)
    message = send(client, status_callback=receiver.url("/twilio/status"))
    [hook] = receiver.wait_for(1, "/twilio/status")
    assert hook.form["MessageStatus"] == "failed" and hook.form["ErrorCode"] == "30008"
    wait_until(lambda: client.messages(message.sid).fetch().status == "failed")


def test_duplicate_status_callbacks_keep_the_message_sid_and_order(client, control, receiver):
    control.set_faults(duplicate_webhook_rate=1.0)
    message = send(client, status_callback=receiver.url("/twilio/status"))
    hooks = receiver.wait_for(4, "/twilio/status")
    assert [hook.form["MessageStatus"] for hook in hooks] == ["sent", "sent", "delivered", "delivered"]
    assert {hook.form["MessageSid"] for hook in hooks} == {message.sid}
    assert hooks[0].headers["I-Twilio-Idempotency-Token"] == hooks[1].headers["I-Twilio-Idempotency-Token"]


def test_duplicate_inbound_webhook_has_the_same_message_sid(control, receiver):
    control.set_faults(duplicate_webhook_rate=1.0)
    control.send_from_phone(VOLUNTEER, "Y27", wait=True)
    hooks = receiver.wait_for(2, "/twilio/sms")
    assert len({hook.form["MessageSid"] for hook in hooks}) == 1
    assert len(control.conversation(VOLUNTEER)) == 1  # one text, delivered twice
    assert control.stats()["dispatcher"]["webhook_duplicates"] == 1


def outcomes(client, count: int) -> list[int]:
    result = []
    for _ in range(count):
        try:
            send(client)
            result.append(201)
        except TwilioRestException as error:
            result.append(error.status)
    return result


def test_a_seed_makes_faults_reproducible(client, control):
    control.set_faults(throttle_rate=0.3, server_error_rate=0.2, seed=1234)
    first = outcomes(client, 40)
    control.set_faults(seed=1234)
    assert outcomes(client, 40) == first
    assert 201 in first and 429 in first and ({500, 503} & set(first))


def test_faults_from_the_constructor_survive_a_reset(make_sim):
    from mobilize.sms.simulator.control import SimulatorControl
    from mobilize.sms.twilio_client import make_twilio_client
    from sim_support import ACCOUNT_SID, AUTH_TOKEN

    server = make_sim(faults=FaultConfig(throttle_rate=1.0, seed=1))
    client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, server.url)
    control = SimulatorControl(server.url)
    with pytest.raises(TwilioRestException):
        send(client)
    control.clear_faults()
    send(client)
    control.reset()
    assert control.faults()["throttle_rate"] == 1.0
    assert control.messages() == []


@pytest.mark.parametrize("bad", [{"throttle_rate": 2}, {"latency_ms": "-5"}, {"latency_ms": [9, 1]},
                                 {"no_such_fault": 0.1}, {"seed": "abc"}])
def test_bad_fault_settings_are_refused(control, bad):
    with pytest.raises(SimulatorControlError) as raised:
        control.set_faults(**bad)
    assert raised.value.status == 400
