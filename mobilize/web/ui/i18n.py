"""Languages of the UI: Chinese by default, English on request (a cookie), with Flask-Babel.

Message ids are English; `mobilize/translations/zh/LC_MESSAGES/messages.po` holds the Chinese, compiled into
the `.mo` beside it that is committed and packaged (scripts/i18n extracts, updates and compiles; a test fails
when a message has no Chinese or the `.mo` is older than the `.po`).
"""
from __future__ import annotations

from flask import Flask, Response, request
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l

from mobilize.domain.district import find_street, street_label

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
INBOUND_STATE_LABELS = {"received": _l("received"), "processed": _l("processed"),
                        "dead": _l("set aside: could not be processed")}
ORDER_STATE_LABELS = {"draft": _l("draft"), "open": _l("open"), "filled": _l("filled"),
                      "staffed": _l("recruiting stopped"), "closed": _l("finished"), "cancelled": _l("cancelled")}
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

# The SMS an order action sends, by template, as a commander reads them (the confirmation step, the progress).
TEMPLATE_LABELS = {
    "invitation": _l("Invitation"), "dispatch": _l("Dispatch (where and when)"),
    "dispatch_confirmed": _l("Dispatch confirmed"), "standby": _l("On standby"),
    "dispatch_released": _l("Released from the dispatch"), "confirm_timeout": _l("Confirmation timed out"),
    "order_cancelled": _l("Called off: no need to come"), "thank_you": _l("Thank you, hours certified"),
    "not_needed": _l("Not needed this time, thank you"), "order_full": _l("All places are filled, thank you"),
    "decline_ack": _l("Decline noted"), "dropout_ack": _l("Drop-out noted"), "arrival_ack": _l("Arrival noted"),
    "done_ack": _l("Sign-out noted"),
    "dispatch_direct": _l("Dispatch, no confirmation needed"),
    "standby_ready": _l("Ready on standby, noted"),
}
# Who the recipients of an action are: their assignment's or invitation's status.
RECIPIENT_STATUS_LABELS = {
    "not_invited": _l("not invited yet"), "queued": _l("invitation not sent yet"),
    "invited": _l("invited, no answer yet"),
    "accepted": _l("said yes"), "standby": _l("on standby"), "declined": _l("declined"),
    "cancelled": _l("cancelled"), "expired": _l("invitation lapsed"),
}

# Why an assignment ended (Assignment.end_reason), as the exports and pages name it.
END_REASON_LABELS = {
    "confirm_timeout": _l("did not confirm in time"), "dropped_out": _l("dropped out by SMS"),
    "released_by_officer": _l("released by the officer"), "no_show": _l("marked no-show by the officer"),
    "not_arrived_by_finish": _l("had not arrived when the order finished"),
    "order_cancelled": _l("the order was cancelled"), "opted_out": _l("opted out of SMS"),
}
SIGNUP_STATUS_LABELS = {
    "waitlisted": _l("on the waiting list"), "booked": _l("booked"), "checked_in": _l("checked in"),
    "completed": _l("completed"), "cancelled": _l("cancelled"), "released": _l("released for an order"),
    "no_show": _l("no-show"), "swapped": _l("swapped"), "removed": _l("removed by the officer"),
}
SHIFT_STATUS_LABELS = {"scheduled": _l("scheduled"), "cancelled": _l("cancelled"), "ended": _l("ended")}
SERVICE_KIND_LABELS = {"shift": _l("Peacetime shift"), "wartime": _l("Wartime order"),
                       "imported": _l("Hours carried over")}
LANGUAGE_LABELS = {"zh": _l("Chinese"), "en": _l("English")}
# ISO weekdays (Monday = 1)
WEEKDAY_LABELS = {"1": _l("Monday"), "2": _l("Tuesday"), "3": _l("Wednesday"), "4": _l("Thursday"),
                  "5": _l("Friday"), "6": _l("Saturday"), "7": _l("Sunday")}


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


def template_label(name: str) -> str:
    """An SMS template's name for a commander ("Invitation", not "invitation"); what it is for, when the pages do
    not name it yet."""
    label = TEMPLATE_LABELS.get(name)
    if label is not None:
        return str(label)
    from mobilize.domain.templates import TEMPLATES

    known = TEMPLATES.get(name)
    return known.purpose if known is not None else name.replace("_", " ")


def recipient_status_label(status: str | None) -> str:
    if not status:
        return ""
    return str(RECIPIENT_STATUS_LABELS.get(status) or ASSIGNMENT_STATUS_LABELS.get(status)
               or status.replace("_", " "))


def street_name(street, short: bool = False) -> str:
    """A street in the page's language (八大关街道, or Badaguan in English): the one helper every table uses, so
    that no page mixes romanised and Chinese names. `street`: the model, a `StreetInfo`, or a name as the
    queries hand it (full, short, English or slug; an unknown name is shown as it is)."""
    if not street:
        return ""
    if isinstance(street, str):
        info = find_street(street)
        return street_label(info, current_language(), short) if info is not None else street
    return street_label(street, current_language(), short)


def labels(table: dict) -> dict[str, str]:
    """A table of lazy names, resolved in the request's language (for code that must not depend on Flask)."""
    return {code: str(name) for code, name in table.items()}
