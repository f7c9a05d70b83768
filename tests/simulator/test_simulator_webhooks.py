"""Status callbacks and inbound webhooks: Twilio's fields, in order, signed so that RequestValidator accepts
them; TwiML replies; carrier opt-out keywords."""
from __future__ import annotations

import json

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from sim_support import ACCOUNT_SID, AUTH_TOKEN, SERVICE_NUMBER, wait_until

VOLUNTEER = "+8613900139000"
validator = RequestValidator(AUTH_TOKEN)


def assert_signed(hook) -> None:
    signature = hook.headers["X-Twilio-Signature"]
    assert validator.validate(hook.url, hook.form, signature), hook
    assert not RequestValidator("another-token").validate(hook.url, hook.form, signature)


def test_status_callbacks_arrive_in_order_and_are_signed(client, receiver, message_validator):
    callback = receiver.url("/twilio/status?batch=7")
    sids = [client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body=f"第{index}条",
                                   status_callback=callback).sid for index in range(5)]
    hooks = receiver.wait_for(10, "/twilio/status")
    for sid in sids:
        mine = [hook for hook in hooks if hook.form["MessageSid"] == sid]
        assert [hook.form["MessageStatus"] for hook in mine] == ["sent", "delivered"]
        for hook in mine:
            assert_signed(hook)
            assert hook.form["SmsSid"] == sid and hook.form["SmsStatus"] == hook.form["MessageStatus"]
            assert hook.form["AccountSid"] == ACCOUNT_SID
            assert hook.form["From"] == SERVICE_NUMBER and hook.form["To"] == VOLUNTEER
            assert hook.form["ApiVersion"] == "2010-04-01"
            assert "ErrorCode" not in hook.form
            assert hook.headers["I-Twilio-Idempotency-Token"]
            assert hook.url.endswith("/twilio/status?batch=7")  # the query string is part of what is signed
    assert client.messages(sids[0]).fetch().status == "delivered"


def test_status_callback_is_retried_after_a_5xx(client, receiver):
    answers = iter([(503, "busy", "text/plain"), (500, "oops", "text/plain")])
    receiver.handlers["/twilio/status"] = lambda hook: next(answers, (204, "", "text/plain"))
    message = client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="hi",
                                     status_callback=receiver.url("/twilio/status"))
    hooks = receiver.wait_for(4, "/twilio/status")
    assert [hook.form["MessageStatus"] for hook in hooks] == ["sent", "sent", "sent", "delivered"]
    assert {hook.form["MessageSid"] for hook in hooks} == {message.sid}
    assert len({hook.headers["X-Twilio-Signature"] for hook in hooks[:3]}) == 1


def test_inbound_text_is_forwarded_signed_with_twilio_fields(client, control, receiver, message_validator):
    result = control.send_from_phone(VOLUNTEER, "是 27", wait=True)
    assert result["webhook"]["status"] == 204
    [hook] = receiver.received("/twilio/sms")
    assert_signed(hook)
    form = hook.form
    sid = result["message"]["sid"]
    assert form["MessageSid"] == form["SmsSid"] == form["SmsMessageSid"] == sid and sid.startswith("SM")
    assert form["From"] == VOLUNTEER and form["To"] == SERVICE_NUMBER and form["Body"] == "是 27"
    assert form["AccountSid"] == ACCOUNT_SID and form["ApiVersion"] == "2010-04-01"
    assert form["NumMedia"] == "0" and form["NumSegments"] == "1" and form["SmsStatus"] == "received"
    assert form["FromCountry"] == "CN"
    assert "MessagingServiceSid" not in form

    conversation = control.conversation(VOLUNTEER)
    assert [(m["direction"], m["body"], m["status"]) for m in conversation] == \
        [("inbound", "是 27", "received")]
    inbound = client.messages(sid).fetch()  # the REST API knows inbound messages too
    assert (inbound.direction, inbound.status, inbound.from_) == ("inbound", "received", VOLUNTEER)
    raw = client.http_client._test_only_last_response.text
    message_validator.validate(json.loads(raw))


def test_inbound_reply_goes_to_the_number_that_texted_the_phone(client, control, receiver):
    service_sid = "MG" + "cd" * 16
    client.messages.create(to=VOLUNTEER, messaging_service_sid=service_sid, body="招募 #5")
    wait_until(lambda: client.messages.list(to=VOLUNTEER)[0].status == "delivered")
    control.send_from_phone(VOLUNTEER, "Y5", wait=True)
    [hook] = receiver.received("/twilio/sms")
    assert hook.form["To"] == SERVICE_NUMBER
    assert hook.form["MessagingServiceSid"] == service_sid


