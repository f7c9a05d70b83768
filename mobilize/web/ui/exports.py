"""Downloads a Chinese office opens directly: CSV (UTF-8 with a BOM) and Excel (.xlsx), headers in the page's
language, names of statuses, roles and streets instead of codes, times in the district's zone.

- `/command/orders/<id>/assignments.csv|.xlsx`: an order's dispatches and arrivals (the command center).
- `/exports/hours.csv|.xlsx?from=YYYY-MM-DD&to=YYYY-MM-DD[&street=]`: certified hours per volunteer over a
  period (at most a year). The command center reads every street or one; an officer only their own street (the
  service given there), whether or not they name it.
- `/board/<street>/roster.csv|.xlsx[?week=YYYY-MM-DD]`: a street's roster for the week holding that date (this
  week by default); an officer only their own street.

Viewers get phone numbers masked, and numbers written in free text too. A bad parameter (a date that is not
one, a period backwards or over a year, an unknown street) is a 400 or 404 page naming the problem: the file
is built whole before anything is sent, so there is never half a file.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from mobilize.domain import exports
from mobilize.domain.phones import mask_phone, redact_phone_numbers
from mobilize.models import Street
from mobilize.web import db, runtime
from mobilize.web.ui import export_tables, i18n, order_queries
from mobilize.web.ui.access import (
    COMMAND_CENTER_ROLES,
    current_principal,
    login_required,
    require_street,
    roles_required,
    street_or_404,
)
from mobilize.web.ui.blueprint import blueprint

MAX_PERIOD_DAYS = 366  # a year, leap day included
FILE_FORMATS = "any(csv, xlsx)"

HEADERS = {
    "assignment_id": _l("No."), "volunteer": _l("Volunteer"), "phone": _l("Phone"), "street": _l("Street"),
    "site": _l("Site"), "role": _l("Role"), "status": _l("Status"), "distance_m": _l("Distance (m)"),
    "backfill": _l("Backfill"), "assigned_at": _l("Assigned at"), "dispatched_at": _l("Dispatched at"),
    "confirmed_at": _l("Confirmed at"), "arrived_at": _l("Arrived at"), "completed_at": _l("Completed at"),
    "ended_at": _l("Ended at"), "end_reason": _l("Why it ended"), "hours": _l("Hours"),
    "volunteer_id": _l("Volunteer no."), "home_street": _l("Home street"),
    "certified_hours": _l("Certified hours"), "shift_hours": _l("Peacetime shifts (h)"),
    "wartime_hours": _l("Wartime orders (h)"), "imported_hours": _l("Carried over (h)"),
    "records": _l("Records"), "first_service": _l("First service"), "last_service": _l("Last service"),
    "date": _l("Date"), "weekday": _l("Weekday"), "starts_at": _l("Starts"), "ends_at": _l("Ends"),
    "post": _l("Post"), "shift_status": _l("Shift status"), "capacity": _l("Places in all"),
    "filled": _l("Places taken"), "signup_status": _l("Sign-up status"), "checked_in_at": _l("Checked in at"),
    "checked_out_at": _l("Checked out at"),
}


class BadParameter(Exception):
    """A query parameter the export cannot use; the message (in the reader's language) names it."""


# --- the routes ---------------------------------------------------------------------------------------------


@blueprint.get("/command/orders/<int:order_id>/assignments.csv")
@roles_required(*COMMAND_CENTER_ROLES)
def order_csv(order_id: int):
    """Who was sent where, with times (the same table as `order_xlsx`)."""
    return _order_export(order_id, "csv")


@blueprint.get("/command/orders/<int:order_id>/assignments.xlsx")
@roles_required(*COMMAND_CENTER_ROLES)
def order_xlsx(order_id: int):
    """Who was sent where, with times, as an Excel workbook."""
    return _order_export(order_id, "xlsx")


def _order_export(order_id: int, file_format: str) -> Response:
    order = order_queries.load_order(db(), order_id)
    if order is None:
        abort(404)
    table = export_tables.order_assignments(db(), order, _words(), _privacy(), _zone())
    return _download(table, f"order-{order.id}-assignments", file_format)


@blueprint.get(f"/exports/hours.<{FILE_FORMATS}:file_format>")
@login_required
def hours_export(file_format: str):
    """Certified hours per volunteer over `from`..`to` (local dates, both included; default: this month so
    far), in every street or in `street`; officers always in their own."""
    try:
        first_day, last_day = _period(request.args.get("from"), request.args.get("to"))
    except BadParameter as problem:
        return _bad_request(str(problem))
    street = _hours_street(request.args.get("street"))
    table = export_tables.certified_hours(db(), first_day, last_day, street.id if street else None, _words(),
                                          _privacy(), _zone())
    name = f"hours-{first_day.isoformat()}-{last_day.isoformat()}" + (f"-{street.slug}" if street else "")
    return _download(table, name, file_format)


@blueprint.get(f"/board/<street>/roster.<{FILE_FORMATS}:file_format>")
@login_required
def roster_export(street: str, file_format: str):
    """The street's shifts and who is on them, for the week (Monday to Sunday) holding `week`."""
    row = street_or_404(street)
    require_street(row)
    try:
        monday = _week(request.args.get("week"))
    except BadParameter as problem:
        return _bad_request(str(problem))
    table = export_tables.street_roster(db(), row, monday, _words(), _privacy(), _zone())
    return _download(table, f"roster-{row.slug}-{monday.isoformat()}", file_format)


# --- parameters ---------------------------------------------------------------------------------------------


def _zone() -> str:
    return runtime().settings.timezone


def _today() -> date:
    return datetime.now(ZoneInfo(_zone())).date()


def _day(name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip()) if len(raw.strip()) == 10 else _not_a_day(name, raw)
    except ValueError:
        return _not_a_day(name, raw)


def _not_a_day(name: str, raw: str):
    raise BadParameter(_("%(name)s must be a date written YYYY-MM-DD, not “%(value)s”.",
                         name=name, value=raw[:40]))


def _period(first: str | None, last: str | None) -> tuple[date, date]:
    today = _today()
    first_day = _day("from", first) if first else today.replace(day=1)
    last_day = _day("to", last) if last else max(today, first_day)
    if last_day < first_day:
        raise BadParameter(_("The period ends (%(to)s) before it starts (%(from)s).",
                             to=last_day.isoformat(), **{"from": first_day.isoformat()}))
    if (last_day - first_day).days + 1 > MAX_PERIOD_DAYS:
        raise BadParameter(_("The period is longer than a year (%(days)d days): export a year at most at "
                             "a time.", days=(last_day - first_day).days + 1))
    return first_day, last_day


def _week(raw: str | None) -> date:
    day = _day("week", raw) if raw else _today()
    return day - timedelta(days=day.isoweekday() - 1)


def _hours_street(raw: str | None) -> Street | None:
    """The street the hours are read in: the named one (404 unknown, 403 for an officer of another), an
    officer's own when none is named, or None (the whole district) for the command center."""
    principal = current_principal()
    if raw:
        street = street_or_404(raw)
        require_street(street)
        return street
    if principal.is_officer:
        return db().get(Street, principal.street_id)
    return None


# --- the reader's words and what they may see ---------------------------------------------------------------


def _words() -> export_tables.Words:
    return export_tables.Words(
        language=i18n.current_language(),
        headers=i18n.labels(HEADERS),
        labels={"assignment_status": i18n.labels(i18n.ASSIGNMENT_STATUS_LABELS),
                "end_reason": i18n.labels(i18n.END_REASON_LABELS),
                "shift_status": i18n.labels(i18n.SHIFT_STATUS_LABELS),
                "signup_status": i18n.labels(i18n.SIGNUP_STATUS_LABELS),
                "weekday": i18n.labels(i18n.WEEKDAY_LABELS)},
        yes=_("yes"))


def _privacy() -> export_tables.Privacy:
    if current_principal().sees_phone_numbers:
        return export_tables.Privacy(phone=lambda number: number, text=lambda text: text)
    return export_tables.Privacy(phone=mask_phone, text=redact_phone_numbers)


# --- the answer ---------------------------------------------------------------------------------------------


def _download(table: exports.Table, name: str, file_format: str) -> Response:
    body = exports.render(table, file_format)  # whole, before the first byte goes out
    response = Response(body, mimetype=exports.mimetype(file_format))  # text/csv; charset=utf-8
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{file_format}"'
    response.headers["Cache-Control"] = "no-store"  # names and numbers of people: not for shared caches
    return response


def _bad_request(message: str):
    return render_template("error.html", status=400, description=message), 400
