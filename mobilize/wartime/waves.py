"""Invitation waves: nearest eligible volunteers first, just enough of them, and again while the order is short.

Paced to the deadline (issue 14, `PACED`): every order has one (`Order.deadline`: its needed-by time, by default
its start). Each evaluation (every answer's match job, every sweep: ~10 s) asks `domain.pacing` for the smallest
wave that fills 95% of the places by then and puts into the outbox what the sender will reach within
`pacing.FEED_AHEAD_S`; the rest is planned again at the next evaluation, with what the answers meanwhile taught
(`wartime.pacing_inputs`: the prior from past orders at this time of day in these streets, else the commander's
expected answer rate; this order's answers, silence counted by its age). An urgent order invites everyone
eligible at once, nearest first. An audience found empty waits for the interval before it is searched again.

The fixed-rate sizing below (before issue 14) is kept only as the benchmark's baseline (`PACED = False`,
`benchmarks/bench_deadline.py`, the issue's table of first-wave sizes):

A wave is due when none was sent yet, when the previous one has mostly answered, when its interval has passed, or
early, as soon as the answers so far project a shortfall: the invitations still pending can no longer be expected
to bring enough yeses (at least `EARLY_SHARE` of what the open places call for is missing), so waiting out the
interval would only delay the order. It is sized by `domain.matching.wave_size` from the places the current
standby cannot fill, the answer rate to plan with (`planning_rate`: the order's expected rate, corrected by what
earlier invitations of this order actually brought once there are enough of them), the over-recruit factor and
the invitations still awaiting an answer, each weighted by how much of its interval is still ahead of it
(`expected_pending`): after a whole interval silence is an answer, and half-way through it is half of one.
Nobody is invited twice to one order: the unique (order, volunteer) constraint decides, with
INSERT ... ON CONFLICT DO NOTHING, so even concurrent wave jobs cannot send a second invitation.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mobilize.domain.matching import Slot, wave_size
from mobilize.models import (
    Demand,
    Invitation,
    InvitationStatus,
    Order,
    OrderState,
    Street,
    Volunteer,
)
from mobilize.sms import outbox
from mobilize.wartime import audit, pacing_inputs
from mobilize.wartime.audience import choose_wave, evaluate
from mobilize.wartime.messages import (
    DEFAULT_ZONE,
    area_name,
    invitation,
    invitation_values,
    invite_key,
)
from mobilize.wartime.places import lock_order
from mobilize.wartime.standby import solve

MOSTLY_ANSWERED = 0.8  # the previous wave counts as answered when 80% of it has answered
EARLY_SHARE = 0.25  # a wave goes out before its interval when this share of the needed invitations is missing
PRIOR_WEIGHT = 20  # the order's expected answer rate counts as this many invitations in `planning_rate`
PENDING_STEPS = 4  # `expected_pending` weighs an unanswered invitation by the quarter of its interval it is in
MIN_EVIDENCE = 30  # invitations with their chance to answer behind them before `planning_rate` trusts them
INSERT_CHUNK = 500  # rows per INSERT (SQLite allows 32766 parameters)
PACED = True  # waves paced to the deadline; False: the fixed-rate sizing, the benchmark's baseline only


def wave_due(order: Order, last_wave_size: int, last_wave_unanswered: int, now: datetime) -> bool:
    if order.last_wave_at is None:
        return True
    if now >= order.last_wave_at + timedelta(seconds=order.wave_interval_s):
        return True
    return last_wave_size > 0 and last_wave_unanswered <= (1 - MOSTLY_ANSWERED) * last_wave_size


@dataclass(frozen=True)
class WaveNeed:
    placeable: int  # standby volunteers matching would place now
    short: int  # open places the current standby cannot fill
    pending: int  # invitations of the current interval awaiting an answer
    due: bool
    size: int  # invitations the next wave would send (before the audience runs out)
    residual: tuple[Slot, ...]  # the open places left after placing the standby, as matching slots
    pace: pacing_inputs.Pace | None = None  # the deadline pacing's view (None: not paced)


def assess(session: Session, order: Order, now: datetime,
           segments_per_second: float = pacing_inputs.DEFAULT_SEGMENTS_PER_SECOND,
           zone: str = DEFAULT_ZONE) -> WaveNeed:
    """Does the order need a wave now, and how big (reads only)."""
    if order.state is not OrderState.open:
        return WaveNeed(0, 0, 0, False, 0, ())
    slots, planned = solve(session, order)
    taken = Counter(placement.demand_id for placement in planned.placements)
    residual = tuple(Slot(s.demand_id, s.site_lat, s.site_lon, s.street_id, s.open_capacity - taken[s.demand_id],
                          s.required_skill, s.accepts_provisional)
                     for s in slots if s.open_capacity > taken[s.demand_id])
    short = sum(slot.open_capacity for slot in residual)
    if PACED:
        return _paced(session, order, now, len(planned.placements), short, residual, segments_per_second, zone)
    since = now - timedelta(seconds=order.wave_interval_s)
    pending = expected_pending(session, order, now)
    last_size, last_unanswered = _last_wave(session, order)
    rate = planning_rate(session, order, since)
    size = wave_size(short, rate, order.over_recruit_factor, pending) if short else 0
    needed = wave_size(short, rate, order.over_recruit_factor) if short else 0
    # early only after a wave that found people (an exhausted audience waits for the interval)
    due = wave_due(order, last_size, last_unanswered, now) or (last_size > 0 and shortfall_projected(size, needed))
    return WaveNeed(len(planned.placements), short, pending, due, size, residual)


def _paced(session: Session, order: Order, now: datetime, placeable: int, short: int, residual: tuple[Slot, ...],
           segments_per_second: float, zone: str) -> WaveNeed:
    places = int(session.scalar(select(func.coalesce(func.sum(Demand.capacity), 0)).where(
        Demand.order_id == order.id)))
    pace = pacing_inputs.pace(session, order, now, places, short, pacing_inputs.audience_bound(session, order),
                              segments_per_second, zone)
    size = pace.plan.send_now
    last_size, _unanswered = _last_wave(session, order)
    exhausted = order.last_wave_at is not None and last_size == 0 and \
        now < order.last_wave_at + timedelta(seconds=order.wave_interval_s)
    pending = session.scalar(select(func.count()).select_from(Invitation).where(
        Invitation.order_id == order.id, Invitation.status == InvitationStatus.invited))
    return WaveNeed(placeable, short, int(pending), size > 0 and not exhausted, size, residual, pace)


def expected_pending(session: Session, order: Order, now: datetime) -> int:
    """Invitations awaiting an answer, each counted by how much of its interval is still ahead of it (by quarters:
    1 in the first quarter, then 3/4, 1/2, 1/4): silence for half the interval is half an answer already, so a
    wave whose invitees stay silent projects its shortfall before the interval is over. After a whole interval
    an invitation no longer counts at all."""
    interval = order.wave_interval_s
    bounds = [now - timedelta(seconds=interval * k / PENDING_STEPS) for k in range(PENDING_STEPS + 1)]
    counts = session.execute(select(*[
        func.count().filter(Invitation.invited_at <= bounds[k], Invitation.invited_at > bounds[k + 1])
        for k in range(PENDING_STEPS)]).where(
        Invitation.order_id == order.id, Invitation.status == InvitationStatus.invited,
        Invitation.invited_at > bounds[-1])).one()
    # (the newest step also takes invitations stamped a moment after `now`: clocks of two workers)
    newest = session.scalar(select(func.count()).select_from(Invitation).where(
        Invitation.order_id == order.id, Invitation.status == InvitationStatus.invited,
        Invitation.invited_at > now))
    weighted = newest + sum(count * (1 - k / PENDING_STEPS) for k, count in enumerate(counts))
    return round(weighted)


def shortfall_projected(size: int, needed: int) -> bool:
    """The answers so far say the pending invitations will not do: `size` more invitations are needed on top of
    them, out of `needed` for the open places in all. (Right after a wave `size` is 0; every decline adds to it,
    every yes takes from it.)"""
    return size > 0 and size >= EARLY_SHARE * needed


def planning_rate(session: Session, order: Order, since: datetime) -> float:
    """The share of invitations expected to bring a yes: the order's expectation until at least `MIN_EVIDENCE`
    invitations were sent before `since` (one interval ago, so they have had their chance to answer), then moved
    towards what those actually brought, the expectation counting as `PRIOR_WEIGHT` invitations of evidence. A
    commander's guess that was too hopeful then leads to bigger waves (sooner filled); one too gloomy, to fewer
    invitations (fewer SMS, fewer people left on standby)."""
    sent, accepted = session.execute(select(
        func.count(), func.count().filter(Invitation.status == InvitationStatus.accepted)).where(
        Invitation.order_id == order.id, Invitation.invited_at <= since,
        Invitation.status != InvitationStatus.cancelled)).one()
    if sent < MIN_EVIDENCE:
        return order.expected_answer_rate
    rate = (accepted + PRIOR_WEIGHT * order.expected_answer_rate) / (sent + PRIOR_WEIGHT)
    return min(1.0, max(rate, order.expected_answer_rate / 10, 0.01))


def _last_wave(session: Session, order: Order) -> tuple[int, int]:
    """Size and unanswered part of the last wave actually sent (a wave that found nobody has no invitations)."""
    if order.last_wave_at is None:
        return 0, 0
    size, unanswered = session.execute(select(
        func.count(), func.count().filter(Invitation.status == InvitationStatus.invited)).where(
        Invitation.order_id == order.id, Invitation.wave == order.waves_sent,
        Invitation.invited_at >= order.last_wave_at)).one()
    return size, unanswered


@dataclass(frozen=True)
class WaveResult:
    invited: int
    wave: int | None
    reason: str  # sent | not_open | not_due | enough_expected | audience_exhausted


def send_wave(session: Session, order_id: int, now: datetime, zone: str = DEFAULT_ZONE,
              segments_per_second: float = pacing_inputs.DEFAULT_SEGMENTS_PER_SECOND) -> WaveResult:
    """Send the next wave if one is due, in the caller's transaction (invitations and their SMS together)."""
    order = lock_order(session, order_id)
    if order.state is not OrderState.open:
        return WaveResult(0, None, "not_open")
    need = assess(session, order, now, segments_per_second, zone)
    if not need.due:
        return WaveResult(0, None, "not_due")
    if need.size <= 0:
        return WaveResult(0, None, "enough_expected")
    audience = evaluate(session, order, open_only=True, slots=list(need.residual), keep_per_rule=need.size)
    chosen = choose_wave(audience, need.size, order.expected_answer_rate, order.over_recruit_factor)
    order.last_wave_at = now
    if len(chosen) == 0:
        audit.record(session, audit.SYSTEM, "order.wave_exhausted", "order", order.id, now, short=need.short)
        return WaveResult(0, None, "audience_exhausted")
    number = order.waves_sent + 1
    chosen = nearest_first_order(chosen, audience.nearest_distance_m, audience.pool.ids)
    rows = [{"order_id": order.id, "volunteer_id": int(audience.pool.ids[i]), "wave": number,
             "status": InvitationStatus.invited, "distance_m": float(audience.nearest_distance_m[i]),
             "invited_at": now} for i in chosen]
    inserted = _insert_new(session, rows)
    streets = {int(audience.pool.ids[i]): int(audience.nearest_street_id[i]) for i in chosen}
    sent = _send_invitations(session, order, [row["volunteer_id"] for row in rows], inserted, streets, zone)
    order.waves_sent = number
    audit.record(session, audit.SYSTEM, "order.wave", "order", order.id, now, wave=number, invited=sent,
                 short=need.short, pending=need.pending, **_pace_details(need.pace))
    return WaveResult(sent, number, "sent")


