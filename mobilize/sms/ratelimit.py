"""The sender's throughput cap in segments per second, shared by every worker through Redis, and held where the
carrier counts: when the requests ARRIVE, in any one-second window, whatever the number of workers and threads.

A window that counts segments when the limiter lets them go (the `limits` library's moving window, used here
before) cannot promise that: the request arrives some milliseconds later, not always the same number of them, so
a quick request can land less than a second after the slow one whose slot it took. Measured at the simulator on
a busy machine: up to 109 segments in a second under a cap of 100, 2 under a cap of 1. No margin short of the
slowest request closes that gap, and `limits` has no way to count a hit from a later moment. So each segment
here holds its place in the window from the moment it is let go (a reservation) until one second after its
request was answered (`done`); the request arrived in between, so any second of arrivals holds at most the cap.
What it costs: a slot frees one request's duration later than a second after it was taken, a few ms here.

Redis: one sorted set per sender; each member is a segment, its score the time until which it counts (a
reservation counts for RESERVATION_S at most, so a worker that dies mid-request frees its slots by then). Both
steps are one Lua call each, atomic across workers.
"""
from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import dataclass

from redis import Redis

RESERVATION_S = 35.0  # longer than the gateway's request timeout (30 s)
KEY = "mobilize:sms:rate:{sender}"

# Time is Redis's own (TIME), so that workers on several hosts share one clock.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
# KEYS[1] the set; ARGV: limit, cost, reservation seconds, token. Returns {1} when reserved, or {0, when}
# with the earliest time a slot frees (seconds from now).
_RESERVE = _NOW + """
local limit, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local used = redis.call('ZCARD', KEYS[1])
if used + cost > limit then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tostring((tonumber(first[2]) or now) - now)}
end
local until_ = now + tonumber(ARGV[3])
for i = 1, cost do
  redis.call('ZADD', KEYS[1], until_, ARGV[4] .. ':' .. i)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000) + 1000)
return {1}
"""
# KEYS[1] the set; ARGV: seconds it still counts (0: not at all), first and last segment, token. Only members
# still there (XX): a lapsed one stays gone.
_SETTLE = _NOW + """
local until_ = 0
if tonumber(ARGV[1]) > 0 then until_ = now + tonumber(ARGV[1]) end
for i = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  redis.call('ZADD', KEYS[1], 'XX', until_, ARGV[4] .. ':' .. i)
end
return 1
"""


