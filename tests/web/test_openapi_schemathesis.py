"""schemathesis against the JSON API, in-process (the WSGI app, no network), as `schemathesis run --checks
all` would: every phase its engine has for this document (coverage, fuzzing, stateful; the examples phase has
no examples to replay), every check, positive and negative inputs, once with an admin's token, once with a
street officer's, once with a viewer's. It finds nothing: a failure here is a bug of the app or of its OpenAPI
document, to be fixed there.

Deterministic: a fixed seed, derandomized generation, no example database, one worker. Bounded: MAX_EXAMPLES
per operation and phase, MAX_STEPS per stateful scenario.

What is configured, and why:
- positive_data_acceptance also accepts a 422. The API's 422 answers rules no JSON schema states: a reference
  to a row that does not exist (a site id, a street or skill name), a rule across fields (a shift ends after
  it starts, a holiday is not in the past), the state of the data. The check's own point, that a request the
  document allows is not refused for its form, is kept by `schema_valid_input_passes_the_schemas` below: a 422
  with the code `validation_error` comes from the request's schemas themselves, and must never answer input
  the document calls valid.
- max_response_time is off, as in `--checks all` without `--max-response-time`: timings on this shared, busy
  machine say nothing about the app.
- object_level_authorization needs several identities of the same kind that must not see each other's
  objects; each run here has one token. Street scoping between identities is tests/web/test_routes_roles.py's
  subject.
- Actions fuzzed for real send SMS and queue jobs: into this test's own database, Redis and outbox (the
  simulator backend), thrown away after each run.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.engine import StopReason, events, from_schema
from schemathesis.transport import wsgi as schemathesis_wsgi

from tests.web.conftest import Registry

ROLES_UNDER_TEST = ("admin", "officer", "viewer")
# The checks each run must have applied (`--checks all`, and this file's own); the others (max_response_time,
# object_level_authorization) are explained above.
CHECKS_RUN = {"not_a_server_error", "status_code_conformance", "content_type_conformance",
              "response_headers_conformance", "response_schema_conformance", "positive_data_acceptance",
              "negative_data_rejection", "missing_required_header", "ignored_auth", "unsupported_method",
              "allow_header_conformance", "use_after_free", "ensure_resource_availability",
              "schema_valid_input_passes_the_schemas"}
SPEC_PATH = "/api/v1/openapi.json"
SEED = 13
MAX_EXAMPLES = 12
MAX_STEPS = 6
# Every built-in positive_data_acceptance status (schemathesis 4), and 422: see the module's docstring.
POSITIVE_DATA_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]


@schemathesis.check
def schema_valid_input_passes_the_schemas(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                                          case: schemathesis.Case) -> None:
    """A request generated as valid from the document is not refused by the API's request schemas: the
    document and the schemas it is generated from agree (strict types, ranges, required fields)."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return
    error = _json(response).get("error") or {}
    if error.get("code") == "validation_error":
        raise AssertionError(f"the request schemas refused input that the OpenAPI document allows: "
                             f"{error.get('message')}")


def _json(response: schemathesis.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass
class RunReport:
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (operation, check, title)
    errors: list[str] = field(default_factory=list)
    fuzzed_operations: set[str] = field(default_factory=set)
    checks_run: set[str] = field(default_factory=set)
    stop_reason: StopReason | None = None

    def add_failures(self, event: events.ScenarioFinished) -> None:
        for nodes in event.recorder.checks.values():
            for node in nodes:
                self.checks_run.add(node.name)
                if node.failure_info is not None:
                    failure = node.failure_info.failure
                    key = (failure.operation or event.recorder.label, node.name, failure.title)
                    self.failures.setdefault(key, f"{failure.message}\n    {node.failure_info.code_sample}")

    def describe(self) -> str:
        lines = [f"{operation} | {check} | {title}\n    {detail}"
                 for (operation, check, title), detail in sorted(self.failures.items())]
        return "\n".join(lines + [f"error: {error}" for error in self.errors])


@pytest.fixture
def wsgi_probes_without_socket_options(monkeypatch) -> None:
    """schemathesis 4.32's WSGI transport drops the run's socket-level options (max_redirects, verify, cert,
    proxies) only when it is handed the run's requests session; the probes some checks send without it
    (ignored_auth's request without credentials) take them to werkzeug's test client, which refuses them with
    a TypeError, so that the check errors instead of running. Drop them there too."""
    send = schemathesis_wsgi.WSGITransport.send

    def send_in_process(self, case, *, session=None, **kwargs):
        if not isinstance(session, requests.Session):
            for name in ("max_redirects", "verify", "cert", "proxies"):
                kwargs.pop(name, None)
        return send(self, case, session=session, **kwargs)

    monkeypatch.setattr(schemathesis_wsgi.WSGITransport, "send", send_in_process)


def run_config(token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "workers": 1,
        "cache": {"enabled": False},
        "headers": {"Authorization": f"Bearer {token}"},
        # Hypothesis' health checks time generation: on a loaded machine they fail runs that are fine.
        "suppress-health-check": ["all"],
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True,
                       "database": "none"},
        "phases": {"stateful": {"max-steps": MAX_STEPS}},
        "checks": {"enabled": True,
                   "positive_data_acceptance": {"expected-statuses": POSITIVE_DATA_STATUSES}},
    })


def run_schemathesis(app, token: str) -> RunReport:
    schema = schemathesis.openapi.from_wsgi(SPEC_PATH, app, config=run_config(token))
    report = RunReport()
    for event in from_schema(schema).execute():
        _record(report, event)
    return report


def _record(report: RunReport, event: events.EngineEvent) -> None:
    if isinstance(event, events.ScenarioFinished):
        report.add_failures(event)
        if event.phase.value == "fuzzing" and event.skip_reason is None:
            report.fuzzed_operations.add(event.recorder.label)
    elif isinstance(event, events.NonFatalError):
        report.errors.append(f"{event.label}: {event.value!r}")
    elif isinstance(event, events.FatalError):
        report.errors.append(repr(event.exception))
    elif isinstance(event, events.EngineFinished):
        report.stop_reason = event.stop_reason


def documented_operations(app) -> Iterator[str]:
    spec = app.test_client().get(SPEC_PATH).get_json()
    for path, item in spec["paths"].items():
        for method in item:
            yield f"{method.upper()} {path}"


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES_UNDER_TEST)
def test_schemathesis_finds_nothing(app, registry: Registry, wsgi_probes_without_socket_options, role):
    report = run_schemathesis(app, registry.tokens[role])
    assert report.stop_reason is StopReason.COMPLETED
    assert not report.failures and not report.errors, (
        f"schemathesis, {role}'s token, {len(report.failures)} distinct failures:\n{report.describe()}")
    assert report.fuzzed_operations == set(documented_operations(app)), "operations left out of the fuzzing"
    assert CHECKS_RUN <= report.checks_run, f"checks that never ran: {sorted(CHECKS_RUN - report.checks_run)}"
