"""The inbox drain's kick made by a thread of the web process (jobs.BackgroundKick): a webhook answers without
waiting for Redis; every message is followed by a kick that started after its commit, and those that came
during one kick share the next; after a failed kick the next message kicks again; every message stored
while drains run is processed by those drains, without the periodic sweep."""
from __future__ import annotations

import socket
import threading
import time

import pytest
from redis import Redis

from mobilize import jobs
from mobilize.app import create_app
from mobilize.models import InboundMessage
from mobilize import runtime as runtime_module
from mobilize.runtime import Runtime
from tests.conftest import make_settings
from tests.test_inbox_drain import assert_each_processed_once, phone, processed, queued_job_names, run_worker
from tests.test_twilio_webhooks import (PUBLIC, TOKEN, client, count, inbound_form, runtime,  # noqa: F401
                                        signed_post)
from workers.sms import requeue_unprocessed


class GatedKick:
    """The real kick (jobs.kick_inbox_drain on the given connection), counted; the first one held until `open`,
    as a Redis round trip that is slow to come back."""

    def __init__(self) -> None:
        self.calls = 0
        self.first_started, self.open = threading.Event(), threading.Event()

    def __call__(self, connection: Redis) -> bool:
        self.calls += 1
        if self.calls == 1:
            self.first_started.set()
            assert self.open.wait(10)
        return jobs.kick_inbox_drain(connection)


def test_requests_made_during_a_kick_share_one_kick_that_starts_after_them(redis_client):
    gated = GatedKick()
    kick = jobs.BackgroundKick(lambda: redis_client, gated)
    kick.request()
    assert gated.first_started.wait(10)  # its SET NX is on its way: it may have read the guard before the others
    started = time.monotonic()
    for _ in range(3):
        kick.request()
    assert time.monotonic() - started < 1, "a request waited for the kick in flight"
    assert not kick.wait_covered(0.2)  # not covered until a kick started after them is done
    gated.open.set()
    assert kick.wait_covered(10)
    assert gated.calls == 2 and kick.kicks == 2  # the first, and one for the three that came during it
    assert queued_job_names(redis_client) == ["sms.drain_inbox"]


def test_kicks_are_spaced_under_load(redis_client):
    """A request about every millisecond for a fifth of a second: each kick starts at least SPACING_S after the
    one before, and the requests share them (without the spacing the kicker keeps up with each request: a SET
    NX takes well under a millisecond, 153 kicks for 154 requests)."""
    starts: list[float] = []

    def timed_kick(connection: Redis) -> bool:
        starts.append(time.monotonic())
        return jobs.kick_inbox_drain(connection)

    kick = jobs.BackgroundKick(lambda: redis_client, timed_kick)
    requests = 0
    started = time.monotonic()
    while time.monotonic() < started + 0.2:
        kick.request()
        requests += 1
        time.sleep(0.001)
    assert kick.wait_covered(10)
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:])]
    assert len(starts) >= 2 and min(gaps) >= kick.SPACING_S * 0.99, f"kicks {min(gaps) * 1000:.2f} ms apart"
    assert len(starts) < requests / 2, f"{len(starts)} kicks for {requests} requests"


def test_a_failed_kick_covers_its_requests_and_the_next_request_kicks_again(redis_client):
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    connection = {"now": down}
    kick = jobs.BackgroundKick(lambda: connection["now"])
    kick.request()
    assert kick.wait_covered(10)  # covered all the same: the message is stored, the sweep has it
    assert kick.kicks == 0 and redis_client.get(jobs.INBOX_KICK_KEY) is None
    connection["now"] = redis_client  # Redis is back
    kick.request()
    assert kick.wait_covered(10) and kick.kicks == 1
    assert redis_client.get(jobs.INBOX_KICK_KEY) is not None


def test_the_thread_ends_when_idle_and_the_next_request_starts_another(redis_client):
    kick = jobs.BackgroundKick(lambda: redis_client)
    kick.IDLE_EXIT_S = 0.1
    kick.request()
    assert kick.wait_covered(10)
    first = kick._thread
    first.join(5)
    assert not first.is_alive() and kick._thread is None
    redis_client.delete(jobs.INBOX_KICK_KEY)
    kick.request()
    assert kick.wait_covered(10) and kick.kicks == 2
    assert redis_client.get(jobs.INBOX_KICK_KEY) is not None


@pytest.fixture
def silent_redis():
    """A server that accepts connections and never answers: Redis hung."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()
    for connection in accepted:
        connection.close()


def test_the_webhook_answers_while_redis_hangs(tmp_path, database_url, silent_redis, monkeypatch):
    """The kick does not hold the answer; the live update's publish gives up after the runtime's socket timeout
    (it hung for ever before)."""
    monkeypatch.setattr(runtime_module, "REDIS_SOCKET_TIMEOUT_S", 0.5)
    rt = Runtime(make_settings(tmp_path, database_url, silent_redis, twilio_auth_token=TOKEN, public_base_url=PUBLIC))
    try:
        web = create_app(runtime=rt).test_client()
        started = time.monotonic()
        for n in range(5):
            response = web.post("/twilio/sms", data=inbound_form(sid=f"SM{n:032d}"), headers={
                "X-Twilio-Signature": signed_signature(inbound_form(sid=f"SM{n:032d}"))})
            assert response.status_code == 200
        assert time.monotonic() - started < 3, "the answers waited for Redis"
        assert count(rt, InboundMessage) == 5
    finally:
        rt.close()


def signed_signature(form: dict) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/sms", form)


@pytest.mark.parametrize("threads", [8])
def test_every_message_stored_while_drains_run_is_processed_without_the_sweep(runtime, redis_client,  # noqa: F811
                                                                              threads):
    """Webhook threads storing as fast as they can while a worker runs the drains they kick, again and again:
    each message is processed exactly once by those drains, none is left for the periodic sweep."""
    app = create_app(runtime=runtime)
    per_thread = 40
    failures: list[str] = []

    def post_many(thread_number: int) -> None:
        web = app.test_client()
        for n in range(thread_number * per_thread, (thread_number + 1) * per_thread):
            response = web.post("/twilio/sms", data=inbound_form(sid=f"SM{n:032d}", sender=phone(n), body="帮助"),
                                headers={"X-Twilio-Signature": signed_signature(
                                    inbound_form(sid=f"SM{n:032d}", sender=phone(n), body="帮助"))})
            if response.status_code != 200:
                failures.append(response.get_data(as_text=True))

    posters = [threading.Thread(target=post_many, args=(number,)) for number in range(threads)]
    for poster in posters:
        poster.start()
    while any(poster.is_alive() for poster in posters):
        run_worker(redis_client)  # the drains the webhooks kicked, while they go on storing (RQ: main thread)
    for poster in posters:
        poster.join()
    assert not failures
    total = threads * per_thread
    assert app.extensions["mobilize.inbox_kick"].wait_covered(10)  # the kicks the last messages asked for
    run_worker(redis_client)  # what they queued: no sweep
    assert processed(runtime) == total, "a message stored without a kick after it waits for the sweep"
    assert_each_processed_once(runtime, total)
    assert requeue_unprocessed(older_than_s=0) == 0
