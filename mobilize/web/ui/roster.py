"""The peacetime roster in the pages (issue 16): the district's week by street, a street's week by post and day
(filled / places, gaps, protected posts), a shift with its people and waitlist, adding and removing volunteers,
the swaps waiting for an answer, backfilling a gap (its SMS shown and counted first) and the printable week.
Posts and their weekly patterns are edited in `roster_posts`.

Thin views over `mobilize.peacetime`, the very calls the JSON API makes (`mobilize.web.api.roster`): the same
rules, SMS and audit trail. Access as everywhere (DESIGN section 7): officers read and change their own street
only (403 elsewhere), admins and commanders every street, viewers read with phone numbers masked. A refusal of
the service (a full shift, a busy volunteer, a shift that started) is shown on the page with its status, after a
rollback: nothing half-written.
"""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from mobilize.models import Shift, ShiftSignup, ShiftSwap, Street, UserRole, Volunteer
from mobilize.models._types import utcnow
from mobilize.peacetime import gaps, previews, staffing, swaps
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.errors import PeacetimeError
from mobilize.wartime.audit import Actor
from mobilize.web import db, runtime
from mobilize.web.converters import is_row_id
from mobilize.web.ui import roster_queries as queries
from mobilize.web.ui.access import current_principal, login_required, require_street, street_or_404
from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.order_confirm import shape

CANDIDATES_SHOWN = 8  # nearby free volunteers offered on a shift with a gap


def roster_template_labels() -> dict[str, str]:
    return {"shift_backfill": _("Invitation to an open place")}


def signup_status_labels() -> dict[str, str]:
    return {"waitlisted": _("waitlisted"), "booked": _("booked"), "checked_in": _("checked in"),
            "completed": _("completed"), "cancelled": _("cancelled"), "released": _("released for an order"),
            "no_show": _("no-show"), "swapped": _("swapped"), "removed": _("taken off")}


@blueprint.app_template_filter("signup_status")
def signup_status(status: str) -> str:
    return signup_status_labels().get(status, status)


# --- helpers -------------------------------------------------------------------------------------------------


def roster_config() -> RosterConfig:
    return RosterConfig.from_settings(runtime().settings)


def actor() -> Actor:
    principal = current_principal()
    return Actor.user(principal.username, principal.user_id)


def may_change() -> bool:
    """Officers (on their street: the view checked it), admins and commanders; viewers only read."""
    principal = current_principal()
    return principal is not None and principal.role is not UserRole.viewer


def require_change() -> None:
    if not may_change():
        abort(403)


def street_page(name: str) -> Street:
    street = street_or_404(name)
    require_street(street)
    return street


def in_street(street: Street, street_id: int | None) -> None:
    """A row reached through a street's URL must be of that street: 403 when the user may not see its street
    at all, else 404 (it is simply not here)."""
    if street_id != street.id:
        abort(403 if not current_principal().may_access_street(street_id) else 404)


def problem_text(error: PeacetimeError) -> str:
    """The service's reason, introduced in the page's language (the reason names codes and ids)."""
    intro = {
        "shift_full": _("The shift is full."),
        "overlapping_booking": _("The volunteer is busy at that time."),
        "shift_started": _("The shift has already started."),
        "shift_not_open": _("The shift is not open."),
        "too_late_to_backfill": _("The shift starts too soon for SMS invitations."),
        "swap_not_open": _("The swap is no longer open."),
        "duplicate_post": _("The site already has a post of that name."),
        "not_found": _("Not found."),
        "invalid_roster_input": _("The input is not valid."),
    }.get(error.code, _("This could not be done."))
    return f"{intro} ({error.message})"


def bad_request(description: str, status: int = 400):
    return render_template("error.html", status=status, description=description), status


def today() -> date:
    return utcnow().astimezone(ZoneInfo(roster_config().zone)).date()


def chosen_monday() -> date | None:
    """The Monday of `?week=` (any date of the week; default: this week); None when it is not a date."""
    raw = (request.args.get("week") or "").strip()
    if not raw:
        return queries.monday_of(today())
    try:
        return queries.monday_of(date.fromisoformat(raw))
    except ValueError:
        return None


