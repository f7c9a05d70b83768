"""/healthz (database and Redis reachability) and /metrics (Prometheus text format)."""
from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select, text

from mobilize.web import runtime

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    checks = {"database": _check_database(), "redis": _check_redis()}
    healthy = all(check["ok"] for check in checks.values())
    return jsonify(status="ok" if healthy else "degraded", checks=checks), 200 if healthy else 503


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        with runtime().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any driver error means "not reachable"; report it, don't raise
        return {"ok": False, "error": type(error).__name__ + ": " + str(error).splitlines()[0][:200]}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_redis() -> dict:
    started = time.perf_counter()
    try:
        runtime().redis.ping()
    except Exception as error:  # RedisUnavailable, connection errors...
        return {"ok": False, "error": type(error).__name__ + ": " + str(error)[:200]}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


@blueprint.get("/metrics")
def metrics():
    from mobilize.models import Volunteer
    from mobilize.web import db
    from mobilize.jobs import queue_sizes

    lines = ["# HELP mobilize_volunteers Registered volunteers.", "# TYPE mobilize_volunteers gauge"]
    lines.append(f"mobilize_volunteers {db().scalar(select(func.count()).select_from(Volunteer))}")
    lines += ["# HELP mobilize_queue_jobs Jobs waiting per RQ queue.", "# TYPE mobilize_queue_jobs gauge"]
    try:
        for name, size in queue_sizes(runtime().redis).items():
            lines.append(f'mobilize_queue_jobs{{queue="{name}"}} {size}')
        redis_up = 1
    except Exception:  # metrics must still answer when Redis is down
        redis_up = 0
    lines += ["# HELP mobilize_redis_up Whether Redis answered.", "# TYPE mobilize_redis_up gauge",
              f"mobilize_redis_up {redis_up}"]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
