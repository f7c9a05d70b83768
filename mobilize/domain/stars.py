"""Points and stars from certified hours. Pure: thresholds and the points rate come from Settings.

The common standard: 1 to 5 stars at 100 / 300 / 600 / 1000 / 1500 certified hours (local rules differ, so the
thresholds are configuration), and by default 1 point per certified hour. A threshold counts once it is reached:
exactly 100.00 hours is one star, 99.99 is none. Hours are compared at two decimals so that sums of floats
(33.33 + 33.33 + 33.34) reach a threshold they add up to.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_THRESHOLDS: tuple[int, ...] = (100, 300, 600, 1000, 1500)
DEFAULT_POINTS_PER_HOUR = 1.0


def _hours(value: float) -> float:
    if value is None or value != value:  # NaN
        raise ValueError("hours must be a number")
    if value < 0:
        raise ValueError(f"hours cannot be negative ({value})")
    return round(float(value), 2)


def check_thresholds(thresholds: tuple[float, ...]) -> tuple[float, ...]:
    values = tuple(thresholds)
    if not values or list(values) != sorted(set(values)) or values[0] <= 0:
        raise ValueError(f"star thresholds must be increasing positive hours, not {values!r}")
    return values


def points(hours: float, per_hour: float = DEFAULT_POINTS_PER_HOUR) -> float:
    """Points earned by `hours` certified hours (two decimals: 4.5 hours at 1 per hour are 4.5 points)."""
    if per_hour <= 0:
        raise ValueError(f"points per hour must be positive, not {per_hour}")
    return round(_hours(hours) * per_hour, 2)


def stars(hours: float, thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS) -> int:
    """0 to len(thresholds) stars: how many thresholds the certified hours reach."""
    total = _hours(hours)
    return sum(1 for threshold in check_thresholds(thresholds) if total >= threshold)


@dataclass(frozen=True)
class Standing:
    hours: float
    points: float
    stars: int
    next_threshold: float | None  # hours needed for the next star; None at the top
    hours_to_next: float | None


def standing(hours: float, thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS,
             per_hour: float = DEFAULT_POINTS_PER_HOUR) -> Standing:
    total = _hours(hours)
    count = stars(total, thresholds)
    upcoming = check_thresholds(thresholds)[count] if count < len(thresholds) else None
    return Standing(total, points(total, per_hour), count, upcoming,
                    round(upcoming - total, 2) if upcoming is not None else None)
