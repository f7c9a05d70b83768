"""The audit trail page (filters in the URL, pages, CSV export with local times and neutralised cells), the system
page (queues, workers, scheduler, failed jobs retried with RQ's own requeue, dead letters retried, the outbox's
backlog and send rate), and the token's last use written at most once a minute (both databases)."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from rq import Queue, SimpleWorker, Worker
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from mobilize import jobs
from mobilize.accounts import LAST_USED_PRECISION, authenticate_token, create_user, issue_token
from mobilize.models import ApiToken, AuditEvent, InboundMessage, OutboundMessage, OutboundStatus, Priority
from mobilize.models._types import utcnow
from mobilize.sms import backlog
from tests.web.test_admin_pages import audit_events, post

SHANGHAI = timezone(timedelta(hours=8))


def _events(runtime, *rows) -> None:
    """Audit events (actor, action, subject_type, subject_id, at)."""
    with runtime.transaction() as session:
        for actor, action, subject_type, subject_id, at in rows:
            session.add(AuditEvent(actor=actor, action=action, subject_type=subject_type, subject_id=subject_id,
                                   at=at, details={"note": f"{action} by {actor}"}))


def _shown_actions(page: str) -> list[str]:
    import re

    return re.findall(r'<tr data-action="([^"]+)"', page)


def test_the_audit_trail_filters_by_actor_action_object_and_time(clients, web_runtime):
    noon = datetime(2026, 3, 1, 12, 0, tzinfo=SHANGHAI)
    _events(web_runtime, ("alice", "order.launched", "order", 7, noon),
            ("alice", "order.cancelled", "order", 8, noon + timedelta(hours=2)),
            ("bob", "order.launched", "order", 8, noon + timedelta(hours=3)),
            ("sms:+86139****0001", "reply.accepted", "assignment", 3, noon + timedelta(hours=4)))
    admin = clients["admin"]

    def shown(query: str) -> list[str]:
        answer = admin.get("/admin/audit?" + query)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return _shown_actions(answer.get_data(as_text=True))

    assert shown("actor=alice") == ["order.cancelled", "order.launched"]
    assert shown("actor=ALI&action=order.launched") == ["order.launched"]
    assert shown("subject_type=order&subject_id=8") == ["order.launched", "order.cancelled"]
    assert shown("actor=sms:") == ["reply.accepted"]
    assert shown("actor=%25") == []  # a LIKE wildcard typed in is a character, not "anything"
    # times are the service's (Asia/Shanghai): 13:00 to 15:00 local holds the 14:00 event only
    assert shown("since=2026-03-01T13:00&until=2026-03-01T15:00") == ["order.cancelled"]
    page = admin.get("/admin/audit?actor=alice&subject_type=order").get_data(as_text=True)
    assert 'href="/admin/audit.csv?actor=alice&amp;subject_type=order"' in page  # the export keeps the filters
    assert "2026-03-01 14:00:00" in page  # local time


def test_bad_filters_are_named_and_nothing_is_hidden(clients):
    admin = clients["admin"]
    for query, field in (("since=yesterday", "since"), ("subject_id=abc", "subject_id"), ("subject_id=0", "subject_id"),
                         ("since=2026-03-01T15:00&until=2026-03-01T13:00", "until")):
        answer = admin.get("/admin/audit?" + query)
        assert answer.status_code == 400, query
        assert f'id="problem-{field}"' in answer.get_data(as_text=True)
        assert admin.get("/admin/audit.csv?" + query).status_code == 400


def test_the_audit_trail_is_paginated_with_its_filters(clients, web_runtime):
    start = utcnow() - timedelta(days=1)
    _events(web_runtime, *[("carol", f"step.{number:03d}", "order", 1, start + timedelta(seconds=number))
                           for number in range(60)])
    admin = clients["admin"]
    first = admin.get("/admin/audit?actor=carol").get_data(as_text=True)
    assert _shown_actions(first)[:2] == ["step.059", "step.058"] and len(_shown_actions(first)) == 50
    assert 'href="/admin/audit?page=2&amp;actor=carol"' in first
    second = admin.get("/admin/audit?page=2&actor=carol").get_data(as_text=True)
    assert _shown_actions(second) == [f"step.{number:03d}" for number in range(9, -1, -1)]
    assert admin.get("/admin/audit?page=banana").status_code == 200  # the first page


def test_the_csv_export_has_every_filtered_event_local_times_and_neutralised_cells(clients, web_runtime):
    noon = datetime(2026, 3, 1, 12, 0, tzinfo=SHANGHAI)
    _events(web_runtime, ("=HYPERLINK(\"http://evil\")", "login_failed", "user", None, noon),
            *[("dave", "order.launched", "order", number, noon + timedelta(minutes=number)) for number in range(1, 61)])
    admin = clients["admin"]
    answer = admin.get("/admin/audit.csv?actor=dave")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    text = answer.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["time", "actor", "action", "object", "object_id", "details"]
    assert len(rows) == 61  # all of them, not one page
    assert rows[1][:5] == ["2026-03-01 12:01:00", "dave", "order.launched", "order", "1"]
    formula = list(csv.reader(io.StringIO(admin.get("/admin/audit.csv?action=login_failed")
                                          .get_data(as_text=True)[1:])))
    assert formula[1][1] == "'=HYPERLINK(\"http://evil\")"


def test_the_admins_changes_are_in_the_audit_trail(clients, web_runtime):
    admin = clients["admin"]
    assert post(admin, "/admin/users", username="new-viewer", password="new-viewer-pass",
                role="viewer").status_code == 303
    page = admin.get("/admin/audit?actor=admin&action=user.created").get_data(as_text=True)
    assert _shown_actions(page) == ["user.created"] and "new-viewer" in page


# --- the system page --------------------------------------------------------------------------------------------


def _failed_job(redis) -> str:
    """A job that really failed in a worker: int("not a number") on the default queue, run by RQ."""
    job = Queue(jobs.DEFAULT, connection=redis).enqueue("builtins.int", "not a number")
    SimpleWorker([Queue(jobs.DEFAULT, connection=redis)], connection=redis).work(burst=True,
                                                                                 logging_level="WARNING")
    assert job.id in FailedJobRegistry(jobs.DEFAULT, connection=redis).get_job_ids()
    return job.id


def test_the_system_page_shows_queues_workers_scheduler_and_the_outbox(clients, web_runtime, registry):
    redis = web_runtime.redis
    redis.hset(jobs.SCHEDULER_HEARTBEAT_KEY, mapping={"name": "scheduler-1", "at": str(utcnow().timestamp() - 3)})
    Queue(jobs.BULK, connection=redis).enqueue("builtins.len", "abc")
    with web_runtime.transaction() as session:
        for number, (status, sent) in enumerate([(OutboundStatus.pending, None), (OutboundStatus.pending, None),
                                                 (OutboundStatus.sent, utcnow() - timedelta(seconds=20)),
                                                 (OutboundStatus.sent, utcnow() - timedelta(minutes=5))]):
            session.add(OutboundMessage(to_phone=f"+861390000{number:04d}", body="x", kind="notice",
                                        priority=Priority.bulk, segments=2, status=status, sent_at=sent))
    answer = clients["admin"].get("/admin/system")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert '<tr data-queue="bulk"><th scope="row">bulk</th><td class="num">1</td>' in page
    assert "<b data-heartbeat-age>3</b>" in page
    assert "<b data-outbox-backlog>2</b>" in page and "<b data-sent-last-minute>1</b>" in page
    assert 'data-refresh="/admin/system/status"' in page and "admin.js" in page
    fragment = clients["admin"].get("/admin/system/status").get_data(as_text=True)
    assert "<html" not in fragment and "<b data-outbox-backlog>2</b>" in fragment


def test_the_figures_are_the_metrics_figures(app, clients, web_runtime, registry):
    with web_runtime.transaction() as session:
        session.add(OutboundMessage(to_phone="+8613900009999", body="x", kind="notice", priority=Priority.high,
                                    segments=1, status=OutboundStatus.pending,
                                    created_at=utcnow() - timedelta(seconds=90)))
    metrics = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {registry.tokens['admin']}"})
    line = next(line for line in metrics.get_data(as_text=True).splitlines()
                if line.startswith("mobilize_outbound_oldest_pending_age_seconds "))
    assert 89 < float(line.split()[1]) < 120
    with web_runtime.transaction() as session:
        assert 89 < backlog.outbox_backlog(session, utcnow()).oldest_age_s < 120


def test_a_failed_job_is_retried_from_the_system_page(clients, web_runtime):
    redis = web_runtime.redis
    job_id = _failed_job(redis)
    admin = clients["admin"]
    page = admin.get("/admin/system").get_data(as_text=True)
    assert f'data-job-id="{job_id}"' in page and "ValueError" in page
    assert post(clients["commander"], f"/admin/system/failed/default/{job_id}/retry").status_code == 403
    answer = post(admin, f"/admin/system/failed/default/{job_id}/retry")
    assert answer.status_code == 303
    assert job_id not in FailedJobRegistry(jobs.DEFAULT, connection=redis).get_job_ids()
    assert job_id in Queue(jobs.DEFAULT, connection=redis).job_ids  # back on its queue
    [event] = audit_events(web_runtime, "job.retried")
    assert (event.actor, event.details["job_id"], event.details["queue"]) == ("admin", job_id, "default")
    again = post(admin, f"/admin/system/failed/default/{job_id}/retry")  # not failed any more
    assert again.status_code == 404
    assert post(admin, f"/admin/system/failed/nosuchqueue/{job_id}/retry").status_code == 404
    assert len(audit_events(web_runtime, "job.retried")) == 1


def test_a_dead_letter_is_retried_from_the_system_page(clients, web_runtime, registry):
    with web_runtime.transaction() as session:
        message = InboundMessage(message_sid="SM" + "9" * 32, from_phone=registry.volunteers_a[0][2],
                                 to_phone="+8610690000", body="Y99", attempts=5, last_error="KeyError: boom",
                                 dead_at=utcnow())
        session.add(message)
        session.flush()
        inbound_id = message.id
    admin = clients["admin"]
    assert f'data-inbound-id="{inbound_id}"' in admin.get("/admin/system").get_data(as_text=True)
    assert post(admin, f"/admin/system/dead/{inbound_id}/retry").status_code == 303
    with web_runtime.transaction() as session:
        assert session.get(InboundMessage, inbound_id).dead_at is None
    assert f"inbound-{inbound_id}" in Queue(jobs.HIGH, connection=web_runtime.redis).job_ids
    [event] = audit_events(web_runtime, "inbound_retried")
    assert (event.actor, event.subject_id) == ("admin", inbound_id)
    assert post(admin, f"/admin/system/dead/{inbound_id}/retry").status_code == 409  # not dead any more
    assert post(admin, "/admin/system/dead/999999/retry").status_code == 404


# --- the token's last use, on both databases -------------------------------------------------------------------


def test_a_tokens_last_use_is_written_at_most_once_a_minute(runtime):
    with runtime.transaction() as session:
        token = issue_token(session, create_user(session, "script-user", "script-pass", "commander"))
    start = utcnow()
    moments = [start, start + timedelta(seconds=20), start + LAST_USED_PRECISION + timedelta(seconds=1)]
    stored = []
    for moment in moments:
        with runtime.transaction() as session:
            assert authenticate_token(session, token, moment).username == "script-user"
        with runtime.transaction() as session:
            stored.append(session.scalar(select(ApiToken.last_used_at)))
    assert stored[0] == stored[1] and abs((stored[0] - start).total_seconds()) < 0.01
    assert abs((stored[2] - moments[2]).total_seconds()) < 0.01
    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 1


def test_a_failed_job_whose_result_cannot_be_read_is_still_listed_with_the_others(clients, web_runtime):
    """RQ keeps a failed job's traceback in its results stream, compressed; one it cannot read back (damaged, or
    written by another RQ version) must not take the system page down, where an admin goes when things break."""
    redis = web_runtime.redis
    readable, damaged = _failed_job(redis), _failed_job(redis)
    redis.delete(f"rq:results:{damaged}")
    redis.xadd(f"rq:results:{damaged}", {"type": "2", "exc_string": "not a compressed traceback"})
    answer = clients["admin"].get("/admin/system")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert f'data-job-id="{readable}"' in page and "ValueError" in page
    assert f'data-job-id="{damaged}"' in page and "its result cannot be read" in page


def test_a_damaged_worker_registration_hides_no_live_worker(clients, web_runtime):
    redis = web_runtime.redis
    live = Worker([Queue(jobs.HIGH, connection=redis)], connection=redis, name="worker-live")
    live.register_birth()
    live.heartbeat()
    redis.sadd("rq:workers", "rq:worker:damaged")  # a registration whose heartbeat RQ cannot parse
    redis.hset("rq:worker:damaged", mapping={"queues": "default", "last_heartbeat": "not a time"})
    assert [worker["name"] for worker in jobs.live_workers(redis)] == ["worker-live"]  # Worker.all raised here
    page = clients["admin"].get("/admin/system").get_data(as_text=True)
    assert "<b data-workers>1</b>" in page and "worker-live" in page and "damaged" not in page


def test_data_the_page_cannot_read_is_named_and_the_other_parts_still_show(clients, web_runtime):
    redis = web_runtime.redis
    live = Worker([Queue(jobs.HIGH, connection=redis)], connection=redis, name="worker-live")
    live.register_birth()
    redis.hset(jobs.SCHEDULER_HEARTBEAT_KEY, mapping={"name": "scheduler-1", "at": "not a number"})
    answer = clients["admin"].get("/admin/system")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Redis 中的部分数据无法读取" in page and "scheduler: ValueError" in page and "无法连接 Redis" not in page
    assert "worker-live" in page and '<tr data-queue="high">' in page  # the other parts
    assert "<b data-outbox-backlog>0</b>" in page  # and the database's figures


def test_the_system_page_shows_rq_times_in_local_time(clients, web_runtime):
    job_id = _failed_job(web_runtime.redis)
    ended = FailedJobRegistry(jobs.DEFAULT, connection=web_runtime.redis).get_job_ids()
    assert job_id in ended
    from rq.job import Job

    moment = Job.fetch(job_id, connection=web_runtime.redis).ended_at
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S")
    assert f">{local}</time>" in clients["admin"].get("/admin/system").get_data(as_text=True)
