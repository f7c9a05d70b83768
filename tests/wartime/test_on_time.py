"""On time is on time (issue 10, item 6): an answer stored by the webhook before `confirm_by` counts as in time
even when the inbound job has not processed it when the sweep runs (seen under a Redis outage: volunteers who
confirmed in time were released for timing out, then dispatched again with the same text)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select

from mobilize.models import Assignment, AssignmentStatus, InboundMessage, OutboundMessage
from mobilize.models._types import utcnow
from mobilize.sms import inbox
from mobilize.wartime import followups, timers
from tests.wartime.conftest import active, check_capacity_invariants, launched, people, run_match, sent, sites, text
from workers.sms import process_inbound

_sids = count(1)


def stored(rt, volunteer, body: str, received_at: datetime) -> int:
    """A message as the webhook stores it when it cannot queue the inbound job (Redis down): not processed."""
    with rt.transaction() as session:
        message = InboundMessage(message_sid=f"SMONTIME{next(_sids):024d}", from_phone=volunteer.phone,
                                 to_phone="+8610690000", body=body, received_at=received_at)
        session.add(message)
        session.flush()
        return message.id


def sweep(rt, order_id: int, now: datetime, with_settings: bool = True):
    with rt.transaction() as session:
        result = timers.sweep_order(session, order_id, now, rt.settings if with_settings else None)
        requests = followups.take(session)
    return result, requests


def inbound(rt, inbound_id: int) -> InboundMessage:
    with rt.transaction() as session:
        return session.get(InboundMessage, inbound_id)


def assignment(rt, assignment_id: int) -> Assignment:
    with rt.transaction() as session:
        return session.get(Assignment, assignment_id)


def dispatched(rt, standby: int = 0):
    """One place, its volunteer dispatched (60 s to confirm), and `standby` more who said yes."""
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 1 + standby)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1 / (1 + standby),
                        confirmation_timeout_s=60)
    for volunteer in crowd:
        assert text(rt, volunteer, "Y") == "accepted"
    run_match(rt, order_id)
    [placed] = active(rt, order_id)
    assert placed.volunteer_id == crowd[0].id
    return order_id, crowd, placed


def test_a_confirmation_stored_in_time_counts_though_nobody_processed_it(rt):
    order_id, [volunteer], placed = dispatched(rt)
    received = placed.confirm_by - timedelta(seconds=5)
    message_id = stored(rt, volunteer, "Y", received)  # the inbound job never ran (Redis down)
    result, _ = sweep(rt, order_id, placed.confirm_by + timedelta(seconds=30))
    assert result.timed_out == 0
    after = assignment(rt, placed.id)
    assert after.status is AssignmentStatus.confirmed and after.confirmed_at == received  # dated as received
    assert sent(rt, "confirm_timeout") == []
    assert len(sent(rt, "dispatch_confirmed", volunteer)) == 1
    assert inbound(rt, message_id).outcome == "confirmed" and inbound(rt, message_id).processed_at is not None
    # processed exactly once: the inbound job, run when Redis is back, finds it done and does nothing more
    assert process_inbound(message_id) == "already_processed"
    assert len(sent(rt, "dispatch_confirmed", volunteer)) == 1
    result, _ = sweep(rt, order_id, placed.confirm_by + timedelta(minutes=5))
    assert result.timed_out == 0 and assignment(rt, placed.id).status is AssignmentStatus.confirmed
    assert len(sent(rt, "dispatch", volunteer)) == 1  # never dispatched a second time
    check_capacity_invariants(rt, order_id)


def test_a_drop_out_stored_in_time_is_a_drop_out_not_a_timeout(rt):
    order_id, [volunteer, waiting], placed = dispatched(rt, standby=1)
    message_id = stored(rt, volunteer, "0", placed.confirm_by - timedelta(seconds=1))
    result, requests = sweep(rt, order_id, placed.confirm_by + timedelta(seconds=30))
    assert result.timed_out == 0 and order_id in requests[followups.MATCH]
    after = assignment(rt, placed.id)
    assert after.status is AssignmentStatus.released and after.end_reason == "dropped_out"
    assert len(sent(rt, "dropout_ack", volunteer)) == 1
    assert sent(rt, "confirm_timeout") == []
    assert process_inbound(message_id) == "already_processed"
    assert len(sent(rt, "dropout_ack", volunteer)) == 1
    run_match(rt, order_id)
    [backfill] = active(rt, order_id)
    assert backfill.volunteer_id == waiting.id and backfill.backfill
    check_capacity_invariants(rt, order_id)


def test_a_decline_stored_in_time_gets_the_drop_out_acknowledgement(rt):
    order_id, [volunteer], placed = dispatched(rt)
    stored(rt, volunteer, "不能参加", placed.confirm_by - timedelta(seconds=1))
    sweep(rt, order_id, placed.confirm_by + timedelta(seconds=30))
    assert assignment(rt, placed.id).end_reason == "dropped_out"
    assert [m.kind for m in sent(rt, volunteer=volunteer)][-1] == "dropout_ack"
    assert sent(rt, "confirm_timeout") == []


def test_an_answer_stored_after_the_deadline_does_not_save_the_dispatch(rt):
    order_id, [volunteer], placed = dispatched(rt)
    message_id = stored(rt, volunteer, "Y", placed.confirm_by + timedelta(seconds=1))
    result, _ = sweep(rt, order_id, placed.confirm_by + timedelta(seconds=30))
    assert result.timed_out == 1
    after = assignment(rt, placed.id)
    assert after.status is AssignmentStatus.released and after.end_reason == "confirm_timeout"
    assert len(sent(rt, "confirm_timeout", volunteer)) == 1
    assert inbound(rt, message_id).processed_at is None  # left to the inbound job, as any late answer
    assert process_inbound(message_id) == "accepted"  # a late yes: back on standby (as before this change)


def test_other_messages_stored_in_time_do_not_hold_the_place(rt):
    order_id, [volunteer], placed = dispatched(rt)
    help_id = stored(rt, volunteer, "帮助", placed.confirm_by - timedelta(seconds=9))
    elsewhere_id = stored(rt, volunteer, "Y999", placed.confirm_by - timedelta(seconds=8))  # a code nobody has
    result, _ = sweep(rt, order_id, placed.confirm_by + timedelta(seconds=30))
    # "help" is the inbound job's; an answer with an unknown code is about this order as much as any: it was
    # processed (asked which order) and did not confirm
    assert result.timed_out == 1 and assignment(rt, placed.id).end_reason == "confirm_timeout"
    assert inbound(rt, help_id).processed_at is None
    assert inbound(rt, elsewhere_id).outcome == "asked_which_order"


def test_an_answer_naming_another_running_order_is_left_to_the_inbound_job(rt):
    with rt.transaction() as session:
        site, other_site = sites(session)
        volunteer = people(session, 1)[0]
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1.0, confirmation_timeout_s=60)
    other_id = launched(rt, [(other_site.id, "registration", 1)], expected_answer_rate=1.0)
    with rt.transaction() as session:
        from mobilize.models import Order

        code, other_code = (session.get(Order, i).reply_code for i in (order_id, other_id))
    assert text(rt, volunteer, f"Y{code}") == "accepted"
    run_match(rt, order_id)
    [placed] = active(rt, order_id)
    message_id = stored(rt, volunteer, f"N{other_code}", placed.confirm_by - timedelta(seconds=1))
    result, _ = sweep(rt, order_id, placed.confirm_by + timedelta(seconds=30))
    assert result.timed_out == 1  # not an answer about this dispatch: the order's lock is all the sweep holds
    assert inbound(rt, message_id).processed_at is None
    assert process_inbound(message_id) == "declined"


def test_without_settings_the_sweep_leaves_the_answer_to_the_inbound_job(rt):
    order_id, [volunteer], placed = dispatched(rt)
    message_id = stored(rt, volunteer, "Y", placed.confirm_by - timedelta(seconds=1))
    result, _ = sweep(rt, order_id, placed.confirm_by + timedelta(seconds=30), with_settings=False)
    assert result.timed_out == 0 and assignment(rt, placed.id).status is AssignmentStatus.notified
    assert inbound(rt, message_id).processed_at is None
    assert process_inbound(message_id) == "confirmed"
    result, _ = sweep(rt, order_id, placed.confirm_by + timedelta(minutes=1), with_settings=False)
    assert result.timed_out == 0 and assignment(rt, placed.id).status is AssignmentStatus.confirmed
    assert sent(rt, "confirm_timeout") == []


def test_an_opt_out_stored_in_time_releases_as_an_opt_out_without_a_timeout_text(rt):
    order_id, [volunteer], placed = dispatched(rt)
    message_id = stored(rt, volunteer, "退订", placed.confirm_by - timedelta(seconds=1))
    result, _ = sweep(rt, order_id, placed.confirm_by + timedelta(seconds=30))
    assert result.timed_out == 0 and assignment(rt, placed.id).status is AssignmentStatus.notified
    assert process_inbound(message_id) == "opted_out"
    after = assignment(rt, placed.id)
    assert after.status is AssignmentStatus.released and after.end_reason == "opted_out"
    result, _ = sweep(rt, order_id, placed.confirm_by + timedelta(minutes=1))
    assert result.timed_out == 0
    assert [m.kind for m in sent(rt, volunteer=volunteer)][-1] == "opt_out_confirm"
    assert sent(rt, "confirm_timeout") == []


def test_a_stored_answer_the_sweep_cannot_process_does_not_stop_the_sweep(rt):
    order_id, [volunteer], placed = dispatched(rt)
    message_id = stored(rt, volunteer, "Y", placed.confirm_by - timedelta(seconds=1))
    broken = rt.settings.with_overrides(timezone="Nowhere/Atlantis")  # the reply cannot be written
    with rt.transaction() as session:
        result = timers.sweep_order(session, order_id, placed.confirm_by + timedelta(seconds=30), broken)
    assert result.timed_out == 1  # a message that never processes must not hold the place forever
    assert inbound(rt, message_id).processed_at is None  # rolled back: still the inbound job's
    check_capacity_invariants(rt, order_id)


# --- races with the inbound job (PostgreSQL: row locks; SQLite serialises every writer at BEGIN) ----------


def _postgres_only(rt) -> None:
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("two writers at once: PostgreSQL row locks (SQLite lets one writer in at a time)")


def test_a_reply_the_inbound_job_is_processing_right_now_keeps_the_dispatch(rt):
    _postgres_only(rt)
    order_id, [volunteer], placed = dispatched(rt)
    message_id = stored(rt, volunteer, "Y", placed.confirm_by - timedelta(seconds=1))
    job = rt.sessions()  # the inbound job, half-way: it has claimed the message, not committed
    try:
        assert inbox.claim(job, message_id, utcnow())
        result, _ = sweep(rt, order_id, placed.confirm_by + timedelta(seconds=30))  # does not wait for it
        assert result.timed_out == 0 and assignment(rt, placed.id).status is AssignmentStatus.notified
    finally:
        job.rollback()  # the job died: its claim is undone
        job.close()
    sweep(rt, order_id, placed.confirm_by + timedelta(seconds=40))
    assert assignment(rt, placed.id).status is AssignmentStatus.confirmed
    assert process_inbound(message_id) == "already_processed"
    assert len(sent(rt, "dispatch_confirmed", volunteer)) == 1


def test_the_inbound_job_racing_the_sweep_processes_nothing_twice(rt):
    _postgres_only(rt)
    order_id, [volunteer], placed = dispatched(rt)
    message_id = stored(rt, volunteer, "Y", placed.confirm_by - timedelta(seconds=1))
    outcome: list[str] = []
    with rt.transaction() as session:
        timers.sweep_order(session, order_id, placed.confirm_by + timedelta(seconds=30), rt.settings)
        # the sweep has processed it but not committed: the job's claim waits for the sweep's row lock
        job = threading.Thread(target=lambda: outcome.append(process_inbound(message_id)))
        job.start()
        job.join(timeout=1.0)
        assert job.is_alive() and not outcome
    job.join(timeout=30)
    assert outcome == ["already_processed"]
    assert assignment(rt, placed.id).status is AssignmentStatus.confirmed
    with rt.transaction() as session:
        assert len(session.scalars(select(OutboundMessage).where(
            OutboundMessage.kind == "dispatch_confirmed")).all()) == 1
