"""Twilio's webhooks. Both check X-Twilio-Signature against PUBLIC_BASE_URL + path (what Twilio signed, whatever
proxies sit between): a missing or wrong signature gets 403 and changes nothing.

Inbound SMS are stored first (unique on MessageSid, so Twilio's retries change nothing), and the answer, an empty
TwiML response, goes as soon as the row is committed, also while every worker (or Redis) is down: replies go
through the outbox. A drain of the stored messages is kicked meanwhile from a thread of the process's own
(jobs.BackgroundKick; at most one drain waits, and workers.sms.drain_inbox processes them in id order). A
message that could never be processed (no MessageSid, an empty or malformed From) gets 400 with the reason and
is not stored.
"""
from __future__ import annotations

import hmac
import re
import threading
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from functools import lru_cache

import structlog
from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import Engine
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.datastructures import MultiDict

from mobilize import live
from mobilize.db import Base
from mobilize.models._types import utcnow
from mobilize.sms import outbox
from mobilize.web import db, runtime

log = structlog.get_logger(__name__)
blueprint = Blueprint("twilio", __name__, url_prefix="/twilio")
EMPTY_TWIML = str(MessagingResponse())
E164 = re.compile(r"\+[1-9][0-9]{6,14}\Z")  # what Twilio puts in From for an SMS from a phone


def signed_url() -> str:
    """The URL Twilio signed: our public base URL, this path and the query string as sent."""
    query = request.query_string.decode()
    return runtime().settings.public_base_url + request.path + (f"?{query}" if query else "")


class _FormParams(dict):
    """The form as RequestValidator reads it, a list of values per name. It asks for `getall` first (then
    `getlist`, catching AttributeError): werkzeug's MultiDict made it raise and catch once per parameter."""

    def getall(self, name: str) -> list[str]:
        return self[name]


@lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def require_twilio_signature() -> None:
    token = runtime().settings.twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature or not signature_valid(_validator(token), signed_url(), request.form, signature):
        log.warning("twilio.bad_signature", path=request.path, remote=request.remote_addr)
        abort(403)


def signature_valid(validator: RequestValidator, url: str, form: MultiDict, signature: str) -> bool:
    """Whether `signature` is Twilio's for `url` and the posted `form`. Twilio signs the URL it requested, which
    is ours as configured: that one HMAC is checked first. `validate` also tries the URL with its default port
    added and removed (two HMACs a request, ~0.1 ms at two status callbacks per message sent), which it gets
    to only when the first check fails."""
    params = _FormParams(form.lists())
    expected = validator.compute_signature(url, params)
    return hmac.compare_digest(expected.encode(), signature.encode()) or validator.validate(url, params, signature)


def _message_log() -> live.Coalescer:
    """The live updates of the command center's message log from this app's webhooks: one event per burst of
    callbacks, not one per callback (see live.Coalescer)."""
    coalescer = current_app.extensions.get("mobilize.message_log")
    if coalescer is None:
        coalescer = current_app.extensions.setdefault("mobilize.message_log",
                                                      live.Coalescer(live.COMMAND, "message"))
    return coalescer


# Storing an inbound message: INSERT ... ON CONFLICT (message_sid) DO NOTHING (RETURNING id on PostgreSQL),
# one statement alone in autocommit on a connection of Runtime.statement_engine's pool (_autocommit below),
# the parameters converted once as SQLAlchemy would. SQLite: its connections are in autocommit mode (see
# mobilize.db), so SQLite takes and releases its write lock within that one call, the GIL released; through
# the session it ran inside BEGIN IMMEDIATE ... COMMIT, which also held the lock across the Python in between,
# statement building included, while every other writer (webhooks, callbacks, senders) slept in SQLite's busy
# handler: about 150 requests/s with a p99 of seconds under gunicorn (3 x 4 threads, wrk, 12 connections).
# PostgreSQL: one round trip instead of the session's three (BEGIN, the statement, COMMIT) and none of its
# Python, and no pre-ping round trip before it (see _autocommit); see docs/benchmarks.md for both. The insert
# is atomic by itself: nothing else is written with it.
#
# Messages that arrive together are stored together (_InboundBatcher): while one INSERT runs, the threads that
# come meanwhile queue, and the next of them stores them all in one statement (one round trip, one commit: on
# PostgreSQL one WAL flush and one statement's server work instead of one each; on SQLite one write lock
# instead of one each). Each thread answers once its own row is committed, and a thread that finds nobody
# at work stores its message at once, alone, as before.
#
# On SQLite the INSERT has no RETURNING: a statement that returns rows keeps its transaction, and SQLite's write
# lock for the whole file, open until its last row is read, and Python reads each row with the GIL taken back in
# between (up to the interpreter's switch interval, 5 ms, while the process's other threads compute), so the
# other processes' writers slept in SQLite's busy handler behind a lock nobody used (at saturation one web
# process spent a quarter of its time with no thread running). Without it the statement takes and releases the
# lock within one call, the GIL released throughout; the rows' ids follow from how many rows it inserted and the
# last one's id (see _stored_on_sqlite).
_STORE_INBOUND = ("INSERT INTO inbound_messages (message_sid, from_phone, to_phone, body, received_at) "
                  "VALUES {rows} ON CONFLICT (message_sid) DO NOTHING")
