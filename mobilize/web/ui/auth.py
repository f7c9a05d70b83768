"""Log in, log out, choose the language. Every POST here carries the form's CSRF token (CSRFProtect)."""
from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from urllib.parse import urlsplit

import structlog
from flask import Blueprint, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from mobilize.accounts import Principal
from mobilize.models._types import utcnow
from mobilize.sms.ratelimit import limits_storage_uri
from mobilize.web import db, runtime
from mobilize.web.ui import i18n
from mobilize.web.ui.access import ServiceUnavailable, current_principal, end_session, home_url, start_session
from mobilize.web.ui.login import LOCK_MINUTES, MAX_FAILURES, attempt_login, audit

log = structlog.get_logger(__name__)
blueprint = Blueprint("auth", __name__)

IP_FAILURES = 30  # failed logins from one address...
IP_WINDOW_MINUTES = 10  # ...within this window, then 429 until the window moves on


class IpLimiter:
    """Failed logins per client address, shared by every web process through Redis (the `limits` library's
    moving window). Only failures count: a crowd of officers behind one NAT logging in is not an attack."""

    def __init__(self, redis_url: str, failures: int = IP_FAILURES, minutes: int = IP_WINDOW_MINUTES) -> None:
        self.item = RateLimitItemPerMinute(failures, minutes)
        self.redis_url = redis_url

    @cached_property
    def limiter(self) -> MovingWindowRateLimiter:
        return MovingWindowRateLimiter(RedisStorage(limits_storage_uri(self.redis_url)))

    def allowed(self, ip: str) -> bool:
        return self.limiter.test(self.item, "mobilize-login", ip)

    def failed(self, ip: str) -> None:
        self.limiter.hit(self.item, "mobilize-login", ip)


def ip_limiter() -> IpLimiter:
    extensions = current_app.extensions
    if "mobilize_login_limiter" not in extensions:
        extensions["mobilize_login_limiter"] = IpLimiter(runtime().redis_url)
    return extensions["mobilize_login_limiter"]


def safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no protocol-relative //host): no open redirect.

    Nor any control character: a CR or LF cannot go in a Location header (werkzeug refuses to write it: a
    500), and browsers drop tabs and newlines from URLs: "/<TAB>/evil.example" leads to //evil.example."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@blueprint.get("/login")
def login_form():
    principal = current_principal()
    if principal is not None:
        return redirect(safe_next(request.args.get("next")) or home_url(principal))
    return render_template("login.html", next=safe_next(request.args.get("next")) or "")


@contextmanager
def redis_needed():
    """Logins and their limits live in Redis: when it cannot be reached, a 503 page, not a 500."""
    try:
        yield
    except (RedisError, OSError) as error:
        raise ServiceUnavailable(str(error)) from error


@blueprint.post("/login")
def login():
    username = request.form.get("username", "").strip()[:60]
    password = request.form.get("password", "")
    next_url = safe_next(request.form.get("next"))
    ip = request.remote_addr or "unknown"
    limiter = ip_limiter()
    with redis_needed():
        allowed = limiter.allowed(ip)
    if not allowed:
        log.warning("login.rate_limited", ip=ip)
        message = _("Too many failed logins from this address. Wait a few minutes and try again.")
        return render_template("login.html", error=message, username=username, next=next_url or ""), 429
    result = attempt_login(db(), username, password, utcnow(), ip)
    db().commit()
    if not result.ok:
        with redis_needed():
            limiter.failed(ip)
        log.info("login.failed", reason=result.reason, ip=ip)
        message = _("Wrong username or password. After %(count)d failures in a row an account is locked for "
                    "%(minutes)d minutes.", count=MAX_FAILURES, minutes=LOCK_MINUTES)
        return render_template("login.html", error=message, username=username, next=next_url or ""), 401
    with redis_needed():
        start_session(runtime().redis, result.user)
    log.info("login.ok", user_id=result.user.id, ip=ip)
    return redirect(next_url or home_url(Principal.of(result.user)))


@blueprint.post("/logout")
def logout():
    principal = current_principal()
    with redis_needed():
        end_session(runtime().redis)
    if principal is not None:
        audit(db(), "logout", principal.username, principal.user_id, request.remote_addr or "unknown")
        db().commit()
    return redirect(url_for("auth.login_form"))


@blueprint.post("/language")
def language():
    """Remember the language in a cookie (it outlives logins, so the login page speaks it too)."""
    choice = request.form.get("lang", "")
    target = safe_next(request.form.get("next")) or url_for("ui.home")
    response = make_response(redirect(target))
    if choice in i18n.LANGUAGES:
        i18n.remember(response, choice)
    return response
