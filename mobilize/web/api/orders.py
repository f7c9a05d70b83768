"""Wartime orders over HTTP: thin views over `mobilize.wartime` (rules, states and counts live there).

Commanders and admins change orders (and end them three ways: stop recruiting, finish, cancel; each action that
sends SMS has a preview of exactly what it sends); officers read their own street's progress and assignments and mark arrivals,
no-shows and releases there (403 elsewhere); viewers read, with phone numbers masked.
"""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from marshmallow import ValidationError

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mobilize.domain.phones import mask_phone
from mobilize.models import Assignment, Demand, Order, OrderState, Site, Street
from mobilize.models._types import utcnow
from mobilize.wartime import board, dispatch, drafts, lifecycle, previews, waves
from mobilize.wartime.audience import preview as audience_preview
from mobilize.wartime.audit import Actor
from mobilize.wartime.drafts import DemandSpec, OrderSpec
from mobilize.wartime.errors import NotFound, WartimeError
from mobilize.web import db, runtime
from mobilize.web.api import api
from mobilize.web.api.auth import check_street, current, require_command, token_auth
from mobilize.web.api.order_schemas import (
    ActionPreviewOut,
    ActionPreviewQuery,
    AssignmentFilter,
    AssignmentOut,
    AssignmentPage,
    CancelIn,
    EndingOut,
    OrderFilter,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderPatch,
    PreviewOut,
    ProgressOut,
    ProgressQuery,
    TopUpIn,
)
from mobilize.web.api.pagination import paginate
from mobilize.web.api.registry import _street_id
from mobilize.web.errors import ApiError, describe_validation, error_body


@api.errorhandler(WartimeError)
def _wartime_error(error: WartimeError):
    return error_body(error.status, error.message, error.code, error.details), error.status


# --- helpers ------------------------------------------------------------------------------------------------


def _actor() -> Actor:
    principal = current()
    return Actor.user(principal.username, principal.user_id)


def _zone() -> str:
    return runtime().settings.timezone


def _aware(value: datetime | None) -> datetime | None:
    """Times without an offset are the district's local time."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(_zone()))


def _demand_specs(items: list[dict], capacity_key: str = "capacity") -> tuple[DemandSpec, ...]:
    return tuple(DemandSpec(item["site_id"], item["role"], item[capacity_key], item.get("skill")) for item in items)


def _spec_changes(data: dict) -> dict:
    changes = {key: data[key] for key in ("title", "urgent") if key in data}
    for key in ("starts_at", "ends_at", "needed_by"):
        if key in data:
            changes[key] = _aware(data[key])
    if "demands" in data:
        changes["demands"] = _demand_specs(data["demands"])
    for group in ("eligibility", "strategy"):
        changes.update(data.get(group) or {})
    for key in ("streets", "languages"):
        if changes.get(key) is not None:
            changes[key] = tuple(changes[key])
    return changes


def _load_order(order_id: int) -> Order:
    order = db().scalar(select(Order).where(Order.id == order_id).options(
        selectinload(Order.demands).selectinload(Demand.site).selectinload(Site.street),
        selectinload(Order.demands).selectinload(Demand.role),
        selectinload(Order.demands).selectinload(Demand.required_skill)))
    if order is None:
        raise NotFound(f"no order {order_id}", details={"order_id": order_id})
    return order


def _readable_order(order_id: int) -> Order:
    """The order as `_load_order` gives it, for someone who may read it: a street officer, an order with
    places in their street (403 otherwise, as for every other object of another street; 404 when missing).
    The order itself and each of its sub-resources (progress, assignments) answer alike."""
    order = _load_order(order_id)
    principal = current()
    if principal.is_officer and not any(principal.may_access_street(d.site.street_id) for d in order.demands):
        raise ApiError(403, "this order has no places in your street", code="other_street")
    return order


def order_view(order: Order) -> dict:
    """An order as the caller may see it: a street officer sees only their own street's demands (and the
    totals of those), never another street's sites."""
    principal = current()
    visible = [d for d in order.demands if principal.may_access_street(d.site.street_id)]
    streets = None
    if order.street_ids is not None:
        names = dict(db().execute(select(Street.id, Street.name).where(Street.id.in_(order.street_ids))).all())
        streets = [names.get(street_id, str(street_id)) for street_id in order.street_ids
                   if principal.may_access_street(street_id)]
    demands = [{"id": d.id, "site_id": d.site_id, "site": d.site.name, "street_id": d.site.street_id,
                "street": d.site.street.name, "role": d.role.code, "capacity": d.capacity, "filled": d.filled,
                "open": d.capacity - d.filled, "skill": d.required_skill.code if d.required_skill else None,
                "accepts_provisional": d.accepts_provisional} for d in visible]
    return {
        "id": order.id, "title": order.title, "reply_code": order.reply_code, "state": order.state.value,
        "starts_at": order.starts_at, "ends_at": order.ends_at,
        "capacity": sum(d["capacity"] for d in demands), "filled": sum(d["filled"] for d in demands),
        "eligibility": {"streets": streets, "max_distance_m": order.max_distance_m, "languages": order.languages,
                        "rest_hours": order.rest_hours, "peacetime_policy": order.peacetime_policy.value},
        "strategy": {"expected_answer_rate": order.expected_answer_rate,
                     "over_recruit_factor": order.over_recruit_factor, "wave_interval_s": order.wave_interval_s,
                     "confirmation_required": order.confirmation_required,
                     "confirmation_timeout_s": order.confirmation_timeout_s},
        "demands": demands, "waves_sent": order.waves_sent, "last_wave_at": order.last_wave_at,
        "created_at": order.created_at, "launched_at": order.launched_at, "filled_at": order.filled_at,
        "recruiting_stopped_at": order.recruiting_stopped_at, "closed_at": order.closed_at,
        "cancelled_at": order.cancelled_at,
        "needed_by": order.needed_by, "deadline": order.deadline, "urgent": order.urgent,
    }


