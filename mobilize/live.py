"""Live updates through Redis: what services and jobs publish, what a server-sent event stream reads.

Publishing (after the transaction the event reports has committed): `publish(redis, channel, event, data)`
appends the event to a short per-channel history (a Redis stream capped at HISTORY entries, whose entry ids
are the SSE event ids) and announces it on a pub/sub channel, both in one Lua call: one round trip, and no
subscriber can see an event that is not in the history yet. Publishing is best effort: live updates are never
the record (the database is), so a Redis failure is logged and the caller goes on. A stream of small changes
(Twilio's status callbacks) goes through a `Coalescer`: one event per burst instead of one per change.

Reading (`stream`): subscribe first, then replay the history after the client's `Last-Event-ID`, then forward
live events, skipping those already replayed. When the history no longer reaches back to the client's last id
(trimmed, or Redis lost it) the client gets a `reset` event and reloads what it shows.

Events are notifications, not data: they carry ids and kinds, and pages fetch the fragment they show, rendered
for the viewer's role. So a stream needs no per-role filtering and Redis never holds personal data; as a
safety net any E.164 number in an event is masked before it is stored.

Channels: `command` (orders and the message log: admins, commanders, viewers) and `street-<slug>` (a street's
board: its officer, admins, commanders, viewers). No Flask here: jobs import this module (the HTTP endpoint is
mobilize/web/events.py).
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import structlog
from redis import Redis
from redis.exceptions import RedisError

from mobilize.domain.phones import mask_phone_numbers_in

log = structlog.get_logger(__name__)

COMMAND = "command"
STREET_PREFIX = "street-"
HISTORY = 500  # events kept per channel for reconnecting clients (approximately: MAXLEN ~)
HEARTBEAT_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
MAX_STREAM_SECONDS = 300.0
RETRY_MS = 2000  # how long EventSource waits before reconnecting
_CHANNEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
_EVENT = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")

# XADD then PUBLISH with the new id, atomically. The stream key carries a hash tag so that a Redis Cluster
# keeps it in one slot; the pub/sub channel is an argument (channels are not keys).
_PUBLISH_LUA = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[2], 'data', ARGV[3])
redis.call('PUBLISH', ARGV[4], id .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[3])
return id
"""


def street_channel(slug: str) -> str:
    return STREET_PREFIX + slug


def history_key(channel: str) -> str:
    return f"mobilize:events:{{{channel}}}:history"


def live_key(channel: str) -> str:
    return f"mobilize:events:{{{channel}}}:live"


def publish(redis: Redis, channel: str, event: str, data: dict | None = None) -> str | None:
    """Announce `event` on `channel`; returns its id, or None when Redis could not be reached (logged).
    Call it after the commit that the event reports, never inside the transaction."""
    if not _CHANNEL.match(channel) or not _EVENT.match(event):
        raise ValueError(f"bad channel or event name: {channel!r} {event!r}")
    payload = mask_phone_numbers_in(json.dumps(data or {}, ensure_ascii=False, default=str))
    try:
        event_id = redis.eval(_PUBLISH_LUA, 1, history_key(channel), HISTORY, event, payload,
                              live_key(channel))
    except (RedisError, OSError) as error:
        log.warning("events.publish_failed", channel=channel, event_name=event, error=str(error))
        return None
    return event_id.decode() if isinstance(event_id, bytes) else event_id


def notify(runtime, channel: str, event: str, data: dict | None = None) -> str | None:
    """publish() for code holding a Runtime (jobs, webhooks): no Redis configured or reachable means no live
    update, never a failure of the caller."""
    try:
        redis = runtime.redis
    except Exception as error:  # RedisUnavailable: no REDIS_URL and no embedded server (e.g. unit tests)
        log.debug("events.no_redis", channel=channel, event_name=event, error=str(error))
        return None
    return publish(redis, channel, event, data)


