"""Placing accepted volunteers (standby) on open places, in micro-batches, and telling them.

One transaction per batch: lock the order, read its standby and open places, solve the optimal assignment
(`domain.matching.match`), then for each placement reserve the place (conditional UPDATE), create the assignment
(partial unique index) and write the dispatch SMS, all or nothing. Volunteers left over hear "standby" once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from mobilize.domain.matching import Candidate, MatchResult, Slot, match
from mobilize.domain.order_states import RUNNING_STATES
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Demand,
    Invitation,
    InvitationStatus,
    Order,
    Skill,
    Volunteer,
    volunteer_skills,
)
from mobilize.wartime import audit, followups
from mobilize.wartime.audience import WEIGHTS, order_slots
from mobilize.wartime.messages import DEFAULT_ZONE, send, send_dispatch
from mobilize.wartime.places import ACTIVE, lock_order, open_places, place, refresh_fill_state

OFFICER_RELEASE_REASON = "released_by_officer"  # takes the volunteer out of the order (they may ask to come back)


def standby_filter(order_id: int):
    """Invitations of this order's standby: accepted, reachable, neither placed nor taken out by an officer (a
    no-show or an officer's release). A volunteer whose dispatch timed out or who dropped out and then says yes
    again (the invitation is accepted again) is standby again."""
    blocking = exists().where(
        Assignment.order_id == order_id, Assignment.volunteer_id == Invitation.volunteer_id,
        or_(Assignment.status.in_(list(ACTIVE) + [AssignmentStatus.no_show]),
            and_(Assignment.status == AssignmentStatus.released,
                 Assignment.end_reason == OFFICER_RELEASE_REASON)))
    person = aliased(Volunteer)  # never correlated with a Volunteer of the enclosing query
    reachable = exists().where(person.id == Invitation.volunteer_id, person.opted_out_at.is_(None),
                               person.phone_invalid.is_(False))
    return and_(Invitation.order_id == order_id, Invitation.status == InvitationStatus.accepted, reachable,
                ~blocking)


def standby_count(session: Session, order_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Invitation).where(standby_filter(order_id)))


def busy_elsewhere(order: Order):
    """The volunteer (of the enclosing query) holds a place in another order whose window overlaps this one:
    nobody is sent to two places at once (they may have said yes to both)."""
    other, other_order = aliased(Assignment), aliased(Order)
    return exists().where(other.volunteer_id == Volunteer.id, other.order_id != order.id,
                          other.status.in_(list(ACTIVE)), other_order.id == other.order_id,
                          other_order.starts_at < order.ends_at, other_order.ends_at > order.starts_at)


def standby_candidates(session: Session, order: Order) -> list[Candidate]:
    """Standby volunteers who can be placed now, as matching candidates (with their skill codes), in id order."""
    rows = session.execute(select(Volunteer.id, Volunteer.lat, Volunteer.lon, Volunteer.street_id,
                                  Volunteer.provisional)
                           .join(Invitation, Invitation.volunteer_id == Volunteer.id)
                           .where(standby_filter(order.id), Volunteer.lat.is_not(None), Volunteer.lon.is_not(None),
                                  ~busy_elsewhere(order))
                           .order_by(Volunteer.id)).all()
    skills: dict[int, set[str]] = {}
    if rows:
        pairs = session.execute(select(volunteer_skills.c.volunteer_id, Skill.code)
                                .join(Skill, Skill.id == volunteer_skills.c.skill_id)
                                .where(volunteer_skills.c.volunteer_id.in_([row[0] for row in rows])))
        for volunteer_id, code in pairs:
            skills.setdefault(volunteer_id, set()).add(code)
    return [Candidate(vid, lat, lon, frozenset(skills.get(vid, ())), street_id, provisional)
            for vid, lat, lon, street_id, provisional in rows]


def solve(session: Session, order: Order) -> tuple[list[Slot], MatchResult]:
    """The optimal placement of the current standby on the current open places (nothing written)."""
    slots = order_slots(session, order, open_only=True)
    return slots, match(standby_candidates(session, order), slots, WEIGHTS, order.max_distance_m)


@dataclass(frozen=True)
class MatchOutcome:
    placed: int = 0
    skipped: int = 0  # placements the database refused (full, or the volunteer placed meanwhile)
    standby_told: int = 0
    open_places: int = 0


def run_matching(session: Session, order_id: int, now: datetime, zone: str = DEFAULT_ZONE) -> MatchOutcome:
    """One micro-batch for one order, in the caller's transaction."""
    order = lock_order(session, order_id)
    if order.state not in RUNNING_STATES:
        return MatchOutcome()
    _slots, result = solve(session, order)
    _preload(session, order.id, [p.volunteer_id for p in result.placements])
    placed = skipped = 0
    backfills = _unfilled_vacancies(session, order.id)
    confirm_by = now + timedelta(seconds=order.confirmation_timeout_s) if order.confirmation_required else None
    for placement in result.placements:
        backfill = backfills.get(placement.demand_id, 0) > 0
        assignment = place(session, order.id, placement.demand_id, placement.volunteer_id, now,
                           distance_m=placement.distance_m, backfill=backfill, confirm_by=confirm_by)
        if assignment is None:
            skipped += 1
            continue
        placed += 1
        backfills[placement.demand_id] = backfills.get(placement.demand_id, 0) - 1
        send_dispatch(session, order, assignment, zone)
        audit.record(session, audit.SYSTEM, "assignment.dispatched", "assignment", assignment.id, now,
                     order_id=order.id, demand_id=placement.demand_id, volunteer_id=placement.volunteer_id,
                     distance_m=round(placement.distance_m), backfill=backfill)
    told = tell_standby(session, order, now)
    refresh_fill_state(session, order, now)
    remaining = open_places(session, order.id)
    if remaining > 0 and order.state in RUNNING_STATES:
        followups.request_wave(session, order.id)  # the wave job decides whether one is due
    return MatchOutcome(placed, skipped, told, remaining)