def day_label(day: date, pattern: str = "EEE MM-dd") -> str:
    return format_date(day, pattern, locale=str(get_locale() or "zh"))


def week_nav(monday: date) -> dict:
    this_week = queries.monday_of(today())
    return {"monday": monday, "sunday": monday + timedelta(days=6), "previous": monday - timedelta(days=7),
            "next": monday + timedelta(days=7), "this_week": this_week,
            "next_week": this_week + timedelta(days=7),
            "is_this_week": monday == this_week, "is_next_week": monday == this_week + timedelta(days=7)}


def load_shift_in(street: Street, shift_id: int) -> Shift:
    try:
        shift = staffing.load_shift(db(), shift_id)
    except PeacetimeError:
        abort(404)
    in_street(street, shift.post.site.street_id)
    return shift


def done(message: str, target: str):
    db().commit()
    flash(message, "ok")
    return redirect(target, 303)


def refused(error: PeacetimeError) -> str:
    db().rollback()
    db().expire_all()
    return problem_text(error)


# --- the weeks -----------------------------------------------------------------------------------------------


@blueprint.get("/roster")
@login_required
def roster():
    """The district's week by street; an officer goes to their own street's week."""
    principal = current_principal()
    monday = chosen_monday()
    if monday is None:
        return bad_request(_("The week must be a date such as 2026-12-07."))
    if principal.is_officer:
        street = db().get(Street, principal.street_id)
        return redirect(url_for("ui.roster_street", street=street.slug, week=monday.isoformat()))
    return render_template("roster.html", streets=queries.district_week(db(), monday, utcnow()),
                           nav=week_nav(monday), day_label=day_label)


@blueprint.get("/roster/<street>")
@login_required
def roster_street(street: str):
    row = street_page(street)
    monday = chosen_monday()
    if monday is None:
        return bad_request(_("The week must be a date such as 2026-12-07."))
    return render_street(row, monday)


def render_street(street: Street, monday: date, problem: str | None = None, status: int = 200):
    session = db()
    week = queries.street_week(session, street.id, monday, utcnow())
    return render_template("roster_street.html", street=street, week=week, nav=week_nav(monday),
                           swaps=queries.pending_swaps(session, street.id), may_change=may_change(),
                           day_label=day_label, problem=problem, today=today()), status


@blueprint.get("/roster/<street>/print")
@login_required
def roster_print(street: str):
    """The week's roster to post at the sites: A4 landscape, in Chinese whatever the page's language."""
    row = street_page(street)
    monday = chosen_monday()
    if monday is None:
        return bad_request(_("The week must be a date such as 2026-12-07."))
    week = queries.street_week(db(), row.id, monday, utcnow(), with_names=True)
    with force_locale("zh"):
        return render_template("roster_print.html", street=row, week=week, nav=week_nav(monday),
                               day_label=lambda day: format_date(day, "EEE M月d日", locale="zh"),
                               printed_at=utcnow())


# --- one shift -----------------------------------------------------------------------------------------------


@blueprint.get("/roster/<street>/shifts/<int:shift_id>")
@login_required
def roster_shift(street: str, shift_id: int):
    row = street_page(street)
    return render_shift(row, load_shift_in(row, shift_id))


def render_shift(street: Street, shift: Shift, problem: str | None = None, status: int = 200):
    session = db()
    people = queries.shift_people(session, shift.id)
    on_shift = {s.volunteer_id for s in people.holding + people.waitlist}
    principal = current_principal()
    search = (request.args.get("q") or "").strip()[:40]
    found, nearby = [], []
    if may_change() and shift.status.value == "scheduled" and shift.starts_at > utcnow():
        own_street = principal.street_id if principal.is_officer else None  # officers assign their own people
        found = queries.find_volunteers(session, search, own_street, on_shift) if search else []
        if shift.filled < shift.capacity:
            nearby = [(v, d) for v, d in gaps.candidates(session, shift, roster_config(), CANDIDATES_SHOWN * 3)
                      if principal.may_access_street(v.street_id)][:CANDIDATES_SHOWN]
    return render_template("roster_shift.html", street=street, shift=shift, people=people, search=search,
                           found=found, nearby=nearby, swaps=queries.pending_swaps(session, street.id, shift.id),
                           may_change=may_change(), problem=problem, started=shift.starts_at <= utcnow(),
                           week=queries.monday_of(shift.local_date)), status


