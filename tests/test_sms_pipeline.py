"""The SMS pipeline end to end: the outbox, the real `twilio` client, the simulator over HTTP, status callbacks
into the app, a real Redis and real worker processes."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, insert, select

from mobilize.models import InboundMessage, OutboundMessage, OutboundStatus, Priority, Volunteer
from mobilize.sms import outbox
from tests import factories
from tests.stack import start_stack, wait_until
from workers import sms as sms_jobs

BODY = "请于明天8点到太平角检测点报到"  # one UCS-2 segment


@pytest.fixture
def stack(tmp_path, database_url, redis_url, redis_client):
    live = start_stack(tmp_path / "instance", database_url, redis_url)
    yield live
    live.close()


def queue(stack, count: int, priority=Priority.high, body: str = BODY, phones=None) -> list[int]:
    with stack.runtime.transaction() as session:
        ids = []
        for number in range(count):
            volunteer = factories.volunteer(session, phone=phones[number] if phones else None)
            message = outbox.queue_message(session, body=body, kind="notice", priority=priority,
                                           volunteer=volunteer)
            ids.append(message.id)
    return ids


def statuses(stack) -> dict[str, int]:
    with stack.runtime.transaction() as session:
        rows = session.execute(select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status))
        return {status.value: number for status, number in rows}


def test_messages_are_sent_once_and_delivery_comes_back(stack):
    ids = queue(stack, 30)
    stack.run_jobs()  # the commit kicked a sender job
    assert len(stack.control.messages(direction="outbound-api")) == 30
    wait_until(lambda: statuses(stack) == {"delivered": 30}, message="delivery callbacks")
    with stack.runtime.transaction() as session:
        sids = session.scalars(select(OutboundMessage.twilio_sid).where(OutboundMessage.id.in_(ids))).all()
    assert len(set(sids)) == 30 and all(sid.startswith("SM") for sid in sids)


def test_retry_with_backoff_after_429_never_sends_twice(stack):
    queue(stack, 10)
    stack.control.set_faults(throttle_rate=1.0)
    with pytest.raises(sms_jobs.GatewayUnavailable):
        sms_jobs.send_pending("high")
    with stack.runtime.transaction() as session:
        failed_once = session.scalar(select(OutboundMessage).where(OutboundMessage.error_code == 20429))
        assert failed_once.status is OutboundStatus.pending and failed_once.not_before is not None
        failed_once.not_before = None  # skip the backoff wait
    assert statuses(stack) == {"pending": 10}
    stack.control.clear_faults()
    sms_jobs.send_pending("high")
    sent = stack.control.messages(direction="outbound-api")
    assert len(sent) == 10 and len({m["to"] for m in sent}) == 10


def test_server_errors_are_retried_by_rq(stack):
    queue(stack, 5)
    stack.control.set_faults(server_error_rate=1.0)
    stack.run_jobs()  # the job fails and RQ schedules its retry
    stack.control.clear_faults()
    with stack.runtime.transaction() as session:
        session.execute(OutboundMessage.__table__.update().values(not_before=None))
    time.sleep(1.2)  # RQ's first retry interval
    from rq.scheduler import RQScheduler

    scheduler = RQScheduler(["high"], connection=stack.runtime.redis)
    scheduler.acquire_locks()
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    stack.run_jobs()
    assert len(stack.control.messages(direction="outbound-api")) == 5
    assert set(statuses(stack)) <= {"queued", "sent", "delivered"}


def test_a_message_twilio_accepted_before_the_sender_died_is_not_sent_again(stack):
    [message_id] = queue(stack, 1)
    with stack.runtime.transaction() as session:
        [claimed] = outbox.claim_batch(session, Priority.high, 10)
    sms_jobs.gateway().send(claimed.to_phone, claimed.body)  # accepted... and the worker dies here
    result = sms_jobs.reconcile_outbox(stale_after_s=0)
    assert result["recovered"] == 1 and result["released"] == 0
    stack.run_jobs()
    assert len(stack.control.messages(direction="outbound-api")) == 1
    with stack.runtime.transaction() as session:
        assert session.get(OutboundMessage, message_id).twilio_sid is not None


def test_a_claimed_message_twilio_never_got_is_sent_after_reconciling(stack):
    queue(stack, 1)
    with stack.runtime.transaction() as session:
        outbox.claim_batch(session, Priority.high, 10)  # the worker dies before sending
    assert sms_jobs.reconcile_outbox(stale_after_s=0)["released"] == 1
    stack.run_jobs()
    assert len(stack.control.messages(direction="outbound-api")) == 1


def test_21610_marks_the_volunteer_opted_out_and_cancels_the_rest(stack):
    phone = "+8613911112222"
    stack.control.register_phone(phone)
    stack.control.update_phone(phone, opted_out=True)  # STOP was sent to the carrier, not to us
    queue(stack, 1, phones=[phone])
    with stack.runtime.transaction() as session:
        volunteer = session.scalar(select(Volunteer).where(Volunteer.phone == phone))
        outbox.queue_message(session, body="second", kind="notice", priority=Priority.bulk, volunteer=volunteer)
    sms_jobs.send_pending("high")
    with stack.runtime.transaction() as session:
        volunteer = session.scalar(select(Volunteer).where(Volunteer.phone == phone))
        messages = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()
        assert volunteer.opted_out
        assert [(m.status, m.error_code) for m in messages] == [(OutboundStatus.failed, 21610),
                                                               (OutboundStatus.cancelled, None)]
        assert outbox.queue_message(session, body="x", kind="notice", priority=Priority.high,
                                    volunteer=volunteer) is None


def test_invalid_numbers_are_flagged(stack):
    with stack.runtime.transaction() as session:
        volunteer = factories.volunteer(session, phone="+8612345")
        outbox.queue_message(session, body="hi", kind="notice", priority=Priority.high, volunteer=volunteer)
    sms_jobs.send_pending("high")
    with stack.runtime.transaction() as session:
        assert session.scalar(select(Volunteer.phone_invalid).where(Volunteer.phone == "+8612345"))
        assert session.scalar(select(OutboundMessage.error_code)) == 21211


def test_a_phone_texting_help_gets_the_help_reply_and_stop_ends_everything(stack):
    phone = "+8613922223333"
    with stack.runtime.transaction() as session:
        factories.volunteer(session, phone=phone)
    stack.control.send_from_phone(phone, "帮助", wait=True)
    stack.run_jobs()
    wait_until(lambda: any("志愿服务短信" in m["body"] for m in stack.control.conversation(phone)),
               message="the help reply on the phone")
    stack.control.send_from_phone(phone, "退订", wait=True)
    stack.run_jobs()
    wait_until(lambda: any("已退订" in m["body"] for m in stack.control.conversation(phone)),
               message="the opt-out confirmation")
    before = len(stack.control.conversation(phone))
    stack.control.send_from_phone(phone, "帮助", wait=True)  # no answer after an opt-out
    stack.run_jobs()
    time.sleep(0.3)
    assert len(stack.control.conversation(phone)) == before + 1


def test_twilio_delivering_the_same_webhook_twice_is_processed_once(stack):
    phone = "+8613933334444"
    with stack.runtime.transaction() as session:
        factories.volunteer(session, phone=phone)
    stack.control.set_faults(duplicate_webhook_rate=1.0)
    stack.control.send_from_phone(phone, "乱码xyz", wait=True)
    time.sleep(0.3)
    stack.run_jobs()
    with stack.runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
        assert session.scalar(select(func.count()).select_from(OutboundMessage)) == 1  # one not-understood


@pytest.mark.slow
def test_the_rate_limit_holds_with_four_concurrent_workers(tmp_path, database_url, redis_url, redis_client):
    cap = 40
    live = start_stack(tmp_path / "instance", database_url, redis_url, segments_per_second=cap)
    try:
        queue(live, 200, priority=Priority.bulk)
        for _ in range(3):  # four sender jobs in all, one per worker
            redis_client.delete(sms_jobs.KICK_KEY.format(priority="bulk"))
            sms_jobs.kick_senders(redis_client, [Priority.bulk])
        workers = [live.start_worker("--burst") for _ in range(4)]
        for worker in workers:
            worker.wait(120)
        sent = live.control.messages(direction="outbound-api")
        assert len(sent) == 200
        times = sorted(message["timestamp"] for message in sent)
        # in no window of one second (less 50 ms of network jitter) did more than `cap` segments go out
        window = 0.95
        start = 0
        for end, at in enumerate(times):
            while at - times[start] > window:
                start += 1
            assert end - start + 1 <= cap, f"{end - start + 1} segments within {window}s"
        assert (times[-1] - times[0]) >= (200 / cap) - 1.5  # and the cap was not dodged some other way
    finally:
        live.close()


@pytest.mark.slow
def test_replies_overtake_100000_waiting_invitations(tmp_path, database_url, redis_url, redis_client):
    live = start_stack(tmp_path / "instance", database_url, redis_url, segments_per_second=200)
    try:
        now = outbox.utcnow()
        with live.runtime.transaction() as session:
            session.execute(insert(OutboundMessage), [
                {"to_phone": f"+86139{n:08d}", "body": BODY, "kind": "invitation", "priority": Priority.bulk,
                 "segments": 1, "status": OutboundStatus.pending, "attempts": 0, "created_at": now}
                for n in range(100_000)])
        sms_jobs.kick_senders(redis_client, [Priority.bulk])
        live.start_worker()  # one worker: the overtaking cannot come from a second idle one
        wait_until(lambda: len(live.control.messages(direction="outbound-api", limit=100)) >= 50, timeout=30,
                   message="the bulk backlog to start moving")
        sent_before = max(m["seq"] for m in live.control.messages(direction="outbound-api", limit=100))
        with live.runtime.transaction() as session:
            volunteer = factories.volunteer(session, phone="+8613944445555")
            reply = outbox.queue_message(session, body="您的派遣已确认", kind="dispatch_confirmed",
                                         priority=Priority.high, volunteer=volunteer)
        [sent_reply] = wait_until(lambda: live.control.messages(to="+8613944445555"), timeout=30, interval=0.02,
                                  message="the reply to reach the gateway")
        # Measured in messages, not seconds (the machine may be busy): the reply went out after at most about
        # a second's worth of the invitations already on their way, not after the 100,000 waiting.
        overtaken_after = sent_reply["seq"] - sent_before
        assert overtaken_after <= 200, f"{overtaken_after} bulk messages went out before the reply"
        with live.runtime.transaction() as session:
            assert outbox.pending_count(session, Priority.bulk) > 99_000

        def reply_recorded():
            with live.runtime.transaction() as session:
                return session.get(OutboundMessage, reply.id).twilio_sid == sent_reply["sid"]

        wait_until(reply_recorded, timeout=10, message="the reply's SID recorded")
    finally:
        live.close()