def projection(session: Session, order: Order, now: datetime,
               segments_per_second: float = pacing_inputs.DEFAULT_SEGMENTS_PER_SECOND,
               zone: str = DEFAULT_ZONE) -> dict | None:
    """For the order page and the API: the deadline and when 95% of the places are expected filled at this pace
    (the invitations out, and those the pacing plans); None for an order not recruiting (reads only)."""
    if order.state is not OrderState.open or not PACED:
        return None
    pace = assess(session, order, now, segments_per_second, zone).pace
    if pace is None:
        return None
    covered = pace.need.by_deadline <= 0
    at = now if covered else (None if pace.projected_s is None else now + timedelta(seconds=pace.projected_s))
    return {"deadline": order.deadline, "urgent": order.urgent, "covered": covered, "projected_at": at,
            "on_track": at is not None and at <= order.deadline, "yes_rate": round(pace.belief.yes_rate, 3),
            "prior": pace.prior_source, "planned_invitations": pace.plan.invitations}


def _pace_details(pace: pacing_inputs.Pace | None) -> dict:
    """What the pacing planned, for the audit trail (why this wave, this big)."""
    if pace is None:
        return {}
    return {"planned": pace.plan.invitations, "feasible": pace.plan.feasible,
            "needed_by_deadline": pace.need.by_deadline, "expected_by_deadline": round(pace.plan.expected_by_deadline, 1),
            "yes_rate": round(pace.belief.yes_rate, 4), "yes_rate_sd": round(pace.belief.yes_rate_sd, 4),
            "prior": pace.prior_source, "projected_s": None if pace.projected_s is None else round(pace.projected_s, 1)}