def _committed_view(order_id: int) -> dict:
    db().commit()
    db().expire_all()
    return order_view(_load_order(order_id))


def assignment_view(assignment: Assignment) -> dict:
    volunteer, site = assignment.volunteer, assignment.demand.site
    phone = volunteer.phone if current().sees_phone_numbers else mask_phone(volunteer.phone)
    return {
        "id": assignment.id, "order_id": assignment.order_id, "demand_id": assignment.demand_id,
        "status": assignment.status.value,
        "volunteer": {"id": volunteer.id, "name": volunteer.name, "phone": phone, "street_id": volunteer.street_id},
        "site_id": site.id, "site": site.name, "street_id": site.street_id, "street": site.street.name,
        "role": assignment.demand.role.code, "distance_m": assignment.distance_m, "backfill": assignment.backfill,
        **{key: getattr(assignment, key) for key in (
            "created_at", "notified_at", "confirm_by", "confirmed_at", "arrived_at", "completed_at", "ended_at",
            "end_reason", "hours")},
    }


# --- orders -------------------------------------------------------------------------------------------------


@api.post("/orders")
@api.auth_required(token_auth)
@api.input(OrderIn)
@api.output(OrderOut, status_code=201)
@api.doc(responses={403: "Only admins and commanders draft orders."})
def create_order(json_data):
    """Draft a recruitment order; the reply code is allocated automatically."""
    require_command()
    order = drafts.create_draft(db(), OrderSpec(**_spec_changes(json_data)), _actor(), utcnow())
    return _committed_view(order.id)


@api.get("/orders")
@api.auth_required(token_auth)
@api.input(OrderFilter, location="query")
@api.output(OrderPage)
def list_orders(query_data):
    """Orders, newest first, optionally by state. A street officer sees the orders with places in their street."""
    statement = select(Order).options(
        selectinload(Order.demands).selectinload(Demand.site).selectinload(Site.street),
        selectinload(Order.demands).selectinload(Demand.role),
        selectinload(Order.demands).selectinload(Demand.required_skill)).order_by(Order.id.desc())
    if query_data["state"]:
        statement = statement.where(Order.state == OrderState(query_data["state"]))
    if current().is_officer:
        statement = statement.where(Order.demands.any(Demand.site.has(Site.street_id == current().street_id)))
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": [order_view(order) for order in items], "pagination": pagination}


