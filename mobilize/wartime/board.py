"""What the command center and the street officers see of an order, and what officers do on site.

Progress counts places per demand (by site, role and the site's street) and answers per invitation (by the
volunteer's home street: an invitation is to the order, not to a site). Officers act on assignments of their
own street only; the API checks the street, these functions do the work.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Demand,
    Invitation,
    InvitationStatus,
    Order,
    Role,
    Site,
    Street,
    Volunteer,
)
from mobilize.wartime import audit, followups
from mobilize.wartime.audit import Actor
from mobilize.wartime.dispatch import OFFICER_RELEASE_REASON, standby_filter
from mobilize.wartime.errors import Conflict, NotFound
from mobilize.wartime.messages import send
from mobilize.wartime.places import NOT_YET_ARRIVED, end_assignment, lock_order, refresh_fill_state
from mobilize.wartime.replies import mark_arrived

PLACE_FIELDS = ("capacity", "assigned", "confirmed", "arrived", "no_show", "open")
ANSWER_FIELDS = ("invited", "accepted", "standby", "declined", "no_answer")
CONFIRMED_OR_LATER = {AssignmentStatus.confirmed, AssignmentStatus.arrived, AssignmentStatus.completed}
ARRIVED_OR_LATER = {AssignmentStatus.arrived, AssignmentStatus.completed}
ACTIVE_STATUSES = {AssignmentStatus(s) for s in ("proposed", "notified", "confirmed", "arrived", "completed")}


def _zero(fields=PLACE_FIELDS + ANSWER_FIELDS) -> dict[str, int]:
    return dict.fromkeys(fields, 0)


def progress(session: Session, order: Order, street_id: int | None = None) -> dict[str, Any]:
    """Counts for the order (or one street of it): totals, per street, per site, per role."""
    places = _place_rows(session, order.id, street_id)
    answers = _answer_rows(session, order.id, street_id)
    streets: dict[int, dict] = defaultdict(_zero)
    sites: dict[int, dict] = defaultdict(lambda: _zero(PLACE_FIELDS))
    roles: dict[str, dict] = defaultdict(lambda: _zero(PLACE_FIELDS))
    totals = _zero()
    names: dict[str, dict] = {"sites": {}, "streets": {}}
    for row in places:
        for bucket in (totals, streets[row["street_id"]], sites[row["site_id"]], roles[row["role"]]):
            for key in PLACE_FIELDS:
                bucket[key] += row[key]
        names["sites"][row["site_id"]] = (row["site"], row["street_id"])
        names["streets"][row["street_id"]] = row["street"]
    for (home_street, street_name), counts in answers.items():
        names["streets"].setdefault(home_street, street_name)
        for key in ANSWER_FIELDS:
            streets[home_street][key] += counts[key]
            totals[key] += counts[key]
    return {
        "order_id": order.id, "state": order.state.value, "reply_code": order.reply_code,
        "totals": totals,
        "streets": [{"street_id": sid, "street": names["streets"].get(sid), **streets[sid]}
                    for sid in sorted(streets)],
        "sites": [{"site_id": sid, "site": names["sites"][sid][0], "street_id": names["sites"][sid][1],
                   **sites[sid]} for sid in sorted(sites)],
        "roles": [{"role": code, **roles[code]} for code in sorted(roles)],
    }


def _place_rows(session: Session, order_id: int, street_id: int | None) -> list[dict]:
    statement = (select(Demand.id, Demand.capacity, Demand.filled, Site.id, Site.name, Street.id, Street.name,
                        Role.code).join(Site, Site.id == Demand.site_id).join(Street, Street.id == Site.street_id)
                 .join(Role, Role.id == Demand.role_id).where(Demand.order_id == order_id))
    if street_id is not None:
        statement = statement.where(Site.street_id == street_id)
    demands = session.execute(statement.order_by(Demand.id)).all()
    by_status: dict[int, dict[AssignmentStatus, int]] = defaultdict(dict)
    for demand_id, status, count in session.execute(
            select(Assignment.demand_id, Assignment.status, func.count())
            .where(Assignment.order_id == order_id).group_by(Assignment.demand_id, Assignment.status)):
        by_status[demand_id][status] = count
    rows = []
    for demand_id, capacity, filled, site_id, site, sid, street, role in demands:
        counts = by_status[demand_id]
        rows.append({"site_id": site_id, "site": site, "street_id": sid, "street": street, "role": role,
                     "capacity": capacity, "assigned": sum(counts.get(s, 0) for s in ACTIVE_STATUSES),
                     "confirmed": sum(counts.get(s, 0) for s in CONFIRMED_OR_LATER),
                     "arrived": sum(counts.get(s, 0) for s in ARRIVED_OR_LATER),
                     "no_show": counts.get(AssignmentStatus.no_show, 0), "open": capacity - filled})
    return rows


def _answer_rows(session: Session, order_id: int, street_id: int | None) -> dict[tuple[int, str], dict]:
    base = (select(Volunteer.street_id, Street.name, Invitation.status, func.count()).select_from(Invitation)
            .join(Volunteer, Volunteer.id == Invitation.volunteer_id).join(Street, Street.id == Volunteer.street_id)
            .where(Invitation.order_id == order_id).group_by(Volunteer.street_id, Street.name, Invitation.status))
    standby = (select(Volunteer.street_id, Street.name, func.count()).select_from(Invitation)
               .join(Volunteer, Volunteer.id == Invitation.volunteer_id)
               .join(Street, Street.id == Volunteer.street_id)
               .where(standby_filter(order_id)).group_by(Volunteer.street_id, Street.name))
    if street_id is not None:
        base = base.where(Volunteer.street_id == street_id)
        standby = standby.where(Volunteer.street_id == street_id)
    result: dict[tuple[int, str], dict] = defaultdict(lambda: _zero(ANSWER_FIELDS))
    for sid, name, status, count in session.execute(base):
        counts = result[(sid, name)]
        if status is not InvitationStatus.cancelled:
            counts["invited"] += count
        counts["accepted"] += count if status is InvitationStatus.accepted else 0
        counts["declined"] += count if status is InvitationStatus.declined else 0
        counts["no_answer"] += count if status in (InvitationStatus.invited, InvitationStatus.queued) else 0
    for sid, name, count in session.execute(standby):
        result[(sid, name)]["standby"] += count
    return result


# --- assignments ------------------------------------------------------------------------------------------


def assignments_query(order_id: int, street_id: int | None = None, status: str | None = None,
                      site_id: int | None = None) -> Select:
    statement = (select(Assignment).join(Demand, Demand.id == Assignment.demand_id)
                 .join(Site, Site.id == Demand.site_id).where(Assignment.order_id == order_id)
                 .options(selectinload(Assignment.volunteer), selectinload(Assignment.demand)
                          .selectinload(Demand.site).selectinload(Site.street),
                          selectinload(Assignment.demand).selectinload(Demand.role))
                 .order_by(Assignment.id))
    if street_id is not None:
        statement = statement.where(Site.street_id == street_id)
    if status is not None:
        statement = statement.where(Assignment.status == AssignmentStatus(status))
    if site_id is not None:
        statement = statement.where(Site.id == site_id)
    return statement


def get_assignment(session: Session, order_id: int, assignment_id: int) -> Assignment:
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or assignment.order_id != order_id:
        raise NotFound(f"no assignment {assignment_id} in order {order_id}")
    return assignment


def assignment_street(assignment: Assignment) -> int:
    return assignment.demand.site.street_id


def officer_arrive(session: Session, assignment: Assignment, actor: Actor, now: datetime) -> Assignment:
    order = session.get(Order, assignment.order_id)
    if not mark_arrived(session, order, assignment, now, actor):
        raise _wrong_status(assignment, "mark as arrived", "dispatched or confirmed")
    session.refresh(assignment)
    return assignment


def officer_no_show(session: Session, assignment: Assignment, actor: Actor, now: datetime) -> Assignment:
    """Never came: the place is freed and backfilled (standby first, then a wave)."""
    return _free(session, assignment, AssignmentStatus.no_show, "no_show", actor, now, NOT_YET_ARRIVED,
                 "mark as no-show", "dispatched or confirmed, not arrived")


def officer_release(session: Session, assignment: Assignment, actor: Actor, now: datetime) -> Assignment:
    """Not needed or not able after all: freed and backfilled; a volunteer not yet on site is told not to come."""
    before = assignment.status
    assignment = _free(session, assignment, AssignmentStatus.released, OFFICER_RELEASE_REASON, actor, now,
                       NOT_YET_ARRIVED + (AssignmentStatus.arrived,), "release", "active and not signed out")
    if before in NOT_YET_ARRIVED:
        order = session.get(Order, assignment.order_id)
        send(session, assignment.volunteer, "dispatch_released", dedupe_key=f"released:assignment:{assignment.id}",
             code=order.reply_code, site=assignment.demand.site.name)
    return assignment


def _free(session: Session, assignment: Assignment, status: AssignmentStatus, reason: str, actor: Actor,
          now: datetime, from_statuses, verb: str, expected: str) -> Assignment:
    order = lock_order(session, assignment.order_id)
    if not end_assignment(session, assignment, status, reason, now, from_statuses=from_statuses):
        session.refresh(assignment)
        raise _wrong_status(assignment, verb, expected)
    refresh_fill_state(session, order, now)
    audit.record(session, actor, f"assignment.{status.value}", "assignment", assignment.id, now,
                 order_id=order.id, demand_id=assignment.demand_id, reason=reason)
    followups.request_match(session, order.id)
    return assignment


def _wrong_status(assignment: Assignment, verb: str, expected: str) -> Conflict:
    return Conflict(f"cannot {verb} assignment {assignment.id}: it is {assignment.status.value} "
                    f"(it must be {expected})", code="illegal_assignment_transition",
                    details={"assignment_id": assignment.id, "status": assignment.status.value})


# --- a street's sites: the live fill of the orders under way -------------------------------------------------


def street_fill(session: Session, street_id: int) -> dict[tuple[int, str], dict[str, int]]:
    """{(site id, role code): places} of the orders under way in this street, summed over those orders: what the
    board's sites bars show next to each role's usual capacity (issue 17: they stayed empty while an order
    filled)."""
    from mobilize.domain.order_states import UNDERWAY_STATES

    fill: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: _zero(PLACE_FIELDS))
    for order_id in session.scalars(select(Order.id).where(
            Order.state.in_(list(UNDERWAY_STATES)),
            Order.demands.any(Demand.site.has(Site.street_id == street_id))).order_by(Order.id)):
        for row in _place_rows(session, order_id, street_id):
            bucket = fill[(row["site_id"], row["role"])]
            for key in PLACE_FIELDS:
                bucket[key] += row[key]
    return dict(fill)
