"""The sender's throughput cap in segments per second, shared by every worker through Redis (the `limits`
library's moving window: in no window of the period is the cap exceeded, whatever the number of workers)."""
from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter


def limits_storage_uri(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


class SegmentRateLimiter:
    def __init__(self, redis_url: str, segments_per_second: float, sender_key: str):
        if segments_per_second <= 0:
            raise ValueError("segments_per_second must be positive")
        if segments_per_second >= 1:
            self.item = RateLimitItemPerSecond(int(segments_per_second), 1)
        else:  # e.g. 0.5 a second: one segment per two seconds
            self.item = RateLimitItemPerSecond(1, math.ceil(1 / segments_per_second))
        self.limiter = MovingWindowRateLimiter(RedisStorage(limits_storage_uri(redis_url)))
        self.sender_key = sender_key

    @property
    def capacity(self) -> int:
        """The most segments one acquire can ask for (a longer message is paid in several acquires)."""
        return self.item.amount

    def try_acquire(self, segments: int) -> bool:
        return self.limiter.hit(self.item, "mobilize-sms", self.sender_key, cost=segments)

    def acquire(self, segments: int, deadline: float | None = None) -> bool:
        """Wait until `segments` may be sent now; False if the deadline (time.monotonic) passes first."""
        remaining = segments
        while remaining > 0:
            chunk = min(remaining, self.capacity)
            while not self.try_acquire(chunk):
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                stats = self.limiter.get_window_stats(self.item, "mobilize-sms", self.sender_key)
                time.sleep(min(0.25, max(0.002, stats.reset_time - time.time())))
            remaining -= chunk
        return True
