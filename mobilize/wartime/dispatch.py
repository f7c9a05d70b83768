"""Placing accepted volunteers (standby) on open places, in micro-batches, and telling them.

One transaction per batch: lock the order, read its standby and open places, solve the optimal assignment
(`domain.matching.match`), then for each placement reserve the place (conditional UPDATE), create the assignment
(partial unique index) and write the dispatch SMS, all or nothing. Volunteers left over hear "standby" once.

Hold-back (online quality): while invitations of the current wave still await an answer, placing everyone who
said yes at once is myopic (a nearer volunteer may answer a minute later; plain micro-batches end ~2x the
hindsight optimum's total distance). So a batch draws `HOLD_SCENARIOS` scenarios of the pending answers (each
pending invitee who qualifies for an open place says yes within the hold-back with the chance `answer_chances`
gives, as a phantom: only such an answer can still change the placement), solves each together with the real
standby, and places a real volunteer now only where at least `HOLD_CONFIDENCE` of the scenarios put them.

Fill first (issue 10): the others are held back (no SMS yet, they stay standby) for at most `HOLD_MAX_S` seconds,
counted per volunteer from their answer and per place from when someone who could take it began to wait
(`Demand.idle_since`), then placed by the optimal assignment on what is left; a match job is scheduled for the
moment the first hold-back ends (`MatchOutcome.recheck_in_s`), the sweep being only the backstop. Nobody is told
"full / standby" while a place they qualify for is open. Backfills (a place freed by a drop-out, timeout, no-show
or opt-out) are never held: the standby fills them at once, one placement per freed place. A standby volunteer who
said they can go at short notice is dispatched as confirmed (`ready_volunteers`). Capacity is untouched by all
this: the plan only chooses which placements to make; `place` still reserves every one atomically under the order
lock.
"""
from __future__ import annotations

import random
import zlib
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from config import Settings
from mobilize.domain.matching import Candidate, Placement, Slot, match, pair_costs, qualifies
from mobilize.domain.order_states import RUNNING_STATES
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Demand,
    Invitation,
    Order,
    Volunteer,
)
from mobilize.wartime import audit, followups
from mobilize.wartime.audience import WEIGHTS, order_slots
from mobilize.wartime.messages import DEFAULT_ZONE, send, send_dispatch
from mobilize.wartime.places import (
    lock_order,
    open_places,
    place,
    refresh_fill_state,
)
from mobilize.wartime.standby import (  # noqa: F401  (OFFICER_RELEASE_REASON, standby_count: re-exported)
    OFFICER_RELEASE_REASON,
    pending_invitees,
    standby_candidates,
    standby_count,
    standby_filter,
)
from mobilize.wartime.waves import planning_rate

HOLD_SCENARIOS = 9  # scenarios of the pending answers drawn per batch
HOLD_CONFIDENCE = 0.7  # share of the scenarios that must agree on a volunteer's place to make it now
# Longest hold-back of a placeable volunteer (s after their answer). A commander watching places stay open while
# people who said yes wait loses trust in the service within a minute or two (issue 10: a 600 s hold-back left
# 119 places open for 5 minutes). In the default drill 60 s reaches 95% told within 1.06x of placing at once, with
# a mean walk of ~145 m against ~240 m at once and ~50 m for the hindsight optimum (docs/benchmarks.md, drill (d)).
HOLD_MAX_S = 60.0
# Confirmed fill (issue 10): a standby volunteer who said "I can go at short notice" within READY_FOR_S is dispatched
# as confirmed; an order starting within URGENT_LEAD_S gives dispatched volunteers at most URGENT_CONFIRM_S to confirm
# (the dispatch SMS says until when), so a silent dispatch does not hold a place for half an hour.
READY_FOR_S = 1800.0
URGENT_LEAD_S = 3 * 3600.0
URGENT_CONFIRM_S = 600


def hold_max_s(settings: Settings) -> float:
    """The matching's longest hold-back with these settings: settings.extra["hold_max_s"] (MATCH_HOLD_MAX_S)
    overrides HOLD_MAX_S, 0: none. The workers match with it; the previews of a top up show the same."""
    return float(settings.extra.get("hold_max_s", HOLD_MAX_S))