def limits_storage_uri(redis_url: str) -> str:
    """A Redis URL for the `limits` library (which the web's login throttle uses)."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


@dataclass(frozen=True)
class Reservation:
    token: str
    segments: int


class SegmentRateLimiter:
    def __init__(self, redis_url: str, segments_per_second: float, sender_key: str):
        if segments_per_second <= 0:
            raise ValueError("segments_per_second must be positive")
        if segments_per_second >= 1:
            self.limit, self.window_s = int(segments_per_second), 1.0
        else:  # e.g. 0.5 a second: one segment per two seconds
            self.limit, self.window_s = 1, float(math.ceil(1 / segments_per_second))
        self.redis = Redis.from_url(redis_url)
        self.key = KEY.format(sender=sender_key)
        self.sender_key = sender_key
        self._reserve = self.redis.register_script(_RESERVE)
        self._settle = self.redis.register_script(_SETTLE)

    @property
    def capacity(self) -> int:
        """The most segments one reservation can hold (a longer message is paid in several)."""
        return self.limit

    def try_acquire(self, segments: int) -> Reservation | float:
        """A reservation of `segments`, or the seconds until a slot may free."""
        token = secrets.token_hex(8)
        answer = self._reserve(keys=[self.key], args=[self.limit, segments, RESERVATION_S, token])
        if int(answer[0]) == 1:
            return Reservation(token, segments)
        return float(answer[1])

    def acquire(self, segments: int, deadline: float | None = None) -> Reservation | None:
        """Wait until `segments` may be sent now; None if the deadline (time.monotonic) passes first. Call
        done() with the reservation once the request is answered (or failed). A message longer than the cap
        is paid in parts, the earlier ones counted as sent when the next part is taken."""
        remaining, held = segments, None
        while remaining > 0:
            chunk = min(remaining, self.capacity)
            if held is not None:  # the earlier part counts as sent from now, so the next waits for its window
                self.done(held, sent=True)
                held = None
            while not isinstance(reservation := self.try_acquire(chunk), Reservation):
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                time.sleep(min(0.25, max(0.002, reservation)))
            held, remaining = reservation, remaining - chunk
        return held

    def done(self, reservation: Reservation, sent: bool = True) -> None:
        """The request is over: its segments count until a window after now (sent, or maybe sent), or not at all
        (refused before anything went out)."""
        self.settle(reservation.token, 1, reservation.segments, sent)

    def settle(self, token: str, first: int, last: int, sent: bool) -> None:
        """Segments first..last (from 1) of a reservation: counted until a window after now, or freed."""
        if first <= last:
            self._settle(keys=[self.key], args=[repr(self.window_s if sent else 0.0), first, last, token])


# -- several messages' segments in one reservation ---------------------------------------------------------------
#
# Two Lua calls per message (reserve, settle) were a tenth of the sender's CPU in the send benchmark with no
# cap to speak of. When the cap is far above what one sender job can use, the job's threads take their
# segments from a block reserved in one call instead. The block holds every one of its segments from the
# reservation until a window after the LAST of its requests was answered, and frees the ones it did not hand
# out: each segment is held at least as long as alone, so the cap holds as before; what it costs is a little
# capacity, which is why a block is at most 1/BLOCK_HEADROOM of the cap (a cap of 100 a second: no blocks).
MAX_BLOCK = 32  # segments reserved at once
BLOCK_HEADROOM = 100
# A block hands out parts for this long at most, so that every part's request (30 s at most) is answered
# before the reservation lapses (RESERVATION_S).
BLOCK_MAX_AGE_S = 2.0


def block_size(limiter: SegmentRateLimiter) -> int:
    """How many segments a sender job reserves at once under this limiter (1: one message at a time)."""
    return max(1, min(MAX_BLOCK, limiter.capacity // BLOCK_HEADROOM))


@dataclass(frozen=True)
class BlockTicket:
    block: _Block
    segments: int


class _Block:
    """One reservation, handed out in parts; settled when it is sealed and every part is done."""

    def __init__(self, reservation: Reservation) -> None:
        self.reservation = reservation
        self.reserved_at = time.monotonic()
        self.taken = 0  # segments handed out
        self.outstanding = 0  # parts handed out and not done
        self.sealed = False

    def can_take(self, segments: int) -> bool:
        return (self.reservation.segments - self.taken >= segments
                and time.monotonic() - self.reserved_at < BLOCK_MAX_AGE_S)


class BlockLimiter:
    """SegmentRateLimiter's acquire/done for the sending threads of one job, `block` segments a reservation.
    A message longer than a block goes to the limiter alone. close() when the job is done sending."""

    def __init__(self, limiter: SegmentRateLimiter, block: int) -> None:
        self.limiter = limiter
        self.block = block
        self._lock = threading.Lock()
        self._current: _Block | None = None

    def acquire(self, segments: int, deadline: float | None = None) -> Reservation | BlockTicket | None:
        if segments > self.block:
            return self.limiter.acquire(segments, deadline)
        with self._lock:  # the others wait while one thread reserves: they would wait for the limiter anyway
            current = self._current
            if current is None or not current.can_take(segments):
                if current is not None:
                    self._seal(current)
                    self._current = None
                reservation = self.limiter.acquire(self.block, deadline)
                if reservation is None:
                    return None
                current = self._current = _Block(reservation)
            current.taken += segments
            current.outstanding += 1
            return BlockTicket(current, segments)

    def done(self, ticket: Reservation | BlockTicket, sent: bool = True) -> None:
        """The request is over. A part of a block counts as sent whatever `sent` says (the block is settled as
        one, when its last part is done)."""
        if isinstance(ticket, Reservation):
            self.limiter.done(ticket, sent)
            return
        with self._lock:
            block = ticket.block
            block.outstanding -= 1
            settle = block.sealed and block.outstanding == 0
        if settle:
            self.limiter.settle(block.reservation.token, 1, block.taken, sent=True)

    def close(self) -> None:
        """No more parts: free what was not handed out; settle the block once its last part is done."""
        with self._lock:
            current, self._current = self._current, None
            if current is not None:
                self._seal(current)

    def _seal(self, block: _Block) -> None:
        """(Holding the lock.) Free the unused segments now; settle the rest if nothing is in flight."""
        block.sealed = True
        self.limiter.settle(block.reservation.token, block.taken + 1, block.reservation.segments, sent=False)
        if block.outstanding == 0:
            self.limiter.settle(block.reservation.token, 1, block.taken, sent=True)