@api.get("/orders/<int:order_id>")
@api.auth_required(token_auth)
@api.output(OrderOut)
@api.doc(responses={403: "The order has no places in the officer's street."})
def get_order(order_id: int):
    """An order with its demands (a street officer: an order with places in their street, and only those)."""
    return order_view(_readable_order(order_id))


@api.patch("/orders/<int:order_id>")
@api.auth_required(token_auth)
@api.input(OrderPatch)
@api.output(OrderOut)
@api.doc(responses={403: "Only admins and commanders edit orders.", 409: "The order is no longer a draft."})
def update_order(order_id: int, json_data):
    """Edit a draft (409 once launched)."""
    require_command()
    drafts.update_draft(db(), order_id, _spec_changes(json_data), _actor(), utcnow())
    return _committed_view(order_id)


@api.post("/orders/<int:order_id>/launch")
@api.auth_required(token_auth)
@api.output(OrderOut)
@api.doc(responses={403: "Only admins and commanders launch orders.",
                     409: "The order is not a draft, or its window is over.",
                     422: "The draft has no places to fill."})
def launch_order(order_id: int):
    """draft -> open: the first invitation wave goes out."""
    require_command()
    lifecycle.launch(db(), order_id, _actor(), utcnow())
    return _committed_view(order_id)


@api.post("/orders/<int:order_id>/top-up")
@api.auth_required(token_auth)
@api.input(TopUpIn)
@api.output(OrderOut)
@api.doc(responses={403: "Only admins and commanders top up orders.",
                     409: "The order is neither open nor filled."})
def top_up_order(order_id: int, json_data):
    """More places on an open or filled order (a filled order opens again)."""
    require_command()
    lifecycle.top_up(db(), order_id, list(_demand_specs(json_data["demands"], "add")), _actor(), utcnow())
    return _committed_view(order_id)


@api.post("/orders/<int:order_id>/cancel")
@api.auth_required(token_auth)
@api.input(CancelIn)
@api.output(EndingOut)
@api.doc(responses={403: "Only admins and commanders cancel orders.", 409: "The order has already ended."})
def cancel_order(order_id: int, json_data):
    """Cancel (a draft too): everyone dispatched, on site or on standby is told it is called off; silent
    invitees get nothing now (a later reply from them is answered that it was called off). Preview it:
    `GET .../preview/cancel`."""
    require_command()
    return _ending_view(order_id, lifecycle.cancel(db(), order_id, _actor(), utcnow(), json_data.get("reason"),
                                                   _zone()))


@api.post("/orders/<int:order_id>/stop-recruiting")
@api.auth_required(token_auth)
@api.output(EndingOut)
@api.doc(responses={403: "Only admins and commanders stop recruiting.", 409: "The order is not recruiting."})
def stop_recruiting_order(order_id: int):
    """Stop recruiting (enough people): unsent invitations are withdrawn, those on standby are thanked once,
    nobody who never answered is texted, dispatched volunteers are untouched; a later yes hears the places are
    filled. Drop-outs are no longer backfilled. Preview it: `GET .../preview/stop-recruiting`."""
    require_command()
    return _ending_view(order_id, lifecycle.stop_recruiting(db(), order_id, _actor(), utcnow(), _zone()))


@api.post("/orders/<int:order_id>/finish")
@api.auth_required(token_auth)
@api.output(EndingOut)
@api.doc(responses={403: "Only admins and commanders finish orders.",
                     409: "The order cannot be finished now (its window has not started, or it has ended)."})
def finish_order(order_id: int):
    """Finish (at or after the window's start; 409 `window_not_started` before it): the hours of those who came
    are certified and they are thanked, those dispatched who never came become no-shows, standby not yet told
    hear they are not needed. Preview it: `GET .../preview/finish`."""
    require_command()
    return _ending_view(order_id, lifecycle.finish(db(), order_id, _actor(), utcnow(), _zone()))