@dataclass(frozen=True)
class MatchOutcome:
    placed: int = 0
    skipped: int = 0  # placements the database refused (full, or the volunteer placed meanwhile)
    standby_told: int = 0
    open_places: int = 0
    held: int = 0  # placeable volunteers held back for a better placement (placed within HOLD_MAX_S)
    recheck_in_s: float | None = None  # when the first hold-back ends: match again then (not at the next sweep)


@dataclass(frozen=True)
class Plan:
    """What one batch does: `placements` now; `held` (placeable, held back for answers still pending) until
    `hold_ends_at`, the earliest moment one of them must be placed whatever the answers."""

    placements: list[Placement]
    held: set[int] = frozenset()
    hold_ends_at: datetime | None = None


def run_matching(session: Session, order_id: int, now: datetime, zone: str = DEFAULT_ZONE, *,
                 hold_max_s: float = HOLD_MAX_S) -> MatchOutcome:
    """One micro-batch for one order, in the caller's transaction. `hold_max_s` 0 places everyone placeable at
    once (no hold-back)."""
    order = lock_order(session, order_id)
    if order.state not in RUNNING_STATES:
        return MatchOutcome()
    slots = order_slots(session, order, open_only=True)
    # every place taken (a filled order still matches after each confirmation and timeout): nobody to place, and
    # the standby is only told so below, which needs no candidates (issue 15: hundreds of such batches per order)
    candidates = standby_candidates(session, order, slots) if slots else []
    backfills = _unfilled_vacancies(session, order.id) if slots else {}
    urgent = {d: n for d, n in backfills.items() if n > 0}
    idle_since = _idle_since(session, order.id)
    for slot in slots:  # a place open for HOLD_MAX_S while someone who could take it waits is filled now
        if slot.demand_id in idle_since and (now - idle_since[slot.demand_id]).total_seconds() >= hold_max_s:
            urgent[slot.demand_id] = slot.open_capacity
    plan = plan_placements(session, order, candidates, slots, now, hold_max_s, urgent, idle_since)
    placements, held = plan.placements, plan.held
    _preload(session, order.id, [p.volunteer_id for p in placements])
    placed = skipped = 0
    window = confirmation_window_s(order, now)
    confirm_by = now + timedelta(seconds=window) if window is not None else None
    ready = ready_volunteers(session, order.id, [p.volunteer_id for p in placements], now)
    for placement in placements:
        backfill = backfills.get(placement.demand_id, 0) > 0
        direct = confirm_by is None or placement.volunteer_id in ready
        assignment = place(session, order.id, placement.demand_id, placement.volunteer_id, now,
                           distance_m=placement.distance_m, backfill=backfill,
                           status=AssignmentStatus.confirmed if direct and confirm_by else AssignmentStatus.notified,
                           confirm_by=None if direct else confirm_by)
        if assignment is None:
            skipped += 1
            continue
        if direct and confirm_by:
            assignment.confirmed_at = now  # they said they can go at short notice: no second answer needed
        placed += 1
        backfills[placement.demand_id] = backfills.get(placement.demand_id, 0) - 1
        send_dispatch(session, order, assignment, zone)
        audit.record(session, audit.SYSTEM, "assignment.dispatched", "assignment", assignment.id, now,
                     order_id=order.id, demand_id=placement.demand_id, volunteer_id=placement.volunteer_id,
                     distance_m=round(placement.distance_m), backfill=backfill)
    taken = {p.volunteer_id for p in placements}
    waiting = [c for c in candidates if c.volunteer_id not in taken]
    still_open = order_slots(session, order, open_only=True)
    allowed = allowed_pairs(waiting, still_open, order)  # who waits x what is open: read by both steps below
    could_go = {c.volunteer_id for c, row in zip(waiting, allowed.any(axis=1)) if row}
    told = tell_standby(session, order, now, held | could_go)
    _note_idle_places(session, order, waiting, still_open, allowed, idle_since)
    refresh_fill_state(session, order, now)
    remaining = open_places(session, order.id)
    if remaining > 0 and order.state in RUNNING_STATES:
        followups.request_wave(session, order.id)  # the wave job decides whether one is due
    recheck = None if plan.hold_ends_at is None else max(0.0, (plan.hold_ends_at - now).total_seconds())
    return MatchOutcome(placed, skipped, told, remaining, len(held), recheck)


