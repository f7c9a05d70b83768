"""The worker process's Runtime, built once when the worker starts (or lazily from the environment)."""
from __future__ import annotations

from mobilize.runtime import Runtime

_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime.from_env()
    return _runtime
