"""A simulated clock for the drill: every `utcnow()` of the service reads it while a drill runs.

The service takes `now` from `mobilize.models._types.utcnow`, imported by name into many modules. `simulated`
points those names at the drill's clock for the duration of the run (and puts the originals back), so that the
order's timers, answers and audit rows all live in simulated time, and a run is reproducible.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import datetime, timedelta

from mobilize.models import _types


class SimClock:
    def __init__(self, start: datetime) -> None:
        self.start = start
        self.t = 0.0  # simulated seconds since start

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    def at(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)


@contextmanager
def simulated(clock: SimClock):
    original = _types.utcnow
    patched = []
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(("mobilize", "workers")):
            continue
        if getattr(module, "utcnow", None) is original:
            module.utcnow = clock.now
            patched.append(module)
    try:
        yield clock
    finally:
        for module in patched:
            module.utcnow = original
