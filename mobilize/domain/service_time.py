"""Hours of service on a wartime order: time on site, counted inside the order's window only."""
from __future__ import annotations

from datetime import datetime


def service_hours(arrived_at: datetime | None, left_at: datetime | None, starts_at: datetime,
                  ends_at: datetime) -> float:
    """Hours between arrival and leaving, both clamped to the window; 0 without an arrival. Two decimals."""
    if arrived_at is None or left_at is None:
        return 0.0
    start, end = max(arrived_at, starts_at), min(left_at, ends_at)
    return round(max(0.0, (end - start).total_seconds()) / 3600, 2)
