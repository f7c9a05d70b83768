"""The Twilio webhooks: signatures checked against PUBLIC_BASE_URL + path, inbound stored once and queued."""
from __future__ import annotations


import pytest
from rq import SimpleWorker
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from mobilize.app import create_app
from mobilize.models import InboundMessage, OutboundMessage, OutboundStatus, Priority
from mobilize.runtime import Runtime
from mobilize.sms import outbox
from tests import factories
from tests.conftest import make_settings
from workers.context import set_runtime
from workers.queues import all_queues, queue_sizes

TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://mobilize.example.org"


@pytest.fixture
def runtime(tmp_path, database_url, redis_url, redis_client):
    rt = Runtime(make_settings(tmp_path, database_url, redis_url, twilio_auth_token=TOKEN,
                               twilio_account_sid="AC" + "0" * 32, public_base_url=PUBLIC))
    set_runtime(rt)
    yield rt
    set_runtime(None)
    rt.close()


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def inbound_form(sid: str = "SM" + "a" * 32, sender: str = "+8613900000001", body: str = "Y27") -> dict:
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender,
            "To": "+8610690000", "Body": body, "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01"}


def signed_post(client, path: str, form: dict, url: str | None = None, signature: str | None = None):
    signature = signature if signature is not None else RequestValidator(TOKEN).compute_signature(
        url or PUBLIC + path, form)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = client.post(path, data=form, headers=headers)
    # the webhook answers before the inbox drain's kick is made (jobs.BackgroundKick): a test that looks at the
    # queue next waits for it, as a moment passing would
    kick = client.application.extensions.get("mobilize.inbox_kick")
    if kick is not None:
        assert kick.wait_covered(10), "no inbox kick within 10 s of the message"
    return response


def count(runtime, model) -> int:
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_valid_signature_stores_and_queues_once(client, runtime, redis_client):
    response = signed_post(client, "/twilio/sms", inbound_form())
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.get_data(as_text=True).endswith("<Response />")
    assert count(runtime, InboundMessage) == 1
    assert queue_sizes(redis_client)["high"] == 1
    # Twilio's retry of the same message: same answer, nothing new stored or queued
    again = signed_post(client, "/twilio/sms", inbound_form())
    assert again.status_code == 200 and again.get_data() == response.get_data()
    assert count(runtime, InboundMessage) == 1
    assert queue_sizes(redis_client)["high"] == 1


@pytest.mark.parametrize("case", ["missing", "invalid", "wrong_url", "other_token", "tampered_body"])
def test_bad_signatures_get_403_and_store_nothing(client, runtime, redis_client, case):
    form = inbound_form()
    if case == "missing":
        response = signed_post(client, "/twilio/sms", form, signature="")
    elif case == "invalid":
        response = signed_post(client, "/twilio/sms", form, signature="bm90IGEgc2lnbmF0dXJl")
    elif case == "wrong_url":
        response = signed_post(client, "/twilio/sms", form, url="https://evil.example.org/twilio/sms")
    elif case == "other_token":
        response = signed_post(client, "/twilio/sms", form,
                               signature=RequestValidator("other").compute_signature(PUBLIC + "/twilio/sms", form))
    else:
        signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/sms", form)
        response = client.post("/twilio/sms", data={**form, "Body": "N27"},
                               headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert count(runtime, InboundMessage) == 0
    assert queue_sizes(redis_client)["high"] == 0


def test_behind_a_proxy_the_public_url_is_what_counts(client, runtime):
    # The proxy forwards to http://127.0.0.1/... but Twilio signed https://mobilize.example.org/...
    form = inbound_form()
    ok = client.post("/twilio/sms", data=form, base_url="http://127.0.0.1:8000",
                     headers={"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
                         PUBLIC + "/twilio/sms", form)})
    assert ok.status_code == 200
    internal = client.post("/twilio/sms", data=inbound_form(sid="SM" + "b" * 32), base_url="http://127.0.0.1:8000",
                           headers={"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
                               "http://127.0.0.1:8000/twilio/sms", inbound_form(sid="SM" + "b" * 32))})
    assert internal.status_code == 403


def test_inbound_is_stored_even_when_redis_is_down(tmp_path, database_url):
    rt = Runtime(make_settings(tmp_path, database_url, "redis://127.0.0.1:1/0", twilio_auth_token=TOKEN,
                               public_base_url=PUBLIC))
    client = create_app(runtime=rt).test_client()
    response = signed_post(client, "/twilio/sms", inbound_form())
    assert response.status_code == 200
    assert count(rt, InboundMessage) == 1
    rt.close()


def status_form(sid: str, status: str, error_code: str | None = None) -> dict:
    form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
            "AccountSid": "AC" + "0" * 32, "From": "+8610690000", "To": "+8613900000001", "ApiVersion": "2010-04-01"}
    if error_code:
        form["ErrorCode"] = error_code
    return form


def test_status_callbacks_are_idempotent_and_never_go_backwards(client, runtime):
    with runtime.transaction() as session:
        volunteer = factories.volunteer(session)
        message = outbox.queue_message(session, body="hi", kind="notice", priority=Priority.high,
                                       volunteer=volunteer)
        claimed = outbox.claim_batch(session, Priority.high, 10)
        outbox.record_accepted(session, claimed[0].id, "SM" + "c" * 32, "queued")
    path = f"/twilio/status?mid={message.id}"
    for status in ("sent", "delivered", "sent", "delivered", "queued"):
        assert signed_post(client, path, status_form("SM" + "c" * 32, status)).status_code == 204
    with runtime.transaction() as session:
        assert session.get(OutboundMessage, message.id).status is OutboundStatus.delivered
    bad = signed_post(client, path, status_form("SM" + "c" * 32, "failed"), url=PUBLIC + "/twilio/status")
    assert bad.status_code == 403  # the query string is part of what Twilio signs


def test_undelivered_to_a_landline_flags_the_number(client, runtime):
    with runtime.transaction() as session:
        volunteer = factories.volunteer(session)
        message = outbox.queue_message(session, body="hi", kind="notice", priority=Priority.high,
                                       volunteer=volunteer)
        outbox.claim_batch(session, Priority.high, 10)
        outbox.record_accepted(session, message.id, "SM" + "d" * 32, "queued")
    signed_post(client, f"/twilio/status?mid={message.id}", status_form("SM" + "d" * 32, "undelivered", "30006"))
    with runtime.transaction() as session:
        stored = session.get(OutboundMessage, message.id)
        assert stored.status is OutboundStatus.undelivered and stored.error_code == 30006
        assert stored.volunteer.phone_invalid


def test_processing_is_exactly_once(client, runtime, redis_client):
    with runtime.transaction() as session:
        factories.volunteer(session, phone="+8613900000001")
    signed_post(client, "/twilio/sms", inbound_form(body="退订"))
    from workers.sms import process_inbound, requeue_unprocessed

    with runtime.transaction() as session:
        inbound_id = session.scalar(select(InboundMessage.id))
    # the job queued by the webhook, plus two duplicates as after a restart
    assert process_inbound(inbound_id) == "opted_out"
    assert process_inbound(inbound_id) == "already_processed"
    assert requeue_unprocessed(older_than_s=0) == 0
    SimpleWorker(all_queues(redis_client), connection=redis_client).work(burst=True)
    with runtime.transaction() as session:
        confirmations = session.scalars(select(OutboundMessage).where(OutboundMessage.kind == "opt_out_confirm")).all()
    assert len(confirmations) == 1
