"""The heap of a long-running process (a web process, a worker): what it builds at start is kept out of the
garbage collector's full collections."""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_startup_heap() -> int:
    """Collect what start-up left behind, then freeze everything alive (gc.freeze); how many objects are frozen.

    A process that has loaded the app holds about 245,000 objects (modules, the app, its routes, templates and
    catalogues) for as long as it runs. Left in the collector's reach, every full collection walked them all,
    about 130 ms on a 2-core machine with the interpreter lock held, and everything else in the process waited:
    every request of a web process, the job a worker was running (docs/benchmarks.md, the webhook section).
    Frozen, a full collection walks only what came since (1-2 ms there). Frozen objects are still freed when
    nothing refers to them any more; only a reference cycle among them would stay, and what a process builds at
    start stays anyway. Call it once, at the start of a process that serves or works for long: not in tests
    or short commands, whose objects would be frozen with it."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """freeze_startup_heap for the block only: a long computation in a process that also runs other things (the
    drill: in a test process, or a command that returns). What was frozen before the block (a process that froze
    its own start) stays frozen after it; otherwise everything frozen here goes back in the collector's reach."""
    frozen_before = gc.get_freeze_count()
    freeze_startup_heap()
    try:
        yield
    finally:
        if frozen_before == 0:
            gc.unfreeze()
