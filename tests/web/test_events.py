"""Live updates: publish -> Redis -> any web process's SSE stream; Last-Event-ID catch-up; channel scoping."""
from __future__ import annotations

import json
import queue
import threading
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from mobilize.app import create_app
from mobilize.models import InboundMessage
from mobilize.runtime import Runtime
from mobilize.web import events
from tests.conftest import make_settings
from tests.web.conftest import csrf_token


class SseReader:
    """Reads an SSE response in a thread; `next()` returns the next event as a dict (id, event, data)."""

    def __init__(self, response) -> None:
        self.response = response
        self.events: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = ""
        for chunk in self.response.response:
            buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line
                              and not line.startswith(":"))
                if "event" in fields:
                    self.events.put(fields)
        self.events.put(None)  # the stream ended

    def next(self, timeout: float = 5.0) -> dict | None:
        return self.events.get(timeout=timeout)

    def until(self, name: str, timeout: float = 5.0) -> dict:
        while (event := self.next(timeout)) is not None:
            if event["event"] == name:
                return event
        raise AssertionError(f"the stream ended before a {name!r} event")

    def close(self) -> None:
        self.thread.join(10)
        self.response.close()


def open_stream(client, channel: str, last_event_id: str | None = None) -> SseReader:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = client.get(f"/events/{channel}", headers=headers, buffered=False)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/event-stream"
    return SseReader(response)


@pytest.fixture
def long_streams(app):
    app.config.update(EVENT_STREAM_SECONDS=1.0)


def test_a_published_event_reaches_an_open_stream(clients, redis_client, long_streams):
    reader = open_stream(clients["commander"], "command")
    ready = reader.until("ready")
    event_id = events.publish(redis_client, "command", "message", {"direction": "in", "id": 7})
    received = reader.until("message")
    assert received["id"] == event_id and event_id > ready["id"]
    assert json.loads(received["data"]) == {"direction": "in", "id": 7}
    reader.close()


def test_streams_on_other_processes_get_it_too(app, registry, web_runtime, redis_client, long_streams):
    """Two apps (as two gunicorn workers would be) share nothing but Redis."""
    other = create_app(runtime=Runtime(web_runtime.settings))
    other.config.update(EVENT_STREAM_SECONDS=1.0)
    from tests.web.conftest import login

    client = other.test_client()
    login(client, "viewer")
    reader = open_stream(client, "command")
    reader.until("ready")
    events.publish(redis_client, "command", "order", {"order_id": 1})
    assert reader.until("order")["event"] == "order"
    reader.close()


def test_a_reconnecting_client_catches_up_from_last_event_id(clients, redis_client):
    first = events.publish(redis_client, "street-badaguan", "assignment", {"n": 1})
    second = events.publish(redis_client, "street-badaguan", "assignment", {"n": 2})
    third = events.publish(redis_client, "street-badaguan", "order", {"n": 3})
    reader = open_stream(clients["officer"], "street-badaguan", last_event_id=first)
    replayed = [reader.next(), reader.next()]
    assert [(e["id"], e["event"]) for e in replayed] == [(second, "assignment"), (third, "order")]
    assert [json.loads(e["data"])["n"] for e in replayed] == [2, 3]
    reader.close()


def test_a_client_whose_events_were_trimmed_is_told_to_reload(clients, redis_client):
    old = events.publish(redis_client, "command", "message", {"n": 1})
    for n in range(5):
        events.publish(redis_client, "command", "message", {"n": n})
    # as the cap does under heavy traffic
    redis_client.xtrim(events.history_key("command"), maxlen=2, approximate=False)
    reader = open_stream(clients["commander"], "command", last_event_id=old)
    reset = reader.next()
    assert reset["event"] == "reset" and reset["id"] == events.latest_id(redis_client, "command")
    reader.close()
    redis_client.delete(events.history_key("command"))  # Redis lost everything (restart without persistence)
    again = open_stream(clients["commander"], "command", last_event_id=old)
    assert again.next()["event"] == "reset"
    again.close()


def test_a_new_client_starts_at_the_newest_event(clients, redis_client):
    events.publish(redis_client, "command", "message", {"old": True})
    reader = open_stream(clients["viewer"], "command")
    ready = reader.next()
    assert ready["event"] == "ready" and ready["id"] == events.latest_id(redis_client, "command")
    assert reader.next() is None  # nothing old was replayed before the (short) stream ended
    reader.close()


