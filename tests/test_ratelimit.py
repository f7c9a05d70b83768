"""The sender's rate limit on a real Redis: a slot is held from admission until a window after the answer."""
from __future__ import annotations

import threading
import time

from mobilize.sms.ratelimit import (
    MAX_BLOCK,
    BlockLimiter,
    SegmentRateLimiter,
    block_size,
)


def test_the_cap_is_never_exceeded_in_any_window(redis_url, redis_client):
    limiter = SegmentRateLimiter(redis_url, 10, "test-sender")
    started, admitted = time.monotonic(), []
    for _ in range(25):
        reservation = limiter.acquire(1)
        admitted.append(time.monotonic() - started)
        limiter.done(reservation)
    assert max(sum(1 for t in admitted if start <= t < start + 1.0) for start in admitted) <= 10
    assert admitted[-1] >= 2.0  # 25 segments at 10 a second cannot all go in under two seconds


def test_a_slot_stays_taken_while_the_request_is_in_flight(redis_url, redis_client):
    limiter = SegmentRateLimiter(redis_url, 1, "test-sender")
    first = limiter.acquire(1)
    # no answer yet: however long the request takes, nothing else may go
    assert limiter.acquire(1, deadline=time.monotonic() + 1.3) is None
    limiter.done(first)
    # answered: it still counts for one second after the answer
    assert not hasattr(limiter.try_acquire(1), "token")
    time.sleep(1.05)
    assert hasattr(limiter.try_acquire(1), "token")


def test_a_refused_request_frees_its_slot_at_once(redis_url, redis_client):
    limiter = SegmentRateLimiter(redis_url, 1, "test-sender")
    limiter.done(limiter.acquire(1), sent=False)
    assert hasattr(limiter.try_acquire(1), "token")


def test_a_long_message_is_paid_in_parts_under_a_small_cap(redis_url, redis_client):
    limiter = SegmentRateLimiter(redis_url, 2, "test-sender")
    started = time.monotonic()
    # 3 segments under a cap of 2: the third waits for the first part's window, not for its 35-s reservation
    reservation = limiter.acquire(3, deadline=started + 10)
    assert reservation is not None and reservation.segments == 1
    assert time.monotonic() - started >= 0.9


# -- blocks: several messages' segments in one reservation -----------------------------------------------------


def _scores(redis_client, limiter) -> list[float]:
    """How long each segment still held counts, in seconds from now (Redis's clock; a freed one is gone)."""
    seconds, micros = redis_client.time()
    now = seconds + micros / 1e6
    return [score - now for _member, score in redis_client.zrange(limiter.key, 0, -1, withscores=True)
            if score > now]


def test_blocks_only_under_a_cap_far_above_a_blocks_size(redis_url, redis_client):
    assert block_size(SegmentRateLimiter(redis_url, 100, "test-sender")) == 1  # a short code: one at a time
    assert block_size(SegmentRateLimiter(redis_url, 1000, "test-sender")) == 10
    assert block_size(SegmentRateLimiter(redis_url, 1_000_000, "test-sender")) == MAX_BLOCK


def test_a_block_is_held_until_a_window_after_its_last_part_and_frees_what_it_did_not_hand_out(
        redis_url, redis_client):
    limiter = SegmentRateLimiter(redis_url, 3200, "test-sender")
    blocks = BlockLimiter(limiter, 32)
    first, second = blocks.acquire(1), blocks.acquire(2)
    assert len(_scores(redis_client, limiter)) == 32  # reserved at once, each held for the reservation
    blocks.close()  # no more parts: the 29 not handed out are free at once, the 3 taken still held
    assert [score > 30 for score in _scores(redis_client, limiter)] == [True] * 3
    blocks.done(first)
    assert all(score > 30 for score in _scores(redis_client, limiter))  # its other part is still in flight
    blocks.done(second, sent=False)  # a part counts as sent whatever the answer: the block is settled as one
    assert [round(score) for score in _scores(redis_client, limiter)] == [1, 1, 1]


def test_a_message_longer_than_a_block_is_reserved_alone(redis_url, redis_client):
    limiter = SegmentRateLimiter(redis_url, 400, "test-sender")
    blocks = BlockLimiter(limiter, 4)
    reservation = blocks.acquire(6)
    assert reservation.segments == 6 and len(_scores(redis_client, limiter)) == 6
    blocks.done(reservation)
    blocks.close()
    assert [round(score) for score in _scores(redis_client, limiter)] == [1] * 6


def test_blocks_never_exceed_the_cap_with_threads_of_two_jobs(redis_url, redis_client):
    limiter = SegmentRateLimiter(redis_url, 10, "test-sender")
    jobs = [BlockLimiter(limiter, 3), BlockLimiter(limiter, 3)]  # a block far too big for this cap, on purpose
    started, admitted, lock = time.monotonic(), [], threading.Lock()

    def send(job: BlockLimiter) -> None:
        for _ in range(6):
            ticket = job.acquire(1, deadline=started + 30)
            with lock:
                admitted.append(time.monotonic() - started)
            time.sleep(0.01)  # the request
            job.done(ticket)

    threads = [threading.Thread(target=send, args=(job,)) for job in jobs for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for job in jobs:
        job.close()
    assert len(admitted) == 24
    assert max(sum(1 for t in admitted if start <= t < start + 1.0) for start in admitted) <= 10
