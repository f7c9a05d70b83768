"""The message log (issue 17, item 2): SMS in and out, newest first, filtered by order, direction, template,
status, street and phone, a page at a time. Read-only queries, no Flask.

In and out live in two tables; a page is one UNION ALL of the two filtered id lists, ordered by time, so that
filters, ordering and paging are done by the database whatever the volume (a drill writes tens of thousands).

Which SMS belong to an order: outbound, those whose dedupe key names the order (invitations, "not needed",
"called off", "full") or one of its assignments or invitations (dispatch, confirmations, acks, thanks); inbound,
those that produced a response to the order. (An outbound SMS withdrawn before it was sent loses its key, and
with it its order: it never reached anyone.)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from mobilize.domain.templates import TEMPLATES
from mobilize.models import (
    Assignment,
    InboundMessage,
    Invitation,
    Order,
    OutboundMessage,
    OutboundStatus,
    Response,
    Street,
    Volunteer,
)

PAGE_SIZE = 50
MAX_PAGE = 10_000
DIRECTIONS = ("in", "out")
INBOUND_STATES = ("received", "processed", "dead")
OUTBOUND_STATES = tuple(status.value for status in OutboundStatus)
STATUSES = OUTBOUND_STATES + INBOUND_STATES
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{2,19}$")  # a whole number or a part of one: at least 3 digits


class BadFilter(ValueError):
    """A filter value that names nothing (the page answers 400 and says which)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LogFilters:
    order: int | None = None
    direction: str | None = None
    template: str | None = None
    status: str | None = None
    street: str | None = None  # a street's slug
    phone: str | None = None  # digits (a leading + kept), matched anywhere in the number
    page: int = 1
    volunteer: int | None = None  # one volunteer's exchange (their page): to them, and from them or their number

    def as_args(self, **changes) -> dict[str, str]:
        """The filters as URL parameters (empty ones left out), with `changes` applied (e.g. page=2)."""
        values = {"order": self.order, "direction": self.direction, "template": self.template,
                  "status": self.status, "street": self.street, "phone": self.phone, "page": self.page,
                  "volunteer": self.volunteer}
        values.update(changes)
        if values.get("page") == 1:
            values.pop("page")
        return {key: str(value) for key, value in values.items() if value not in (None, "")}

    @property
    def any(self) -> bool:
        return any((self.order, self.direction, self.template, self.status, self.street, self.phone))