_RETURNING_IDS = " RETURNING id, message_sid"
_STORED_BETWEEN = "SELECT id, message_sid FROM inbound_messages WHERE id > {p} AND id <= {p}"
INBOUND_BATCH_MAX = 64  # rows a statement at most (gunicorn runs 32 threads a process)


@lru_cache(maxsize=8)
def _to_db(dialect, table: str, column: str) -> Callable:
    """What SQLAlchemy does to a value of that column before it hands it to the driver (UTC for a datetime,
    the name for an enum)."""
    column_type = Base.metadata.tables[table].c[column].type
    return column_type.dialect_impl(dialect).bind_processor(dialect) or (lambda value: value)


@lru_cache(maxsize=8)
def _sql(dialect, template: str, marks: int = 0) -> str:
    """`template` with the driver's placeholder for {p} and `marks` of them, comma-separated, for {marks}."""
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    return template.format(p=placeholder, marks=", ".join([placeholder] * marks))


@lru_cache(maxsize=INBOUND_BATCH_MAX + 2)
def _store_sql(dialect, rows: int) -> str:
    """_STORE_INBOUND for `rows` messages (five values each), returning the stored rows' ids but on SQLite."""
    values = _sql(dialect, "({marks})", 5)
    returning = "" if dialect.name == "sqlite" else _RETURNING_IDS
    return _STORE_INBOUND.format(rows=", ".join([values] * rows)) + returning


def store_inbound(engine: Engine, sid: str, from_phone: str, to_phone: str, body: str) -> int | None:
    """Store an inbound message on `engine` (Runtime.statement_engine), committed when this returns: the stored
    message's id; None when a message with this MessageSid is already stored. (Also the benchmark's store-only
    baseline: benchmarks.bench_webhook.stored_webhook_app.)"""
    received_at = _to_db(engine.dialect, "inbound_messages", "received_at")(utcnow())
    return _InboundBatcher.of(engine).store((sid, from_phone, to_phone, body, received_at))


class _Pending:
    """One thread's message waiting to be stored, and then what became of it. `wake` is held from the start and
    released once, by the writer that stored the row (or failed to) or that makes this thread the next writer."""

    __slots__ = ("row", "done", "inbound_id", "error", "wake")

    def __init__(self, row: tuple) -> None:
        self.row, self.done, self.inbound_id, self.error = row, False, None, None
        self.wake = threading.Lock()
        self.wake.acquire()

    def finish(self, inbound_id: int | None = None, error: BaseException | None = None) -> None:
        self.inbound_id, self.error, self.done = inbound_id, error, True


