"""What the order pages show: the orders list, an order's fill over time, a street's live board, the CSV export.
Read-only queries (no Flask); the counts themselves come from `mobilize.wartime.board`."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.order_states import RUNNING_STATES
from mobilize.models import Assignment, AssignmentStatus, Demand, Order, OrderState, Site
from mobilize.wartime import board

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
    """The running orders with places in this street: per site and role, the counts and the people."""
    running = session.scalars(select(Order).where(
        Order.state.in_(list(RUNNING_STATES)),
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


# --- CSV ---------------------------------------------------------------------------------------------------

CSV_COLUMNS = ("assignment_id", "order_id", "reply_code", "street", "site", "role", "status", "volunteer",
               "phone", "distance_m", "backfill", "assigned_at", "notified_at", "confirmed_at", "arrived_at",
               "completed_at", "ended_at", "end_reason", "hours")


def csv_rows(session: Session, order: Order, mask, street_id: int | None = None):
    """One row per assignment; `mask` turns a phone number into what the reader may see."""
    for a in session.scalars(board.assignments_query(order.id, street_id)):
        site = a.demand.site
        yield (a.id, order.id, order.reply_code, site.street.name, site.name, a.demand.role.code, a.status.value,
               a.volunteer.name, mask(a.volunteer.phone),
               "" if a.distance_m is None else round(a.distance_m), "yes" if a.backfill else "",
               *(_iso(getattr(a, key)) for key in ("created_at", "notified_at", "confirmed_at", "arrived_at",
                                                    "completed_at", "ended_at")),
               a.end_reason or "", "" if a.hours is None else a.hours)


def _iso(value: datetime | None) -> str:
    return _aware(value).isoformat(timespec="seconds") if value is not None else ""


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
