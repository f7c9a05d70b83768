"""What the order pages show: the orders list, an order's fill over time, a street's live board,
the SMS an order's launch or ending is sending. Read-only queries (no Flask); the counts themselves come from
`mobilize.wartime.board`."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.order_states import RUNNING_STATES, UNDERWAY_STATES
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Demand,
    Invitation,
    Order,
    OrderState,
    OutboundMessage,
    OutboundStatus,
    Site,
)
from mobilize.wartime import board
from mobilize.wartime.messages import invite_key_prefix

NOT_YET_ARRIVED = {AssignmentStatus.proposed, AssignmentStatus.notified, AssignmentStatus.confirmed}
ACTIVE = NOT_YET_ARRIVED | {AssignmentStatus.arrived, AssignmentStatus.completed}


def orders(session: Session, limit: int = 50) -> list[Order]:
    """Newest first, with demands (for capacity and fill)."""
    return list(session.scalars(select(Order).options(selectinload(Order.demands))
                                .order_by(Order.id.desc()).limit(limit)))


def load_order(session: Session, order_id: int) -> Order | None:
    return session.scalar(select(Order).where(Order.id == order_id).options(
        selectinload(Order.demands).selectinload(Demand.site).selectinload(Site.street),
        selectinload(Order.demands).selectinload(Demand.role)))


# --- fill over time ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    capacity: int
    lines: dict[str, str]  # series -> SVG polyline points
    last: dict[str, int]
    start: datetime | None
    end: datetime | None


def fill_chart(session: Session, order: Order, now: datetime, width: int = 600, height: int = 160) -> Chart:
    """Places taken (assigned), confirmed and arrived since launch, as step lines under the capacity."""
    capacity = sum(demand.capacity for demand in order.demands)
    start = order.launched_at
    if start is None:
        return Chart(width, height, capacity, {}, {}, None, None)
    end = order.closed_at or order.cancelled_at or now
    rows = session.execute(select(Assignment.status, Assignment.created_at, Assignment.confirmed_at,
                                  Assignment.arrived_at, Assignment.ended_at)
                           .where(Assignment.order_id == order.id)).all()
    moments: dict[str, list[tuple[datetime, int]]] = {"assigned": [], "confirmed": [], "arrived": []}
    for status, created, confirmed, arrived, ended in rows:
        moments["assigned"].append((created, 1))
        if ended is not None and status not in ACTIVE:
            moments["assigned"].append((ended, -1))
        if confirmed is not None:
            moments["confirmed"].append((confirmed, 1))
        if arrived is not None:
            moments["arrived"].append((arrived, 1))
    span = max((end - start).total_seconds(), 1.0)
    top = max(capacity, 1)
    left, bottom = 0.0, float(height)

    def x(at: datetime) -> float:
        seconds = (_aware(at) - _aware(start)).total_seconds()
        return round(left + width * min(max(seconds / span, 0.0), 1.0), 1)

    def y(count: int) -> float:
        return round(bottom - height * min(count, top) / top, 1)

    lines, last = {}, {}
    for name, changes in moments.items():
        points, count = [(0.0, y(0))], 0
        for at, step in sorted(changes, key=lambda item: _aware(item[0])):
            points.append((x(at), y(count)))
            count += step
            points.append((x(at), y(count)))
        points.append((float(width), y(count)))
        lines[name] = " ".join(f"{px},{py}" for px, py in points)
        last[name] = count
    return Chart(width, height, capacity, lines, last, start, end)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- a street's board ----------------------------------------------------------------------------------------


@dataclass
class DemandRow:
    demand: Demand
    counts: dict
    people: list[Assignment] = field(default_factory=list)


@dataclass
class SiteBlock:
    site: Site
    demands: list[DemandRow] = field(default_factory=list)


@dataclass
class OrderBlock:
    order: Order
    totals: dict
    sites: list[SiteBlock] = field(default_factory=list)


def street_board(session: Session, street_id: int) -> list[OrderBlock]:
    """The orders under way (recruiting, or recruiting stopped while those dispatched serve) with places in this
    street: per site and role, the counts and the people."""
    running = session.scalars(select(Order).where(
        Order.state.in_(list(UNDERWAY_STATES)),
        Order.demands.any(Demand.site.has(Site.street_id == street_id))).order_by(Order.id)).all()
    blocks = []
    for order in running:
        counts = {(row["site_id"], row["role"]): row for row in board._place_rows(session, order.id, street_id)}
        people: dict[int, list[Assignment]] = defaultdict(list)
        for assignment in session.scalars(board.assignments_query(order.id, street_id)):
            people[assignment.demand_id].append(assignment)
        demands = session.scalars(select(Demand).join(Site, Site.id == Demand.site_id).where(
            Demand.order_id == order.id, Site.street_id == street_id)
            .options(selectinload(Demand.site), selectinload(Demand.role))
            .order_by(Site.name, Demand.id)).all()
        sites: dict[int, SiteBlock] = {}
        totals = dict.fromkeys(board.PLACE_FIELDS, 0)
        for demand in demands:
            row = counts.get((demand.site_id, demand.role.code)) or dict.fromkeys(board.PLACE_FIELDS, 0)
            for key in board.PLACE_FIELDS:
                totals[key] += row.get(key, 0)
            ordered = sorted(people[demand.id], key=lambda a: (a.status not in ACTIVE, a.id))
            sites.setdefault(demand.site_id, SiteBlock(demand.site)).demands.append(
                DemandRow(demand, row, ordered))
        blocks.append(OrderBlock(order, totals, list(sites.values())))
    return blocks


def is_running(order: Order) -> bool:
    return order.state in RUNNING_STATES


def is_draft(order: Order) -> bool:
    return order.state is OrderState.draft


# --- peacetime today (the roster service) --------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftRow:
    street_id: int
    street: str
    site: str
    post: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    filled: int


def shifts_today(session: Session, day, street_id: int | None = None) -> list[ShiftRow]:
    """Today's peacetime shifts (not cancelled) with their places taken, by street and start time."""
    from mobilize.models import Post, Shift, ShiftStatus, Street

    statement = (select(Street.id, Street.name, Site.name, Post.name, Shift.starts_at, Shift.ends_at,
                        Shift.capacity, Shift.filled)
                 .join(Post, Post.id == Shift.post_id).join(Site, Site.id == Post.site_id)
                 .join(Street, Street.id == Site.street_id)
                 .where(Shift.local_date == day, Shift.status != ShiftStatus.cancelled)
                 .order_by(Street.id, Shift.starts_at, Site.name))
    if street_id is not None:
        statement = statement.where(Site.street_id == street_id)
    return [ShiftRow(*row) for row in session.execute(statement)]