class Coalescer:
    """notify() for a stream of small changes of one kind, such as Twilio's delivery-status callbacks (two per
    message sent, hundreds a second while a wave goes out): the first change publishes at once, the ones that
    follow within `interval` seconds are gathered and published together when it ends, as one event per
    direction carrying their ids (a change alone is published as it came). Pages reload a region per burst
    of events anyway (static/live.js waits 250 ms for the burst to end), so they update as live as before,
    and the webhook no longer pays a Redis round trip (and Redis an XADD and a PUBLISH) per callback. One per
    process; thread-safe; the trailing publish runs on a timer thread."""

    def __init__(self, channel: str, event: str, interval: float = 0.2, max_ids: int = 200) -> None:
        self.channel, self.event = channel, event
        self.interval, self.max_ids = interval, max_ids
        self._lock = threading.Lock()
        self._pending: list[dict] = []  # changes not published yet: {"direction": ..., "id": ..., ...}
        self._runtime = None
        self._timer: threading.Timer | None = None
        self._last = float("-inf")  # time.monotonic() of the last publish

    def notify(self, runtime, data: dict) -> None:
        """Announce one change (`data` has its "direction" and "id"); best effort, never raises."""
        with self._lock:
            self._pending.append(data)
            self._runtime = runtime
            if self._timer is not None:
                return  # a publish is already due: this change goes with it
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                # not a daemon: a process that exits meanwhile publishes first (it waits `interval` at most)
                self._timer = threading.Timer(wait, self.flush)
                self._timer.start()
                return
            batch = self._take()
        self._publish(runtime, batch)

    def flush(self) -> None:
        """Publish what is gathered now (the timer calls it)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            batch, runtime = self._take(), self._runtime
        if batch:
            self._publish(runtime, batch)

    def _take(self) -> list[dict]:
        batch, self._pending = self._pending, []
        self._last = time.monotonic()
        return batch

    def _publish(self, runtime, batch: list[dict]) -> None:
        by_direction: dict[str, list[dict]] = {}
        for change in batch:
            by_direction.setdefault(change.get("direction", ""), []).append(change)
        for direction, changes in by_direction.items():
            data = changes[0] if len(changes) == 1 else {
                "direction": direction, "ids": [change.get("id") for change in changes[:self.max_ids]],
                "count": len(changes)}
            notify(runtime, self.channel, self.event, data)


# --- reading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: str
    event: str
    data: str  # JSON text

    def encode(self) -> str:
        return f"id: {self.id}\nevent: {self.event}\ndata: {self.data}\n\n"


def _order(event_id: str) -> tuple[int, int]:
    """Stream ids compare as (milliseconds, sequence)."""
    millis, _, sequence = event_id.partition("-")
    return int(millis), int(sequence or 0)


def valid_event_id(event_id: str | None) -> bool:
    return bool(event_id) and re.fullmatch(r"\d{1,20}-\d{1,20}", event_id) is not None


def history_after(redis: Redis, channel: str, last_id: str) -> tuple[list[Event], bool]:
    """Events after `last_id`, and whether the history still reaches back to it (False: some may be lost)."""
    entries = redis.xrange(history_key(channel), min=f"({last_id}", max="+", count=HISTORY)
    events = [_from_entry(entry_id, fields) for entry_id, fields in entries]
    oldest = redis.xrange(history_key(channel), count=1)
    if not oldest:
        return events, last_id == "0-0"  # nothing kept: complete only if the client had seen nothing either
    # Trimming removes the oldest entries first: if the oldest kept one is not newer than the client's last,
    # everything after that is still here.
    return events, _order(_decode(oldest[0][0])) <= _order(last_id)


def latest_id(redis: Redis, channel: str) -> str:
    newest = redis.xrevrange(history_key(channel), count=1)
    return _decode(newest[0][0]) if newest else "0-0"


def _decode(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _from_entry(entry_id, fields: dict) -> Event:
    fields = {_decode(key): _decode(value) for key, value in fields.items()}
    return Event(_decode(entry_id), fields.get("event", "message"), fields.get("data", "{}"))


def _from_live(raw) -> Event:
    event_id, event, data = _decode(raw).split("\n", 2)
    return Event(event_id, event, data)


def _subscribe(pubsub, key: str, timeout: float = 5.0) -> None:
    """Subscribe and wait for Redis to confirm, so that the history read next cannot overtake the
    subscription (the two use different connections)."""
    pubsub.subscribe(key)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=deadline - time.monotonic())
        if message is not None and message.get("type") == "subscribe":
            return
    raise RedisError("no subscription confirmation from Redis")


def stream(redis: Redis, channel: str, last_event_id: str | None, *, still_allowed: Callable[[], bool],
           heartbeat: float = HEARTBEAT_SECONDS, max_seconds: float = MAX_STREAM_SECONDS) -> Iterator[str]:
    """The text of an SSE stream: catch-up, then live events, heartbeats, until max_seconds or the session
    ends. Subscribing before reading the history means no event falls between the two."""
    pubsub = redis.pubsub()
    try:
        _subscribe(pubsub, live_key(channel))
        yield f"retry: {RETRY_MS}\n\n"
        last = last_event_id if valid_event_id(last_event_id) else None
        if last is None:
            last = latest_id(redis, channel)  # a new client starts now; `ready` tells it where that is
            yield Event(last, "ready", "{}").encode()
        else:
            missed, complete = history_after(redis, channel, last)
            if not complete:  # the page reloads what it shows instead of applying a partial history
                last = latest_id(redis, channel)
                missed = []
                yield Event(last, "reset", "{}").encode()
            for event in missed:
                yield event.encode()
                last = event.id
        deadline = time.monotonic() + max_seconds
        next_check = time.monotonic() + heartbeat
        while (now := time.monotonic()) < deadline:
            message = pubsub.get_message(timeout=max(0.0, min(deadline, next_check) - now))
            if message is not None and message.get("type") == "message":
                event = _from_live(message["data"])
                if _order(event.id) > _order(last):
                    last = event.id
                    yield event.encode()
            if time.monotonic() >= next_check:
                if not still_allowed():
                    yield Event(last, "logout", "{}").encode()
                    return
                yield ": keep-alive\n\n"
                next_check = time.monotonic() + heartbeat
    except (RedisError, OSError) as error:
        log.info("events.stream_interrupted", channel=channel, error=str(error))  # the browser reconnects
    finally:
        pubsub.close()