class _InboundBatcher:
    """Group commit of the inbound INSERTs of one process on one engine (see _STORE_INBOUND). One writer at a
    time: a thread that finds nobody writing stores its row at once; the others queue theirs and sleep until the
    writer wakes them, each on its own lock: with its row stored (it answers), or made the next writer, which
    stores every row queued meanwhile in one statement. No thread waits for others to come, and none passes
    through the writer's turn to learn that its row was stored: woken one after another through one lock, each
    held it while it waited for the interpreter, and the next batch waited behind them all."""

    _of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> its batcher
    _of_lock = threading.Lock()

    def __init__(self, engine) -> None:
        self._engine = weakref.ref(engine)
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._writing = False  # a thread is the writer (under _queue_lock)
        self.batches = 0  # statements run for batches (a row tried alone after its batch failed not counted)

    @classmethod
    def of(cls, engine) -> "_InboundBatcher":
        with cls._of_lock:
            batcher = cls._of.get(engine)
            if batcher is None:
                batcher = cls._of[engine] = cls(engine)
            return batcher

    def store(self, row: tuple) -> int | None:
        mine = _Pending(row)
        with self._queue_lock:
            self._queue.append(mine)
            writer, self._writing = not self._writing, True
        if not writer:
            mine.wake.acquire()  # stored, or made the writer
        if not mine.done:
            try:
                while not mine.done:
                    self._write_batch()
            finally:
                self._hand_over()
        if mine.error is not None:
            raise mine.error
        return mine.inbound_id

    def _write_batch(self) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue[:INBOUND_BATCH_MAX], self._queue[INBOUND_BATCH_MAX:]
        self.batches += 1
        try:
            _store_batch(self._engine(), batch)
        finally:  # stopped by something beyond a database error: no thread waits forever
            for pending in batch:
                if not pending.done:
                    pending.finish(error=RuntimeError("the batch storing this message was interrupted"))
            for pending in batch:  # its thread answers (the writer's own lock is released to nobody)
                pending.wake.release()

    def _hand_over(self) -> None:
        """The writer is done: the first thread still queued writes next, or nobody writes until one comes."""
        with self._queue_lock:
            if self._queue:
                self._queue[0].wake.release()
            else:
                self._writing = False

    @contextmanager
    def held(self):
        """Be the writer without writing (tests: rows stored meanwhile queue, and go in one batch after it)."""
        with self._queue_lock:
            if self._writing:
                raise RuntimeError("a writer is at work")
            self._writing = True
        try:
            yield self
        finally:
            self._hand_over()


def _store_batch(engine, batch: list[_Pending]) -> None:
    """Store the batch's rows in one statement and tell each its id (None: its MessageSid was stored already,
    also by an earlier row of this batch: Twilio's retry can come while the first try waits; should the
    first fail, so does its retry, which Twilio then tries again). Should the statement fail for a reason of
    the database's (it is down: each fails the same way) or of one row's (a value it refuses), each row is
    tried alone, so that one bad row fails only its own request."""
    first: dict[str, _Pending] = {}
    again: list[tuple[_Pending, _Pending]] = []  # (a later row of a MessageSid, its first row)
    for pending in batch:
        if pending.row[0] in first:
            again.append((pending, first[pending.row[0]]))
        else:
            first[pending.row[0]] = pending
    _store_first_rows(engine, list(first.values()))
    for pending, its_first in again:  # a duplicate once its first is stored, or failed as it did (500)
        pending.finish(None, its_first.error and RuntimeError(
            f"not stored: the same MessageSid's row before it in the batch failed ({its_first.error!r})"))


def _store_first_rows(engine, rows: list[_Pending]) -> None:
    try:
        stored = dict((sid, inbound_id) for inbound_id, sid in _insert(engine, rows))
    except Exception as error:  # noqa: BLE001 - raised in the threads whose messages these are
        if len(rows) == 1:
            rows[0].finish(error=error)
        else:  # whatever it was, each row alone says whose it is
            for pending in rows:
                _store_alone(engine, pending)
        return
    for pending in rows:
        pending.finish(stored.get(pending.row[0]))


def _store_alone(engine, pending: _Pending) -> None:
    try:
        found = _insert(engine, [pending])
    except Exception as error:  # noqa: BLE001 - raised in the thread whose message it is
        pending.finish(error=error)
    else:
        pending.finish(found[0][0] if found else None)


def _insert(engine, rows: list[_Pending]) -> list[tuple[int, str]]:
    """Store the rows (distinct MessageSids); (id, MessageSid) of each row stored, not of those already there."""
    params = tuple(value for pending in rows for value in pending.row)
    done = _autocommit(engine, _store_sql(engine.dialect, len(rows)), params)
    return _stored_on_sqlite(engine, rows, done) if engine.dialect.name == "sqlite" else done.rows


