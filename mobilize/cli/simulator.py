"""`mobilize simulator`: the Twilio-compatible SMS simulator, on its own port."""
from __future__ import annotations

import os

import click


def _default_webhook_url() -> str:
    base = (os.environ.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    return f"{base}/twilio/sms"


def _probability(ctx, param, value):
    if value is not None and not 0.0 <= value <= 1.0:
        raise click.BadParameter("must be a probability between 0 and 1")
    return value


@click.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5010, show_default=True, type=int)
@click.option("--account-sid", envvar="TWILIO_ACCOUNT_SID", default=None,
              help="Account SID the service authenticates with [env TWILIO_ACCOUNT_SID; else a dev SID].")
@click.option("--auth-token", envvar="TWILIO_AUTH_TOKEN", default=None,
              help="Auth token: checks the service's requests and signs webhooks [env TWILIO_AUTH_TOKEN].")
@click.option("--webhook-url", default=None,
              help="Where texts from phones are POSTed [PUBLIC_BASE_URL + /twilio/sms]; 'none' to keep them.")
@click.option("--sender-number", envvar="TWILIO_FROM", default=None,
              help="Number of Messaging Service sends, and the number phones text [env TWILIO_FROM].")
@click.option("--time-scale", default=1.0, show_default=True, type=float,
              help="Multiplies every simulated delay (0.01: a hundred times faster than life).")
@click.option("--sent-delay", default=0.5, show_default=True, type=float, help="queued -> sent, seconds.")
@click.option("--delivery-delay", default=2.0, show_default=True, type=float,
              help="sent -> delivered, seconds.")
@click.option("--throttle-rate", default=0.0, show_default=True, type=float, callback=_probability,
              help="Probability a REST request gets 429 (Twilio 20429).")
@click.option("--server-error-rate", default=0.0, show_default=True, type=float, callback=_probability,
              help="Probability a REST request gets 500 or 503.")
@click.option("--latency-ms", default="0", show_default=True,
              help="Added to each REST request: milliseconds, or a range like 20-200.")
@click.option("--undelivered-rate", default=0.0, show_default=True, type=float, callback=_probability,
              help="Probability a message ends undelivered (30003/30005/30006).")
@click.option("--failed-rate", default=0.0, show_default=True, type=float, callback=_probability,
              help="Probability a message ends failed (30008).")
@click.option("--duplicate-webhook-rate", default=0.0, show_default=True, type=float, callback=_probability,
              help="Probability a webhook (inbound or status callback) is delivered twice.")
@click.option("--seed", default=None, type=int, help="Seed for the fault draws (reproducible runs).")
@click.option("--responder", default=None,
              help="How registered phones answer: default, silent, or an import path module:function.")
@click.option("--server", "server_kind", type=click.Choice(["gunicorn", "werkzeug"]), default="gunicorn",
              show_default=True, help="gunicorn (one gthread worker, keep-alive) or werkzeug (threaded).")
@click.option("--threads", default=32, show_default=True, type=int, help="gunicorn request threads.")
def simulator_command(host: str, port: int, account_sid: str | None, auth_token: str | None,
                      webhook_url: str | None, sender_number: str | None, time_scale: float,
                      sent_delay: float, delivery_delay: float, throttle_rate: float,
                      server_error_rate: float, latency_ms: str, undelivered_rate: float, failed_rate: float,
                      duplicate_webhook_rate: float,
                      seed: int | None, responder: str | None, server_kind: str, threads: int) -> None:
    """Run the Twilio-compatible SMS simulator (Messages API, signed webhooks, phones at /phones)."""
    from mobilize.sms.simulator.configuration import (DEFAULT_SENDER, DEV_ACCOUNT_SID, DEV_AUTH_TOKEN,
                                                      SimulatorConfig)
    from mobilize.sms.simulator.faults import FaultConfig, FaultError
    from mobilize.sms.simulator.phones import resolve_responder
    from mobilize.sms.simulator.server import serve

    if webhook_url is None:
        webhook_url = _default_webhook_url()
    elif webhook_url.strip().lower() in ("", "none", "off"):
        webhook_url = None
    try:
        faults = FaultConfig(throttle_rate=throttle_rate, server_error_rate=server_error_rate,
                             latency_ms=latency_ms, undelivered_rate=undelivered_rate,
                             failed_rate=failed_rate, duplicate_webhook_rate=duplicate_webhook_rate,
                             seed=seed)
        config = SimulatorConfig(
            account_sid=account_sid or DEV_ACCOUNT_SID, auth_token=auth_token or DEV_AUTH_TOKEN,
            webhook_url=webhook_url, sender_number=sender_number or DEFAULT_SENDER, time_scale=time_scale,
            sent_delay=sent_delay, delivery_delay=delivery_delay, faults=faults, responder=responder,
        )
        resolve_responder(responder)  # fail here, not in the server process
    except (FaultError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"SMS simulator on http://{host}:{port} (phones: http://{host}:{port}/phones), "
               f"account {config.account_sid}, inbound texts to {webhook_url or 'nowhere'}", err=True)
    serve(config, host, port, server=server_kind, threads=threads)


COMMANDS = [simulator_command]