def confirmation_window_s(order: Order, now: datetime) -> int | None:
    """How long a dispatched volunteer has to confirm (None: the order requires no confirmation). An urgent order
    (its window starts within URGENT_LEAD_S) gives at most URGENT_CONFIRM_S: a silent or slow dispatch then
    hands its place to someone ready within minutes, not half an hour before the start (issue 10: 95% of places
    were confirmed only after 32 minutes with the district's 30-minute window)."""
    if not order.confirmation_required:
        return None
    if (order.starts_at - now).total_seconds() <= URGENT_LEAD_S:
        return min(order.confirmation_timeout_s, URGENT_CONFIRM_S)
    return order.confirmation_timeout_s


def ready_volunteers(session: Session, order_id: int, volunteer_ids: list[int], now: datetime) -> set[int]:
    """Those among `volunteer_ids` who said, on standby, that they can go at short notice, recently enough
    (READY_FOR_S) for that to stand as their confirmation."""
    if not volunteer_ids:
        return set()
    return set(session.scalars(select(Invitation.volunteer_id).where(
        Invitation.order_id == order_id, Invitation.volunteer_id.in_(volunteer_ids),
        Invitation.ready_at.is_not(None), Invitation.ready_at >= now - timedelta(seconds=READY_FOR_S))))


def plan_placements(session: Session, order: Order, candidates: list[Candidate], slots: list[Slot],
                    now: datetime, hold_max_s: float = HOLD_MAX_S, urgent: dict[int, int] | None = None,
                    idle_since: dict[int, datetime] | None = None) -> Plan:
    """Which placements to make now, and who is held back (placeable, but answers still pending may bring
    someone nearer). `urgent`: per demand, the places to fill now (freed by a drop-out, timeout or no-show, or
    open too long while someone could take them); that many of the optimal plan's placements on it, nearest
    first, are made at once, the demand's other open places are held back like any other. `idle_since`: per
    demand, since when someone who could take one of its places waits (its hold-back ends HOLD_MAX_S later).
    Reads only; see the module's docstring."""
    urgent, idle_since = urgent or {}, idle_since or {}
    full = match(candidates, slots, WEIGHTS, order.max_distance_m)
    if not full.placements or hold_max_s <= 0:
        return Plan(list(full.placements))
    # only answers that could change the placement are worth waiting for: invitees who qualify for an open place
    # only the skills the open places require tell the pending invitees apart (none in most orders: then none read)
    invitees = pending_invitees(session, order, now, skills={s.required_skill for s in slots} - {None})
    could_take = qualifying(invitees.candidates, slots, order)
    pending = [c for c in invitees.candidates if c.volunteer_id in could_take]
    if not pending:
        return Plan(list(full.placements))
    answered = dict(session.execute(select(Invitation.volunteer_id, Invitation.answered_at).where(
        Invitation.order_id == order.id,
        Invitation.volunteer_id.in_([p.volunteer_id for p in full.placements]))).all())
    cutoff = now - timedelta(seconds=hold_max_s)
    overdue = {vid for vid, at in answered.items() if at is None or at <= cutoff}
    rng = random.Random(zlib.crc32(f"{order.id}:{now.isoformat()}".encode()))
    chances = answer_chances(session, order, pending, now, hold_max_s, invitees.invited_s_ago)
    chosen = confident_placements(candidates, pending, slots, order, rng, chances)
    room = Counter({slot.demand_id: slot.open_capacity for slot in slots})
    room.subtract(Counter(p.demand_id for p in chosen))
    taken = {p.volunteer_id for p in chosen}
    late = [c for c in candidates if c.volunteer_id in overdue and c.volunteer_id not in taken]
    if late:
        left = [replace(s, open_capacity=room[s.demand_id]) for s in slots if room[s.demand_id] > 0]
        chosen += list(match(late, left, WEIGHTS, order.max_distance_m).placements)
    placed_now = {p.volunteer_id for p in chosen}
    room = Counter({slot.demand_id: slot.open_capacity for slot in slots})
    room.subtract(Counter(p.demand_id for p in chosen))
    # backfills: the optimal plan's choice, at once, one per freed place (not the demand's whole open capacity:
    # an early drop-out must not end the hold-back of its demand; seed 7 of the drill placed volunteers 1.4-2.2 km
    # away on two such demands, 1.26x the hindsight optimum's distance)
    backfill = Counter(p.demand_id for p in chosen if p.demand_id in urgent)
    for p in sorted(full.placements, key=lambda p: (p.distance_m, p.volunteer_id)):
        if backfill[p.demand_id] < urgent.get(p.demand_id, 0) and p.volunteer_id not in placed_now \
                and room[p.demand_id] > 0:
            chosen.append(p)
            placed_now.add(p.volunteer_id)
            room[p.demand_id] -= 1
            backfill[p.demand_id] += 1
    held = {p.volunteer_id for p in full.placements} - placed_now
    ends = [answered[vid] for vid in held if answered.get(vid) is not None]
    ends += [idle_since[p.demand_id] for p in full.placements if p.volunteer_id in held and p.demand_id in idle_since]
    hold_ends_at = min(ends) + timedelta(seconds=hold_max_s) if ends else None
    return Plan(chosen, held, hold_ends_at)