def _stored_on_sqlite(engine, rows: list[_Pending], done: "_Done") -> list[tuple[int, str]]:
    """The rows an INSERT without RETURNING stored, from its row count and the last stored row's id. SQLite
    gives a row without an id one above the largest in the table, and the statement inserted its rows in order
    holding the write lock (https://www.sqlite.org/autoinc.html): its rows have the ids from `lastrowid -
    rowcount + 1` to `lastrowid`, in order when it stored them all; when it skipped some (their MessageSid was
    there), the ids in that range say which it stored."""
    if done.rowcount <= 0:
        return []
    if done.rowcount == len(rows):
        first = done.lastrowid - len(rows) + 1
        return [(first + index, pending.row[0]) for index, pending in enumerate(rows)]
    between = (done.lastrowid - done.rowcount, done.lastrowid)
    return _autocommit(engine, _sql(engine.dialect, _STORED_BETWEEN), between).rows


@blueprint.post("/sms")
def inbound_sms():
    require_twilio_signature()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not sid:
        return _refused("MessageSid is required")
    sender = form.get("From", "")
    if not E164.match(sender):
        # it could never be processed (no phone to answer or to find a volunteer by): refused, not stored
        log.warning("twilio.inbound_refused", message_sid=sid, reason="bad From")
        return _refused(f"From must be a phone number in E.164 form (like +8613900000001), got {sender[:40]!r}"
                        if sender else "From is empty: a message needs the sender's phone number")
    inbound_id = store_inbound(runtime().statement_engine, sid, sender, form.get("To", "")[:20],
                               form.get("Body", ""))
    if inbound_id is None:
        log.info("twilio.inbound_duplicate", message_sid=sid)
    else:
        _inbox_kick().request()  # the inbox drain's kick, made by this process's kicker thread: no wait here
        # Live update of the command center's message log, after the commit (best effort, never raises).
        _message_log().notify(runtime(), {"direction": "in", "id": inbound_id})
    return Response(EMPTY_TWIML, mimetype="application/xml")


def _refused(reason: str) -> Response:
    """400 with the reason in plain text (Twilio logs it in its debugger); nothing stored, nothing queued."""
    return Response(reason + "\n", status=400, mimetype="text/plain")


def _inbox_kick():
    """This app's jobs.BackgroundKick (one per process: gunicorn creates the app in each worker it forked): one
    SET NX of the drain's guard while a drain waits (see jobs.kick_inbox_drain), not a job per message."""
    kick = current_app.extensions.get("mobilize.inbox_kick")
    if kick is None:
        from mobilize import jobs  # (RQ is loaded by the first message, not at start)

        app_runtime = runtime()
        kick = current_app.extensions.setdefault("mobilize.inbox_kick",
                                                  jobs.BackgroundKick(lambda: app_runtime.redis))
    return kick


@blueprint.post("/status")
def delivery_status():
    require_twilio_signature()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        abort(400, "MessageSid and MessageStatus are required")
    message_id = request.args.get("mid", type=int)
    error_code = form.get("ErrorCode", type=int)
    changed = not error_code and _advance_by_sid(sid, status)
    if not changed:  # unknown SID yet (the callback overtook the sender), stale, duplicate, or an error code
        session = db()
        changed = outbox.apply_status_callback(session, message_id, sid, status, error_code)
        session.commit()
    if changed:  # live update of the message log's delivery state (best effort, after the commit)
        _message_log().notify(runtime(), {"direction": "out", "id": message_id, "status": status})
    log.debug("twilio.status", message_sid=sid, status=status, changed=changed)
    response = Response(status=204)
    del response.headers["Content-Type"]  # no body, no type: not an HTML page (see web.security_headers)
    return response


# The common status callback (a known SID moving forward, no error code) as ONE conditional UPDATE, on SQLite in
# autocommit like the inbound INSERT above: loading the row into the ORM first and flushing it at the commit
# held SQLite's write lock (and the GIL) several times as long (measured: 2.6 ms of CPU a callback under
# gunicorn, while the senders waited for the same lock to record SIDs). The rank test in the WHERE clause is
# outbox.STATUS_RANK's rule (a late "sent" never overwrites "delivered"); whatever it does not match goes on
# to outbox.apply_status_callback, which decides as before.
_ADVANCE_BY_SID = ("UPDATE outbound_messages SET status = {p}, status_at = {p} "
                   "WHERE twilio_sid = {p} AND status IN ({marks})")