def parse_filters(args, streets: set[str]) -> LogFilters:
    """URL parameters to filters; BadFilter names the first value that is not one of the known ones."""
    def text(name: str) -> str | None:
        value = (args.get(name) or "").strip()
        return value or None

    order, page = text("order"), text("page")
    if order is not None and (not order.isdecimal() or not order.isascii() or len(order) > 9 or int(order) < 1):
        raise BadFilter("order", f"order must be an order's number, not {order!r}")
    if page is not None and (not page.isdecimal() or not page.isascii() or not 1 <= int(page) <= MAX_PAGE):
        raise BadFilter("page", f"page must be a number from 1 to {MAX_PAGE}, not {page!r}")
    direction, template, status, street, phone = (text(name) for name in
                                                  ("direction", "template", "status", "street", "phone"))
    if direction is not None and direction not in DIRECTIONS:
        raise BadFilter("direction", f"direction must be in or out, not {direction!r}")
    if template is not None and template not in TEMPLATES:
        raise BadFilter("template", f"no SMS template {template!r}")
    if status is not None and status not in STATUSES:
        raise BadFilter("status", f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    if street is not None and street not in streets:
        raise BadFilter("street", f"no street {street!r}")
    if phone is not None:
        if not PHONE.match(phone):
            raise BadFilter("phone", "phone must be digits (at least 3), with an optional leading +")
        phone = re.sub(r"[ \-]", "", phone)
    return LogFilters(int(order) if order else None, direction, template, status, street, phone,
                      int(page) if page else 1)


@dataclass(frozen=True)
class MessageRow:
    id: int
    at: datetime
    direction: str  # "in" or "out"
    phone: str  # in clear: the template masks it for roles that must not see it
    volunteer: str | None
    street: Street | None  # the volunteer's street
    body: str
    template: str | None  # outbound: the template's name
    intent: str | None  # inbound: what it was read as
    state: str  # outbound: delivery status; inbound: received / processed / dead
    error_code: int | None  # outbound: the carrier's or Twilio's error
    error_message: str | None
    outcome: str | None  # inbound: what the service did with it
    dead_error: str | None  # inbound: why it was set aside


@dataclass(frozen=True)
class LogPage:
    rows: list[MessageRow]
    filters: LogFilters
    total: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.filters.page < self.pages


def log_page(session: Session, filters: LogFilters, page_size: int = PAGE_SIZE) -> LogPage:
    """One page of the log under `filters`, newest first, with the number of messages they match."""
    parts = [query for query in (_outbound_ids(session, filters), _inbound_ids(session, filters)) if query is not None]
    if not parts:
        return LogPage([], filters, 0, page_size)
    combined = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    total = session.scalar(select(func.count()).select_from(combined))
    keys = session.execute(select(combined.c.direction, combined.c.id)
                           .order_by(combined.c.at.desc(), combined.c.id.desc())
                           .limit(page_size).offset((filters.page - 1) * page_size)).all()
    return LogPage(_rows(session, keys), filters, int(total or 0), page_size)


def _street_id(session: Session, slug: str) -> int | None:
    return session.scalar(select(Street.id).where(Street.slug == slug))


def _outbound_ids(session: Session, filters: LogFilters):
    if filters.direction == "in" or (filters.status in INBOUND_STATES):
        return None
    query = select(literal("out").label("direction"), OutboundMessage.id.label("id"),
                   OutboundMessage.created_at.label("at"))
    if filters.template:
        query = query.where(OutboundMessage.kind == filters.template)
    if filters.status:
        query = query.where(OutboundMessage.status == OutboundStatus(filters.status))
    if filters.street:
        query = query.where(OutboundMessage.volunteer_id.in_(
            select(Volunteer.id).where(Volunteer.street_id == _street_id(session, filters.street))))
    if filters.phone:
        query = query.where(OutboundMessage.to_phone.contains(filters.phone, autoescape=True))
    if filters.order:
        query = query.where(outbound_of_order(filters.order))
    if filters.volunteer:
        query = query.where(OutboundMessage.volunteer_id == filters.volunteer)
    return query


def outbound_of_order(order_id: int):
    """SQL condition: the outbound SMS is about order `order_id` (see the module's docstring)."""
    key = OutboundMessage.dedupe_key
    return or_(
        key.contains(f":order:{order_id}:", autoescape=True),
        exists().where(Assignment.order_id == order_id, Assignment.volunteer_id == OutboundMessage.volunteer_id,
                       key.like(literal("%:assignment:") + cast(Assignment.id, String))),
        exists().where(Invitation.order_id == order_id, Invitation.volunteer_id == OutboundMessage.volunteer_id,
                       key.like(literal("%:invitation:") + cast(Invitation.id, String))))


def _inbound_ids(session: Session, filters: LogFilters):
    if filters.direction == "out" or filters.template or filters.status in OUTBOUND_STATES:
        return None  # inbound messages have no template and no delivery status
    query = select(literal("in").label("direction"), InboundMessage.id.label("id"),
                   InboundMessage.received_at.label("at"))
    if filters.status == "processed":
        query = query.where(InboundMessage.processed_at.is_not(None))
    elif filters.status == "dead":
        query = query.where(InboundMessage.processed_at.is_(None), InboundMessage.dead_at.is_not(None))
    elif filters.status == "received":
        query = query.where(InboundMessage.processed_at.is_(None), InboundMessage.dead_at.is_(None))
    if filters.street:
        query = query.where(InboundMessage.volunteer_id.in_(
            select(Volunteer.id).where(Volunteer.street_id == _street_id(session, filters.street))))
    if filters.phone:
        query = query.where(InboundMessage.from_phone.contains(filters.phone, autoescape=True))
    if filters.order:
        query = query.where(InboundMessage.id.in_(select(Response.inbound_message_id).where(
            Response.order_id == filters.order, Response.inbound_message_id.is_not(None))))
    if filters.volunteer:  # also what came from their number before it was matched to them
        query = query.where(or_(InboundMessage.volunteer_id == filters.volunteer, InboundMessage.from_phone == (
            select(Volunteer.phone).where(Volunteer.id == filters.volunteer).scalar_subquery())))
    return query


def _rows(session: Session, keys) -> list[MessageRow]:
    out_ids = [row_id for direction, row_id in keys if direction == "out"]
    in_ids = [row_id for direction, row_id in keys if direction == "in"]
    outbound = {m.id: m for m in session.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(out_ids)))} \
        if out_ids else {}
    inbound = {m.id: m for m in session.scalars(select(InboundMessage).where(InboundMessage.id.in_(in_ids)))} \
        if in_ids else {}
    people_ids = {m.volunteer_id for m in [*outbound.values(), *inbound.values()] if m.volunteer_id}
    people = {row.id: row for row in session.execute(select(Volunteer.id, Volunteer.name, Volunteer.street_id)
                                                     .where(Volunteer.id.in_(people_ids)))} if people_ids else {}
    streets = {street.id: street for street in session.scalars(select(Street))}
    rows = []
    for direction, row_id in keys:
        if direction == "out":
            m = outbound[row_id]
            person = people.get(m.volunteer_id)
            rows.append(MessageRow(m.id, m.created_at, "out", m.to_phone, person.name if person else None,
                                   streets.get(person.street_id) if person else None, m.body, m.kind, None,
                                   m.status.value, m.error_code, m.error_message, None, None))
        else:
            m = inbound[row_id]
            person = people.get(m.volunteer_id)
            state = "processed" if m.processed_at else ("dead" if m.dead_at else "received")
            rows.append(MessageRow(m.id, m.received_at, "in", m.from_phone, person.name if person else None,
                                   streets.get(person.street_id) if person else None, m.body, None, m.intent,
                                   state, None, None, m.outcome, m.last_error if state == "dead" else None))
    return rows


def order_exists(session: Session, order_id: int) -> bool:
    return session.get(Order, order_id) is not None


__all__ = ["BadFilter", "LogFilters", "LogPage", "MessageRow", "log_page", "order_exists", "outbound_of_order",
           "parse_filters"]
