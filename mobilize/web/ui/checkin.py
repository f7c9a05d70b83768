"""The officer in the field (issue 17): a street's check-in list, bulk "arrived" and its undo, who is missing,
the board's alerts (drop-outs, places to backfill), and the data of the district map.

Thin views over `mobilize.wartime.checkin`; the street is checked on every route (officers see and change only
their own street: DESIGN section 7) and every id posted must be of that street, or nothing is changed. Viewers
read the list (numbers masked, no search by digits) and act on nothing.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from mobilize.domain.street_cells import Seed, street_areas
from mobilize.live import street_channel
from mobilize.models import Community, Street
from mobilize.models._types import utcnow
from mobilize.wartime import board, checkin
from mobilize.wartime.audit import Actor
from mobilize.wartime.errors import WartimeError
from mobilize.web import db
from mobilize.web.ui import queries
from mobilize.web.ui.access import current_principal, login_required, may_act, require_street, street_or_404
from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.i18n import current_language

VIEWS = ("todo", "missing", "arrived", "all")
ALERT_WINDOW = timedelta(minutes=30)  # what the board's alert list shows when the page opens


def _actor() -> Actor:
    principal = current_principal()
    return Actor.user(principal.username, principal.user_id)


def _sees_phones() -> bool:
    return current_principal().sees_phone_numbers


def _street(street: str) -> Street:
    row = street_or_404(street)
    require_street(row)
    return row


# --- the list --------------------------------------------------------------------------------------------------


@blueprint.get("/board/<street>/checkin")
@login_required
def checkin_page(street: str):
    return _render_page(_street(street))


def _render_page(row: Street, problem: str | None = None, status: int = 200):
    session = db()
    now = utcnow()
    view, query = _view_and_query()
    people = checkin.street_list(session, row.id, now)
    done = _done_batch(row, now)
    return render_template(
        "checkin.html", street=row, people=people, view=view, query=query, shown=_shown(people, view, query),
        counts=_counts(people), may_act=may_act(), sees_phones=_sees_phones(), done=done, problem=problem,
        channel=street_channel(row.slug), **alerts_context(row)), status


def alerts_context(row: Street) -> dict:
    """What the alerts region of a street's pages starts with: the last ALERT_WINDOW's alerts, and the moment
    its reloads count from."""
    since = utcnow() - ALERT_WINDOW
    return {"alerts": checkin.alerts(db(), row.id, since), "alerts_since": since.isoformat()}


@blueprint.get("/board/<street>/checkin/list")
@login_required
def checkin_list(street: str):
    """The list alone (reloaded on the street channel's events)."""
    row = _street(street)
    view, query = _view_and_query()
    people = checkin.street_list(db(), row.id, utcnow())
    return render_template("_checkin_list.html", street=row, people=people, view=view, query=query,
                           shown=_shown(people, view, query), counts=_counts(people), may_act=may_act(),
                           sees_phones=_sees_phones())


def _view_and_query() -> tuple[str, str]:
    view = request.args.get("view", "todo")
    return (view if view in VIEWS else "todo"), (request.args.get("q") or "").strip()[:40]


def _shown(people: checkin.CheckinList, view: str, query: str) -> list[checkin.Person]:
    waiting = {status.value for status in checkin.NOT_YET_ARRIVED}
    keep = {"todo": lambda p: p.assignment.status.value in waiting,
            "missing": lambda p: p.missing,
            "arrived": lambda p: p.assignment.status in board.ARRIVED_OR_LATER,
            "all": lambda p: True}[view]
    sees = _sees_phones()
    return [p for p in people.people if keep(p) and checkin.matches(p, query, sees)]


def _counts(people: checkin.CheckinList) -> dict[str, int]:
    waiting = set(checkin.NOT_YET_ARRIVED)
    return {"todo": sum(p.assignment.status in waiting for p in people.people), "missing": len(people.missing),
            "arrived": people.arrived, "all": len(people.people)}


def _done_batch(row: Street, now: datetime) -> dict | None:
    """The check-in just made (`?done=<batch>`), while it can still be undone."""
    raw = request.args.get("done", "")
    if not raw.isdecimal():
        return None
    try:
        event = checkin.batch(db(), row.id, int(raw))
    except (WartimeError, checkin.WrongStreet):
        return None
    left = checkin.UNDO_SECONDS - (now - event.at).total_seconds()
    if left <= 0:
        return None
    return {"id": event.id, "count": len(event.details.get("items", ())), "seconds_left": int(left)}


# --- bulk arrival and undo -------------------------------------------------------------------------------------


@blueprint.post("/board/<street>/checkin/arrive")
@login_required
def checkin_arrive(street: str):
    """Mark the people chosen (checkboxes `assignment`, or one row's button `one`) as arrived."""
    row = _street(street)
    if not may_act():
        abort(403)
    form = request.form
    chosen = [form["one"]] if form.get("one") else form.getlist("assignment")
    ids = _ids(chosen)
    session = db()
    try:
        result = checkin.bulk_arrive(session, row.id, ids, _actor(), utcnow())
        session.commit()
    except checkin.WrongStreet:
        session.rollback()
        _wrong_street()
    except WartimeError as error:
        session.rollback()
        return _render_page(row, _problem(error), error.status)
    if result.arrived:
        flash(ngettext("%(num)d marked as arrived.", "%(num)d marked as arrived.", len(result.arrived)), "ok")
    if result.skipped:
        flash(ngettext("%(num)d was not waiting to arrive any more (someone else was first): left as it is.",
                       "%(num)d were not waiting to arrive any more (someone else was first): left as they are.",
                       len(result.skipped)), "warning")
    return redirect(url_for("ui.checkin_page", street=row.slug, done=result.batch_id or None), 303)


@blueprint.post("/board/<street>/checkin/undo")
@login_required
def checkin_undo(street: str):
    """Undo a check-in within the minute: the whole batch (`batch`), or one person of it (`undo_one` =
    "<batch>:<assignment>")."""
    row = _street(street)
    if not may_act():
        abort(403)
    form = request.form
    one = form.get("undo_one", "")
    if one:
        batch_id, _sep, assignment = one.partition(":")
        ids = _ids([assignment])
    else:
        batch_id, ids = form.get("batch", ""), None
    if not batch_id.isdecimal():
        return _render_page(row, _("Which check-in to undo is missing."), 422)
    session = db()
    try:
        result = checkin.undo(session, row.id, int(batch_id), _actor(), utcnow(), ids)
        session.commit()
    except checkin.WrongStreet:
        session.rollback()
        _wrong_street()
    except WartimeError as error:
        session.rollback()
        return _render_page(row, _problem(error), error.status)
    if result.undone:
        flash(ngettext("Undone: %(num)d is waiting to arrive again.", "Undone: %(num)d are waiting to arrive again.",
                       len(result.undone)), "ok")
    if result.sms_already_sent:
        flash(ngettext("%(num)d arrival SMS had already gone out and cannot be recalled.",
                       "%(num)d arrival SMS had already gone out and cannot be recalled.",
                       len(result.sms_already_sent)), "warning")
    if result.unchanged:
        flash(ngettext("%(num)d had changed since (undone already, signed out or released): left as it is.",
                       "%(num)d had changed since (undone already, signed out or released): left as they are.",
                       len(result.unchanged)), "warning")
    return redirect(url_for("ui.checkin_page", street=row.slug), 303)


def _wrong_street() -> None:
    """Something posted to this street's page belongs to another street: nothing was changed. An officer may
    not know of it (403); for the command center it is simply not on this page (404)."""
    abort(403 if current_principal().is_officer else 404)


def _ids(values) -> list[int]:
    ids = []
    for value in values:
        if not str(value).isdecimal() or len(str(value)) > 12:
            abort(400)
        ids.append(int(value))
    return ids


def _problem(error: WartimeError) -> str:
    text = {"undo_expired": _("More than a minute has passed: this check-in can no longer be undone. Release the "
                              "person or mark them as a no-show on the board instead."),
            "nothing_chosen": _("Choose at least one person first."),
            "too_many": _("Too many people at once."),
            "not_found": _("Not found: the list has changed, reload it.")}.get(error.code)
    return f"{text or _('This could not be done.')} ({error.message})"


# --- alerts ------------------------------------------------------------------------------------------------------


@blueprint.get("/board/<street>/alerts")
@login_required
def board_alerts(street: str):
    """The street's drop-outs and freed places since `since` (the board and the check-in list reload it on the
    street channel's events; static/board_alerts.js sounds and counts the new ones in the tab's title)."""
    row = _street(street)
    try:
        since = datetime.fromisoformat(request.args.get("since", ""))
    except ValueError:
        since = utcnow() - ALERT_WINDOW
    if since.tzinfo is None:
        abort(400)
    since = max(since, utcnow() - timedelta(days=1))
    return render_template("_board_alerts.html", street=row, alerts=checkin.alerts(db(), row.id, since))


# --- the district map ---------------------------------------------------------------------------------------------


@blueprint.get("/board/<street>/map.json")
@login_required
def board_map_sites(street: str):
    """The street's sites for the map, numbered as the board's site cards, with the live fill of the orders
    under way."""
    row = _street(street)
    session = db()
    fill = board.street_fill(session, row.id)
    sites = []
    for number, site in enumerate(queries.sites_of(session, row.id), start=1):
        places = [fill[key] for key in fill if key[0] == site.id]
        sites.append({"number": number, "id": site.id, "name": site.name, "lat": site.lat, "lon": site.lon,
                      "capacity": sum(p["capacity"] for p in places) or sum(r.capacity for r in site.roles),
                      "assigned": sum(p["assigned"] for p in places),
                      "arrived": sum(p["arrived"] for p in places), "under_way": bool(places)})
    return jsonify({"street": row.slug, "street_name": _street_label(row), "sites": sites})


@blueprint.get("/map/streets.geojson")
@login_required
def district_geojson():
    """The streets' approximate areas (mobilize.domain.street_cells), from the registry's communities."""
    session = db()
    streets = session.scalars(select(Street).order_by(Street.id)).all()
    communities = session.execute(select(Community.street_id, Community.lat, Community.lon).where(
        Community.lat.is_not(None), Community.lon.is_not(None)).order_by(Community.id)).all()
    slugs = {street.id: street.slug for street in streets}
    seeds = [Seed(slugs[street_id], lat, lon) for street_id, lat, lon in communities if street_id in slugs]
    placed = {seed.street for seed in seeds}
    seeds += [Seed(s.slug, s.lat, s.lon) for s in streets if s.slug not in placed]  # at the office's point
    labels = tuple((s.slug, _street_label(s), s.name, s.name_en) for s in streets)
    try:
        collection = _areas(tuple(seeds), labels)
    except ValueError:
        abort(404)
    response = jsonify(collection)
    response.mimetype = "application/geo+json"
    return response


def _street_label(street: Street) -> str:
    return street.name_en if current_language() == "en" else street.short_name


@lru_cache(maxsize=8)
def _areas(seeds: tuple[Seed, ...], labels: tuple) -> dict:
    """Cached per set of points and language: the registry's communities rarely move."""
    properties = {slug: {"name": label, "name_zh": name, "name_en": name_en} for slug, label, name, name_en in labels}
    collection = street_areas(list(seeds), properties)
    collection["properties"]["label"] = _("Approximate areas (derived from the communities' locations, not "
                                          "official boundaries)")
    return collection