def _idle_since(session: Session, order_id: int) -> dict[int, datetime]:
    return dict(session.execute(select(Demand.id, Demand.idle_since).where(
        Demand.order_id == order_id, Demand.idle_since.is_not(None))).all())


def _note_idle_places(session: Session, order: Order, waiting: list[Candidate], still_open: list[Slot],
                      allowed: np.ndarray, idle_since: dict[int, datetime]) -> None:
    """Keep `Demand.idle_since`: since when a demand has had an open place that one of the `waiting` volunteers
    (accepted, unplaced) qualifies for; from the earliest such answer, kept while that stays true however the
    people change, cleared when it stops. It bounds the hold-back per place, not only per person: a stream of
    answers each held for less than HOLD_MAX_S must not keep one place open for longer. `allowed`: who of
    `waiting` may take which of `still_open` (`allowed_pairs`)."""
    now_idle: dict[int, datetime] = {}
    if allowed.any():
        answered = dict(session.execute(select(Invitation.volunteer_id, Invitation.answered_at).where(
            Invitation.order_id == order.id, Invitation.volunteer_id.in_([c.volunteer_id for c in waiting]))).all())
        for column, slot in enumerate(still_open):
            times = [answered[c.volunteer_id] for c, ok in zip(waiting, allowed[:, column])
                     if ok and answered.get(c.volunteer_id) is not None]
            if times:
                now_idle[slot.demand_id] = idle_since.get(slot.demand_id) or min(times)
    for demand_id in set(idle_since) | set(now_idle):
        if idle_since.get(demand_id) != now_idle.get(demand_id):
            session.execute(update(Demand).where(Demand.id == demand_id)
                            .values(idle_since=now_idle.get(demand_id)).execution_options(synchronize_session=False))


def answer_chances(session: Session, order: Order, pending: list[Candidate], now: datetime, horizon_s: float,
                   invited_s_ago: dict[int, float] | None = None) -> dict[int, float]:
    """Per pending invitee, the chance of a yes within `horizon_s`: only such an answer can change a placement
    held back at most that long. The waves' model of silence (`waves.expected_pending`): an invitation's answers
    come over its wave interval, at the planning rate (the commander's expectation, corrected by this order's
    answers), so a window of `horizon_s` holds `horizon_s / interval` of them, and none after the interval.
    `pending`: invitees of the current interval still silent (`standby.pending_invitees`); `invited_s_ago`:
    their invitations' ages as `standby.pending_invitees` read them (None: read here, the same way)."""
    interval = float(order.wave_interval_s)
    rate = planning_rate(session, order, now - timedelta(seconds=interval))
    if invited_s_ago is None:
        invited_s_ago = pending_invitees(session, order, now, skills=()).invited_s_ago if pending else {}
    chances = {}
    for candidate in pending:
        left = interval - invited_s_ago[candidate.volunteer_id]
        chances[candidate.volunteer_id] = rate * max(0.0, min(horizon_s, left)) / interval
    return chances