def _ending_view(order_id: int, ending: lifecycle.Ending) -> dict:
    return {"order": _committed_view(order_id), "told": ending.told, "released": ending.released,
            "certified_hours": ending.certified_hours, "no_shows": ending.no_shows, "withdrawn": ending.withdrawn,
            "lapsed": ending.lapsed}


# --- what an action will send ---------------------------------------------------------------------------------

PREVIEW_ACTIONS = {name.replace("_", "-"): name for name in previews.ACTIONS}  # as in the actions' URLs


@api.get("/orders/<int:order_id>/preview/<action>")
# The same view under the top-up preview's own path, whose POST takes the body: GET is there too, and the
# document says so (the path's Allow header lists GET).
@api.get("/orders/<int:order_id>/preview/top-up", defaults={"action": "top-up"})
@api.auth_required(token_auth)
@api.input(ActionPreviewQuery, location="query")
@api.output(ActionPreviewOut)
@api.doc(responses={403: "Previews are district-wide: not for street officers.",
                     404: "No such order, or no such action.",
                     409: "The action itself would be refused now."})
def preview_action(order_id: int, action: str, query_data):
    """Exactly the SMS an action would send now (launch, top-up, stop-recruiting, finish, cancel), without
    doing it: each message with its recipient, template, text and segments, the totals by template and by the
    recipients' status, and the estimated cost. Launch includes its first wave; top-up its wave and matching
    (give the places to add as `demands`, a JSON list as in the top-up body, or POST the body to
    `.../preview/top-up`). The action's refusals are the preview's (409). District-wide: not for street officers;
    viewers see phone numbers masked."""
    _no_officers()
    name = PREVIEW_ACTIONS.get(action)
    if name is None:
        raise ApiError(404, f"no order action {action!r} to preview; the actions are: "
                            f"{', '.join(PREVIEW_ACTIONS)}", code="unknown_action",
                       details={"action": action, "actions": list(PREVIEW_ACTIONS)})
    args = {}
    if name == "top_up":
        args["additions"] = list(_demand_specs(_query_demands(query_data.get("demands")), "add"))
    return _preview(order_id, name, **args)


@api.post("/orders/<int:order_id>/preview/top-up")
@api.auth_required(token_auth)
@api.input(TopUpIn)
@api.output(ActionPreviewOut)
@api.doc(responses={403: "Previews are district-wide: not for street officers.",
                     409: "The top-up itself would be refused now."})
def preview_top_up(order_id: int, json_data):
    """The top-up's preview with the same body as `POST .../top-up` (nothing is written)."""
    return _preview(order_id, "top_up", additions=list(_demand_specs(json_data["demands"], "add")))


def _query_demands(raw: str | None) -> list[dict]:
    """`demands` of a GET top-up preview: the top-up body's list, JSON-encoded (422 naming what is wrong)."""
    if not raw:
        raise ApiError(422, "a top-up preview needs the places to add: demands=[{\"site_id\": 1, \"role\": "
                            "\"registration\", \"add\": 2}] (JSON), or POST the top-up body",
                       code="invalid_demands", details={"query": {"demands": [
                           "a top-up preview needs the places to add (JSON, as in the top-up body)"]}})
    try:
        return TopUpIn().load({"demands": json.loads(raw)})["demands"]
    except json.JSONDecodeError as error:
        raise ApiError(422, f"demands is not JSON: {error}", code="invalid_demands",
                       details={"query": {"demands": [f"not JSON: {error}"]}}) from None
    except ValidationError as error:
        raise ApiError(422, f"invalid demands: {describe_validation(error.messages)}", code="invalid_demands",
                       details={"query": error.messages}) from None


def _no_officers() -> None:
    if current().is_officer:
        raise ApiError(403, "previews are district-wide; officers see their street's progress", code="forbidden")


