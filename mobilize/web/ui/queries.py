"""What the pages show of the registry and the SMS traffic (read-only queries, no Flask)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mobilize.models import Site, SiteRole, Street, Volunteer


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