def test_twiml_reply_is_recorded_as_a_message_to_the_phone(control, receiver):
    receiver.handlers["/twilio/sms"] = lambda hook: (
        200, '<?xml version="1.0" encoding="UTF-8"?><Response><Message>已收到：您报名了 #27 🙏</Message></Response>',
        "text/xml")
    result = control.send_from_phone(VOLUNTEER, "Y27", wait=True)
    [reply] = result["webhook"]["replies"]
    assert reply["body"] == "已收到：您报名了 #27 🙏"
    assert reply["direction"] == "outbound-reply" and reply["origin"] == "twiml"
    assert reply["to"] == VOLUNTEER and reply["from"] == SERVICE_NUMBER
    messages = wait_until(lambda: (lambda c: c if c[-1]["status"] == "delivered" else None)(
        control.conversation(VOLUNTEER)))
    assert [(m["direction"], m["body"]) for m in messages] == [("inbound", "Y27"),
                                                                ("outbound-reply", "已收到：您报名了 #27 🙏")]


def test_empty_twiml_and_bad_xml_produce_no_reply(control, receiver):
    answers = iter([(200, "<Response/>", "text/xml"), (200, "not xml at all", "text/html")])
    receiver.handlers["/twilio/sms"] = lambda hook: next(answers)
    assert control.send_from_phone(VOLUNTEER, "hello", wait=True)["webhook"]["replies"] == []
    assert control.send_from_phone(VOLUNTEER, "again", wait=True)["webhook"]["replies"] == []
    assert control.stats()["counters"]["twiml_errors"] == 1
    assert [m["direction"] for m in control.conversation(VOLUNTEER)] == ["inbound", "inbound"]


@pytest.mark.parametrize("keyword", ["STOP", "stop", " Unsubscribe ", "CANCEL", "END", "QUIT", "STOPALL"])
def test_stop_keywords_opt_the_phone_out(client, control, receiver, keyword):
    client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="hello #1")
    control.send_from_phone(VOLUNTEER, keyword, wait=True)
    [hook] = receiver.received("/twilio/sms")  # still forwarded to the service, as Twilio does
    assert hook.form["Body"] == keyword
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="are you there?")
    assert raised.value.code == 21610
    phone = control.phone(VOLUNTEER)["phone"]
    assert phone["opted_out"] is True


def test_start_opts_back_in_and_carrier_replies_are_recorded(client, control):
    control.send_from_phone(VOLUNTEER, "STOP", wait=True)
    with pytest.raises(TwilioRestException):
        client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="x")
    control.send_from_phone(VOLUNTEER, "START", wait=True)
    client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="welcome back")
    carrier = [m["body"] for m in control.conversation(VOLUNTEER) if m["origin"] == "carrier"]
    assert len(carrier) == 2
    assert "unsubscribed" in carrier[0] and "re-subscribed" in carrier[1]


def test_twiml_reply_to_an_opted_out_phone_fails_with_21610(control, receiver):
    receiver.handlers["/twilio/sms"] = lambda hook: (200, "<Response><Message>bye</Message></Response>",
                                                     "text/xml")
    result = control.send_from_phone(VOLUNTEER, "STOP", wait=True)
    [reply] = result["webhook"]["replies"]
    assert reply["status"] == "failed" and reply["error_code"] == 21610


def test_chinese_opt_out_is_left_to_the_service(client, control):
    """退订 is not a carrier keyword: Twilio forwards it and keeps sending; the service must honour it."""
    control.send_from_phone(VOLUNTEER, "退订", wait=True)
    client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="still reachable")
    assert control.phone(VOLUNTEER)["phone"]["opted_out"] is False


def test_no_webhook_url_keeps_texts_in_the_simulator(make_sim):
    from mobilize.sms.simulator.control import SimulatorControl

    server = make_sim(webhook_url=None)
    control = SimulatorControl(server.url)
    result = control.send_from_phone(VOLUNTEER, "hello", wait=True)
    assert result["webhook"] is None
    assert control.conversation(VOLUNTEER)[0]["body"] == "hello"
    control.set_webhook_url("http://127.0.0.1:9/nowhere")
    assert control.health()["webhook_url"] == "http://127.0.0.1:9/nowhere"
