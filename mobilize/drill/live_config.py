"""The live drill's settings and its time compression: `LiveDrillConfig`, and the simulated drill's order with
its strategy timers and the matching's hold-back in compressed seconds."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mobilize.drill.engine import DrillConfig


@dataclass
class LiveDrillConfig:
    volunteers: int = 5000
    places: int = 435
    seed: int = 2022
    compress: float = 20.0  # simulated seconds per real second (people's delays and the order's timers)
    segments_per_second: float = 100.0  # the sender's cap, per REAL second (SMS_SEGMENTS_PER_SECOND)
    hold_max_s: float | None = None  # real s; None: the service's HOLD_MAX_S compressed; 0: place at once
    time_limit_s: float = 900.0  # real seconds from launch
    workers: int = 2  # as `mobilize up`
    web_workers: int = 2
    roster: bool = True  # the peacetime roster beside the order, as in the simulated drill
    workdir: Path | None = None  # default: a fresh temporary folder, removed afterwards
    progress: Callable[[str], None] | None = None

    def drill_config(self) -> DrillConfig:
        """The simulated drill's order, with its strategy timers in compressed seconds (the service's minimums
        kept: a wave interval of at least 10 s, a confirmation timeout of at least 60 s)."""
        base = DrillConfig()
        return DrillConfig(volunteers=self.volunteers, places=self.places, seed=self.seed,
                           time_scale=self.compress, segments_per_second=self.segments_per_second,
                           hold_max_s=self.effective_hold_max_s(),
                           wave_interval_s=max(10, round(base.wave_interval_s / self.compress)),
                           confirmation_timeout_s=max(60, round(base.confirmation_timeout_s / self.compress)),
                           starts_after_s=base.starts_after_s / self.compress)

    def effective_hold_max_s(self) -> float:
        from mobilize.wartime.dispatch import HOLD_MAX_S

        return HOLD_MAX_S / self.compress if self.hold_max_s is None else self.hold_max_s

    def simulator_time_scale(self) -> float:
        """The simulator's time scale: people answer `compress` times faster."""
        return 1.0 / self.compress

    def env_overrides(self) -> dict[str, str]:
        """The service's settings the drill sets in the children: the sender's cap and the compressed hold-back."""
        return {"SMS_SEGMENTS_PER_SECOND": str(self.segments_per_second),
                "MATCH_HOLD_MAX_S": str(self.effective_hold_max_s())}
