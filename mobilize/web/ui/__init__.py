"""The web UI: server-rendered pages (Jinja, Chinese by default), logins with sessions, CSRF on every form.

How the pieces fit:
- `access`: logins as server-side session ids in Redis named by Flask's signed cookie; `login_required`,
  `roles_required`, the street check; who may listen to which event channel.
- `auth` / `login`: the login form (argon2, lockout on the user, failures per client address in Redis, audit),
  logout, the language switch.
- `pages`: home, /command, /board/<street>, /phones and the fragments live events reload.
- `i18n`: Flask-Babel with a language cookie; `mobilize/translations` holds the Chinese catalog.
- CSRF: Flask-WTF's CSRFProtect checks every POST/PUT/PATCH/DELETE except the JSON API (bearer tokens, no
  cookies) and Twilio's webhooks (signed); templates put `csrf_token()` in every form (a script's POST would
  send it as the X-CSRFToken header, from `<meta name="csrf-token">`).
- Live updates: `mobilize.web.events` (SSE over Redis); static/live.js applies them.
- Security headers (the pages' content security policy among them): `mobilize.web.security_headers`, for
  every response of the app.
"""
from __future__ import annotations

import os
from datetime import timedelta

import structlog
from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFProtect
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import ServiceUnavailable as ServiceUnavailableError
from werkzeug.middleware.proxy_fix import ProxyFix

from mobilize.web import WEBHOOK_PREFIX
from mobilize.web.errors import api_http_error, is_api_request, passed_on_headers
from mobilize.web.ui.access import ServiceUnavailable

log = structlog.get_logger(__name__)

csrf = CSRFProtect()

HTML_ERRORS = (400, 401, 403, 404, 405, 429, 503)


def register(app: Flask) -> None:
    from mobilize.web.api import api
    from mobilize.web.twilio import blueprint as twilio_blueprint
    from mobilize.web.ui import (  # noqa: F401  (views on pages')
        auth, checkin, exports, filters, i18n, imports, order_confirm, orders, pages, volunteers)
    from mobilize.web.ui import admin, admin_audit, admin_system  # noqa: F401  (the admin pages' views)
    from mobilize.web.ui import roster, roster_posts  # noqa: F401  (the roster's views, on pages' blueprint)

    settings = app.extensions["mobilize"].settings
    _configure_sessions(app, settings.public_base_url)
    csrf.init_app(app)
    csrf.exempt(api)  # bearer tokens only: a browser's cookies never authenticate an API call
    csrf.exempt(twilio_blueprint)  # Twilio signs its requests instead
    i18n.init_app(app, settings.timezone)
    filters.register(app)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(pages.blueprint)
    _register_error_pages(app)
    _trust_proxies(app)


def _configure_sessions(app: Flask, public_base_url: str) -> None:
    from mobilize.web.ui.access import IDLE_SECONDS

    app.config.update(
        SESSION_COOKIE_NAME="mobilize_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure whenever the service is reached over https (always in production, behind the TLS proxy).
        SESSION_COOKIE_SECURE=public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=IDLE_SECONDS),
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the login: boards stay open for a whole shift
    )


def _trust_proxies(app: Flask) -> None:
    """Behind N reverse proxies (MOBILIZE_TRUSTED_PROXIES=N), take the client address and scheme from their
    X-Forwarded-* headers: the per-address login limit must see clients, not the proxy."""
    hops = int(os.environ.get("MOBILIZE_TRUSTED_PROXIES", "0") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _register_error_pages(app: Flask) -> None:
    """Localized error pages for the UI. The API keeps its JSON errors, webhooks and streams plain ones."""

    def handle(error: HTTPException):
        status = error.code or 500
        if is_api_request():
            return api_http_error(error)
        # webhooks by path, as web.NoSessionForWebhooks decides: a request no route took (a GET on /twilio/sms:
        # 405) has no blueprint, and the page below puts a CSRF token in a session the webhooks do not have
        if request.path.startswith(WEBHOOK_PREFIX) or request.blueprint in ("events", "health") or not _wants_html():
            return error
        # the error's own headers go with the page: a 405's Allow above all
        return render_template("error.html", status=status, description=_describe(error)), status, \
            passed_on_headers(error)

    for status in HTML_ERRORS:
        app.register_error_handler(status, handle)

    @app.errorhandler(ServiceUnavailable)
    def redis_unavailable(error: ServiceUnavailable):
        # Logins and rate limits live in Redis: without it, say so (503), never pretend the user logged out.
        log.warning("ui.redis_unavailable", path=request.path, error=str(error))
        return handle(ServiceUnavailableError())


def _wants_html() -> bool:
    return request.accept_mimetypes.accept_html or not request.accept_mimetypes


def _describe(error: HTTPException) -> Markup | str:
    from flask_babel import gettext as _

    messages = {
        400: _("The form had expired or was incomplete. Reload the page and try again."),
        401: _("Please log in."),
        403: _("You are not allowed to open this page."),
        404: _("There is no such page."),
        405: _("This page cannot be used that way."),
        429: _("Too many requests. Wait a moment and try again."),
        503: _("The service is briefly unavailable. Try again in a moment."),
    }
    return messages.get(error.code or 500, error.description or "")
