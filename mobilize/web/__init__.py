"""Thin HTTP entry points: blueprints for the API, Twilio webhooks, the web UI (pages, logins, live events) and
health."""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from mobilize.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["mobilize"]


def db() -> Session:
    """The request's database session (closed at teardown; views commit what they change)."""
    if "db_session" not in g:
        g.db_session = runtime().sessions()
    return g.db_session


def register_blueprints(app: Flask) -> None:
    from mobilize.web import errors, events, health, nul_characters, security_headers, twilio, ui
    from mobilize.web.api import api

    errors.register(app)
    nul_characters.install(app)  # never a NUL into a database query (PostgreSQL refuses it)
    security_headers.register(app)  # every response: pages, API, health and metrics, webhooks, streams
    app.register_blueprint(health.blueprint)
    app.register_blueprint(twilio.blueprint)
    app.register_blueprint(api)
    ui.register(app)  # pages, logins, CSRF, languages
    app.register_blueprint(events.blueprint)  # /events (SSE); it reads the pages' access rules
