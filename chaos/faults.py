"""The faults: kill -9 of a worker (while it sends, processes an inbound text or matches) or of the scheduler,
Redis restarted from its append-only file or empty, gateway 429 and 5xx storms, 40 s gateway answers."""
from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from chaos.supervise import revive

FAULTS = ("kill_worker_sending", "kill_worker_inbound", "kill_worker_matching", "kill_scheduler",
          "redis_restart_aof", "redis_restart_empty", "gateway_429_storm", "gateway_5xx_storm",
          "gateway_latency_40s")
JOB_OF = {"kill_worker_sending": "send_pending", "kill_worker_inbound": "drain_inbox",
          "kill_worker_matching": "match_order"}
STORM_S = 10.0  # a storm or a slow gateway lasts this long
LATENCY_MS = 40_000
REDIS_DOWN_S = 3.0
WATCH_S = 15.0  # how long a worker kill waits for its job to be running before hitting any worker


@dataclass
class Hit:
    moment: str
    started: float  # epoch s
    ended: float  # epoch s: the fault is over (child restarted, Redis back, storm cleared, last slow answer)


def plan(trials: int, rng: random.Random, faults: tuple[str, ...] = FAULTS) -> list[str]:
    """Each fault in turn (so every kind is covered), in a seeded order within each round."""
    kinds: list[str] = []
    while len(kinds) < trials:
        round_ = list(faults)
        rng.shuffle(round_)
        kinds += round_
    return kinds[:trials]


def inject(kind: str, stack, say: Callable[[str], None]) -> Hit:
    if kind in JOB_OF:
        return _kill_worker(stack, JOB_OF[kind], say)
    if kind == "kill_scheduler":
        child = next(c for c in stack.children if c.name == "scheduler")
        started = time.time()
        child.kill_group()
        child.process.wait()
        revive(stack, say)
        return Hit("scheduler", started, time.time())
    if kind in ("redis_restart_aof", "redis_restart_empty"):
        return _restart_redis(stack, empty=kind == "redis_restart_empty")
    control = stack.control()
    started = time.time()
    if kind == "gateway_429_storm":
        control.set_faults(throttle_rate=1.0)
    elif kind == "gateway_5xx_storm":
        control.set_faults(server_error_rate=1.0)
    elif kind == "gateway_latency_40s":
        control.set_faults(accept_latency_ms=LATENCY_MS)
    else:
        raise ValueError(f"unknown fault {kind}")
    _sleep_supervised(stack, STORM_S, say)
    control.clear_faults()
    ended = time.time() + (LATENCY_MS / 1000 if kind == "gateway_latency_40s" else 0.0)
    return Hit("gateway", started, ended)


def _kill_worker(stack, job_name: str, say: Callable[[str], None]) -> Hit:
    """kill -9 of the worker's process group (the worker and its work horse) while it runs `job_name`; any
    worker if none does within WATCH_S."""
    from rq import Worker

    deadline = time.monotonic() + WATCH_S
    target, moment = None, f"any (no {job_name} seen)"
    while time.monotonic() < deadline and target is None:
        revive(stack, say)
        for worker in Worker.all(connection=stack.runtime.redis):
            job = worker.get_current_job()
            if job is not None and job_name in (job.func_name or ""):
                target = _child_of(stack, worker.pid)
                if target is not None:
                    moment = job_name
                    break
        time.sleep(0.05)
    if target is None:
        target = next(c for c in stack.children if c.name.startswith("worker-"))
    started = time.time()
    target.kill_group()
    target.process.wait()
    revive(stack, say)
    return Hit(f"{moment} ({target.name})", started, time.time())


def _child_of(stack, pid: int | None):
    for child in stack.children:
        if child.process is not None and pid is not None:
            if child.process.pid == pid:
                return child
            try:
                if os.getpgid(pid) == child.process.pid:
                    return child
            except ProcessLookupError:
                pass
    return None


def _restart_redis(stack, empty: bool) -> Hit:
    """kill -9 of Redis (what it had not written to its append-only file in the last second is lost), down for
    REDIS_DOWN_S, started again from the file; `empty`: FLUSHALL first, so it comes back with nothing."""
    redis = stack.redis
    started = time.time()
    if empty:
        stack.runtime.redis.flushall()
    process = redis.process
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    redis.process = None
    redis.socket_path.unlink(missing_ok=True)
    if empty:  # the FLUSHALL may not have reached the file within its 1 s fsync: the file goes too
        import shutil

        shutil.rmtree(redis.data_dir / "appendonlydir", ignore_errors=True)
        for path in redis.data_dir.glob("appendonly.aof*"):
            path.unlink(missing_ok=True)
    time.sleep(REDIS_DOWN_S)
    redis.start()
    return Hit("redis empty" if empty else "redis from AOF", started, time.time())


def _sleep_supervised(stack, seconds: float, say: Callable[[str], None]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        revive(stack, say)
        time.sleep(0.5)
