"""outbox.queue_message's dedupe key, checked with one Core statement on the session's connection (a wave writes
thousands of messages in one transaction: benchmarks/bench_sms.py times the send pipeline from those writes on).
The same reason never sends twice: within one transaction, across transactions, and not after a rollback."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mobilize.models import OutboundMessage, OutboundStatus, Priority
from mobilize.sms import outbox


def _queue(session, key: str | None, phone: str = "+8613900000001"):
    return outbox.queue_message(session, body="明早8点太平角集合", kind="invitation", priority=Priority.bulk,
                                to_phone=phone, dedupe_key=key)


def _stored(runtime, key: str) -> int:
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboundMessage)
                              .where(OutboundMessage.dedupe_key == key))


def test_a_key_queued_earlier_in_the_same_transaction_is_not_queued_again(runtime):
    with runtime.transaction() as session:
        first = _queue(session, "invite:order:1:volunteer:1")
        assert first is not None and first.id is not None  # flushed: the caller gets its id at once
        assert _queue(session, "invite:order:1:volunteer:1", phone="+8613900000002") is None
    assert _stored(runtime, "invite:order:1:volunteer:1") == 1


def test_a_key_stored_by_an_earlier_transaction_is_not_queued_again(runtime):
    with runtime.transaction() as session:
        assert _queue(session, "dispatch:assignment:7") is not None
    with runtime.transaction() as session:
        assert _queue(session, "dispatch:assignment:7") is None
        assert _queue(session, "dispatch:assignment:8") is not None
    assert _stored(runtime, "dispatch:assignment:7") == 1
    assert _stored(runtime, "dispatch:assignment:8") == 1


def test_a_key_of_a_rolled_back_transaction_can_be_queued_again(runtime):
    with pytest.raises(RuntimeError), runtime.transaction() as session:
        assert _queue(session, "thanks:assignment:3") is not None
        raise RuntimeError("the action failed after writing its message")
    assert _stored(runtime, "thanks:assignment:3") == 0
    with runtime.transaction() as session:
        message = _queue(session, "thanks:assignment:3")
        assert message is not None and message.status is OutboundStatus.pending
    assert _stored(runtime, "thanks:assignment:3") == 1


def test_messages_without_a_key_are_never_deduplicated(runtime):
    with runtime.transaction() as session:
        messages = [_queue(session, None) for _ in range(3)]
    assert all(message is not None for message in messages)
    assert len({message.id for message in messages}) == 3


def _volunteers(session, count: int, opted_out: frozenset[int] = frozenset()):
    from mobilize.models._types import utcnow
    from tests.factories import volunteer

    rows = [volunteer(session, phone=f"+86137{index:08d}") for index in range(count)]
    for index in opted_out:
        rows[index].opted_out_at = utcnow()
    session.flush()
    return rows


def test_queue_many_writes_in_one_flush_in_the_given_order_with_the_same_checks(runtime):
    from sqlalchemy import event

    with runtime.transaction() as session:
        volunteers = _volunteers(session, 6, opted_out=frozenset({2}))
        assert _queue(session, "invite:order:9:volunteer:4", phone=volunteers[4].phone) is not None  # before
        session.flush()
        statements, flushes = [], []
        event.listen(session.connection(), "before_cursor_execute",
                     lambda conn, cursor, sql, params, context, many: statements.append(sql))
        event.listen(session, "after_flush", lambda flushed, context: flushes.append(1))
        # written in this order (nearest first, say): 5, 0, 2 (opted out), 4 (stored), 1, 0 again (same key)
        picks = [5, 0, 2, 4, 1, 0]
        rows = outbox.queue_many(session, [
            outbox.ToQueue(volunteers[index], f"邀请 {index}", "invitation", Priority.bulk,
                           f"invite:order:9:volunteer:{index}") for index in picks])
        assert [row is not None for row in rows] == [True, True, False, False, True, False]
        written = [row for row in rows if row is not None]
        assert [row.to_phone for row in written] == [volunteers[i].phone for i in (5, 0, 1)]
        assert [row.id for row in written] == sorted(row.id for row in written)  # ids in send order
        # the keys looked up in one query, not one each; the rows written by one flush
        lookups = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")
                   and "outbound_messages" in sql]
        assert len(lookups) == 1 and flushes == [1]
        assert Priority.bulk in session.info["queued_priorities"]  # the commit kicks a bulk sender
    for index in (5, 0, 1, 4):
        assert _stored(runtime, f"invite:order:9:volunteer:{index}") == 1
    assert _stored(runtime, "invite:order:9:volunteer:2") == 0
