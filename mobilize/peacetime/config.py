"""The roster's knobs: Settings (time zone, stars, points, hotline) plus `settings.extra["roster_*"]` overrides."""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import time

from config import Settings
from mobilize.domain.quiet_hours import QUIET_END, QUIET_START
from mobilize.domain.stars import DEFAULT_THRESHOLDS


@dataclass(frozen=True)
class RosterConfig:
    zone: str = "Asia/Shanghai"
    star_thresholds: tuple = DEFAULT_THRESHOLDS
    points_per_hour: float = 1.0
    hotline: str = "12345"
    weeks_ahead: int = 2  # how far the generator creates shifts
    quiet_start: time = QUIET_START
    quiet_end: time = QUIET_END
    checkin_early_min: int = 60  # check-in opens this long before the start
    late_grace_min: int = 10  # arriving later than this after the start is late
    checkout_grace_h: int = 6  # after the end: SMS check-out still accepted; then automatic at the end
    code_free_after_h: int = 12  # a shift's code is freed (status ended) this long after its end
    day_reminder_min_lead_h: int = 2  # no "tomorrow" reminder closer than this to the start
    hour_reminder_min_lead_min: int = 15  # an hour reminder deferred past start - this is not sent
    list_days: int = 7  # SMS "班次": open shifts starting within this many days
    list_max: int = 3  # ... at most this many (and within two segments)
    near_home_m: float = 5000.0  # ... at posts within this distance of home (nearest first)
    gap_report_hour: int = 17  # local hour of the daily gap report and backfill
    gap_report_days: int = 2  # the report covers today (what is left) and tomorrow
    backfill_radius_m: float = 3000.0
    backfill_per_place: int = 3  # invitations per open place
    backfill_max_per_shift: int = 20
    backfill_min_lead_h: int = 2  # no backfill for shifts starting sooner

    @classmethod
    def from_settings(cls, settings: Settings | None) -> "RosterConfig":
        if settings is None:
            return cls()
        values = {"zone": settings.timezone, "star_thresholds": tuple(settings.star_thresholds),
                  "points_per_hour": settings.points_per_hour, "hotline": settings.hotline}
        extra = settings.extra or {}
        for spec in fields(cls):
            key = f"roster_{spec.name}"
            if key in extra:
                values[spec.name] = extra[key]
        return cls(**values)
