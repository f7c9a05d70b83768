"""/healthz (database and Redis reachability, the scheduler's heartbeat, the live workers) and /metrics
(Prometheus text, written by prometheus-client).

/metrics needs a bearer token (401 without one, 403 for another role's API token): the shared secret of
MOBILIZE_METRICS_TOKEN, which is what Prometheus is given (it reads the metrics and nothing else, so a leaked
scrape config opens no API), or an admin's API token, for a look by hand. The figures are the district's (the
volunteer count, the SMS sent, the queues): not for officers, viewers or the internet. /healthz stays open: a
load balancer calls it, and it says only what is up.

/healthz answers 503 when this web process cannot serve (the database or Redis unreachable); when the background
side is unwell (no scheduler heartbeat for SCHEDULER_STALE_S, no live worker) it answers 200 with
`status: "degraded"` and the failing check, so a load balancer keeps the web up while monitoring sees the fault.
"""
from __future__ import annotations

import hmac
import time
from datetime import datetime, timezone

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select, text

from mobilize import jobs
from mobilize.accounts import authenticate_token
from mobilize.models import UserRole
from mobilize.web import db, runtime

blueprint = Blueprint("health", __name__)

SERVING = ("database", "redis")  # without these this process cannot answer requests: 503


@blueprint.get("/healthz")
def healthz():
    checks = {"database": _check_database(), "redis": _check_redis()}
    if checks["redis"]["ok"]:
        checks["scheduler"] = _check_scheduler()
        checks["workers"] = _check_workers()
    healthy = all(check["ok"] for check in checks.values())
    serving = all(checks[name]["ok"] for name in SERVING)
    return jsonify(status="ok" if healthy else "degraded", checks=checks), 200 if serving else 503


def _error(error: Exception) -> str:
    return type(error).__name__ + ": " + (str(error).splitlines() or [""])[0][:200]


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        with runtime().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any driver error means "not reachable"; report it, don't raise
        return {"ok": False, "error": _error(error)}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_redis() -> dict:
    started = time.perf_counter()
    try:
        runtime().redis.ping()
    except Exception as error:  # RedisUnavailable, connection errors...
        return {"ok": False, "error": type(error).__name__ + ": " + str(error)[:200]}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_scheduler() -> dict:
    try:
        beat = jobs.scheduler_heartbeat(runtime().redis)
    except Exception as error:
        return {"ok": False, "error": _error(error)}
    if beat is None:
        return {"ok": False, "error": "no scheduler heartbeat: is `mobilize scheduler` running?",
                "last_heartbeat_age_s": None}
    ok = beat["age_s"] <= jobs.SCHEDULER_STALE_S
    result = {"ok": ok, "last_heartbeat_age_s": beat["age_s"], "name": beat["name"],
              "stale_after_s": jobs.SCHEDULER_STALE_S}
    if not ok:
        result["error"] = f"the scheduler's last heartbeat is {beat['age_s']:.0f} s old"
    return result


def _check_workers() -> dict:
    try:
        workers = jobs.live_workers(runtime().redis)
    except Exception as error:
        return {"ok": False, "error": _error(error)}
    result = {"ok": bool(workers), "live": len(workers),
              "workers": [{"name": worker["name"], "queues": worker["queues"], "state": worker["state"]}
                          for worker in workers]}
    if not workers:
        result["error"] = "no live worker: is `mobilize worker` running?"
    return result


METRICS_READERS = frozenset({UserRole.admin})  # by API token; Prometheus uses MOBILIZE_METRICS_TOKEN


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _metrics_refusal() -> Response | None:
    """Why this request may not read the metrics (a 401 or 403 answer), or None when it may."""
    token = _bearer_token()
    expected = runtime().settings.metrics_token
    if token and expected and hmac.compare_digest(token.encode(), expected.encode()):
        return None  # compared in constant time; no database look-up for the scraper
    principal = authenticate_token(db(), token) if token else None
    if principal is None:
        return Response("a bearer token is required: MOBILIZE_METRICS_TOKEN or an admin's API token\n", 401,
                        mimetype="text/plain", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    db().commit()  # the token's last_used_at
    if principal.role not in METRICS_READERS:
        return Response("only admins' API tokens and MOBILIZE_METRICS_TOKEN read the metrics\n", 403,
                        mimetype="text/plain")
    return None


@blueprint.get("/metrics")
def metrics():
    refusal = _metrics_refusal()
    if refusal is not None:
        return refusal
    return Response(generate_latest(_collect()), content_type=CONTENT_TYPE_LATEST)


def _collect() -> CollectorRegistry:
    from mobilize.models import OutboundMessage, Volunteer
    from mobilize.sms import backlog

    registry = CollectorRegistry()
    session = db()
    now = datetime.now(timezone.utc)

    Gauge("mobilize_volunteers", "Registered volunteers.", registry=registry).set(
        session.scalar(select(func.count()).select_from(Volunteer)))

    # the same figures as /admin/system's (mobilize.sms.backlog)
    Gauge("mobilize_inbound_oldest_unprocessed_age_seconds",
          "Age of the oldest inbound message not yet processed (0 when none).", registry=registry).set(
        backlog.inbox_backlog(session, now).oldest_unprocessed_age_s)
    Gauge("mobilize_outbound_oldest_pending_age_seconds",
          "Age of the oldest outbound message not yet handed to the gateway (pending or sending; 0 when none).",
          registry=registry).set(backlog.outbox_backlog(session, now).oldest_age_s)
    sent = Gauge("mobilize_sms_sent", "Outbound messages handed to the gateway, per template.", ["template"],
                 registry=registry)
    for kind, count in session.execute(select(OutboundMessage.kind, func.count())
                                       .where(OutboundMessage.sent_at.is_not(None))
                                       .group_by(OutboundMessage.kind)):
        sent.labels(template=kind).set(count)

    queued = Gauge("mobilize_queue_jobs", "Jobs waiting per RQ queue.", ["queue"], registry=registry)
    scheduled = Gauge("mobilize_queue_scheduled_jobs", "Delayed jobs waiting for the scheduler per RQ queue.",
                      ["queue"], registry=registry)
    failed = Gauge("mobilize_queue_failed_jobs", "Jobs in RQ's failed registry per queue.", ["queue"],
                   registry=registry)
    workers = Gauge("mobilize_workers", "Live RQ workers.", registry=registry)
    heartbeat = Gauge("mobilize_scheduler_heartbeat_age_seconds",
                      "Seconds since the leading scheduler's last heartbeat (-1 when there was none).",
                      registry=registry)
    redis_up = Gauge("mobilize_redis_up", "Whether Redis answered.", registry=registry)
    try:
        redis = runtime().redis
        for name, size in jobs.queue_sizes(redis).items():
            queued.labels(queue=name).set(size)
        for name, size in jobs.scheduled_job_counts(redis).items():
            scheduled.labels(queue=name).set(size)
        for name, size in jobs.failed_job_counts(redis).items():
            failed.labels(queue=name).set(size)
        workers.set(len(jobs.live_workers(redis)))
        beat = jobs.scheduler_heartbeat(redis)
        heartbeat.set(beat["age_s"] if beat else -1)
        redis_up.set(1)
    except Exception:  # metrics must still answer when Redis is down
        redis_up.set(0)
    return registry