@blueprint.post("/roster/<street>/shifts/<int:shift_id>/signups")
@login_required
def roster_add_volunteer(street: str, shift_id: int):
    """Book a volunteer (or put them on the waitlist when full and asked): told by SMS, as by the API."""
    row = street_page(street)
    require_change()
    shift = load_shift_in(row, shift_id)
    raw = (request.form.get("volunteer_id") or "").strip()
    volunteer = db().get(Volunteer, int(raw)) if is_row_id(raw) else None
    if volunteer is None:
        return render_shift(row, shift, _("Choose a volunteer to add."), 422)
    if not current_principal().may_access_street(volunteer.street_id):
        abort(403)  # officers assign the volunteers of their own street (others sign up by SMS)
    officer = current_principal().is_officer
    try:
        result = staffing.sign_up(db(), shift.id, volunteer.id, actor=actor(), now=utcnow(), cfg=roster_config(),
                                  source="officer" if officer else "web",
                                  waitlist=request.form.get("waitlist") == "1")
    except PeacetimeError as error:
        return render_shift(row, load_shift_in(row, shift_id), refused(error), error.status)
    message = {"booked": _("%(name)s booked; they get an SMS.", name=volunteer.name),
               "waitlisted": _("%(name)s is on the waitlist (number %(position)s); they get an SMS.",
                               name=volunteer.name, position=result.position),
               "already_booked": _("%(name)s was already booked.", name=volunteer.name),
               "already_waitlisted": _("%(name)s was already on the waitlist.", name=volunteer.name),
               }[result.outcome]
    return done(message, url_for("ui.roster_shift", street=row.slug, shift_id=shift.id))


@blueprint.post("/roster/<street>/signups/<int:signup_id>/remove")
@login_required
def roster_remove_signup(street: str, signup_id: int):
    """Take a volunteer off a shift or its waitlist before it starts: told by SMS; the waitlist moves up."""
    row = street_page(street)
    require_change()
    signup = db().get(ShiftSignup, signup_id)
    if signup is None:
        abort(404)
    shift = load_shift_in(row, signup.shift_id)
    name = signup.volunteer.name
    reason = (request.form.get("reason") or "").strip()[:40] or None
    try:
        staffing.cancel_signup(db(), signup_id, actor=actor(), now=utcnow(), cfg=roster_config(), by_officer=True,
                               reason=reason)
    except PeacetimeError as error:
        return render_shift(row, load_shift_in(row, shift.id), refused(error), error.status)
    return done(_("%(name)s taken off the shift; they get an SMS.", name=name),
                url_for("ui.roster_shift", street=row.slug, shift_id=shift.id))


# --- swaps ---------------------------------------------------------------------------------------------------


