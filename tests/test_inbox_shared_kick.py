"""One inbox-drain kick shared by the webhook threads of a process (jobs.SharedKick): a message stored while a kick
is in flight must not return before a kick that started after it is done, and those that queued behind one kick
share the next; every message stored is processed by the drains it kicked, without the periodic sweep."""
from __future__ import annotations

import threading
import time

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from mobilize import jobs
from mobilize.app import create_app
from tests.test_inbox_drain import assert_each_processed_once, phone, processed, run_worker
from tests.test_twilio_webhooks import client, inbound_form, runtime, signed_post  # noqa: F401  (fixtures)
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


def in_thread(target, *args) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = target(*args)
        except Exception as error:  # noqa: BLE001 - the test looks at it
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_messages_stored_during_a_kick_wait_for_one_kick_started_after_them_and_share_it(redis_client):
    gated = GatedKick()
    shared = jobs.SharedKick(gated)
    first, _ = in_thread(shared.after_stored, redis_client)
    assert gated.first_started.wait(10)  # its SET NX is on its way: it may have read the guard before the others
    later = [in_thread(shared.after_stored, redis_client) for _ in range(3)]
    time.sleep(0.3)  # they are all waiting behind the kick in flight
    assert all(thread.is_alive() for thread, _ in later), "returned before a kick that started after them"
    gated.open.set()
    for thread, outcome in [(first, {})] + later:
        thread.join(10)
        assert not thread.is_alive() and "error" not in outcome
    assert gated.calls == 2  # the first, and one for the three that came during it
    assert sorted(outcome["value"] for _, outcome in later) == [False, False, True]
    assert redis_client.get(jobs.INBOX_KICK_KEY) is not None


def test_a_failed_kick_covers_nobody(redis_client):
    """Redis down for the kick after the one in flight: each caller tries its own and raises (the webhook logs
    it, the message is stored and the sweep queues it); then Redis is back and the next caller kicks again."""
    gated = GatedKick()
    shared = jobs.SharedKick(gated)
    first, _ = in_thread(shared.after_stored, redis_client)
    assert gated.first_started.wait(10)
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    later = [in_thread(shared.after_stored, down) for _ in range(3)]
    time.sleep(0.3)
    gated.open.set()
    for thread, _ in [(first, {})] + later:
        thread.join(10)
    assert all(isinstance(outcome.get("error"), RedisConnectionError) for _, outcome in later)
    assert gated.calls == 4  # none of the failed kicks counted as done for the others
    redis_client.delete(jobs.INBOX_KICK_KEY)
    assert shared.after_stored(redis_client) is True and gated.calls == 5


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
            response = signed_post(web, "/twilio/sms", inbound_form(sid=f"SM{n:032d}", sender=phone(n),
                                                                     body="帮助"))
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
    run_worker(redis_client)  # what the last kicks queued: no sweep
    assert processed(runtime) == total, "a message stored without a kick after it waits for the sweep"
    assert_each_processed_once(runtime, total)
    assert requeue_unprocessed(older_than_s=0) == 0
