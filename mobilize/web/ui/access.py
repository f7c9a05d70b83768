"""Who is logged in to the web UI, and what they may open.

A login is a random session id kept in Redis (key -> user id, sliding idle timeout) and named in Flask's
signed session cookie. The cookie alone proves nothing: logging out deletes the key, so a copied cookie is
dead after logout, and a login always starts a new id (no session fixation). Every request reloads the user
from the database, so a deactivated user or a changed role takes effect at once.

Access rules (DESIGN section 7): officers read and change only their own street, on every page; the command
center is for admins, commanders and viewers; viewers never see phone numbers.
"""
from __future__ import annotations

import secrets
import time
from functools import wraps
from typing import Callable

from flask import abort, g, redirect, request, session, url_for
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from mobilize.accounts import Principal
from mobilize.domain.district import find_street
from mobilize.live import COMMAND, STREET_PREFIX
from mobilize.models import Street, User, UserRole
from mobilize.web import db, runtime

SESSION_KEY = "mobilize:web:session:{sid}"
IDLE_SECONDS = 12 * 3600  # a login unused this long ends (each request extends it)
ABSOLUTE_SECONDS = 24 * 3600  # and no login lasts longer than this, used or not
COMMAND_CENTER_ROLES = frozenset({UserRole.admin, UserRole.commander, UserRole.viewer})
COMMAND_ROLES = frozenset({UserRole.admin, UserRole.commander})


def _key(session_id: str) -> str:
    return SESSION_KEY.format(sid=session_id)


def start_session(redis: Redis, user: User) -> None:
    """Forget everything the browser's session held before (a planted or anonymous one), then a new id."""
    session.clear()
    session_id = secrets.token_urlsafe(32)
    redis.set(_key(session_id), str(user.id), ex=IDLE_SECONDS)
    session["sid"] = session_id
    session["uid"] = user.id
    session["since"] = int(time.time())
    session.permanent = True


def end_session(redis: Redis) -> None:
    session_id = session.get("sid")
    if session_id:
        redis.delete(_key(session_id))
    session.clear()


def session_still_valid(redis: Redis, session_id: str | None) -> bool:
    """For long-lived streams: has this login ended meanwhile (logout, expiry)?"""
    try:
        return bool(session_id) and redis.exists(_key(session_id)) == 1
    except (RedisError, OSError):
        return False


def current_principal() -> Principal | None:
    """The logged-in user of this request (None: anonymous), loaded once per request."""
    if "principal" not in g:
        g.principal = _load_principal()
    return g.principal


def current_session_id() -> str | None:
    return session.get("sid") if current_principal() is not None else None


def _load_principal() -> Principal | None:
    session_id, user_id, since = session.get("sid"), session.get("uid"), session.get("since", 0)
    if not session_id or not isinstance(user_id, int):
        return None
    if time.time() - since > ABSOLUTE_SECONDS:
        return None
    try:
        redis = runtime().redis
        stored = redis.get(_key(session_id))
        if stored is None or stored.decode() != str(user_id):
            return None
        redis.expire(_key(session_id), IDLE_SECONDS)
    except (RedisError, OSError) as error:
        raise ServiceUnavailable(str(error)) from None
    user = db().get(User, user_id)
    if user is None or not user.active:
        return None
    return Principal.of(user)


class ServiceUnavailable(Exception):
    """Redis, which holds the logins, cannot be reached: a 503 page, not a logout."""


# --- decorators ---------------------------------------------------------------------------------------------


def login_required(view: Callable) -> Callable:
    """Anonymous visitors go to the login page and come back afterwards."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_principal() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    wrapped.login_required = True
    return wrapped


def roles_required(*roles: UserRole) -> Callable:
    """Logged in and in one of `roles`, else 403."""
    allowed = frozenset(roles)

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            principal = current_principal()
            if principal is not None and principal.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return login_required(wrapped)

    return decorate


def may_act() -> bool:
    """Whether the viewer may act on a board's places (commanders and officers; viewers only watch)."""
    principal = current_principal()
    return principal is not None and (principal.can_command or principal.is_officer)


def street_or_404(name: str) -> Street:
    """A street by slug, Chinese full or short name, or English name."""
    info = find_street(name)
    street = db().scalar(select(Street).where(Street.name == info.name)) if info else None
    if street is None:
        abort(404)
    return street


def require_street(street: Street) -> None:
    """Officers read and change only their own street."""
    principal = current_principal()
    if principal is None or not principal.may_access_street(street.id):
        abort(403)


def home_url(principal: Principal) -> str:
    """Where a user starts: officers on their street's board, everyone else in the command center."""
    if principal.is_officer:
        street = db().get(Street, principal.street_id)
        return url_for("ui.board", street=street.slug)
    return url_for("ui.command")


def authorize_channel(channel: str) -> Principal:
    """Who may listen to an event channel: 401 anonymous (EventSource cannot follow a login redirect),
    403 the wrong role or street, 404 no such channel."""
    principal = current_principal()
    if principal is None:
        abort(401)
    if channel == COMMAND:
        if principal.role not in COMMAND_CENTER_ROLES:
            abort(403)
        return principal
    if channel.startswith(STREET_PREFIX):
        street = db().scalar(select(Street).where(Street.slug == channel[len(STREET_PREFIX):]))
        if street is None:
            abort(404)
        require_street(street)
        return principal
    abort(404)
