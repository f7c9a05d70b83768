"""Languages of the UI: Chinese by default, English on request (a cookie), with Flask-Babel.

Message ids are English; `mobilize/translations/zh/LC_MESSAGES/messages.po` holds the Chinese, compiled into
the `.mo` beside it that is committed and packaged (scripts/i18n extracts, updates and compiles; a test fails
when a message has no Chinese or the `.mo` is older than the `.po`).
"""
from __future__ import annotations

from flask import Flask, Response, request
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
COOKIE = "mobilize_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

ROLE_LABELS = {"admin": _l("Administrator"), "commander": _l("Commander"), "officer": _l("Street officer"),
               "viewer": _l("Viewer")}
SITE_KIND_LABELS = {"testing_site": _l("Testing site"), "intersection": _l("Intersection"),
                    "station": _l("Station"), "community_post": _l("Community post"), "other": _l("Other")}
OUTBOUND_STATUS_LABELS = {
    "pending": _l("waiting"), "sending": _l("sending"), "queued": _l("accepted by carrier"),
    "sent": _l("sent"),
    "delivered": _l("delivered"), "undelivered": _l("undelivered"), "failed": _l("failed"),
    "cancelled": _l("cancelled"),
}
INBOUND_STATE_LABELS = {"received": _l("received"), "processed": _l("processed")}
ORDER_STATE_LABELS = {"draft": _l("draft"), "open": _l("open"), "filled": _l("filled"), "closed": _l("closed"),
                      "cancelled": _l("cancelled")}
ASSIGNMENT_STATUS_LABELS = {
    "proposed": _l("assigned"), "notified": _l("dispatched"), "confirmed": _l("confirmed"),
    "arrived": _l("arrived"), "completed": _l("completed"), "released": _l("released"),
    "declined": _l("declined"), "no_show": _l("no-show"),
}
EXCLUSION_LABELS = {
    "opted_out": _l("opted out"), "phone_invalid": _l("invalid phone number"),
    "already_invited": _l("already invited"), "wrong_street": _l("other street"), "language": _l("language"),
    "resting": _l("resting after another order"), "no_coordinates": _l("no location"),
    "missing_skill": _l("missing skill"), "too_far": _l("too far"),
    "busy_protected_post": _l("on duty at a protected post"),
    "busy_peacetime_shift": _l("on a peacetime shift"),
}
COUNT_LABELS = {
    "capacity": _l("capacity"), "assigned": _l("assigned"), "confirmed": _l("confirmed"),
    "arrived": _l("arrived"), "no_show": _l("no-show"), "open": _l("open places"), "invited": _l("invited"),
    "accepted": _l("accepted"), "standby": _l("standby"), "declined": _l("declined"),
    "no_answer": _l("no answer"),
}


def select_locale() -> str:
    choice = request.cookies.get(COOKIE)
    return choice if choice in LANGUAGES else DEFAULT


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


def remember(response: Response, language: str) -> None:
    response.set_cookie(COOKIE, language, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax",
                        secure=request.is_secure)


def init_app(app: Flask, timezone: str) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", timezone)
    Babel(app, locale_selector=select_locale)


def localized(row, zh_attribute: str = "name", en_attribute: str = "name_en") -> str:
    """A street's or role's name in the page's language."""
    return getattr(row, en_attribute if current_language() == "en" else zh_attribute)
