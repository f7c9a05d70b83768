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


# --- issue 17: words, not codes (every template, status, language, role and outcome by its name) ---------------

# The SMS templates not named above, so that the message log never shows a template's code.
TEMPLATE_LABELS.update({
    "help": _l("Help: how to reply"), "hours_reply": _l("Hours served"),
    "not_understood": _l("Not understood: how to reply"), "notice": _l("Notice"),
    "which_order": _l("Which order? (several open)"), "unknown_sender": _l("Unknown number: how to register"),
    "opt_in_confirm": _l("Subscribed again"), "opt_out_confirm": _l("Unsubscribed"),
    "open_call_ask_name": _l("Open call: asks the name"), "open_call_ask_street": _l("Open call: asks the street"),
    "open_call_bad_name": _l("Open call: name not understood"),
    "open_call_confirm": _l("Open call: confirm the details"), "open_call_ended": _l("Open call: sign-up ended"),
    "open_call_expired": _l("Open call: sign-up timed out"), "open_call_hint": _l("Open call: how to join"),
    "open_call_joined": _l("Open call: joined"), "open_call_over": _l("Open call: over"),
    "open_call_refused": _l("Open call: not accepted"), "open_call_which": _l("Open call: which order?"),
    "shift_already": _l("Shift: already booked"), "shift_backfill": _l("Shift: a place to fill"),
    "shift_booked": _l("Shift booked"), "shift_cancelled": _l("Shift cancelled"),
    "shift_checkin_ack": _l("Shift check-in noted"), "shift_checkout_ack": _l("Shift check-out noted"),
    "shift_conflict": _l("Shift: overlaps another"), "shift_left": _l("Left the shift"),
    "shift_list": _l("Open shifts nearby"), "shift_mine": _l("My shifts"), "shift_mine_none": _l("My shifts: none"),
    "shift_none": _l("No open shifts nearby"), "shift_promoted": _l("Shift: off the waiting list"),
    "shift_reminder_day": _l("Shift reminder, the day before"),
    "shift_reminder_hour": _l("Shift reminder, an hour before"), "shift_unavailable": _l("Shift: not available"),
    "shift_waitlisted": _l("Shift: on the waiting list"), "swap_declined": _l("Swap declined"),
    "swap_done": _l("Swap done"), "swap_request": _l("Swap request"), "swap_which": _l("Swap: which one?"),
})
# What an inbound SMS was read as (InboundMessage.intent).
INTENT_LABELS = {
    "accept": _l("says yes"), "decline": _l("says no"), "drop_out": _l("drops out"), "arrived": _l("arrived"),
    "done": _l("signs out"), "help": _l("asks for help"), "opt_out": _l("unsubscribes"),
    "opt_in": _l("subscribes again"), "hours": _l("asks for hours served"), "shifts": _l("asks for shifts"),
    "shift_take": _l("takes a shift"), "shift_leave": _l("leaves a shift"), "swap_accept": _l("accepts a swap"),
    "swap_decline": _l("declines a swap"), "unknown": _l("not understood"),
}
# What the service did with an inbound SMS (InboundMessage.outcome); others are shown with their words spaced.
OUTCOME_LABELS = {
    "accepted": _l("yes noted"), "declined": _l("no noted"), "confirmed": _l("confirmed"),
    "arrived": _l("arrival noted"), "completed": _l("sign-out noted"), "dropped_out": _l("drop-out noted"),
    "opted_out": _l("unsubscribed"), "opted_in": _l("subscribed again"), "help_sent": _l("help sent"),
    "hours_sent": _l("hours sent"), "standby_ready": _l("ready on standby"), "order_full": _l("told: all filled"),
    "order_called_off": _l("told: called off"), "not_understood": _l("not understood: help sent"),
    "nothing_to_answer": _l("nothing open to answer"), "no_open_invitation": _l("no open invitation"),
    "asked_which_order": _l("asked which order"), "already_accepted": _l("had already said yes"),
    "already_confirmed": _l("had already confirmed"), "already_arrived": _l("had already arrived"),
    "already_completed": _l("had already signed out"), "already_opted_in": _l("was subscribed already"),
    "confirm_too_late": _l("confirmation too late"), "drop_out_too_late": _l("drop-out too late"),
    "done_too_late": _l("sign-out too late"), "declined_after_recruiting": _l("no, after recruiting stopped"),
    "ignored_opted_out": _l("ignored: unsubscribed"), "too_long": _l("ignored: too long"),
    "abuse": _l("ignored: too many messages"), "unknown_sender_hint": _l("unknown number: told how to register"),
    "unknown_sender_quiet": _l("unknown number: not answered again"),
    "shift_checked_in": _l("shift check-in noted"), "shift_checked_out": _l("shift check-out noted"),
    "shifts_listed": _l("open shifts sent"), "shifts_none": _l("no open shifts"),
    "shifts_mine_listed": _l("their shifts sent"), "shifts_mine_none": _l("no shifts of theirs"),
    "shift_left": _l("left the shift"), "shift_booked": _l("shift booked"),
    "shift_waitlisted": _l("on the shift's waiting list"), "shift_unavailable": _l("shift not available"),
    "open_call_started": _l("open call: sign-up started"), "open_call_joined": _l("open call: joined"),
}
# Twilio's error codes as its documentation names them (the carrier's reason for a failed or undelivered SMS).
CARRIER_ERROR_LABELS = {
    30001: _l("queue overflow"), 30002: _l("account suspended"), 30003: _l("unreachable handset"),
    30004: _l("message blocked"), 30005: _l("unknown handset (number does not exist)"),
    30006: _l("landline or unreachable carrier"), 30007: _l("filtered by the carrier"),
    30008: _l("unknown error"), 30009: _l("missing segment"), 30010: _l("price exceeds the maximum"),
    21211: _l("invalid 'To' number"), 21408: _l("region not enabled for SMS"), 21610: _l("recipient unsubscribed"),
    21612: _l("cannot route to this number"), 21614: _l("not a mobile number"),
    20429: _l("too many requests"),
}
DIRECTION_LABELS = {"in": _l("received"), "out": _l("sent")}


def language_label(code: str | None) -> str:
    return str(LANGUAGE_LABELS.get(code or "", code or ""))


def intent_label(code: str | None) -> str:
    if not code:
        return ""
    return str(INTENT_LABELS.get(code) or code.replace("_", " "))


def outcome_label(code: str | None) -> str:
    """An inbound message's outcome in words (`order_full_quiet`: the words of `order_full`, nothing sent)."""
    if not code:
        return ""
    base = code[:-len("_quiet")] if code.endswith("_quiet") else code
    label = OUTCOME_LABELS.get(base) or INTENT_LABELS.get(base) or TEMPLATE_LABELS.get(base)
    return str(label) if label is not None else base.replace("_", " ").replace(":", ": ")


def carrier_error_label(code: int | None, message: str | None = None) -> str:
    """The carrier's reason: its name in the page's language, with the code (what support asks for)."""
    if code is None:
        return message or ""
    label = CARRIER_ERROR_LABELS.get(int(code))
    return f"{label} ({code})" if label is not None else (f"{message} ({code})" if message else str(code))


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
