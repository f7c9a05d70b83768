"""`GET /events/<channel>`: server-sent events for the pages, fed by Redis (mobilize/live.py), so that any web
process serves any board. `publish` and the channel names are re-exported here for web code.

Threads: under gunicorn's gthread workers each open stream holds one thread. A stream ends after
MAX_STREAM_SECONDS (the browser reconnects at once and catches up through Last-Event-ID), which also spreads
streams over the workers and re-checks the session; and a process serves at most `EVENT_STREAMS_PER_PROCESS`
streams at once (503 beyond, the page retries), so streams can never take every thread from pages and the API.
`mobilize up` runs gunicorn with WEB_THREADS threads per worker for that reason (see mobilize/supervisor.py).
"""
from __future__ import annotations

import threading
from typing import Iterator

import structlog
from flask import Blueprint, Response, abort, current_app, request

from mobilize.live import (  # noqa: F401  (re-exported: web code publishes through this module)
    COMMAND,
    HEARTBEAT_SECONDS,
    MAX_STREAM_SECONDS,
    STREET_PREFIX,
    history_key,
    latest_id,
    live_key,
    notify,
    publish,
    stream,
    street_channel,
)

log = structlog.get_logger(__name__)
blueprint = Blueprint("events", __name__)
DEFAULT_STREAMS_PER_PROCESS = 24


# --- the endpoint -------------------------------------------------------------------------------------------


class _StreamSlots:
    """How many streams this process serves now; bounded so that they never hold every worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def take(self, limit: int) -> bool:
        with self._lock:
            if self.open >= limit:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


slots = _StreamSlots()


class _HeldSlot:
    """The response body of a stream, giving its slot back when the server closes it (also when the client
    left before the first byte: a generator never started would not run its `finally`)."""

    def __init__(self, body: Iterator[str]) -> None:
        self._body = body
        self._held = True

    def __iter__(self) -> "_HeldSlot":
        return self

    def __next__(self) -> str:
        return next(self._body)

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            if self._held:
                self._held = False
                slots.give_back()


@blueprint.get("/events/<channel>")
def events(channel: str):
    """An SSE stream of one channel, for the roles and the street the channel belongs to."""
    from mobilize.web import runtime
    from mobilize.web.ui.access import authorize_channel, current_session_id, session_still_valid

    authorize_channel(channel)  # 401 / 403 / 404
    redis = runtime().redis
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    session_id = current_session_id()
    body = stream(redis, channel, last_event_id, still_allowed=lambda: session_still_valid(redis, session_id),
                  heartbeat=current_app.config.get("EVENT_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS),
                  max_seconds=current_app.config.get("EVENT_STREAM_SECONDS", MAX_STREAM_SECONDS))
    if not slots.take(current_app.config.get("EVENT_STREAMS_PER_PROCESS", DEFAULT_STREAMS_PER_PROCESS)):
        log.warning("events.too_many_streams", open=slots.open)
        abort(503)
    response = Response(_HeldSlot(body), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache, no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response