# --- the order's SMS going out (launch, endings) ---------------------------------------------------------------

WAITING = (OutboundStatus.pending, OutboundStatus.sending)
HANDED = (OutboundStatus.queued, OutboundStatus.sent, OutboundStatus.delivered, OutboundStatus.undelivered)
# Messages of a volunteer that are not about an order (their shifts, notices): not counted after an ending.
NOT_ORDER_KINDS = ("notice",)
NOT_ORDER_PREFIXES = ("shift_", "swap_", "open_call_")
ENDING_FIELDS = ("closed_at", "cancelled_at", "finished_at", "recruiting_stopped_at", "stopped_at")


@dataclass
class OutgoingRow:
    template: str  # the SMS template ("invitation", "thank_you"...)
    total: int = 0
    handed: int = 0  # given to the carrier (queued, sent, delivered, undelivered)
    waiting: int = 0  # in the outbox (pending, sending)
    failed: int = 0
    cancelled: int = 0  # never sent (withdrawn, opted out meanwhile)

    @property
    def to_send(self) -> int:
        return self.total - self.cancelled


@dataclass
class Outgoing:
    """What the order's last long action is sending: the invitations of every wave since launch, and the
    messages of its ending (to the order's people, since the ending). `preparing`: launched, the first wave is
    still being written by its job."""

    preparing: bool = False
    rows: list[OutgoingRow] = field(default_factory=list)
    ended_at: datetime | None = None

    @property
    def waiting(self) -> int:
        return sum(row.waiting for row in self.rows)

    @property
    def busy(self) -> bool:
        return self.preparing or self.waiting > 0


def outgoing(session: Session, order: Order) -> Outgoing:
    """From the outbox: the order's invitations by status, and after an ending its messages by template."""
    result = Outgoing(preparing=order.state is OrderState.open and order.launched_at is not None
                      and order.last_wave_at is None)
    if order.launched_at is None:
        return result
    prefix = invite_key_prefix(order.id)  # a key range: the unique index on dedupe_key serves it
    invitations = OutgoingRow("invitation")
    for status, count in session.execute(
            select(OutboundMessage.status, func.count()).where(
                OutboundMessage.dedupe_key >= prefix, OutboundMessage.dedupe_key < prefix[:-1] + ";")
            .group_by(OutboundMessage.status)):
        _add(invitations, status, count)
    if invitations.total:
        result.rows.append(invitations)
    ended = [value for value in (getattr(order, name, None) for name in ENDING_FIELDS) if value is not None]
    if ended:
        result.ended_at = max(ended)
        people = select(Invitation.volunteer_id).where(Invitation.order_id == order.id).union(
            select(Assignment.volunteer_id).where(Assignment.order_id == order.id))
        rows: dict[str, OutgoingRow] = {}
        for kind, status, count in session.execute(
                select(OutboundMessage.kind, OutboundMessage.status, func.count()).where(
                    OutboundMessage.volunteer_id.in_(people), OutboundMessage.created_at >= result.ended_at,
                    OutboundMessage.kind != "invitation", OutboundMessage.kind.not_in(NOT_ORDER_KINDS),
                    *[OutboundMessage.kind.not_like(f"{p}%") for p in NOT_ORDER_PREFIXES])
                .group_by(OutboundMessage.kind, OutboundMessage.status)):
            _add(rows.setdefault(kind, OutgoingRow(kind)), status, count)
        result.rows += sorted(rows.values(), key=lambda row: -row.total)
    return result


def _add(row: OutgoingRow, status: OutboundStatus, count: int) -> None:
    row.total += count
    if status in WAITING:
        row.waiting += count
    elif status in HANDED:
        row.handed += count
    elif status is OutboundStatus.failed:
        row.failed += count
    else:
        row.cancelled += count
