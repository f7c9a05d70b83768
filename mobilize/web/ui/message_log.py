"""The message log pages (issue 17, item 2): `/command/log` (filters, pages) and `/command/messages` (the log alone,
with the same filters: the part the page reloads on `message` events). Filters are GET parameters, so a filtered
log is a URL to keep or share; a value that names nothing is a 400 saying which. Viewers never see phone numbers,
so they cannot search by one either (403).

Also the template filters that turn the log's codes into words (templates, intents, outcomes, carrier errors,
languages, directions) in the page's language.
"""
from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from mobilize.domain.templates import TEMPLATES
from mobilize.live import COMMAND
from mobilize.models import Order, Street
from mobilize.web import db
from mobilize.web.ui import i18n
from mobilize.web.ui.access import COMMAND_CENTER_ROLES, current_principal, roles_required
from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.message_log_queries import (
    INBOUND_STATES,
    OUTBOUND_STATES,
    PAGE_SIZE,
    BadFilter,
    LogFilters,
    log_page,
    order_exists,
    parse_filters,
)

COMMAND_CENTER_LOG_SIZE = 10  # the command center shows the latest few; the log page has them all


@blueprint.app_template_filter("language_name")
def language_name(code: str | None) -> str:
    return i18n.language_label(code)


@blueprint.app_template_filter("intent")
def intent_name(code: str | None) -> str:
    return i18n.intent_label(code)


@blueprint.app_template_filter("outcome")
def outcome_name(code: str | None) -> str:
    return i18n.outcome_label(code)


@blueprint.app_template_filter("carrier_error")
def carrier_error(code: int | None, message: str | None = None) -> str:
    return i18n.carrier_error_label(code, message)


@blueprint.app_template_filter("direction")
def direction_name(code: str) -> str:
    return str(i18n.DIRECTION_LABELS.get(code, code))


def _filters_or_400() -> LogFilters:
    session = db()
    streets = set(session.scalars(select(Street.slug)))
    try:
        filters = parse_filters(request.args, streets)
    except BadFilter as problem:
        abort(400, description=_("This filter of the message log names nothing: %(problem)s", problem=str(problem)))
    if filters.phone and not current_principal().sees_phone_numbers:
        abort(403, description=_("Phone numbers are not shown to your role, so you cannot search by one."))
    if filters.order and not order_exists(session, filters.order):
        abort(400, description=_("This filter of the message log names nothing: %(problem)s",
                                 problem=f"no order {filters.order}"))
    return filters


def _choices() -> dict:
    """What the filter form offers: recent orders, templates, statuses, streets, by their names."""
    session = db()
    orders = session.execute(select(Order.id, Order.reply_code, Order.title).order_by(Order.id.desc()).limit(50)).all()
    templates = sorted(TEMPLATES, key=lambda name: i18n.template_label(name))
    return {"orders": orders, "templates": templates, "outbound_states": OUTBOUND_STATES,
            "inbound_states": INBOUND_STATES,
            "streets": session.scalars(select(Street).order_by(Street.id)).all()}


@blueprint.get("/command/log")
@roles_required(*COMMAND_CENTER_ROLES)
def message_log_page():
    """Every SMS in and out, filtered, a page at a time (live: new messages appear on the first page)."""
    filters = _filters_or_400()
    return render_template("message_log.html", log=log_page(db(), filters, PAGE_SIZE), filters=filters, channel=COMMAND,
                           **_choices())


@blueprint.get("/command/messages")
@roles_required(*COMMAND_CENTER_ROLES)
def command_messages():
    """The message log alone (pages reload it on `message` events): the command center's few latest, or with
    `view=log` the log page's page under the URL's filters."""
    filters = _filters_or_400()
    short = request.args.get("view") != "log"
    log = log_page(db(), filters, COMMAND_CENTER_LOG_SIZE if short else PAGE_SIZE)
    return render_template("_message_log.html", log=log, filters=filters, short=short)


def latest(session):
    """The command center's few latest messages (unfiltered)."""
    return log_page(session, LogFilters(), COMMAND_CENTER_LOG_SIZE)
