"""Security headers on every response, the API's included, and /metrics behind a bearer token (issue 13).

Pages keep their policy (this site's scripts and styles only); every other response (JSON, errors, CSV,
text, streams) allows nothing to load and no framing. /metrics answers Prometheus's MOBILIZE_METRICS_TOKEN and
admins' API tokens: 401 without a token it knows (saying how to authenticate), 403 for another role's token.
"""
from __future__ import annotations

import base64
import hashlib
import re

import pytest

from config import ConfigError, Settings
from mobilize.app import create_app
from mobilize.runtime import Runtime
from mobilize.web.security_headers import DATA_POLICY, PAGE_POLICY
from tests.conftest import make_settings

METRICS_TOKEN = "a-prometheus-scrape-token-of-some-length-0123"


def _bearer(registry, role: str) -> dict:
    return {"Authorization": f"Bearer {registry.tokens[role]}"}


def _assert_data_headers(response) -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == DATA_POLICY == "default-src 'none'; frame-ancestors 'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path, role, status", [
    ("/api/v1/streets", "commander", 200),
    ("/api/v1/volunteers", "viewer", 200),
    ("/api/v1/streets", None, 401),
    ("/api/v1/orders/999999", "commander", 404),
    ("/api/v1/sites?street=湛山", "officer", 403),
    ("/api/v1/volunteers?per_page=100000", "commander", 422),
])
def test_api_responses_and_errors_carry_the_security_headers(app, registry, path, role, status):
    response = app.test_client().get(path, headers=_bearer(registry, role) if role else {})
    assert response.status_code == status
    _assert_data_headers(response)
    assert response.headers["Cache-Control"] == "no-store"  # names and phone numbers: no copy in a cache


def test_a_csv_export_of_the_api_carries_them_too(app, registry):
    volunteer_id = registry.volunteers_a[0][0]
    response = app.test_client().get(f"/api/v1/volunteers/{volunteer_id}/certificate.csv",
                                     headers=_bearer(registry, "commander"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    _assert_data_headers(response)


def test_the_printable_certificate_may_run_its_print_button_and_nothing_else(app, registry):
    volunteer_id = registry.volunteers_a[0][0]
    response = app.test_client().get(f"/api/v1/volunteers/{volunteer_id}/certificate",
                                     headers=_bearer(registry, "commander"))
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    [handler] = re.findall(r'onclick="([^"]+)"', response.get_data(as_text=True))
    digest = base64.b64encode(hashlib.sha256(handler.encode()).digest()).decode()
    assert f"script-src 'unsafe-hashes' 'sha256-{digest}'" in policy  # the button works, no other script
    assert response.headers["X-Frame-Options"] == "DENY"


def test_health_and_the_openapi_document_carry_them(app):
    client = app.test_client()
    for path in ("/healthz", "/api/v1/openapi.json", "/metrics"):
        _assert_data_headers(client.get(path))


def test_pages_keep_their_own_policy(clients):
    response = clients["commander"].get("/command")
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    login_page = clients["anonymous"].get("/login")
    assert login_page.headers["Content-Security-Policy"] == PAGE_POLICY


# --- /metrics -----------------------------------------------------------------------------------------------


@pytest.fixture
def scraped_app(web_runtime, tmp_path, sqlite_url, redis_url):
    """The app with MOBILIZE_METRICS_TOKEN set, on the database the registry was written to."""
    runtime = Runtime(make_settings(tmp_path, sqlite_url, redis_url, metrics_token=METRICS_TOKEN))
    yield create_app(runtime=runtime)
    runtime.close()


def test_metrics_need_a_token(scraped_app, registry):
    response = scraped_app.test_client().get("/metrics")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "mobilize_volunteers" not in response.get_data(as_text=True)
    for wrong in ("Bearer " + METRICS_TOKEN[:-1] + "x", "Bearer mob_not-a-token", "Basic " + METRICS_TOKEN,
                  METRICS_TOKEN):
        assert scraped_app.test_client().get("/metrics", headers={"Authorization": wrong}).status_code == 401


def test_prometheus_reads_the_metrics_with_the_metrics_token(scraped_app, registry):
    response = scraped_app.test_client().get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert "mobilize_volunteers 6.0" in response.get_data(as_text=True)


@pytest.mark.parametrize("role, status", [("admin", 200), ("commander", 403), ("officer", 403),
                                          ("viewer", 403)])
def test_of_the_api_tokens_only_admins_read_the_metrics(scraped_app, registry, role, status):
    response = scraped_app.test_client().get("/metrics", headers=_bearer(registry, role))
    assert response.status_code == status
    assert ("mobilize_volunteers" in response.get_data(as_text=True)) is (status == 200)


def test_without_a_metrics_token_set_only_admins_read_the_metrics(app, registry):
    client = app.test_client()
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/metrics", headers=_bearer(registry, "admin")).status_code == 200


def test_a_metrics_token_too_short_to_be_safe_is_refused_at_start(tmp_path):
    env = {"MOBILIZE_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match="MOBILIZE_METRICS_TOKEN"):
        Settings.from_env({**env, "MOBILIZE_METRICS_TOKEN": "short"}, load_dotenv_file=False)
    padded = {**env, "MOBILIZE_METRICS_TOKEN": f" {METRICS_TOKEN} "}
    settings = Settings.from_env(padded, load_dotenv_file=False)
    assert settings.metrics_token == METRICS_TOKEN
    assert Settings.from_env(env, load_dotenv_file=False).metrics_token is None
