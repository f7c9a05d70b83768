"""Inbound messages that arrive together are stored in one statement (mobilize.web.twilio._InboundBatcher): each
thread gets its own message's id (None for a MessageSid already stored, also by an earlier row of the same
batch), only once the row is committed; a row the database refuses fails its own request only; a connection the
server dropped under a batch loses nothing and stores nothing twice."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, select, text

from mobilize.db import normalise_url
from mobilize.models import InboundMessage
from mobilize.models._types import utcnow
from mobilize.web import twilio
from tests.test_twilio_webhook_connections import drop_statement_connections, stored_sids
from tests.test_twilio_webhooks import client, inbound_form, runtime, signed_post  # noqa: F401  (fixtures)


def row(runtime, sid: str, sender: str | None = "+8613900000001") -> tuple:  # noqa: F811
    engine = runtime.statement_engine
    received_at = twilio._to_db(engine.dialect, "inbound_messages", "received_at")(utcnow())
    return (sid, sender, "+8610690000", "Y27", received_at)


def sid(n: int) -> str:
    return f"SM{n:032d}"


class Held:
    """Threads that each store one row while the batcher's writer turn is held, so that all their rows queue
    and go in the batch that follows its release (without the hold, how rows group depends on the timing)."""

    def __init__(self, runtime, rows: list[tuple]) -> None:  # noqa: F811
        self.batcher = twilio._InboundBatcher.of(runtime.statement_engine)
        self.rows, self.outcomes = rows, [None] * len(rows)
        self.visible_on_return = [None] * len(rows)
        self.reader = create_engine(normalise_url(runtime.settings.database_url))

    def run(self) -> list:
        with self.batcher.held():
            threads = [threading.Thread(target=self._store, args=(index,)) for index in range(len(self.rows))]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 10
            while len(self.batcher._queue) < len(self.rows):  # all queued behind the held turn
                assert time.monotonic() < deadline
                time.sleep(0.01)
        for thread in threads:
            thread.join(30)
        self.reader.dispose()
        return self.outcomes

    def _store(self, index: int) -> None:
        try:
            self.outcomes[index] = ("id", self.batcher.store(self.rows[index]))
        except Exception as error:  # noqa: BLE001 - the test looks at it
            self.outcomes[index] = ("error", error)
            return
        # what the thread answers Twilio after: its row committed, seen from another connection
        with self.reader.connect() as connection:
            self.visible_on_return[index] = connection.scalar(
                text("SELECT count(*) FROM inbound_messages WHERE message_sid = :sid"), {"sid": self.rows[index][0]})


def ids_by_sid(runtime) -> dict[str, int]:  # noqa: F811
    with runtime.transaction() as session:
        return dict(session.execute(select(InboundMessage.message_sid, InboundMessage.id)).all())


def test_rows_queued_together_go_in_one_statement_each_with_its_own_id(runtime):  # noqa: F811
    # ten messages, each sent three times (Twilio's retries, overtaking the first try): 30 rows in one batch
    sids = [sid(n) for n in range(10)] * 3
    held = Held(runtime, [row(runtime, s) for s in sids])
    batches_before = held.batcher.batches
    outcomes = held.run()
    assert all(kind == "id" for kind, _ in outcomes), outcomes
    stored = ids_by_sid(runtime)
    assert sorted(stored) == sorted(set(sids))
    for s in set(sids):  # exactly one of its rows got the stored id, the others were told it was a duplicate
        got = [value for (_, value), other in zip(outcomes, sids) if other == s]
        assert sorted(got, key=lambda value: value is not None) == [None, None, stored[s]] or \
            sorted(got, key=lambda value: value is None) == [stored[s], None, None]
    assert held.visible_on_return == [1] * len(sids)
    assert held.batcher.batches == batches_before + 1  # one statement (ten rows: duplicates not sent)

    again = Held(runtime, [row(runtime, s) for s in sids[:10]]).run()  # a later batch: all stored already
    assert again == [("id", None)] * 10
    assert ids_by_sid(runtime) == stored


def test_a_batch_of_new_and_stored_messages_tells_each_its_own_id(runtime):  # noqa: F811
    """On SQLite the INSERT returns no rows (see twilio._STORE_INBOUND): which rows it stored, and their ids,
    come from its row count and the last id. Rows stored meanwhile by another connection do not mix in."""
    assert Held(runtime, [row(runtime, sid(n)) for n in (1, 3)]).run() == [("id", ids_by_sid(runtime)[sid(n)])
                                                                          for n in (1, 3)]
    other = create_engine(normalise_url(runtime.settings.database_url))
    with other.begin() as connection:  # another process's rows, ids above those of sid 1 and 3
        connection.execute(text("INSERT INTO inbound_messages (message_sid, from_phone, to_phone, body, received_at)"
                                " VALUES ('SMother1', '+8613900000009', '+8610690000', 'x', :at), "
                                "('SMother2', '+8613900000009', '+8610690000', 'x', :at)"), {"at": utcnow()})
    other.dispose()
    batch = (6, 1, 0, 2, 4, 5, 3)  # the last one stored already: the last id is the row before it
    outcomes = Held(runtime, [row(runtime, sid(n)) for n in batch]).run()
    stored = ids_by_sid(runtime)
    assert outcomes == [("id", None if n in (1, 3) else stored[sid(n)]) for n in batch]
    assert len(stored) == 9 and len(set(stored.values())) == 9
    alone = Held(runtime, [row(runtime, sid(8))]).run()  # one message alone, then its retry
    assert alone == [("id", ids_by_sid(runtime)[sid(8)])] and Held(runtime, [row(runtime, sid(8))]).run() == [
        ("id", None)]


def test_on_sqlite_the_insert_returns_no_rows(runtime):  # noqa: F811
    """A statement returning rows would hold SQLite's write lock until Python read its last row, the GIL taken
    back between rows (see twilio._STORE_INBOUND): the other web processes' writers slept behind it."""
    dialect = runtime.statement_engine.dialect
    sql = twilio._store_sql(dialect, 3)
    assert ("RETURNING" in sql) == (dialect.name != "sqlite")


