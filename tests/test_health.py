from __future__ import annotations

import time
from datetime import timedelta

from rq import SimpleWorker

from mobilize import jobs
from mobilize.app import create_app
from mobilize.models import InboundMessage, OutboundMessage, OutboundStatus, Priority
from mobilize.models._types import utcnow
from mobilize.runtime import Runtime
from tests.conftest import make_settings


def _scheduler_beat(redis, age_s: float = 0.0) -> None:
    redis.hset(jobs.SCHEDULER_HEARTBEAT_KEY, mapping={"at": repr(time.time() - age_s), "name": "host:1:abc"})


def test_healthz_is_green_with_database_redis_a_scheduler_and_a_worker(tmp_path, database_url, redis_url,
                                                                       redis_client):
    _scheduler_beat(redis_client, age_s=2)
    worker = SimpleWorker(jobs.all_queues(redis_client), connection=redis_client, name="worker-1")
    worker.register_birth()
    client = create_app(runtime=Runtime(make_settings(tmp_path, database_url, redis_url))).test_client()
    response = client.get("/healthz")
    body = response.json
    assert response.status_code == 200 and body["status"] == "ok", body
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert body["checks"]["scheduler"]["ok"] and 1 <= body["checks"]["scheduler"]["last_heartbeat_age_s"] < 10
    assert body["checks"]["workers"]["live"] == 1
    assert body["checks"]["workers"]["workers"][0]["name"] == "worker-1"


def test_healthz_is_degraded_without_scheduler_heartbeat_or_worker(tmp_path, sqlite_url, redis_url, redis_client):
    client = create_app(runtime=Runtime(make_settings(tmp_path, sqlite_url, redis_url))).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200  # the web itself serves: a load balancer keeps it
    assert response.json["status"] == "degraded"
    assert response.json["checks"]["scheduler"]["ok"] is False
    assert "mobilize scheduler" in response.json["checks"]["scheduler"]["error"]
    assert response.json["checks"]["workers"] == {"ok": False, "live": 0, "workers": [],
                                                  "error": "no live worker: is `mobilize worker` running?"}

    _scheduler_beat(redis_client, age_s=jobs.SCHEDULER_STALE_S + 5)  # the scheduler died a while ago
    scheduler = client.get("/healthz").json["checks"]["scheduler"]
    assert scheduler["ok"] is False and scheduler["last_heartbeat_age_s"] >= jobs.SCHEDULER_STALE_S + 5
    assert "old" in scheduler["error"]


def test_healthz_reports_what_is_down(tmp_path, sqlite_url):
    runtime = Runtime(make_settings(tmp_path, sqlite_url, "redis://127.0.0.1:1/0"))
    response = create_app(runtime=runtime).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "degraded"
    assert response.json["checks"]["database"]["ok"] is True
    assert response.json["checks"]["redis"]["ok"] is False and "Connection" in response.json["checks"]["redis"]["error"]


METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}  # as Prometheus sends it (README, operations)


def test_metrics_are_prometheus_text(tmp_path, sqlite_url, redis_url, redis_client):
    runtime = Runtime(make_settings(tmp_path, sqlite_url, redis_url, metrics_token=METRICS_TOKEN))
    now = utcnow()
    with runtime.transaction() as session:
        session.add(InboundMessage(message_sid="SM1", from_phone="+8613800000001", to_phone="+8610690000",
                                   body="1", received_at=now - timedelta(seconds=90)))
        session.add(InboundMessage(message_sid="SM2", from_phone="+8613800000002", to_phone="+8610690000",
                                   body="2", received_at=now - timedelta(seconds=900), processed_at=now))
        for number, (kind, status, age_s, sent) in enumerate([
                ("dispatch", OutboundStatus.pending, 120, False), ("dispatch", OutboundStatus.delivered, 600, True),
                ("dispatch", OutboundStatus.sent, 600, True), ("invitation", OutboundStatus.queued, 700, True)]):
            session.add(OutboundMessage(to_phone=f"+86138000000{number}", body="x", kind=kind, priority=Priority.high,
                                        segments=1, status=status, created_at=now - timedelta(seconds=age_s),
                                        sent_at=now if sent else None))
    jobs.enqueue(redis_client, "orders.match_order", 1)
    _scheduler_beat(redis_client, age_s=3)

    response = create_app(runtime=runtime).test_client().get("/metrics", headers=SCRAPER)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
              for line in response.get_data(as_text=True).splitlines() if line and not line.startswith("#")}
    assert values["mobilize_volunteers"] == 0
    assert values['mobilize_queue_jobs{queue="default"}'] == 1 and values['mobilize_queue_jobs{queue="high"}'] == 0
    assert values['mobilize_queue_failed_jobs{queue="default"}'] == 0
    assert values['mobilize_queue_scheduled_jobs{queue="default"}'] == 0
    assert 90 <= values["mobilize_inbound_oldest_unprocessed_age_seconds"] < 120
    assert 120 <= values["mobilize_outbound_oldest_pending_age_seconds"] < 150
    assert values['mobilize_sms_sent{template="dispatch"}'] == 2
    assert values['mobilize_sms_sent{template="invitation"}'] == 1
    assert 3 <= values["mobilize_scheduler_heartbeat_age_seconds"] < 10
    assert values["mobilize_workers"] == 0
    assert values["mobilize_redis_up"] == 1


def test_metrics_answer_without_redis(tmp_path, sqlite_url):
    runtime = Runtime(make_settings(tmp_path, sqlite_url, "redis://127.0.0.1:1/0",
                                    metrics_token=METRICS_TOKEN))
    text = create_app(runtime=runtime).test_client().get("/metrics", headers=SCRAPER).get_data(as_text=True)
    assert "mobilize_redis_up 0.0" in text and "mobilize_volunteers 0.0" in text
