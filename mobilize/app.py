"""The Flask application factory."""
from __future__ import annotations

from apiflask import APIFlask
from flask import g

import mobilize
from config import Settings
from mobilize.runtime import Runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> APIFlask:
    """Build the web app. Nothing connects until a request needs the database or Redis."""
    if runtime is None:
        runtime = Runtime(settings or Settings.from_env())
    settings = runtime.settings
    _configure_logging_once(settings)
    app = APIFlask(
        "mobilize",
        title="mobilize API",
        version=mobilize.__version__,
        spec_path="/api/v1/openapi.json",
        docs_path=None,  # the hosted docs UI loads assets from a CDN; the pages here must work offline
        json_errors=False,  # JSON errors for /api only (see web.errors); HTML pages keep HTML errors
        instance_path=str(settings.instance_path),
    )
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        TESTING=settings.testing,
        JSON_AS_ASCII=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SYNC_LOCAL_SPEC=False,
        INFO={"description": "mobilize: wartime recruitment orders and peacetime duty rosters over SMS."},
    )
    app.json.ensure_ascii = False
    app.extensions["mobilize"] = runtime

    @app.teardown_appcontext
    def close_session(_error) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    from mobilize.wartime.after_commit import install
    from mobilize.web import converters, openapi, register_blueprints

    install(runtime)  # commits that request waves or matching queue the jobs (through mobilize.jobs)
    converters.install(app)  # before any route: every <int:id> within the databases' range
    register_blueprints(app)
    openapi.register(app)
    return app


def _configure_logging_once(settings: Settings) -> None:
    """Under gunicorn nothing else sets up logging (the CLI does it for its own commands): without this,
    structlog's default prints every debug line of every request."""
    import structlog

    if not structlog.is_configured():
        from mobilize.logging import configure_logging

        configure_logging(settings.log_level, settings.log_format)