def confident_placements(candidates: list[Candidate], pending: list[Candidate], slots: list[Slot], order: Order,
                         rng: random.Random, chances: dict[int, float] | None = None,
                         scenarios: int = HOLD_SCENARIOS, confidence: float = HOLD_CONFIDENCE) -> list[Placement]:
    """The placements of real candidates that at least `confidence` of the scenarios agree on (each scenario:
    every pending invitee says yes soon with their chance, by default the expected answer rate, and joins the
    matching as a phantom)."""
    votes: Counter[tuple[int, int]] = Counter()
    distances: dict[tuple[int, int], float] = {}
    chances = chances or {}
    rate = order.expected_answer_rate
    odds = [chances.get(c.volunteer_id, rate) for c in pending]
    for _ in range(scenarios):
        # thousands of pending invitees per batch at district scale, a few hundred drawn: only those are copied
        phantoms = [_phantom(pending[i]) for i, chance in enumerate(odds) if rng.random() < chance]
        for p in match(list(candidates) + phantoms, slots, WEIGHTS, order.max_distance_m).placements:
            if p.volunteer_id > 0:
                votes[p.volunteer_id, p.demand_id] += 1
                distances[p.volunteer_id, p.demand_id] = p.distance_m
    room = {slot.demand_id: slot.open_capacity for slot in slots}
    placements, taken = [], set()
    for (vid, did), count in sorted(votes.items(), key=lambda item: (-item[1], item[0])):
        if count >= confidence * scenarios and vid not in taken and room.get(did, 0) > 0:
            taken.add(vid)
            room[did] -= 1
            placements.append(Placement(vid, did, distances[vid, did]))
    return placements


def _phantom(candidate: Candidate) -> Candidate:
    """A pending invitee answering yes in a scenario, under a negative id (never a real volunteer's). Built
    directly: `dataclasses.replace` costs several times more, per drawn invitee per scenario."""
    return Candidate(-candidate.volunteer_id, candidate.lat, candidate.lon, candidate.skills, candidate.street_id,
                     candidate.provisional, candidate.max_distance_m)


def allowed_pairs(candidates: list[Candidate], slots: list[Slot], order: Order) -> np.ndarray:
    """Which candidate may take which slot (skill, vetting, distance), as a boolean matrix (candidates x slots)."""
    if not candidates or not slots:
        return np.zeros((len(candidates), len(slots)), dtype=bool)
    _distance, cost = pair_costs(candidates, slots, WEIGHTS, order.max_distance_m)
    return np.isfinite(cost)


def qualifying(candidates: list[Candidate], slots: list[Slot], order: Order) -> set[int]:
    """The candidates who qualify for at least one of `slots`: nobody among them may be told "full" while those
    places are open (DESIGN 7)."""
    rows = qualifies(candidates, slots, order.max_distance_m)
    return {c.volunteer_id for c, row in zip(candidates, rows) if row}


def idle_places(session: Session, order: Order) -> Counter[int]:
    """Per demand, how many of its open places an accepted volunteer who qualifies could take right now and does
    not (the optimal placement of the waiting standby on the open places, which the fill-first rule keeps short:
    the drill measures it, `longest_idle_place_s`)."""
    slots = order_slots(session, order, open_only=True)
    candidates = standby_candidates(session, order, slots) if slots else []
    if not qualifying(candidates, slots, order):
        return Counter()
    return Counter(p.demand_id for p in match(candidates, slots, WEIGHTS, order.max_distance_m).placements)


def tell_standby(session: Session, order: Order, now: datetime, held: set[int] | frozenset[int] = frozenset()
                 ) -> int:
    """The standby SMS, once per acceptance: the conditional UPDATE of standby_notified_at decides who gets it.
    Volunteers held back for a better placement (`held`) are not told: they will get a dispatch shortly. Told in
    the order they said yes (the outbox sends in the order it is written), whatever plan the database picks."""
    waiting = session.scalars(select(Invitation).where(standby_filter(order.id),
                                                       Invitation.standby_notified_at.is_(None))
                              .order_by(Invitation.answered_at, Invitation.id)).all()
    told = 0
    for invitation in waiting:
        if invitation.volunteer_id in held:
            continue
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