def tell_standby(session: Session, order: Order, now: datetime) -> int:
    """The standby SMS, once per acceptance: the conditional UPDATE of standby_notified_at decides who gets it."""
    waiting = session.scalars(select(Invitation).where(standby_filter(order.id),
                                                       Invitation.standby_notified_at.is_(None))).all()
    told = 0
    for invitation in waiting:
        claimed = session.execute(update(Invitation).where(Invitation.id == invitation.id,
                                                           Invitation.standby_notified_at.is_(None))
                                  .values(standby_notified_at=now).execution_options(synchronize_session=False))
        if claimed.rowcount:
            send(session, invitation.volunteer, "standby", code=order.reply_code)
            told += 1
    return told


def _preload(session: Session, order_id: int, volunteer_ids: list[int]) -> None:
    """Load what the dispatch texts need in two queries; the assignments' many-to-one lookups then hit the
    identity map instead of the database, one placement after another."""
    if volunteer_ids:
        session.scalars(select(Volunteer).where(Volunteer.id.in_(volunteer_ids))).all()
        session.scalars(select(Demand).where(Demand.order_id == order_id)
                        .options(selectinload(Demand.site), selectinload(Demand.role))).all()


def _unfilled_vacancies(session: Session, order_id: int) -> dict[int, int]:
    """Per demand: places freed by a release, no-show or decline and not yet taken by a backfill."""
    freed = func.count().filter(Assignment.status.in_([AssignmentStatus.released, AssignmentStatus.no_show,
                                                        AssignmentStatus.declined]))
    refilled = func.count().filter(Assignment.backfill.is_(True))
    rows = session.execute(select(Assignment.demand_id, freed, refilled)
                           .join(Demand, Demand.id == Assignment.demand_id)
                           .where(Assignment.order_id == order_id).group_by(Assignment.demand_id)).all()
    return {demand_id: f - r for demand_id, f, r in rows if f > r}