@blueprint.post("/roster/<street>/swaps/<int:swap_id>/answer")
@login_required
def roster_answer_swap(street: str, swap_id: int):
    """Record the answer a volunteer gave the officer (`volunteer_id`, `accept` 1 or 0), or approve: a yes for
    every side of the swap in the user's streets that has not said yes yet. Both yes: the swap is done, both
    told."""
    row = street_page(street)
    require_change()
    session = db()
    swap = session.get(ShiftSwap, swap_id)
    if swap is None:
        abort(404)
    sides = swaps.side_streets(session, swap)
    principal = current_principal()
    if row.id not in sides.values():
        abort(403 if not any(principal.may_access_street(s) for s in sides.values()) else 404)
    back = request.form.get("back") or ""
    target = back if back.startswith("/roster/") else url_for("ui.roster_street", street=row.slug)
    if request.form.get("approve") == "1":
        answers = [(volunteer_id, True) for volunteer_id in _not_yet_accepted(swap)
                   if principal.may_access_street(sides[volunteer_id])]
    else:
        raw = (request.form.get("volunteer_id") or "").strip()
        if not is_row_id(raw) or int(raw) not in sides or request.form.get("accept") not in ("0", "1"):
            return render_street(row, queries.monday_of(today()), _("Say whose answer it is, yes or no."), 422)
        if not principal.may_access_street(sides[int(raw)]):
            abort(403)  # an officer records the answers of their own street's side only
        answers = [(int(raw), request.form["accept"] == "1")]
    try:
        for volunteer_id, accept in answers:
            swaps.answer(session, swap_id, volunteer_id, accept, actor=actor(), now=utcnow(),
                         cfg=roster_config())
    except PeacetimeError as error:
        return render_street(row, queries.monday_of(today()), refused(error), error.status)
    outcome = swaps.load_swap(session, swap_id).status.value
    message = {"completed": _("Swap done: both volunteers are told by SMS."),
               "declined": _("Swap refused: both volunteers are told by SMS."),
               "failed": _("The swap is no longer possible; both volunteers are told by SMS."),
               }.get(outcome, _("Answer recorded; the swap waits for the other volunteer."))
    return done(message, target)


def _not_yet_accepted(swap: ShiftSwap) -> list[int]:
    waiting = []
    if swap.first_accepted_at is None:
        waiting.append(swap.first_volunteer_id)
    if swap.second_accepted_at is None:
        waiting.append(swap.second_volunteer_id)
    return waiting


# --- backfill: what it will send, then send it ---------------------------------------------------------------


def _backfill(shift_id: int) -> int:
    return gaps.backfill_shift(db(), shift_id, actor=actor(), now=utcnow(), cfg=roster_config())


@blueprint.get("/roster/<street>/shifts/<int:shift_id>/backfill")
@login_required
def roster_backfill_preview(street: str, shift_id: int):
    """Who would be invited, with which text, how many SMS and segments, at what cost. Writes nothing."""
    row = street_page(street)
    require_change()
    shift = load_shift_in(row, shift_id)
    return render_backfill(row, shift)


def render_backfill(street: Street, shift: Shift, problem: str | None = None, status: int = 200):
    session = db()
    settings = runtime().settings
    shown = None
    try:
        preview = previews.preview(session, lambda: _backfill(shift.id), currency=settings.sms_currency,
                                   price_per_segment=settings.sms_price_per_segment)
    except PeacetimeError as error:
        problem, status = problem or problem_text(error), error.status if status == 200 else status
    else:
        shown = shape(preview)
        for row in shown.templates:  # the roster's own template, named for the page (i18n names the orders')
            row.label = roster_template_labels().get(row.template, row.label)
    finally:
        session.rollback()  # the savepoint is gone; this ends the transaction and its locks
        session.expire_all()
    shift = load_shift_in(street, shift.id)
    return render_template("roster_backfill.html", street=street, shift=shift, shown=shown, problem=problem,
                           cfg=roster_config()), status


@blueprint.post("/roster/<street>/shifts/<int:shift_id>/backfill")
@login_required
def roster_backfill(street: str, shift_id: int):
    """Send the invitations the preview showed. When the count differs from the one confirmed (people answered,
    someone booked meanwhile), nothing is sent and the new preview is shown instead."""
    row = street_page(street)
    require_change()
    shift = load_shift_in(row, shift_id)
    expected = (request.form.get("expected") or "").strip()
    if not expected.isdecimal():
        return render_backfill(row, shift, _("Confirm from the preview: it says how many SMS will be sent."),
                               422)
    try:
        invited = _backfill(shift.id)
    except PeacetimeError as error:
        return render_backfill(row, load_shift_in(row, shift_id), refused(error), error.status)
    if invited != int(expected):
        db().rollback()
        db().expire_all()
        return render_backfill(row, load_shift_in(row, shift_id),
                               _("The invitations changed since the preview (%(then)s, now %(now)s): nothing was "
                                 "sent. Check them again.", then=expected, now=invited), 409)
    return done(_("Backfill: %(count)d invitations are going out.", count=invited),
                url_for("ui.roster_shift", street=row.slug, shift_id=shift_id))

