"""What the pages show of the registry and the SMS traffic (read-only queries, no Flask)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mobilize.models import InboundMessage, OutboundMessage, Site, SiteRole, Street, Volunteer

MESSAGE_LOG_SIZE = 50


@dataclass(frozen=True)
class StreetSummary:
    street: Street
    volunteers: int  # reachable: not opted out
    opted_out: int
    sites: int
    places: int  # the sites' usual capacity, all roles


def street_summaries(session: Session, street_id: int | None = None) -> list[StreetSummary]:
    statement = select(Street).order_by(Street.id)
    if street_id is not None:
        statement = statement.where(Street.id == street_id)
    streets = session.scalars(statement).all()
    volunteers = dict(session.execute(select(Volunteer.street_id, func.count()).where(
        Volunteer.opted_out_at.is_(None)).group_by(Volunteer.street_id)).all())
    opted_out = dict(session.execute(select(Volunteer.street_id, func.count()).where(
        Volunteer.opted_out_at.is_not(None)).group_by(Volunteer.street_id)).all())
    sites = dict(session.execute(select(Site.street_id, func.count()).group_by(Site.street_id)).all())
    places = dict(session.execute(select(Site.street_id, func.sum(SiteRole.capacity))
                                  .join(SiteRole, SiteRole.site_id == Site.id)
                                  .group_by(Site.street_id)).all())
    return [StreetSummary(street, volunteers.get(street.id, 0), opted_out.get(street.id, 0),
                          sites.get(street.id, 0), int(places.get(street.id) or 0)) for street in streets]


def sites_of(session: Session, street_id: int | None = None) -> list[Site]:
    """Sites with their roles, by street then name."""
    statement = (select(Site).options(selectinload(Site.roles).selectinload(SiteRole.role),
                                      selectinload(Site.street)).order_by(Site.street_id, Site.name))
    if street_id is not None:
        statement = statement.where(Site.street_id == street_id)
    return list(session.scalars(statement))


@dataclass(frozen=True)
class LogRow:
    at: datetime
    direction: str  # "in" or "out"
    phone: str  # in clear: the template masks it for roles that must not see it
    volunteer: str | None
    body: str
    kind: str  # outbound: the template's name; inbound: the parsed intent
    state: str  # outbound: delivery status; inbound: received / processed
    detail: str | None  # outbound: the error; inbound: what the conversation did


def message_log(session: Session, limit: int = MESSAGE_LOG_SIZE) -> list[LogRow]:
    """The latest SMS in and out, newest first."""
    outbound = session.scalars(select(OutboundMessage).options(selectinload(OutboundMessage.volunteer))
                               .order_by(OutboundMessage.id.desc()).limit(limit)).all()
    inbound = session.scalars(select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)).all()
    names = dict(session.execute(select(Volunteer.id, Volunteer.name).where(
        Volunteer.id.in_({m.volunteer_id for m in inbound if m.volunteer_id}))).all())
    rows = [_outbound_row(message) for message in outbound]
    rows += [_inbound_row(message, names.get(message.volunteer_id)) for message in inbound]
    rows.sort(key=lambda row: row.at, reverse=True)
    return rows[:limit]


def _outbound_row(message: OutboundMessage) -> LogRow:
    # Rows stay where they were written; the state column shows the latest delivery status.
    return LogRow(at=message.created_at, direction="out",
                  phone=message.to_phone, volunteer=message.volunteer.name if message.volunteer else None,
                  body=message.body, kind=message.kind, state=message.status.value,
                  detail=(f"{message.error_code or ''} {message.error_message or ''}".strip() or None))


def _inbound_row(message: InboundMessage, name: str | None) -> LogRow:
    # a dead letter (processing failed too often: issue 12) says so, with its error, instead of "received"
    state = "processed" if message.processed_at else ("dead" if message.dead_at else "received")
    detail = message.last_error if state == "dead" else message.outcome
    return LogRow(at=message.received_at, direction="in", phone=message.from_phone, volunteer=name,
                  body=message.body, kind=message.intent or "", state=state, detail=detail)