def test_a_row_the_database_refuses_fails_only_its_own_request(runtime):  # noqa: F811
    rows = [row(runtime, sid(n)) for n in range(5)] + [row(runtime, sid(99), sender=None)]  # From NOT NULL
    outcomes = Held(runtime, rows).run()
    assert [kind for kind, _ in outcomes] == ["id"] * 5 + ["error"]
    assert "null" in str(outcomes[-1][1]).lower()
    assert stored_sids(runtime) == [sid(n) for n in range(5)]


def test_a_connection_dropped_under_a_batch_loses_and_repeats_nothing(runtime, database_url):  # noqa: F811
    if not database_url.startswith("postgresql"):
        pytest.skip("a server that drops connections: PostgreSQL")
    assert Held(runtime, [row(runtime, sid(0))]).run() == [("id", ids_by_sid(runtime).get(sid(0)))]
    assert drop_statement_connections(runtime) == 1  # the pooled connection the next batch takes is broken
    rows = [row(runtime, sid(n)) for n in range(1, 9)]
    outcomes = Held(runtime, rows).run()
    stored = ids_by_sid(runtime)
    assert outcomes == [("id", stored[sid(n)]) for n in range(1, 9)]
    assert sorted(stored) == [sid(n) for n in range(9)]


def test_the_webhook_answers_a_duplicate_as_before(client, runtime):  # noqa: F811
    first = signed_post(client, "/twilio/sms", inbound_form(sid=sid(1)))
    again = signed_post(client, "/twilio/sms", inbound_form(sid=sid(1)))
    assert first.status_code == again.status_code == 200 and first.get_data() == again.get_data()
    assert stored_sids(runtime) == [sid(1)]


def test_a_retry_in_the_same_batch_as_a_failed_first_try_fails_too(runtime):  # noqa: F811
    """Twilio stops retrying at the first 200: a retry told "already stored" while its first try failed would
    lose the message."""
    bad = row(runtime, sid(7), sender=None)  # refused by the database (From NOT NULL)
    outcomes = Held(runtime, [row(runtime, sid(1)), bad, bad]).run()
    assert outcomes[0][0] == "id" and [kind for kind, _ in outcomes[1:]] == ["error", "error"]
    assert stored_sids(runtime) == [sid(1)]


def test_many_threads_at_once_each_get_their_row_stored_and_nobody_is_left_waiting(runtime):  # noqa: F811
    """The writer's hand-over (the first queued thread becomes the next writer, the others are woken by the batch
    that stored their row): 120 threads storing at once all return, each with its own row's id, every row once."""
    batcher = twilio._InboundBatcher.of(runtime.statement_engine)
    outcomes: dict[int, object] = {}
    start = threading.Barrier(120)

    def store(n: int) -> None:
        start.wait(10)
        try:
            outcomes[n] = batcher.store(row(runtime, sid(n)))
        except Exception as error:  # noqa: BLE001 - the test looks at it
            outcomes[n] = error

    threads = [threading.Thread(target=store, args=(n,), daemon=True) for n in range(120)]  # a hang fails, not stalls
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads)
    stored = ids_by_sid(runtime)
    assert sorted(stored) == [sid(n) for n in range(120)]
    assert outcomes == {n: stored[sid(n)] for n in range(120)}
    assert not batcher._writing and not batcher._queue  # nobody left writing, nothing left queued
