"""What the deadline pacing (`domain.pacing`) needs, read from the database (reads only).

- This order's invitations: when each reached the gateway (its outbox message's `sent_at`; one still in the
  outbox goes out after the high-priority backlog, in its place among this order's queued invitations), and how
  many answered and said yes.
- The prior: the district's past orders, per time of day and per street (`history_prior`): the invitations of
  other orders sent within `HISTORY_HOURS` of the same local time of day, to volunteers of the order's streets
  (all streets when the order has none), the most recent `HISTORY_LIMIT` of them. A query over past invitations,
  not a table of aggregates: it is always in step with what happened, needs no job to keep it up, and with the
  (order_id, status) index and the limit it reads a few thousand rows. Without `MIN_HISTORY` of them the prior is
  the commander's `expected_answer_rate` with the documented default delay (`domain.pacing`), counting as
  `pacing.PRIOR_WEIGHT` invitations; a history counts as as many invitations as it has (at most
  `HISTORY_WEIGHT_CAP`: the district changes).
- The sender: its cap (settings), the segments queued ahead of a new invitation, an invitation's size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import String, cast, func, select, text
from sqlalchemy.orm import Session

from mobilize.domain import pacing
from mobilize.domain.segments import segments as count_segments
from mobilize.domain.templates import render
from mobilize.models import (
    Invitation,
    InvitationStatus,
    Order,
    OutboundMessage,
    Priority,
    Volunteer,
)
from mobilize.models.messaging import OutboundStatus
from mobilize.wartime.messages import DEFAULT_ZONE, area_name, invitation_values, invite_key_prefix

HISTORY_HOURS = 2  # past invitations sent within this many hours of the same local time of day
HISTORY_LIMIT = 20_000  # the most recent past invitations read
MIN_HISTORY = 200  # fewer past invitations than this: the commander's expectation is the prior
HISTORY_WEIGHT_CAP = 2_000  # a history counts as at most this many invitations of evidence
# a yes -> its dispatch handed to the gateway: the match job's debounce (workers.orders.MATCH_DEBOUNCE_S), the
# matching and the dispatch's turn at the sender (high priority: within a slice); measured with the 2 s debounce,
# an upper bound when placing at once (0.5 s debounce: the pacing then plans a little early, never late)
DISPATCH_LAG_S = 4.0
DEFAULT_SEGMENTS_PER_SECOND = 100.0  # the service's default cap (config: SMS_SEGMENTS_PER_SECOND)


@dataclass(frozen=True)
class OrderInvitations:
    observed: pacing.Observed  # every invitation handed over, for learning
    pending_sent_ago_s: np.ndarray  # awaiting an answer: handed (age, s) or queued (negative: goes out in -x s)


@dataclass(frozen=True)
class Pace:
    plan: pacing.Plan
    belief: pacing.AnswerBelief
    need: pacing.Need
    projected_s: float | None  # seconds from now until 95% of the places are expected filled at this pace
    prior_source: str  # "history" or "commander"


def sender_state(session: Session, order: Order, segments_per_second: float, zone: str = DEFAULT_ZONE,
                 segments_per_invitation: float | None = None) -> tuple[pacing.Sender, float]:
    """The sender, and the high-priority segments queued (they go before any invitation). An invitation's size:
    `segments_per_invitation` when the caller has read it (`InvitationRows.mean_segments`), else
    `invitation_segments`."""
    high, everything = session.execute(select(
        func.coalesce(func.sum(OutboundMessage.segments).filter(OutboundMessage.priority == Priority.high), 0),
        func.coalesce(func.sum(OutboundMessage.segments), 0)).where(
        OutboundMessage.status == OutboundStatus.pending)).one()
    if segments_per_invitation is None:
        segments_per_invitation = invitation_segments(session, order, zone)
    sender = pacing.Sender(segments_per_second, segments_per_invitation, float(everything), DISPATCH_LAG_S)
    return sender, float(high)


def invitation_segments(session: Session, order: Order, zone: str = DEFAULT_ZONE) -> float:
    """An invitation's size: the mean of this order's so far, else each language's text weighted by how many
    reachable volunteers read it (an English invitation may take two segments where the Chinese takes one: the
    launch preview's cost must agree with the count of the very wave it sends)."""
    prefix = invite_key_prefix(order.id)
    mean = session.scalar(select(func.avg(OutboundMessage.segments)).where(
        OutboundMessage.dedupe_key >= prefix, OutboundMessage.dedupe_key < prefix + "\uffff"))
    if mean:
        return float(mean)
    readers = dict(session.execute(select(Volunteer.language, func.count()).where(
        Volunteer.opted_out_at.is_(None)).group_by(Volunteer.language)).all())
    if not readers:
        readers = {"zh": 1}
    sizes = {language: count_segments(render("invitation", language, **invitation_values(
        order, language, area_name(None, language), zone))) for language in readers}
    return sum(sizes[language] * count for language, count in readers.items()) / sum(readers.values())


@dataclass(frozen=True)
class InvitationRows:
    """This order's invitations joined with their SMS, in outbox id order (the send order), as plain arrays."""

    message: np.ndarray  # the SMS's status (its value)
    invitation: np.ndarray  # the invitation's status (its value)
    times: list  # when the SMS reached the gateway (else when it was queued), as `stored_time` reads it
    segments: np.ndarray  # the SMS's segments
    sqlite: bool

    @classmethod
    def none(cls, sqlite: bool) -> "InvitationRows":
        return cls(np.zeros(0, dtype=str), np.zeros(0, dtype=str), [], np.zeros(0, dtype=np.int64), sqlite)

    def mean_segments(self) -> float | None:
        """An invitation's size so far (what `invitation_segments` computes from the same rows); None: none yet."""
        return int(self.segments.sum()) / len(self.segments) if len(self.segments) else None


def read_invitations(session: Session, order: Order) -> InvitationRows:
    """This order's invitations as the pacing reads them on every evaluation (each answer's match, every sweep):
    plain columns (no ORM rows, no enum or datetime object per row) turned into numpy arrays, the SMS's segments
    with them (an invitation's size needs no read of its own). At district scale (15,000 invitations, thousands
    of evaluations) this read was an eighth of the drill's time (issue 15): on SQLite see `_read_sqlite`."""
    connection = session.connection()
    if session.get_bind().dialect.name == "sqlite":
        return _read_sqlite(connection, order.id)
    return read_joined(connection, order.id, sqlite=False)


def read_joined(connection, order_id: int, sqlite: bool) -> InvitationRows:
    """`read_invitations` as one join, on any database (PostgreSQL plans it well; on SQLite `_read_sqlite` gives
    the same rows faster)."""
    prefix = invite_key_prefix(order_id)
    at = func.coalesce(OutboundMessage.sent_at, OutboundMessage.created_at)
    rows = connection.execute(
        select(cast(OutboundMessage.status, String), cast(Invitation.status, String), stored_time(at, sqlite),
               OutboundMessage.segments)
        .join(Invitation, (Invitation.order_id == order_id)
              & (Invitation.volunteer_id == OutboundMessage.volunteer_id))
        .where(OutboundMessage.dedupe_key >= prefix, OutboundMessage.dedupe_key < prefix + "\uffff")
        .order_by(OutboundMessage.id)).all()
    if not rows:
        return InvitationRows.none(sqlite)
    message, invitation, times, segments = zip(*rows)
    return InvitationRows(np.array(message), np.array(invitation), list(times), np.array(segments, dtype=np.int64),
                          sqlite)


# SQLite: each table read in row order from this order's first row of it (each found by an index), each column
# handed over as one comma-separated string that numpy parses, the two paired by volunteer here. The join above
# found each SMS's invitation by an index probe and each row by a random page read, then made a Python row of
# each: twice as slow (the drill's mid-fill database, 11,500 invitations: 89 -> 42 ms of CPU, thousands of
# evaluations at district scale), and an invitation's size was another pass over the same rows. `+column` keeps
# SQLite off the index of that column (an operator on it); rows of other orders created since this order's first
# are passed over by the conditions. Every value is a number or an enum's value or a stored time: no comma.
_SQLITE_SMS = text(
    "SELECT group_concat(id), group_concat(coalesce(volunteer_id, -1)), group_concat(status), "
    "group_concat(coalesce(sent_at, created_at)), group_concat(segments) FROM outbound_messages "
    "WHERE id >= (SELECT min(id) FROM outbound_messages WHERE dedupe_key >= :low AND dedupe_key < :high) "
    "AND +dedupe_key >= :low AND +dedupe_key < :high")
_SQLITE_INVITATIONS = text(
    "SELECT group_concat(volunteer_id), group_concat(status) FROM invitations "
    "WHERE id >= (SELECT min(id) FROM invitations WHERE order_id = :order_id) AND +order_id = :order_id")


def _read_sqlite(connection, order_id: int) -> InvitationRows:
    prefix = invite_key_prefix(order_id)
    ids, volunteers, statuses, times, segments = connection.execute(
        _SQLITE_SMS, {"low": prefix, "high": prefix + "\uffff"}).one()
    invited, invitation_statuses = connection.execute(_SQLITE_INVITATIONS, {"order_id": order_id}).one()
    if ids is None or invited is None:
        return InvitationRows.none(True)
    send_order = np.argsort(_integers(ids))  # group_concat does not promise its order: sorted by id here
    volunteer = _integers(volunteers)[send_order]
    invited_ids = _integers(invited)
    by_volunteer = np.argsort(invited_ids)
    invited_ids = invited_ids[by_volunteer]
    found = np.minimum(np.searchsorted(invited_ids, volunteer), len(invited_ids) - 1)
    paired = invited_ids[found] == volunteer  # an inner join: an SMS whose volunteer is gone or has no invitation
    kept = send_order[paired]
    stored = times.split(",")
    return InvitationRows(np.array(statuses.split(","))[kept],
                          np.array(invitation_statuses.split(","))[by_volunteer][found[paired]],
                          [stored[i] for i in kept], _integers(segments)[kept], True)


def _integers(joined: str) -> np.ndarray:
    return np.array(joined.split(","), dtype=np.int64)


def order_invitations(rows: InvitationRows, now: datetime, high_backlog_segments: float, sender: pacing.Sender
                      ) -> OrderInvitations:
    """This order's invitations as the pacing sees them (see the module's docstring), from `read_invitations`."""
    if not len(rows.message):
        return OrderInvitations(pacing.Observed(np.zeros(0), 0, 0), np.zeros(0))
    kept = (rows.invitation != InvitationStatus.cancelled.value) & (rows.message != OutboundStatus.cancelled.value)
    message, invitation = rows.message[kept], rows.invitation[kept]
    times = [t for t, keep in zip(rows.times, kept) if keep]
    queued = message == OutboundStatus.pending.value  # behind the high-priority backlog, in this order's queue order
    handed = ~queued
    waiting = invitation == InvitationStatus.invited.value
    ages = ages_s(now, times, rows.sqlite)
    goes_out_in = (high_backlog_segments + np.cumsum(queued) * sender.segments_per_invitation) \
        / sender.segments_per_second
    pending = np.where(queued, -goes_out_in, ages)[waiting]
    answered = handed & ~waiting
    accepted = int((answered & (invitation == InvitationStatus.accepted.value)).sum())
    return OrderInvitations(pacing.Observed(ages[handed], int(answered.sum()), accepted), pending)


def stored_time(column, sqlite: bool):
    """A datetime column read for `ages_s`: on SQLite its stored text (numpy parses it; no datetime object per
    row), elsewhere the driver's datetimes."""
    return cast(column, String) if sqlite else column


def ages_s(now: datetime, times, sqlite: bool) -> np.ndarray:
    """Seconds from each time read by `stored_time` to `now`: the same seconds as `(now - t).total_seconds()`
    (whole microseconds over 10**6 either way), without a datetime object per row."""
    return (_as_utc_us(now) - _datetimes_us(times, sqlite)) / np.timedelta64(1, "s")


def _as_utc_us(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(timezone.utc).replace(tzinfo=None), "us")


def _datetimes_us(values, sqlite: bool) -> np.ndarray:
    """UTC datetimes as numpy microseconds: SQLite's stored text parsed by numpy, other drivers' datetimes."""
    if sqlite:  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (models._types.UTCDateTime)
        return np.array(values, dtype="datetime64[us]")
    return np.array([value.astimezone(timezone.utc).replace(tzinfo=None) for value in values], dtype="datetime64[us]")


def history_prior(session: Session, order: Order, now: datetime, zone: str = DEFAULT_ZONE
                  ) -> pacing.AnswerBelief | None:
    """The prior from past orders at this time of day in the order's streets (None: too little history)."""
    key = (cast("invite:order:", String) + cast(Invitation.order_id, String) + ":volunteer:"
           + cast(Invitation.volunteer_id, String))
    query = (select(Invitation.status, Invitation.answered_at, OutboundMessage.sent_at)
             .join(OutboundMessage, OutboundMessage.dedupe_key == key)
             .join(Volunteer, Volunteer.id == Invitation.volunteer_id)
             .where(Invitation.order_id != order.id, OutboundMessage.sent_at.is_not(None),
                    OutboundMessage.sent_at < now)
             .order_by(Invitation.id.desc()).limit(HISTORY_LIMIT))
    if order.street_ids:
        query = query.where(Volunteer.street_id.in_(list(order.street_ids)))
    local = ZoneInfo(zone)
    hour = now.astimezone(local).hour
    rows = [row for row in session.execute(query).all() if _hours_apart(row.sent_at.astimezone(local).hour, hour)
            <= HISTORY_HOURS]
    if len(rows) < MIN_HISTORY:
        return None
    answered = [row for row in rows if row.answered_at is not None]
    accepted = sum(row.status is InvitationStatus.accepted for row in answered)
    delays = np.array([max(1.0, (row.answered_at - row.sent_at).total_seconds()) for row in answered])
    if len(delays) < 10 or accepted == 0:
        return None
    yes_rate, answer_rate = accepted / len(rows), len(answered) / len(rows)
    weight = min(len(rows), HISTORY_WEIGHT_CAP)
    logs = np.log(delays)
    return pacing.AnswerBelief(yes_rate, answer_rate, float(np.exp(np.median(logs))), float(max(0.2, logs.std())),
                               math.sqrt(yes_rate * (1 - yes_rate) / (weight + 1)))


def _hours_apart(a: int, b: int) -> int:
    return min((a - b) % 24, (b - a) % 24)


def prior_for(session: Session, order: Order, now: datetime, zone: str = DEFAULT_ZONE
              ) -> tuple[pacing.AnswerBelief, float, str]:
    """The prior, how many invitations it counts as, and where it came from."""
    history = history_prior(session, order, now, zone)
    if history is not None:
        weight = history.yes_rate * (1 - history.yes_rate) / history.yes_rate_sd ** 2 - 1
        return history, weight, "history"
    return pacing.prior_belief(order.expected_answer_rate), pacing.PRIOR_WEIGHT, "commander"


def pace(session: Session, order: Order, now: datetime, places: int, short: int, audience: int,
         segments_per_second: float = DEFAULT_SEGMENTS_PER_SECOND, zone: str = DEFAULT_ZONE) -> Pace:
    """The pacing's plan for the order now: `places` in all, `short` of them neither taken nor covered by the
    standby, `audience` eligible volunteers not invited yet (an upper bound is fine: the wave takes who is)."""
    rows = read_invitations(session, order)
    sender, high = sender_state(session, order, segments_per_second, zone, rows.mean_segments())
    mine = order_invitations(rows, now, high, sender)
    prior, weight, source = prior_for(session, order, now, zone)
    belief = pacing.learn(prior, mine.observed, weight)
    need = pacing.Need.of(places, short, order.over_recruit_factor)
    deadline_in = (order.deadline - now).total_seconds()
    result = pacing.plan(deadline_in, need, mine.pending_sent_ago_s, belief, sender, audience, urgent=order.urgent)
    projected = pacing.projected_time_s(need.by_deadline, mine.pending_sent_ago_s, belief, sender,
                                        new_invitations=result.invitations)
    return Pace(result, belief, need, projected, source)


def audience_bound(session: Session, order: Order) -> int:
    """Volunteers not opted out and not invited to the order yet: at least the eligible ones left. Every volunteer
    less the opted out (their partial index: few) rather than a count of the others, which read every volunteer's
    row on every evaluation (100,000 at district scale, issue 15)."""
    volunteers, opted_out = session.execute(select(
        select(func.count()).select_from(Volunteer).scalar_subquery(),
        select(func.count()).select_from(Volunteer).where(Volunteer.opted_out_at.is_not(None)).scalar_subquery(),
    )).one()
    invited = session.scalar(select(func.count()).select_from(Invitation).where(Invitation.order_id == order.id))
    return max(0, int(volunteers) - int(opted_out) - int(invited))


TRADEOFF_FACTORS = (0.5, 1.0, 2.0)  # the launch preview: half the time to the deadline, the deadline, twice


def deadline_tradeoff(session: Session, order: Order, now: datetime, price_per_segment: float,
                      segments_per_second: float = DEFAULT_SEGMENTS_PER_SECOND, zone: str = DEFAULT_ZONE
                      ) -> dict:
    """Before launch: for the order's deadline, and for one twice as near and one twice as far, the invitations
    the pacing expects to send in all (those planned from the prior; the answers then correct them), their
    segments and cost, and whether the deadline can be met (else when 95% would be filled)."""
    places = sum(demand.capacity - demand.filled for demand in order.demands)
    sender, _high = sender_state(session, order, segments_per_second, zone)
    prior, _weight, source = prior_for(session, order, now, zone)
    audience = audience_bound(session, order)
    need = pacing.Need.of(places, places, order.over_recruit_factor)
    rows = []
    chosen_s = max(1.0, (order.deadline - now).total_seconds())
    for factor in TRADEOFF_FACTORS:
        seconds = chosen_s * factor
        result = pacing.deadline_cost(seconds, need, prior, sender, audience)
        segments = math.ceil(result.invitations * sender.segments_per_invitation)
        projected = pacing.projected_time_s(need.by_deadline, np.zeros(0), prior, sender, result.invitations)
        rows.append({"factor": factor, "needed_by": now + timedelta(seconds=seconds), "chosen": factor == 1.0,
                     "invitations": result.invitations, "segments": segments,
                     "cost": round(segments * price_per_segment, 2), "feasible": result.feasible,
                     "projected_at": None if projected is None else now + timedelta(seconds=projected)})
    return {"prior": source, "yes_rate": round(prior.yes_rate, 3), "urgent": order.urgent, "rows": rows}