@pytest.mark.parametrize("role, channel, status", [
    ("anonymous", "command", 401), ("anonymous", "street-badaguan", 401),
    ("officer", "command", 403), ("officer", "street-zhanshan", 403), ("officer", "street-badaguan", 200),
    ("viewer", "street-zhanshan", 200), ("viewer", "command", 200),
    ("commander", "street-nowhere", 404), ("commander", "orders", 404), ("admin", "street-badaguan", 200),
])
def test_channels_are_scoped_by_role_and_street(clients, role, channel, status):
    before = events.slots.open
    response = clients[role].get(f"/events/{channel}")
    assert response.status_code == status
    if status == 200:
        assert response.mimetype == "text/event-stream" and "event: ready" in response.get_data(as_text=True)
    response.close()
    assert events.slots.open == before  # every stream gives its slot back


def test_logging_out_ends_the_open_streams(app, clients):
    app.config.update(EVENT_STREAM_SECONDS=10.0)
    commander = clients["commander"]
    reader = open_stream(commander, "command")
    reader.until("ready")
    commander.post("/logout", data={"csrf_token": csrf_token(commander)})
    assert reader.until("logout")["event"] == "logout"
    assert reader.next() is None  # and the stream ended long before its 10 s
    reader.close()


def test_a_process_serves_a_bounded_number_of_streams(app, clients):
    before = events.slots.open
    app.config.update(EVENT_STREAMS_PER_PROCESS=before)
    assert clients["commander"].get("/events/command").status_code == 503
    assert events.slots.open == before  # a refused stream holds no slot
    app.config.update(EVENT_STREAMS_PER_PROCESS=before + 1)
    response = clients["commander"].get("/events/command")
    assert response.status_code == 200 and events.slots.open == before + 1
    assert clients["viewer"].get("/events/command").status_code == 503
    response.close()  # never read: the slot comes back all the same
    assert events.slots.open == before


def test_phone_numbers_never_reach_the_event_history(redis_client):
    events.publish(redis_client, "command", "message", {"note": "from +8613912345678"})
    [(_, fields)] = redis_client.xrange(events.history_key("command"))
    assert b"+8613912345678" not in fields[b"data"] and "139****5678".encode() in fields[b"data"]


def test_publishing_without_redis_is_logged_not_raised(tmp_path, sqlite_url):
    runtime = Runtime(make_settings(tmp_path, sqlite_url, "redis://127.0.0.1:1/0"))
    assert events.notify(runtime, "command", "message", {}) is None
    assert events.notify(Runtime(make_settings(tmp_path / "none", sqlite_url)), "command", "message") is None
    runtime.close()


def test_inbound_sms_and_its_processing_are_announced(tmp_path, sqlite_url, redis_url, redis_client):
    token, public = "test-auth-token", "https://mobilize.example.org"
    runtime = Runtime(make_settings(tmp_path, sqlite_url, redis_url, twilio_auth_token=token,
                                    public_base_url=public))
    from workers.context import set_runtime

    set_runtime(runtime)
    client = create_app(runtime=runtime).test_client()
    form = {"MessageSid": "SM" + "e" * 32, "From": "+8613900000009", "To": "+8610690000", "Body": "帮助"}
    signature = RequestValidator(token).compute_signature(public + "/twilio/sms", form)
    assert client.post("/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}).status_code == 200
    with runtime.transaction() as session:
        inbound_id = session.scalar(select(InboundMessage.id))
    from workers.sms import process_inbound

    process_inbound(inbound_id)
    entries = redis_client.xrange(events.history_key("command"))
    history = [json.loads(fields[b"data"]) for _, fields in entries]
    assert history[:2] == [{"direction": "in", "id": inbound_id}, {"direction": "in", "id": inbound_id}]
    set_runtime(None)
    runtime.close()


def test_bad_channel_or_event_names_are_refused(redis_client):
    for channel, event in (("Command", "message"), ("command", "Bad Name"), ("a" * 70, "message")):
        with pytest.raises(ValueError):
            events.publish(redis_client, channel, event, {})


def test_a_page_reconnecting_after_a_refusal_passes_the_id_in_the_query(clients, redis_client):
    """EventSource sends Last-Event-ID only on its own reconnects; after a refused connection (503) the page's
    script opens a new one with ?last_event_id=."""
    first = events.publish(redis_client, "command", "message", {"n": 1})
    second = events.publish(redis_client, "command", "message", {"n": 2})
    query = urlencode({"last_event_id": first})
    response = clients["commander"].get(f"/events/command?{query}", buffered=False)
    reader = SseReader(response)
    assert reader.next()["id"] == second
    reader.close()
