"""Small builders of registry rows for tests (the demo seed is tested on its own)."""
from __future__ import annotations

from itertools import count

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilize.models import (InboundMessage, OutboundMessage, Role, Site, SiteKind, SiteRole, Skill, Street, Team,
                             Volunteer)

_numbers = count(1)
_sids = count(1)


def street(session: Session, short_name: str = "八大关") -> Street:
    return session.scalar(select(Street).where(Street.short_name == short_name))


def site(session: Session, street_name: str = "八大关", name: str | None = None, roles: dict[str, int] | None = None,
         lat: float = 36.0525, lon: float = 120.3520) -> Site:
    row = Site(street=street(session, street_name), name=name or f"测试点{next(_numbers)}",
               kind=SiteKind.testing_site, address="太平角一路12号", lat=lat, lon=lon, contact_name="王主任",
               contact_phone="+8613905320001")
    for code, capacity in (roles or {"registration": 2, "queue_keeping": 3}).items():
        row.roles.append(SiteRole(role=session.scalar(select(Role).where(Role.code == code)), capacity=capacity))
    session.add(row)
    session.flush()
    return row


def volunteer(session: Session, street_name: str = "八大关", name: str = "张伟", phone: str | None = None,
              skills: tuple[str, ...] = (), teams: tuple[str, ...] = (), language: str = "zh",
              lat: float | None = 36.053, lon: float | None = 120.351) -> Volunteer:
    number = next(_numbers)
    row = Volunteer(name=name, phone=phone or f"+86139{number:08d}", street=street(session, street_name),
                    lat=lat, lon=lon, language=language)
    row.skills = [session.scalar(select(Skill).where(Skill.code == code)) for code in skills]
    for team_name in teams:
        team = session.scalar(select(Team).where(Team.name == team_name)) or Team(name=team_name)
        row.teams.append(team)
    session.add(row)
    session.flush()
    return row


def text(runtime, volunteer: Volunteer | str, body: str) -> str:
    """A volunteer's SMS, stored as the webhook would and processed as the worker does."""
    from workers.sms import process_inbound

    phone = volunteer if isinstance(volunteer, str) else volunteer.phone
    with runtime.transaction() as session:
        inbound = InboundMessage(message_sid=f"SM{next(_sids):032d}", from_phone=phone, to_phone="+8610690000",
                                 body=body)
        session.add(inbound)
        session.flush()
        inbound_id = inbound.id
    return process_inbound(inbound_id)


def sent(runtime, kind: str | None = None, volunteer: Volunteer | None = None) -> list[OutboundMessage]:
    with runtime.transaction() as session:
        statement = select(OutboundMessage).order_by(OutboundMessage.id)
        if kind:
            statement = statement.where(OutboundMessage.kind == kind)
        if volunteer is not None:
            statement = statement.where(OutboundMessage.volunteer_id == volunteer.id)
        return list(session.scalars(statement))