def _preview(order_id: int, action: str, **args) -> dict:
    _no_officers()
    _load_order(order_id)
    settings = runtime().settings
    if action == "top_up":  # the matching's hold-back as the workers apply it
        args["hold_max_s"] = dispatch.hold_max_s(settings)
    try:
        preview = previews.preview_action(db(), order_id, action, utcnow(), _zone(),
                                          price_per_segment=settings.sms_price_per_segment,
                                          currency=settings.sms_currency, **args)
    finally:
        db().rollback()  # the savepoint is gone; this ends the transaction and its locks
    result = preview.as_dict()
    if not current().sees_phone_numbers:
        for message in result["messages"]:
            message["phone"] = mask_phone(message["phone"])
    return result


@api.get("/orders/<int:order_id>/preview")
@api.auth_required(token_auth)
@api.output(PreviewOut)
@api.doc(responses={403: "The audience preview is district-wide: not for street officers."})
def preview_order(order_id: int):
    """Who would be invited, who is left out and why, and the SMS cost (segments). District-wide figures:
    not for street officers."""
    if current().is_officer:
        raise ApiError(403, "the audience preview is district-wide; officers see their street's progress",
                       code="forbidden")
    order = _load_order(order_id)
    return audience_preview(db(), order, _zone()).as_dict()


@api.get("/orders/<int:order_id>/progress")
@api.auth_required(token_auth)
@api.input(ProgressQuery, location="query")
@api.output(ProgressOut)
@api.doc(responses={403: "The order has no places in the officer's street, or another street was asked."})
def order_progress(order_id: int, query_data):
    """Capacity, invitations, answers and placements per street, site and role (officers: their street's part
    of an order with places there; 403 for any other order), and the pacing's projection."""
    order = _readable_order(order_id)
    settings = runtime().settings
    return {**board.progress(db(), order, _street_id(query_data["street"])),
            "projection": waves.projection(db(), order, utcnow(), settings.sms_segments_per_second, _zone())}


# --- assignments --------------------------------------------------------------------------------------------


@api.get("/orders/<int:order_id>/assignments")
@api.auth_required(token_auth)
@api.input(AssignmentFilter, location="query")
@api.output(AssignmentPage)
@api.doc(responses={403: "The order has no places in the officer's street, or another street was asked."})
def list_assignments(order_id: int, query_data):
    """Who is sent where (officers: to their street's sites, of an order with places there, 403 for any other
    order; viewers see masked phone numbers)."""
    _readable_order(order_id)
    statement = board.assignments_query(order_id, _street_id(query_data["street"]), query_data["status"],
                                        query_data["site_id"])
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": [assignment_view(a) for a in items], "pagination": pagination}


def _officer_action(order_id: int, assignment_id: int, action) -> dict:
    principal = current()
    if not (principal.can_command or principal.is_officer):
        raise ApiError(403, "only admins, commanders and the street's officers may do this", code="forbidden")
    assignment = board.get_assignment(db(), order_id, assignment_id)
    check_street(board.assignment_street(assignment))
    action(db(), assignment, _actor(), utcnow())
    db().commit()
    return assignment_view(board.get_assignment(db(), order_id, assignment_id))


@api.post("/orders/<int:order_id>/assignments/<int:assignment_id>/arrive")
@api.auth_required(token_auth)
@api.output(AssignmentOut)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "The assignment's status does not allow it."})
def arrive_assignment(order_id: int, assignment_id: int):
    """The volunteer is on site."""
    return _officer_action(order_id, assignment_id, board.officer_arrive)


@api.post("/orders/<int:order_id>/assignments/<int:assignment_id>/no-show")
@api.auth_required(token_auth)
@api.output(AssignmentOut)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "The assignment's status does not allow it."})
def no_show_assignment(order_id: int, assignment_id: int):
    """The volunteer did not come: the place is freed and backfilled."""
    return _officer_action(order_id, assignment_id, board.officer_no_show)


@api.post("/orders/<int:order_id>/assignments/<int:assignment_id>/release")
@api.auth_required(token_auth)
@api.output(AssignmentOut)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "The assignment's status does not allow it."})
def release_assignment(order_id: int, assignment_id: int):
    """Release a volunteer (told not to come if not yet there): the place is freed and backfilled."""
    return _officer_action(order_id, assignment_id, board.officer_release)
