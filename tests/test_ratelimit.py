"""The sender's rate limit on a real Redis: a slot is held from admission until a window after the answer."""
from __future__ import annotations

import time

from mobilize.sms.ratelimit import SegmentRateLimiter


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
