from __future__ import annotations

from mobilize.app import create_app
from mobilize.runtime import Runtime
from tests.conftest import make_settings


def test_healthz_is_green_with_database_and_redis(tmp_path, database_url, redis_url):
    client = create_app(runtime=Runtime(make_settings(tmp_path, database_url, redis_url))).test_client()
    body = client.get("/healthz").json
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]


def test_healthz_reports_what_is_down(tmp_path, sqlite_url):
    runtime = Runtime(make_settings(tmp_path, sqlite_url, "redis://127.0.0.1:1/0"))
    response = create_app(runtime=runtime).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["database"]["ok"] is True
    assert response.json["checks"]["redis"]["ok"] is False and "Connection" in response.json["checks"]["redis"]["error"]


def test_metrics_are_prometheus_text(tmp_path, sqlite_url, redis_url):
    client = create_app(runtime=Runtime(make_settings(tmp_path, sqlite_url, redis_url))).test_client()
    response = client.get("/metrics")
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "mobilize_volunteers 0" in text and 'mobilize_queue_jobs{queue="high"}' in text
    assert "mobilize_redis_up 1" in text
