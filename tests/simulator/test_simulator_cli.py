"""`mobilize simulator`: options and environment become the simulator's configuration."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from mobilize.cli import simulator as simulator_cli
from mobilize.sms.simulator.configuration import DEV_ACCOUNT_SID


@pytest.fixture
def served(monkeypatch):
    calls = []
    monkeypatch.setattr("mobilize.sms.simulator.server.serve",
                        lambda config, host, port, **kwargs: calls.append((config, host, port, kwargs)))
    return calls


def test_options_and_environment_make_the_config(served, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://mobilize.example.org/")
    result = CliRunner().invoke(simulator_cli.simulator_command, [
        "--port", "5999", "--time-scale", "0.1", "--throttle-rate", "0.2", "--latency-ms", "20-80",
        "--undelivered-rate", "0.05", "--duplicate-webhook-rate", "0.01", "--seed", "7"])
    assert result.exit_code == 0, result.output
    [(config, host, port, kwargs)] = served
    assert (host, port, kwargs["server"]) == ("127.0.0.1", 5999, "gunicorn")
    assert config.account_sid == "AC" + "1" * 32 and config.auth_token == "secret"
    assert config.webhook_url == "https://mobilize.example.org/twilio/sms"
    assert config.time_scale == 0.1
    faults = config.faults
    assert (faults.throttle_rate, faults.latency_ms, faults.undelivered_rate, faults.seed) == \
        (0.2, (20.0, 80.0), 0.05, 7)


def test_defaults_without_environment(served, monkeypatch):
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL", "TWILIO_FROM"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(simulator_cli.simulator_command, ["--webhook-url", "none"])
    assert result.exit_code == 0, result.output
    config = served[0][0]
    assert config.account_sid == DEV_ACCOUNT_SID and config.webhook_url is None


def test_bad_fault_option_is_a_clear_error(served):
    result = CliRunner().invoke(simulator_cli.simulator_command, ["--throttle-rate", "3"])
    assert result.exit_code != 0 and "probability" in result.output
    result = CliRunner().invoke(simulator_cli.simulator_command, ["--latency-ms", "fast"])
    assert result.exit_code != 0 and "latency_ms" in result.output
    assert served == []


def test_the_command_is_exported_for_the_cli_group():
    assert simulator_cli.COMMANDS == [simulator_cli.simulator_command]
    assert simulator_cli.simulator_command.name == "simulator"
