"""Thin HTTP entry points: blueprints for the API, Twilio webhooks, the web UI (pages, logins, live events) and
health."""
from __future__ import annotations

from flask import Flask, Request, current_app, g
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from sqlalchemy.orm import Session

from mobilize.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["mobilize"]


def db() -> Session:
    """The request's database session (closed at teardown; views commit what they change)."""
    if "db_session" not in g:
        g.db_session = runtime().sessions()
    return g.db_session


WEBHOOK_PREFIX = "/twilio/"


class NoSessionForWebhooks(SecureCookieSessionInterface):
    """Flask's cookie sessions, except for Twilio's webhooks: Twilio sends no cookie and reads none, and
    opening a session builds its signer anew each request (~0.05 ms of a webhook's CPU, two status callbacks
    per message sent). A webhook gets Flask's null session, which is never saved."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path.startswith(WEBHOOK_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)


def register_blueprints(app: Flask) -> None:
    from mobilize.web import errors, events, health, nul_characters, security_headers, twilio, ui
    from mobilize.web.api import api

    app.session_interface = NoSessionForWebhooks()
    errors.register(app)
    nul_characters.install(app)  # never a NUL into a database query (PostgreSQL refuses it)
    security_headers.register(app)  # every response: pages, API, health and metrics, webhooks, streams
    app.register_blueprint(health.blueprint)
    app.register_blueprint(twilio.blueprint)
    app.register_blueprint(api)
    ui.register(app)  # pages, logins, CSRF, languages
    app.register_blueprint(events.blueprint)  # /events (SSE); it reads the pages' access rules
