"""The volunteer pages (issue 16): search the registry, a volunteer's page, edit, deactivate and reactivate.

Thin views over `mobilize.registry.volunteers` (search, the importer's field rules for an edit, the audit trail)
and `volunteer_queries` (what a volunteer's page shows). Access (DESIGN section 7): everyone logged in searches
and reads; officers only their street's volunteers (the search is limited to it, another street's volunteer is a
403); viewers see phone numbers masked and cannot search by phone; admins, commanders and officers edit and
deactivate.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select

from mobilize.domain.district import find_street
from mobilize.models import Skill, Street, Team, UserRole, Volunteer
from mobilize.models._types import utcnow
from mobilize.peacetime.config import RosterConfig
from mobilize.registry import volunteers as registry
from mobilize.registry.volunteers import Released, Search, VolunteerError
from mobilize.wartime.audit import Actor
from mobilize.web import db, runtime
from mobilize.web.ui import volunteer_queries
from mobilize.web.ui.access import current_principal, login_required, roles_required
from mobilize.web.ui.blueprint import blueprint

EDITORS = (UserRole.admin, UserRole.commander, UserRole.officer)
STATES = ("active", "deactivated", "opted_out", "all")


def _actor() -> Actor:
    principal = current_principal()
    return Actor.user(principal.username, principal.user_id)


def _config() -> RosterConfig:
    return RosterConfig.from_settings(runtime().settings)


def _int_arg(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 6 else None


def _search_from_args() -> tuple[Search, dict]:
    """The search form's fields, as asked (`shown`, to fill the form again) and as applied (`Search`)."""
    principal = current_principal()
    shown = {name: (request.args.get(name) or "").strip()[:100] for name in ("q", "street", "skill", "team",
                                                                          "stars", "state")}
    street_id = None
    if principal.is_officer:
        street_id = principal.street_id  # officers: their street, whatever the form says
    elif shown["street"]:
        info = find_street(shown["street"])
        street_id = db().scalar(select(Street.id).where(Street.name == info.name)) if info else -1
    state = shown["state"] if shown["state"] in STATES else "active"
    search = Search(q=shown["q"], street_id=street_id, skill=shown["skill"] or None, team=shown["team"] or None,
                    stars=_int_arg("stars"), state=state, may_search_phone=principal.sees_phone_numbers)
    return search, shown


@blueprint.get("/volunteers")
@login_required
def volunteers():
    search, shown = _search_from_args()
    session = db()
    found = registry.search_volunteers(session, search, tuple(_config().star_thresholds), _int_arg("page") or 1)
    principal = current_principal()
    streets = [] if principal.is_officer else list(session.scalars(select(Street).order_by(Street.id)))
    skills = list(session.scalars(select(Skill).order_by(Skill.id)))
    phone_ignored = bool(search.q) and not search.may_search_phone and registry.looks_like_phone(search.q)
    return render_template("volunteers.html", found=found, shown=shown, streets=streets, skills=skills,
                           thresholds=_config().star_thresholds, phone_ignored=phone_ignored,
                           page_args={k: v for k, v in shown.items() if v})


def _volunteer_or_abort(volunteer_id: int) -> Volunteer:
    volunteer = volunteer_queries.volunteer_with_lists(db(), volunteer_id)
    if volunteer is None:
        abort(404)
    if not current_principal().may_access_street(volunteer.street_id):
        abort(403)
    return volunteer


@blueprint.get("/volunteers/<int:volunteer_id>")
@login_required
def volunteer_page(volunteer_id: int):
    volunteer = _volunteer_or_abort(volunteer_id)
    now = utcnow()
    profile = volunteer_queries.profile(db(), volunteer, _config(), now)
    principal = current_principal()
    may_edit = principal.role in EDITORS
    # what deactivating would give up, said on the form before anyone presses it
    held = registry.holdings(db(), volunteer.id, now) if may_edit and volunteer.deactivated_at is None else None
    return render_template("volunteer.html", profile=profile, volunteer=volunteer, may_edit=may_edit, held=held)


@blueprint.get("/volunteers/<int:volunteer_id>/edit")
@roles_required(*EDITORS)
def volunteer_edit(volunteer_id: int):
    volunteer = _volunteer_or_abort(volunteer_id)
    return _render_edit(volunteer, registry.form_values(volunteer), {})


def _render_edit(volunteer: Volunteer, values: dict, problems: dict, status: int = 200):
    session = db()
    principal = current_principal()
    streets = list(session.scalars(select(Street).order_by(Street.id)))
    if principal.is_officer:
        streets = [street for street in streets if street.id == principal.street_id]
    return render_template("volunteer_edit.html", volunteer=volunteer, values=values, problems=problems,
                           streets=streets, skills=list(session.scalars(select(Skill).order_by(Skill.id))),
                           teams=list(session.scalars(select(Team.name).order_by(Team.name).limit(500)))), status