def _insert_new(session: Session, rows: list[dict]) -> dict[int, int]:
    """Insert invitations, skipping anyone already invited to the order: {volunteer id: invitation id}."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    inserted: dict[int, int] = {}
    for start in range(0, len(rows), INSERT_CHUNK):
        statement = (insert(Invitation).values(rows[start:start + INSERT_CHUNK])
                     .on_conflict_do_nothing(index_elements=["order_id", "volunteer_id"])
                     .returning(Invitation.volunteer_id, Invitation.id))
        inserted.update(dict(session.execute(statement).all()))
    return inserted


def nearest_first_order(positions: np.ndarray, distance_m: np.ndarray, volunteer_ids: np.ndarray) -> np.ndarray:
    """A wave's pool positions in the order its invitations go out: nearest to their nearest eligible site first,
    ties to the lower volunteer id. `choose_wave` picks whom (each site's share, scarcest rule first); this says
    in what order they hear, so that in a big wave (an urgent order invites everyone at once) the people who can
    be there soonest are asked first, not whoever has the lowest id."""
    positions = np.asarray(positions, dtype=np.int64)
    return positions[np.lexsort((volunteer_ids[positions], distance_m[positions]))]


def _send_invitations(session: Session, order: Order, send_order: list[int], inserted: dict[int, int],
                      streets: dict[int, int], zone: str) -> int:
    """Queue the invitations of `inserted` (volunteer id -> invitation id) in `send_order`: the outbox hands rows
    to the gateway by id (`sms.outbox.claim_batch`), so the order in which they are written here is the order in
    which they are sent: the outbox id is the send rank."""
    loaded = {volunteer.id: volunteer
              for volunteer in session.scalars(select(Volunteer).where(Volunteer.id.in_(list(inserted))))}
    volunteers = [loaded[volunteer_id] for volunteer_id in send_order if volunteer_id in loaded]
    street_rows = {street.id: street for street in session.scalars(select(Street))}
    # one multi-row INSERT in send order (outbox.queue_many), not a flush per message
    queued = outbox.queue_many(session, [
        invitation(volunteer, invite_key(order.id, volunteer.id), **invitation_values(
            order, volunteer.language, area_name(street_rows.get(streets.get(volunteer.id)), volunteer.language),
            zone))
        for volunteer in volunteers])
    # opted out since the audience was read (or invited already)
    unsent = [inserted[volunteer.id] for volunteer, message in zip(volunteers, queued) if message is None]
    if unsent:
        session.execute(update(Invitation).where(Invitation.id.in_(unsent))
                        .values(status=InvitationStatus.cancelled).execution_options(synchronize_session=False))
    return len(inserted) - len(unsent)
