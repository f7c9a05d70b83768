"""At most once to the gateway under faults (issue 12): overlapping reconcilers, a reconciler holding an old claim,
uncertain sends (the gateway answered too late) resolved by asking the gateway, a dead sender's lease running
out. The real `twilio` client against the simulator over HTTP, a real Redis, SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests

from mobilize.models import OutboundMessage, OutboundStatus, Priority
from mobilize.models._types import utcnow
from mobilize.sms import gateway as gateway_module
from mobilize.sms import outbox
from mobilize.sms.gateway import not_sent
from tests import factories
from tests.stack import start_stack, wait_until
from workers import sms as sms_jobs
from workers.periodic import LOCK_KEY
from mobilize.jobs import KICK_GRACE_S, KICK_GUARD_S, KICK_KEY, kick_senders
from rq import Queue

BODY = "请于明天8点到太平角检测点报到"


@pytest.fixture
def stack(tmp_path, database_url, redis_url, redis_client):
    live = start_stack(tmp_path / "instance", database_url, redis_url)
    yield live
    live.close()


def queue(stack, count: int = 1, body: str = BODY) -> list[int]:
    with stack.runtime.transaction() as session:
        return [outbox.queue_message(session, body=body, kind="notice", priority=Priority.high,
                                     volunteer=factories.volunteer(session)).id for _ in range(count)]


def claim(stack) -> list[outbox.Claimed]:
    with stack.runtime.transaction() as session:
        return outbox.claim_batch(session, Priority.high, 10)


def row(stack, message_id: int) -> OutboundMessage:
    with stack.runtime.transaction() as session:
        message = session.get(OutboundMessage, message_id)
        session.expunge(message)
        return message


def sent(stack) -> list[dict]:
    return stack.control.messages(direction="outbound-api")


# -- reconcilers -------------------------------------------------------------------------------------------------

def test_a_reconciler_overlapping_a_running_one_skips(stack):
    queue(stack)
    claim(stack)  # the sender dies holding it
    stack.control.set_faults(latency_ms=1500)  # the first run's gateway lookup is slow
    first: dict = {}
    runner = threading.Thread(target=lambda: first.update(sms_jobs.reconcile_outbox(stale_after_s=0)))
    runner.start()
    wait_until(lambda: stack.runtime.redis.exists(LOCK_KEY.format(name="sms.reconcile_outbox")),
               message="the first run holds the lock")
    second = sms_jobs.reconcile_outbox(stale_after_s=0)
    runner.join(10)
    assert second == {"recovered": 0, "released": 0, "kicked": [], "skipped": True}
    assert first["released"] == 1 and "skipped" not in first
    assert not stack.runtime.redis.exists(LOCK_KEY.format(name="sms.reconcile_outbox"))  # released at the end
    stack.control.clear_faults()
    stack.run_jobs()
    assert len(sent(stack)) == 1


def test_a_reconciler_holding_an_old_claim_never_releases_a_row_a_sender_claimed_again(stack, monkeypatch):
    [message_id] = queue(stack)
    [old] = claim(stack)
    reclaimed = []

    def lookup_while_others_work(to, body, since, until=None, taken=None):
        # meanwhile, another reconciler released the row and a sender claimed it again
        with stack.runtime.transaction() as session:
            assert outbox.release(session, [old]) == 1
        reclaimed.extend(claim(stack))
        return None

    monkeypatch.setattr(sms_jobs.gateway(), "find_accepted", lookup_while_others_work)
    result = sms_jobs.reconcile_outbox(stale_after_s=0)
    assert result["released"] == 0 and result["recovered"] == 0
    [new] = reclaimed
    message = row(stack, message_id)
    assert message.status is OutboundStatus.sending and message.claimed_at == new.claimed_at != old.claimed_at
    with stack.runtime.transaction() as session:
        assert outbox.release(session, [old]) == 0  # the old claim can do nothing
        assert not outbox.record_found(session, old, "SM" + "0" * 32, "queued")
        assert outbox.release(session, [new]) == 1  # the holder can


def test_the_senders_heartbeat_renews_its_claims_and_old_tokens_stop_working(stack):
    [message_id] = queue(stack)
    [claimed] = claim(stack)
    later = claimed.claimed_at + timedelta(seconds=25)
    with stack.runtime.transaction() as session:
        held = outbox.renew(session, {message_id: claimed.claimed_at}, now=later)
    assert held == {message_id: later}
    with stack.runtime.transaction() as session:
        assert outbox.renew(session, {message_id: claimed.claimed_at}, now=later + timedelta(seconds=10)) == {}
        # the lease counts from the renewal: not stale 31 s after the claim, stale 31 s after the renewal
        assert outbox.stale_sending(session, now=claimed.claimed_at + timedelta(seconds=31)) == []
        [stale] = outbox.stale_sending(session, now=later + timedelta(seconds=31))
        assert stale.claimed_at == later
        assert outbox.release(session, [claimed]) == 0 and outbox.release(session, [stale]) == 1


def test_a_sender_renews_its_claims_while_it_works(stack, monkeypatch):
    monkeypatch.setattr(sms_jobs, "RENEW_EVERY_S", 0.0)
    renewals = []
    real_renew = outbox.renew

    def renew(session, claims, now=None):
        held = real_renew(session, claims, now)
        renewals.append((dict(claims), held))
        return held

    monkeypatch.setattr(outbox, "renew", renew)
    ids = queue(stack, 4)
    stack.control.set_faults(latency_ms=150)
    assert sms_jobs.send_pending("high")["sent"] == 4
    stack.control.clear_faults()
    # renewed while the requests were in flight (a renewal racing the record of the last results finds them
    # no longer `sending`: they are done, not lost)
    assert any(held and set(held) == set(claims) for claims, held in renewals)
    assert {message_id for claims, _ in renewals for message_id in claims} <= set(ids)
    assert len(sent(stack)) == 4 and all(row(stack, message_id).twilio_sid for message_id in ids)


# -- a dead sender's lease --------------------------------------------------------------------------------------

def test_a_killed_senders_claim_expires_and_the_row_goes_out_within_the_lease(stack):
    [message_id] = queue(stack)
    [claimed] = claim(stack)  # kill -9 here: nobody renews the claim
    assert outbox.LEASE_S <= 30
    alive = sms_jobs.reconcile_outbox(now=claimed.claimed_at + timedelta(seconds=outbox.LEASE_S - 5))
    assert alive["released"] == 0 and row(stack, message_id).status is OutboundStatus.sending
    expired = sms_jobs.reconcile_outbox(now=claimed.claimed_at + timedelta(seconds=outbox.LEASE_S + 1))
    assert expired["released"] == 1 and expired["kicked"] == ["high"]
    stack.run_jobs()
    assert len(sent(stack)) == 1
    assert row(stack, message_id).twilio_sid == sent(stack)[0]["sid"]


def test_a_send_job_lost_with_redis_is_replaced_by_the_next_reconcile_not_after_its_guard_expires(stack):
    """Redis back from its append-only file without the queued sender job, but with the kick guard naming it
    (chaos trial 27: 34 s without a send). Kicks are blocked by the guard; the reconcile replaces it."""
    [message_id] = queue(stack)
    redis = stack.runtime.redis
    high = Queue("high", connection=redis)
    high.empty()  # the job is gone...
    key = KICK_KEY.format(priority="high")
    redis.set(key, "send-high-lost", ex=KICK_GUARD_S - KICK_GRACE_S - 1)  # ...its guard is not (and is old enough)
    kick_senders(redis, [Priority.high])
    assert high.count == 0  # an ordinary kick respects the guard
    result = sms_jobs.reconcile_outbox()
    assert result["kicked"] == ["high"] and high.count == 1
    assert redis.get(key).decode() == high.job_ids[0]  # the new guard names the new job
    stack.run_jobs()
    assert row(stack, message_id).status is not OutboundStatus.pending and len(sent(stack)) == 1


def test_a_fresh_or_live_kick_guard_is_left_alone_by_the_reconcile(stack):
    queue(stack)
    redis = stack.runtime.redis
    high = Queue("high", connection=redis)
    key = KICK_KEY.format(priority="high")
    assert high.count == 1 and redis.get(key).decode() == high.job_ids[0]  # the commit kicked a sender
    sms_jobs.reconcile_outbox()
    assert high.count == 1  # its job waits: no second sender
    high.empty()
    redis.set(key, "send-high-just-set", ex=KICK_GUARD_S)  # a kicker between setting the guard and enqueueing
    sms_jobs.reconcile_outbox()
    assert high.count == 0 and redis.get(key) == b"send-high-just-set"


def test_a_dead_senders_message_the_gateway_took_is_recorded_after_the_lease_not_sent_again(stack):
    [message_id] = queue(stack)
    [claimed] = claim(stack)
    accepted = sms_jobs.gateway().send(claimed.to_phone, claimed.body)  # accepted, then the sender dies
    result = sms_jobs.reconcile_outbox(now=utcnow() + timedelta(seconds=outbox.LEASE_S + 1))
    assert result["recovered"] == 1 and result["released"] == 0
    stack.run_jobs()
    assert len(sent(stack)) == 1 and row(stack, message_id).twilio_sid == accepted.sid


# -- uncertain sends ------------------------------------------------------------------------------------------

def test_a_send_answered_after_the_clients_timeout_is_found_at_the_gateway_not_sent_again(stack, monkeypatch):
    monkeypatch.setattr(gateway_module, "CLIENT_TIMEOUT_S", 0.5)
    [message_id] = queue(stack)
    stack.control.set_faults(accept_latency_ms=1500)  # accepted at once, answered after the client gave up
    result = sms_jobs.send_pending("high")
    stack.control.clear_faults()
    assert result["sent"] == 1
    [gateway_message] = sent(stack)
    message = row(stack, message_id)
    assert message.twilio_sid == gateway_message["sid"] and message.status is not OutboundStatus.pending
    stack.run_jobs()
    assert len(sent(stack)) == 1


def test_an_uncertain_send_not_found_yet_is_looked_up_again_before_any_retry(stack, monkeypatch):
    monkeypatch.setattr(gateway_module, "CLIENT_TIMEOUT_S", 0.5)
    [message_id] = queue(stack)
    stack.control.set_faults(latency_ms=1500)  # the request lands after the client gave up (and so the lookup)
    with pytest.raises(sms_jobs.GatewayUnavailable):
        sms_jobs.send_pending("high")
    message = row(stack, message_id)
    assert message.status is OutboundStatus.pending and message.error_message.startswith(outbox.UNCERTAIN)
    assert message.not_before >= utcnow() + timedelta(seconds=outbox.UNCERTAIN_BACKOFF_S - 5)
    wait_until(lambda: len(sent(stack)) == 1, message="the late request created the message")
    stack.control.clear_faults()
    with stack.runtime.transaction() as session:
        session.get(OutboundMessage, message_id).not_before = None  # skip the backoff wait
    sms_jobs.send_pending("high")  # the retry asks the gateway first (unless the status callback already told)
    [gateway_message] = sent(stack)
    assert row(stack, message_id).twilio_sid == gateway_message["sid"]


@pytest.mark.parametrize("gateway_got_it", [True, False])
def test_the_retry_of_an_uncertain_send_asks_the_gateway_first(stack, gateway_got_it):
    [message_id] = queue(stack)
    with stack.runtime.transaction() as session:
        [claimed] = outbox.claim_batch(session, Priority.high, 10)
    if gateway_got_it:  # no status callback: only the lookup can tell
        accepted = sms_jobs.gateway().send(claimed.to_phone, claimed.body)
    with stack.runtime.transaction() as session:
        outbox.record_retryable_failure(session, claimed, None, outbox.UNCERTAIN + "read timed out",
                                        min_backoff_s=outbox.UNCERTAIN_BACKOFF_S)
        session.get(OutboundMessage, message_id).not_before = None  # skip the backoff wait
    assert sms_jobs.send_pending("high")["sent"] == 1
    [gateway_message] = sent(stack)
    assert row(stack, message_id).twilio_sid == gateway_message["sid"]
    if gateway_got_it:
        assert gateway_message["sid"] == accepted.sid


def test_an_uncertain_row_whose_lookup_fails_stays_uncertain(stack):
    [message_id] = queue(stack)
    with stack.runtime.transaction() as session:
        [claimed] = outbox.claim_batch(session, Priority.high, 10)
        outbox.record_retryable_failure(session, claimed, None, outbox.UNCERTAIN + "read timed out")
        session.get(OutboundMessage, message_id).not_before = None
    stack.control.set_faults(server_error_rate=1.0)  # the lookup gets a 5xx
    with pytest.raises(sms_jobs.GatewayUnavailable):
        sms_jobs.send_pending("high")
    stack.control.clear_faults()
    message = row(stack, message_id)
    assert message.status is OutboundStatus.pending and message.error_message.startswith(outbox.UNCERTAIN)
    assert sent(stack) == []


def test_a_lookup_never_takes_the_message_another_row_of_ours_already_has(stack):
    """The same text twice to one number: the second row's lookup must not take the first row's message."""
    with stack.runtime.transaction() as session:
        volunteer = factories.volunteer(session)
        ids = [outbox.queue_message(session, body=BODY, kind="notice", priority=Priority.high,
                                    volunteer=volunteer).id for _ in range(2)]
    with stack.runtime.transaction() as session:
        first, second = outbox.claim_batch(session, Priority.high, 10)
    accepted = sms_jobs.gateway().send(first.to_phone, first.body)  # the first went out and was recorded
    with stack.runtime.transaction() as session:
        outbox.record_accepted(session, first.id, accepted.sid, accepted.status)
        outbox.record_retryable_failure(session, second, None, outbox.UNCERTAIN + "read timed out")
        session.get(OutboundMessage, second.id).not_before = None
    assert sms_jobs.send_pending("high")["sent"] == 1  # looked up, not found (the one there is the first's)
    assert len(sent(stack)) == 2
    assert {row(stack, message_id).twilio_sid for message_id in ids} == {m["sid"] for m in sent(stack)}


def test_which_connection_errors_may_have_reached_the_gateway():
    assert not_sent(requests.ConnectTimeout("connect timed out"))
    assert not not_sent(requests.ReadTimeout("read timed out"))
    assert not not_sent(requests.ConnectionError(ConnectionResetError("reset by peer")))
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    refused = MaxRetryError(None, "/", reason=NewConnectionError(None, "refused"))
    assert not_sent(requests.ConnectionError(refused))


# -- the simulator's list, as Twilio's ----------------------------------------------------------------------

def test_the_simulator_lists_by_to_and_date_sent_through_the_real_twilio_client(stack):
    sms = sms_jobs.gateway()
    first = sms.send("+8613800000001", "one")
    second = sms.send("+8613800000001", "two")
    sms.send("+8613800000002", "three")
    client = sms.client
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    listed = client.messages.list(to="+8613800000001", date_sent=today)
    assert [message.sid for message in listed] == [second.sid, first.sid]  # newest first
    assert client.messages.list(to="+8613800000001", date_sent=today - timedelta(days=1)) == []
    assert len(client.messages.list(to="+8613800000001", date_sent_after=today - timedelta(days=1))) == 2
    assert client.messages.list(to="+8613800000001", date_sent_before=today - timedelta(days=1)) == []
    paged = client.messages.list(to="+8613800000001", date_sent=today, page_size=1)  # follows next_page_uri
    assert [message.sid for message in paged] == [second.sid, first.sid]
    page = client.messages.page(to="+8613800000001", date_sent=today, page_size=1)
    assert page.next_page_url is not None and "DateSent=" in page.next_page_url and "To=" in page.next_page_url
    found = sms.find_accepted("+8613800000001", "one", utcnow() - timedelta(minutes=1))
    assert found is not None and found.sid == first.sid
    assert sms.find_accepted("+8613800000002", "one", utcnow() - timedelta(minutes=1)) is None
    assert sms.find_accepted("+8613800000001", "one", utcnow() + timedelta(minutes=1)) is None