@blueprint.post("/volunteers/<int:volunteer_id>/edit")
@roles_required(*EDITORS)
def volunteer_update(volunteer_id: int):
    volunteer = _volunteer_or_abort(volunteer_id)
    principal = current_principal()
    values = {name: request.form.get(name, "") for name in registry.EDITABLE}
    # the skills are checkboxes: several values of one field, written as the CSV's list
    values["skills"] = ";".join(request.form.getlist("skills"))
    session = db()
    try:
        changed = registry.edit_volunteer(
            session, volunteer.id, values, actor=_actor(), now=utcnow(),
            street_id_allowed=principal.street_id if principal.is_officer else None,
            default_region=runtime().settings.default_region)
    except VolunteerError as error:
        session.rollback()
        volunteer = _volunteer_or_abort(volunteer_id)
        return _render_edit(volunteer, values, error.by_field or {"_": str(error)},
                            status=400 if error.status == 422 else error.status)
    session.commit()
    flash(_("Saved: %(fields)s.", fields=", ".join(_field_label(name) for name in changed)) if changed
          else _("Nothing changed."), "ok")
    return redirect(url_for("ui.volunteer_page", volunteer_id=volunteer_id))


@blueprint.post("/volunteers/<int:volunteer_id>/deactivate")
@roles_required(*EDITORS)
def volunteer_deactivate(volunteer_id: int):
    released: list[Released] = []

    def change(session, actor, now):
        released.append(registry.deactivate(session, volunteer_id, actor=actor, now=now, cfg=_config(),
                                            reason=request.form.get("reason", "")))

    return _change_state(volunteer_id, change, lambda: _deactivated_message(released[0]))


def _deactivated_message(released: Released) -> str:
    """"Deactivated: 2 shifts cancelled, 1 dispatch released": what it gave up, then what it means."""
    parts = []
    if released.shifts:
        parts.append(ngettext("%(num)d shift cancelled", "%(num)d shifts cancelled", released.shifts))
    if released.waitlist:
        parts.append(ngettext("%(num)d waitlist place left", "%(num)d waitlist places left", released.waitlist))
    if released.assignments:
        parts.append(ngettext("%(num)d dispatch released", "%(num)d dispatches released", released.assignments))
    if released.invitations:
        parts.append(ngettext("%(num)d invitation withdrawn", "%(num)d invitations withdrawn",
                              released.invitations))
    if released.kept_arrived:
        parts.append(ngettext("%(num)d place on site kept", "%(num)d places on site kept", released.kept_arrived))
    head = _("Deactivated: %(released)s.", released=_(", ").join(parts)) if parts else _("Deactivated.")
    return head + " " + _("No order, notice or backfill will invite this volunteer.")


@blueprint.post("/volunteers/<int:volunteer_id>/reactivate")
@roles_required(*EDITORS)
def volunteer_reactivate(volunteer_id: int):
    return _change_state(volunteer_id, lambda session, actor, now: registry.reactivate(
        session, volunteer_id, actor=actor, now=now),
        lambda: _("Active again. Shifts and dispatches given up when they were deactivated are not restored."))


def _change_state(volunteer_id: int, change, done: Callable[[], str]):
    _volunteer_or_abort(volunteer_id)
    session = db()
    try:
        change(session, _actor(), utcnow())
    except VolunteerError as error:
        session.rollback()
        flash(_("Not changed: %(reason)s", reason=_state_problem(error)), "error")
        return redirect(url_for("ui.volunteer_page", volunteer_id=volunteer_id))
    session.commit()
    flash(done(), "ok")
    return redirect(url_for("ui.volunteer_page", volunteer_id=volunteer_id))


def _state_problem(error: VolunteerError) -> str:
    if str(error).startswith("could not release"):  # a shift or a dispatch changed meanwhile: nothing was done
        return _("a shift or a dispatch of theirs changed meanwhile; look at their page and try again")
    return {"the volunteer is already deactivated": _("the volunteer is already deactivated"),
            "the volunteer is active": _("the volunteer is already active")}.get(str(error), str(error))


def _field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


FIELD_LABELS = {"name": _l("Name"), "phone": _l("Phone"), "street": _l("Street"), "community": _l("Community"),
                "lat": _l("Latitude"), "lon": _l("Longitude"), "skills": _l("Skills"), "teams": _l("Teams"),
                "language": _l("Language"), "row": _l("Row"), "location_approximate": _l("Approximate location"),
                "address": _l("Address")}


@blueprint.app_template_filter("field_label")
def field_label_filter(name: str) -> str:
    return _field_label(name)


SIGNUP_STATUS_LABELS = {
    "waitlisted": _l("waitlisted"), "booked": _l("booked"), "checked_in": _l("checked in"),
    "completed": _l("completed"), "cancelled": _l("cancelled"), "released": _l("released for an order"),
    "no_show": _l("no-show"), "swapped": _l("swapped"), "removed": _l("removed by an officer"),
}


@blueprint.app_template_filter("volunteer_signup_status")
def signup_status_filter(status) -> str:
    value = getattr(status, "value", status)
    return str(SIGNUP_STATUS_LABELS.get(value, value))
