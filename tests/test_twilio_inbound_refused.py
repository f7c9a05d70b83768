"""The inbound webhook refuses, after the signature check, what could never be processed (issue 12): an empty,
missing or malformed From gets a clear 400 and nothing is stored or queued; a bad signature still gets 403."""
from __future__ import annotations

import pytest

from mobilize.app import create_app
from mobilize.models import InboundMessage
from mobilize.runtime import Runtime
from tests.conftest import make_settings
from tests.test_twilio_webhooks import PUBLIC, TOKEN, count, inbound_form, signed_post
from workers.queues import queue_sizes


@pytest.fixture
def runtime(tmp_path, database_url, redis_url, redis_client):
    rt = Runtime(make_settings(tmp_path, database_url, redis_url, twilio_auth_token=TOKEN,
                               twilio_account_sid="AC" + "0" * 32, public_base_url=PUBLIC))
    yield rt
    rt.close()


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


@pytest.mark.parametrize("sender", ["", "   ", "abc", "13900000001", "+0139", "whatsapp:+8613900000001",
                                    "+86139000000011234567890"])
def test_a_bad_from_gets_400_and_stores_nothing(client, runtime, redis_client, sender):
    response = signed_post(client, "/twilio/sms", inbound_form(sender=sender))
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "From" in text and ("empty" in text if not sender else "E.164" in text)
    assert count(runtime, InboundMessage) == 0
    assert queue_sizes(redis_client)["high"] == 0


def test_a_missing_from_gets_400(client, runtime, redis_client):
    form = inbound_form()
    del form["From"]
    response = signed_post(client, "/twilio/sms", form)
    assert response.status_code == 400 and "From is empty" in response.get_data(as_text=True)
    assert count(runtime, InboundMessage) == 0 and queue_sizes(redis_client)["high"] == 0


def test_a_bad_signature_with_an_empty_from_is_403_first(client, runtime, redis_client):
    response = signed_post(client, "/twilio/sms", inbound_form(sender=""), signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    assert count(runtime, InboundMessage) == 0 and queue_sizes(redis_client)["high"] == 0


def test_a_good_from_is_still_stored_and_queued(client, runtime, redis_client):
    response = signed_post(client, "/twilio/sms", inbound_form(sender="+14155552345"))
    assert response.status_code == 200
    assert count(runtime, InboundMessage) == 1 and queue_sizes(redis_client)["high"] == 1


@pytest.mark.parametrize("accept", [None, "text/html,application/xhtml+xml,*/*;q=0.8"])
@pytest.mark.parametrize("path, status", [("/twilio/sms", 405), ("/twilio/status", 405), ("/twilio/voice", 404)])
def test_a_webhook_url_opened_in_a_browser_gets_its_http_error_not_a_500(client, runtime, path, status, accept):
    """Someone checking the webhook URL opens it (GET), with or without a browser's Accept: the webhooks have no
    session (see web.NoSessionForWebhooks), so the UI's error page, which puts a CSRF token in the session,
    raised there and the answer was a 500 with a traceback in the log. Now the plain HTTP error."""
    response = client.get(path, headers={"Accept": accept} if accept else {})
    assert response.status_code == status
    if status == 405:
        assert "POST" in response.headers["Allow"]
    assert count(runtime, InboundMessage) == 0