_RANKED_BELOW = {status: [lower for lower, rank in outbox.STATUS_RANK.items()
                          if rank < outbox.STATUS_RANK[status]] for status in outbox.STATUS_RANK}


def _advance_by_sid(sid: str, twilio_status: str) -> bool:
    """True if the message with this SID moved forward to the callback's status (and nothing else is to do)."""
    new_status = outbox.TWILIO_STATUSES.get(twilio_status)
    if new_status is None:
        return False
    lower, engine = _RANKED_BELOW[new_status], runtime().statement_engine
    status = _to_db(engine.dialect, "outbound_messages", "status")
    now = _to_db(engine.dialect, "outbound_messages", "status_at")
    params = (status(new_status), now(utcnow()), sid, *map(status, lower))
    return _autocommit(engine, _sql(engine.dialect, _ADVANCE_BY_SID, len(lower)), params).rowcount == 1


class _Done:
    __slots__ = ("rowcount", "rows", "lastrowid")

    def __init__(self, rowcount: int, rows: list, lastrowid: int | None) -> None:
        self.rowcount, self.rows, self.lastrowid = rowcount, rows, lastrowid


class _SqliteWriter:
    """One writer at a time per process on SQLite, on one connection of the engine's kept for it (out of the
    pool: no checkout and check-in per statement, ~0.03 ms). SQLite's write lock is one for the whole file: a
    second thread that asks for it while held gets SQLITE_BUSY, and SQLite's busy handler then sleeps (1 ms,
    2 ms, 5 ms...) long after the lock (held for a fraction of a millisecond) was released, while the pool
    opened an overflow connection (and its PRAGMAs) for every thread beyond its five. Queued on this lock, the
    next thread runs as soon as the statement before it returns. (Other processes still meet on SQLite's lock.)"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> its connection

    def run(self, engine, sql: str, params: tuple) -> _Done:
        with self._lock:
            connection = self._connections.get(engine)
            if connection is None:
                connection = engine.raw_connection()  # connected as the pool connects (mobilize.db's PRAGMAs)
                connection.detach()  # ours from now on; closed when the engine is gone
                self._connections[engine] = connection
            return _execute(connection, sql, params)


_SQLITE_WRITER = _SqliteWriter()


def _autocommit(engine, sql: str, params: tuple) -> _Done:
    """One statement alone, in autocommit, on a connection of `engine` (Runtime.statement_engine: see
    _STORE_INBOUND). On PostgreSQL that engine skips the pool's pre-ping, so a connection the server dropped
    (a restart, an idle timeout) shows up here: the pool is emptied and the statement runs once more on a new
    connection. Both statements are safe to repeat: should the first have been applied before the connection
    broke, the INSERT finds the MessageSid stored (a duplicate: not kicked again, the sweep has it) and the
    UPDATE finds the status reached (handed to outbox.apply_status_callback, which changes nothing)."""
    if engine.dialect.name == "sqlite":
        return _SQLITE_WRITER.run(engine, sql, params)
    try:
        return _on_pooled_connection(engine, sql, params)
    except _Disconnected as disconnected:
        log.warning("twilio.database_reconnect", error=str(disconnected.__cause__))
        engine.dispose()  # the pool's other connections most likely went with this one
        return _on_pooled_connection(engine, sql, params)


class _Disconnected(Exception):
    """The connection was found broken (raised from the driver's error, its __cause__)."""


def _on_pooled_connection(engine, sql: str, params: tuple) -> _Done:
    connection = engine.raw_connection()
    try:
        return _execute(connection, sql, params)
    except engine.dialect.loaded_dbapi.Error as error:
        if engine.dialect.is_disconnect(error, connection.dbapi_connection, None):
            connection.invalidate(error)
            raise _Disconnected() from error
        raise
    finally:
        connection.close()  # back to the pool


def _execute(connection, sql: str, params: tuple) -> _Done:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
        # (psycopg's cursor has no lastrowid: only SQLite's is read, see _stored_on_sqlite)
        return _Done(cursor.rowcount, cursor.fetchall() if cursor.description else [],
                     getattr(cursor, "lastrowid", None))
    finally:
        cursor.close()
