"""The system page (/admin/system): the background side as an admin needs to see it, without redis-cli.

The queues and their depths (waiting, delayed, failed), the workers alive (RQ's Worker.all), the scheduler's
heartbeat, the failed jobs with a retry each (RQ's FailedJobRegistry.requeue), the inbound dead letters with a
retry each (as the API's POST /inbound/<id>/retry), the outbox's backlog and the last minute's send rate. The
figures are the ones /metrics exports (`mobilize.jobs`, `mobilize.sms.backlog`). The page reloads its status
part every few seconds (static/admin.js); without scripts it has a reload link.

Admins only. Each retry is audited (who retried which job or message).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import structlog
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from redis.exceptions import RedisError

from mobilize import jobs
from mobilize.domain.phones import redact_phone_numbers
from mobilize.models import InboundMessage, UserRole
from mobilize.models._types import utcnow
from mobilize.sms import backlog, inbox
from mobilize.wartime import audit
from mobilize.web import db, runtime
from mobilize.web.ui.admin import admin_actor
from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.access import roles_required

log = structlog.get_logger(__name__)

REFRESH_SECONDS = 5
FAILED_SHOWN = 50  # per queue
DEAD_SHOWN = 50


@dataclass(frozen=True)
class QueueRow:
    name: str
    waiting: int
    scheduled: int
    failed: int


def system_status() -> dict:
    """Everything the status part shows. Redis may be down: the database's figures still show, with the
    error for the rest."""
    session, now = db(), utcnow()
    status = {"now": now, "outbox": backlog.outbox_backlog(session, now),
              "inbox": backlog.inbox_backlog(session, now), "dead": _dead_letters(),
              "redis_error": None, "rq_error": None, "queues": [], "workers": [], "scheduler": None, "failed": [],
              "stale_after_s": jobs.SCHEDULER_STALE_S, "refresh_s": REFRESH_SECONDS}
    try:
        redis = runtime().redis
        status["queues"] = _part(status, "queues", lambda: _queue_rows(redis), [])
        status["workers"] = _part(status, "workers", lambda: [
            {**worker, "last_heartbeat": _moment(worker["last_heartbeat"])} for worker in jobs.live_workers(redis)], [])
        status["scheduler"] = _part(status, "scheduler", lambda: jobs.scheduler_heartbeat(redis), None)
        status["failed"] = _part(status, "failed jobs", lambda: [
            {**job, "ended_at": _moment(job["ended_at"])} for job in jobs.failed_jobs(redis, FAILED_SHOWN)], [])
    except (RedisError, OSError) as error:
        status["redis_error"] = _named(error)
    return status


def _queue_rows(redis) -> list[QueueRow]:
    sizes, scheduled, failed = (jobs.queue_sizes(redis), jobs.scheduled_job_counts(redis),
                                jobs.failed_job_counts(redis))
    return [QueueRow(name, sizes[name], scheduled[name], failed[name]) for name in jobs.QUEUE_NAMES]


def _part(status: dict, what: str, read, unknown):
    """One part of the status read from Redis. Data there that cannot be read is named (`rq_error`) and that part
    left empty, the others shown as they are; Redis itself failing goes up (then all of it is unknown)."""
    try:
        return read()
    except (RedisError, OSError):
        raise
    except Exception as error:  # noqa: BLE001 - damaged data: the page an admin opens when things break stays up
        log.exception("admin.system_status_unreadable", part=what)
        status["rq_error"] = status["rq_error"] or f"{what}: {_named(error)}"
        return unknown


def _named(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:200]


def _moment(iso: str | None) -> datetime | None:
    """RQ's times (ISO text, UTC, naive in some versions) as aware datetimes, which the pages show local."""
    if not iso:
        return None
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _dead_letters() -> list[InboundMessage]:
    return db().scalars(inbox.dead_messages().limit(DEAD_SHOWN)).all()


@blueprint.get("/admin/system")
@roles_required(UserRole.admin)
def admin_system():
    return render_template("admin_system.html", **system_status())


@blueprint.get("/admin/system/status")
@roles_required(UserRole.admin)
def admin_system_status():
    """The status part alone (the page reloads it every REFRESH_SECONDS)."""
    return render_template("_admin_system_status.html", **system_status())


@blueprint.post("/admin/system/failed/<queue>/<job_id>/retry")
@roles_required(UserRole.admin)
def admin_retry_failed_job(queue: str, job_id: str):
    try:
        job = jobs.requeue_failed(runtime().redis, queue, job_id)
    except jobs.NotFailed:
        problem = _("Job %(id)s is not among the failed jobs any more (retried already, or expired).", id=job_id)
        return render_template("admin_system.html", problem=problem, **system_status()), 404
    audit.record(db(), admin_actor(), "job.retried", "job", None, utcnow(), job_id=job.id, queue=queue,
                 job=job.func_name)
    db().commit()
    flash(_("Job %(id)s is queued again.", id=job_id), "ok")
    return redirect(url_for("ui.admin_system"), 303)


@blueprint.post("/admin/system/dead/<int:inbound_id>/retry")
@roles_required(UserRole.admin)
def admin_retry_dead_letter(inbound_id: int):
    """The API's retry of a dead inbound message: clear its dead state, audit, queue it once more."""
    session = db()
    try:
        message = inbox.revive(session, inbound_id)
    except inbox.NotDead:
        session.rollback()
        problem = _("Message %(id)d is not set aside any more: nothing to retry.", id=inbound_id)
        return render_template("admin_system.html", problem=problem, **system_status()), 409
    if message is None:
        session.rollback()
        abort(404)
    audit.record(session, admin_actor(), "inbound_retried", "inbound_message", inbound_id, utcnow(),
                 attempts=message.attempts, last_error=redact_phone_numbers(message.last_error or ""))
    session.commit()
    try:
        jobs.queue_inbound(runtime().redis, inbound_id)
    except (RedisError, OSError) as error:  # no longer dead: the requeue sweep queues it when Redis is back
        log.warning("admin.inbound_retry_queue_deferred", inbound_id=inbound_id, error=str(error))
    flash(_("Message %(id)d is being processed again.", id=inbound_id), "ok")
    return redirect(url_for("ui.admin_system"), 303)
