"""Wartime orders in the pages: the command center's orders (create, preview and launch, progress, fill chart,
top up, cancel, CSV export) and the street board's live places with the officers' one-click actions. Each action
that sends SMS is confirmed first, and stop recruiting, finish and a draft's edit and discard live beside that
step, in `order_confirm`.

Thin views over `mobilize.wartime` (the rules, states and the audit trail live there), like the JSON API in
`mobilize.web.api.orders`. Every change is a POST form with a CSRF token; a change the order's state does not
allow (the service's 409) is shown on the page, with that status. Live updates need nothing here: the commit hook
installed by `mobilize.wartime.after_commit.install` announces changed orders on `command` and `street-<slug>`.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from mobilize.live import COMMAND
from mobilize.models import Demand, OrderState, PeacetimePolicy, Site, Street
from mobilize.models._types import utcnow
from mobilize.wartime import audit, board, drafts, followups, lifecycle, open_call, waves
from mobilize.wartime.audience import REASONS
from mobilize.wartime.audience import preview as audience_preview
from mobilize.wartime.audit import Actor
from mobilize.wartime.drafts import DemandSpec, OrderSpec
from mobilize.wartime.errors import Conflict, WartimeError
from mobilize.web import db, runtime
from mobilize.web.converters import is_row_id
from mobilize.web.ui import order_form, order_queries, queries
from mobilize.web.ui.access import (
    COMMAND_CENTER_ROLES,
    COMMAND_ROLES,
    current_principal,
    login_required,
    may_act,
    require_street,
    roles_required,
    street_or_404,
)
from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.order_steps import available_steps, step_titles
from mobilize.web.ui.pages import render_board



def _verify(session, assignment, actor: Actor, now: datetime):
    """The officer checked the ID of someone who joined by SMS (a provisional volunteer) at the site."""
    return open_call.verify_volunteer(session, assignment.volunteer_id, actor, now)


LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">, in the district's zone

BOARD_ACTIONS = {"arrive": board.officer_arrive, "no-show": board.officer_no_show,
                 "release": board.officer_release, "verify": _verify}


# --- helpers -------------------------------------------------------------------------------------------------


def _actor() -> Actor:
    principal = current_principal()
    return Actor.user(principal.username, principal.user_id)


def _zone() -> str:
    return runtime().settings.timezone


def _order_or_404(order_id: int):
    order = order_queries.load_order(db(), order_id)
    if order is None:
        abort(404)
    return order


def form_problems(error: WartimeError) -> dict[str, str]:
    """A refused draft as the form shows it: a message per field, and the whole reason under "_"."""
    problems = {key: text for key, text in (error.details or {}).items() if isinstance(text, str)}
    problems.setdefault("_", _problem_text(error))
    return problems


def _problem_text(error: WartimeError) -> str:
    """The service's reason, introduced in the page's language (the reason itself names states and ids)."""
    intro = {
        "illegal_transition": _("This is not possible in the order's current state."),
        "illegal_assignment_transition": _("This is not possible for this person any more."),
        "window_over": _("The order's time window is already over."),
        "window_not_started": _("The order's time window has not started: stop recruiting or cancel instead."),
        "invalid_order": _("The order is not valid."),
        "not_found": _("Not found."),
    }.get(error.code, _("This could not be done."))
    return f"{intro} ({error.message})"


# --- command center: list, create ----------------------------------------------------------------------------


@blueprint.get("/command/orders")
@roles_required(*COMMAND_CENTER_ROLES)
def orders_list():
    """The orders table alone (the command center reloads it on `order` events)."""
    return render_template("_orders_list.html", orders=order_queries.orders(db()))


@blueprint.get("/command/orders/new")
@roles_required(*COMMAND_ROLES)
def order_new():
    return _render_form({}, {})


@blueprint.post("/command/orders")
@roles_required(*COMMAND_ROLES)
def order_create():
    return save_draft_form(lambda spec: drafts.create_draft(db(), spec, _actor(), utcnow()).id)


@blueprint.post("/command/orders/estimate")
@roles_required(*COMMAND_ROLES)
def order_estimate():
    """The form's live estimate (a fragment): the invitations the launch is expected to send and their SMS per
    language, for the form as it is now. Nothing is saved; a form that could not be saved says why (422)."""
    form = request.form.copy()
    if not (form.get("title") or "").strip():
        form["title"] = _("(title)")  # the SMS names the title: preview it with a stand-in until one is typed
    spec, problems = _spec_from_form(form)
    if spec is not None:
        settings = runtime().settings
        try:
            result = order_form.estimate(db(), spec, _actor(), utcnow(), _zone(), settings.sms_price_per_segment,
                                         settings.sms_segments_per_second)
        except WartimeError as error:
            problems = form_problems(error)
        else:
            return render_template("_order_estimate.html", estimate=result, currency=settings.sms_currency)
        finally:
            db().rollback()  # nothing was written; end the transaction now (SQLite: no lock held for long)
    return render_template("_order_estimate.html", estimate=None, problems=problems), 422


def save_draft_form(save, order=None):
    """The draft form posted (new or edited): `save(spec)` writes it and returns the order's id; the page of the
    order on success, else the form again with a message per field (422)."""
    form = request.form
    spec, problems = _spec_from_form(form)
    if spec is not None:
        try:
            order_id = save(spec)
            db().commit()
        except WartimeError as error:
            db().rollback()
            problems = form_problems(error)
        else:
            flash(_("Draft saved. Check the audience and the SMS cost, then launch."), "ok")
            return redirect(url_for("ui.order_page", order_id=order_id), 303)
    return _render_form(form, problems, status=422, order=order)


def _render_form(form, problems: dict, status: int = 200, order=None):
    """The order form: a new order, or (`order` given) the draft being edited."""
    session = db()
    sites = queries.sites_of(session)
    streets = session.scalars(select(Street).order_by(Street.id)).all()
    starts_at, ends_at = drafts.default_window(datetime.now(ZoneInfo(_zone())))
    defaults = {"starts_at": starts_at.strftime(LOCAL_FORMAT), "ends_at": ends_at.strftime(LOCAL_FORMAT)}
    return render_template("order_new.html", sites=sites, streets=streets, form=form, problems=problems,
                           site_kinds=sorted({site.kind for site in sites}, key=lambda kind: kind.value),
                           defaults=defaults, channel=COMMAND, order=order,
                           chosen_streets=form.getlist("streets") if hasattr(form, "getlist") else [],
                           chosen_languages=form.getlist("languages") if hasattr(form, "getlist") else []), status


def _spec_from_form(form) -> tuple[OrderSpec | None, dict]:
    problems: dict[str, str] = {}
    zone = ZoneInfo(_zone())

    def when(name: str):
        try:
            return datetime.strptime(form.get(name, ""), LOCAL_FORMAT).replace(tzinfo=zone)
        except ValueError:
            problems[name] = _("Give a date and a time.")
            return None

    def optional_when(name: str):
        return when(name) if (form.get(name) or "").strip() else None  # empty: the default (the start)

    def number(name: str, kind, default, scale=1):
        raw = (form.get(name) or "").strip()
        if not raw:
            return default
        try:
            return kind(float(raw) * scale) if kind is int else kind(raw) * scale
        except (ValueError, OverflowError):  # OverflowError: int(float("1e400")), an infinity
            problems[name] = _("Give a number.")
            return default

    demands = []
    for key, raw in form.items():
        if not key.startswith("cap-") or not raw.strip():
            continue
        _prefix, site_id, role = key.split("-", 2)
        try:
            capacity = int(raw)
        except ValueError:
            problems[key] = _("Give a whole number.")
            continue
        if capacity < 0:
            problems[key] = _("Give a whole number.")
        elif capacity > 0 and is_row_id(site_id):
            demands.append(DemandSpec(int(site_id), role, capacity))
    if not demands and not any(key.startswith("cap-") for key in problems):
        problems["demands"] = _("Give at least one place: a capacity for a site and role.")
    streets = tuple(form.getlist("streets")) or None
    languages = tuple(language for language in form.getlist("languages") if language in ("zh", "en"))
    distance_km = number("max_distance_km", float, None)
    answer_rate = number("expected_answer_rate", float, 50.0)
    spec_values = dict(
        title=(form.get("title") or "").strip(), starts_at=when("starts_at"), ends_at=when("ends_at"),
        demands=tuple(demands), streets=streets,
        max_distance_m=distance_km * 1000 if distance_km else None,
        languages=languages if len(languages) == 1 else None,
        rest_hours=number("rest_hours", int, 0),
        peacetime_policy=form.get("peacetime_policy") or PeacetimePolicy.leave.value,
        expected_answer_rate=answer_rate / 100 if answer_rate is not None else 0.5,
        over_recruit_factor=number("over_recruit_factor", float, 1.2),
        wave_interval_s=number("wave_interval_min", int, 600, 60),
        confirmation_required=form.get("confirmation_required") == "1",
        confirmation_timeout_s=number("confirmation_timeout_min", int, 1800, 60),
        needed_by=optional_when("needed_by"), urgent=form.get("urgent") == "1",
    )
    if not spec_values["title"]:
        problems["title"] = _("Give the order a title.")
    if problems:
        return None, problems
    return OrderSpec(**spec_values), problems


# --- one order -----------------------------------------------------------------------------------------------


@blueprint.get("/command/orders/<int:order_id>")
@roles_required(*COMMAND_CENTER_ROLES)
def order_page(order_id: int):
    return _render_order(_order_or_404(order_id))


def _render_order(order, problem: str | None = None, status: int = 200):
    session = db()
    preview = audience_preview(session, order, _zone()) if order.state is OrderState.draft else None
    top_up_choices = queries.sites_of(session) if order_queries.is_running(order) else []
    announcement = open_call.announcement(order, runtime().settings.twilio_from) if order.open_call else None
    return render_template(
        "order.html", order=order, preview=preview, reasons=REASONS, problem=problem,
        progress=board.progress(session, order), chart=order_queries.fill_chart(session, order, utcnow()),
        projection=_projection(session, order),
        outgoing=order_queries.outgoing(session, order), steps=available_steps(order), titles=step_titles(),
        top_up_choices=top_up_choices, announcement=announcement, channel=COMMAND,
        **(funnel.funnel_context(session, order) if order.launched_at else {})), status


@blueprint.get("/command/orders/<int:order_id>/progress")
@roles_required(*COMMAND_CENTER_ROLES)
def order_progress(order_id: int):
    """Progress and chart alone (reloaded on `order` and `message` events)."""
    order = _order_or_404(order_id)
    session = db()
    return render_template("_order_progress.html", order=order, progress=board.progress(session, order),
                           chart=order_queries.fill_chart(session, order, utcnow()),
                           projection=_projection(session, order), outgoing=order_queries.outgoing(session, order))


def _projection(session, order) -> dict | None:
    """The deadline line: when 95% of the places are expected filled at this pace (updates with the answers)."""
    return waves.projection(session, order, utcnow(), runtime().settings.sms_segments_per_second, _zone())


def _order_action(order_id: int, act, done: str):
    _order_or_404(order_id)
    try:
        act()
        db().commit()
    except WartimeError as error:
        db().rollback()
        db().expire_all()
        return _render_order(_order_or_404(order_id), _problem_text(error), error.status)
    flash(done, "ok")
    return redirect(url_for("ui.order_page", order_id=order_id), 303)


@blueprint.post("/command/orders/<int:order_id>/launch")
@roles_required(*COMMAND_ROLES)
def order_launch(order_id: int):
    return _order_action(order_id, lambda: lifecycle.launch(db(), order_id, _actor(), utcnow()),
                         _("Launched: the first invitations are going out."))


@blueprint.post("/command/orders/<int:order_id>/cancel")
@roles_required(*COMMAND_ROLES)
def order_cancel(order_id: int):
    reason = (request.form.get("reason") or "").strip()[:200] or None
    done = _("Cancelled: everyone dispatched or who said yes is told; invitations nobody answered lapse.")
    return _order_action(order_id, lambda: lifecycle.cancel(db(), order_id, _actor(), utcnow(), reason, _zone()),
                         done)


@blueprint.post("/command/orders/<int:order_id>/top-up")
@roles_required(*COMMAND_ROLES)
def order_top_up(order_id: int):
    additions = []
    for key, raw in request.form.items():
        if key.startswith("add-") and raw.strip():
            _prefix, site_id, role = key.split("-", 2)
            if raw.strip().isdecimal() and int(raw) > 0 and is_row_id(site_id):  # int() refuses "²", a digit
                additions.append(DemandSpec(int(site_id), role, int(raw)))
    extra_site, extra_count = request.form.get("new_site_role", ""), (request.form.get("new_add") or "").strip()
    if extra_site and extra_count.isdecimal() and int(extra_count) > 0:
        site_id, _sep, role = extra_site.partition(":")
        if is_row_id(site_id):
            additions.append(DemandSpec(int(site_id), role, int(extra_count)))
    if not additions:
        order = _order_or_404(order_id)
        return _render_order(order, _("Give at least one place to add."), 422)
    return _order_action(order_id, lambda: lifecycle.top_up(db(), order_id, additions, _actor(), utcnow()),
                         _("Places added: matching and invitations go on."))


@blueprint.post("/command/orders/<int:order_id>/open-call")
@roles_required(*COMMAND_ROLES)
def order_open_call(order_id: int):
    """Publish the order openly (people outside the registry may join by SMS), or stop that."""
    publish = request.form.get("open_call") == "1"
    done = (_("Published openly: read the announcement on the radio or post it in the app.") if publish
            else _("No longer open: only registered volunteers are invited."))
    return _order_action(order_id, lambda: open_call.set_open_call(db(), order_id, publish, _actor(), utcnow()),
                         done)


# --- the street board ----------------------------------------------------------------------------------------


@blueprint.get("/board/<street>/orders")
@login_required
def board_orders(street: str):
    """The running orders' places and people in this street (reloaded on the street channel's events)."""
    row = street_or_404(street)
    require_street(row)
    return render_template("_board_orders.html", street=row, blocks=order_queries.street_board(db(), row.id),
                           may_act=may_act())


def _board_change(row: Street, act, done: str):
    if not may_act():
        abort(403)
    try:
        act()
        db().commit()
    except WartimeError as error:
        db().rollback()
        db().expire_all()
        return render_board(row, problem=_problem_text(error), status=error.status)
    flash(done, "ok")
    return redirect(url_for("ui.board", street=row.slug), 303)


@blueprint.post("/board/<street>/assignments/<int:assignment_id>/<action>")
@login_required
def board_action(street: str, assignment_id: int, action: str):
    """Mark arrived, no-show, or release: one click, street-checked, audited by the service."""
    row = street_or_404(street)
    require_street(row)
    if action not in BOARD_ACTIONS:
        abort(404)
    if not may_act():
        abort(403)
    session = db()
    from mobilize.models import Assignment

    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        abort(404)
    street_id = board.assignment_street(assignment)
    if street_id != row.id:
        abort(403 if not current_principal().may_access_street(street_id) else 404)
    name = assignment.volunteer.name
    done = {"arrive": _("%(name)s marked as arrived.", name=name),
            "no-show": _("%(name)s marked as no-show; the place will be backfilled.", name=name),
            "release": _("%(name)s released; the place will be backfilled.", name=name),
            "verify": _("%(name)s verified: no longer provisional.", name=name)}[action]
    return _board_change(row, lambda: BOARD_ACTIONS[action](session, assignment, _actor(), utcnow()), done)


@blueprint.post("/board/<street>/demands/<int:demand_id>/backfill")
@login_required
def board_backfill(street: str, demand_id: int):
    """Ask for backfill of a site and role: matching from standby now, and another wave if needed."""
    row = street_or_404(street)
    require_street(row)
    session = db()
    demand = session.get(Demand, demand_id)
    if demand is None:
        abort(404)
    site_street = session.scalar(select(Site.street_id).where(Site.id == demand.site_id))
    if site_street != row.id:
        abort(403 if not current_principal().may_access_street(site_street) else 404)

    def request_backfill():
        order = demand.order
        if order.state is not OrderState.open:
            raise Conflict(f"order {order.id} is {order.state.value}: only an open order is backfilled",
                           code="illegal_transition", details={"state": order.state.value})
        audit.record(session, _actor(), "demand.backfill_requested", "demand", demand.id, utcnow(),
                     order_id=order.id, street_id=row.id)
        followups.request_match(session, order.id)
        followups.request_wave(session, order.id)

    return _board_change(row, request_backfill, _("Backfill requested: standby first, then a new wave."))



# The order's funnel and the message log are views of their own modules, registered with the orders'.
from mobilize.web.ui import funnel, message_log  # noqa: E402,F401
