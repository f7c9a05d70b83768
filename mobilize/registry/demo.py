"""The demo district: Qingdao's Shinan district, its communities, sites and teams, thousands of volunteers.

`seed_demo(session, volunteers=5000, seed=2022)` writes, on top of the reference data of the first migration
(the 11 streets, the skills, the roles):

- 3 to 6 communities per street, near the street's centre;
- 2 to 5 sites per street: at least one testing site (核酸检测点: registration, queue keeping, some data entry
  and medical support) and one intersection (路口) or station (站) with civility guides, then community patrol
  posts (patrol), more testing sites and more civility posts; the registration and queue-keeping places of all
  testing sites add up to at least `MIN_TESTING_PLACES` (the district's historical order asked for 435);
- one street officer per street, the contact of all its sites;
- regular teams (one per community at least, about one team per 250 volunteers in all) and specialised
  district teams (医疗, 心理, 应急, 翻译...);
- the volunteers: Chinese names (Qingdao's surnames weighted as they are common), unique valid mobile numbers
  in E.164, homes within ~1.5 km of their community and on land, 1 or 2 teams each, skills at realistic rates,
  ~3% who read English, ~0.5% opted out, ~0.5% without coordinates and ~2% whose home is only known to the
  community (its centre, `location_approximate`).

Deterministic: everything comes from `random.Random(seed)` and a fixed registration clock, so the same call on
an empty registry gives the same rows, names, phones and coordinates on SQLite and PostgreSQL (only database
ids may differ, when sequences were not reset).

Idempotent: the demo is only written into an empty registry (no community, site, team or volunteer).
Otherwise nothing is written and the summary says why (`status` "already_seeded" when the demo district is
there, "registry_not_empty" when other data is) and counts what is there. Nothing is updated or merged.

The caller owns the transaction (commit or roll back). Rows go in with bulk Core inserts: 5,000 volunteers
take well under a second, 100,000 a few seconds on SQLite.

The phone numbers are synthetic but valid, so some belong to real people: never send SMS to the demo data
through a real provider.

This module is the entry point and the summary; the rest lives beside it: `demo_district` (the streets'
communities and sites), `demo_teams`, `demo_volunteers`, `demo_names` (names and phones), `demo_geography`
(the shoreline, points on land) and `demo_builder` (the inserts, stage by stage).
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilize.models.registry import (
    Community,
    Site,
    SiteKind,
    SiteRole,
    Street,
    Team,
    Volunteer,
    volunteer_skills,
    volunteer_teams,
)
from mobilize.registry.demo_builder import DemoBuilder, Progress
from mobilize.registry.demo_teams import DEMO_MARKER_TEAM


@dataclass(frozen=True)
class DemoSummary:
    """What the registry holds after `seed_demo` (counted in the database, also when nothing was written)."""

    status: str  # "created", "already_seeded" (nothing written) or "registry_not_empty" (nothing written)
    message: str
    streets: int
    communities: int
    sites: dict[str, int]  # per SiteKind value
    site_roles: int
    testing_places: int  # capacity of all roles at testing sites
    teams: int
    specialised_teams: int
    volunteers: int
    opted_out: int
    without_coordinates: int
    english: int
    volunteer_skills: int  # volunteer-skill links
    memberships: int  # volunteer-team links
    officers: dict[str, tuple[str, str]] = field(default_factory=dict)  # street slug -> (name, phone)
    seconds: float = 0.0

    @property
    def created(self) -> bool:
        return self.status == "created"

    @property
    def total_sites(self) -> int:
        return sum(self.sites.values())

    def __str__(self) -> str:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.sites.items()))
        return (f"{self.message}: {self.streets} streets, {self.communities} communities, "
                f"{self.total_sites} sites ({kinds}; {self.testing_places} places at testing sites), "
                f"{self.teams} teams ({self.specialised_teams} specialised), {self.volunteers} volunteers "
                f"({self.opted_out} opted out, {self.without_coordinates} without coordinates, "
                f"{self.english} in English)")



def seed_demo(session: Session, volunteers: int = 5000, seed: int = 2022,
              progress: Progress | None = None) -> DemoSummary:
    """Build the demo district in an empty registry (see the module's docstring); the caller commits."""
    if volunteers < 0:
        raise ValueError(f"volunteers must be 0 or more, not {volunteers}")
    started = time.perf_counter()
    state = registry_state(session)
    if state == "already_seeded":
        return demo_summary(session, state, "demo district already seeded, nothing written")
    if state == "registry_not_empty":
        return demo_summary(session, state, "registry already has data (not the demo), nothing written; "
                                            "the demo is seeded into an empty registry only")
    DemoBuilder(session, random.Random(seed), progress or _no_progress).build(volunteers)
    session.flush()
    return demo_summary(session, "created", "demo district created", time.perf_counter() - started)


def registry_state(session: Session) -> str:
    """"empty", "already_seeded" or "registry_not_empty" (communities, sites, teams or volunteers exist)."""
    if session.scalar(select(Team.id).where(Team.name == DEMO_MARKER_TEAM)) is not None:
        return "already_seeded"
    for model in (Volunteer, Team, Site, Community):
        if session.scalar(select(model.id).limit(1)) is not None:
            return "registry_not_empty"
    return "empty"


def demo_summary(session: Session, status: str, message: str, seconds: float = 0.0) -> DemoSummary:
    """Counts of what the registry holds, with `status` and `message` as given."""
    def count(*where, model=Volunteer) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where))

    by_kind = session.execute(select(Site.kind, func.count()).group_by(Site.kind))
    sites = {kind.value: number for kind, number in by_kind}
    testing = select(func.coalesce(func.sum(SiteRole.capacity), 0)).join(Site).where(
        Site.kind == SiteKind.testing_site)
    return DemoSummary(
        status=status, message=message, streets=count(model=Street), communities=count(model=Community),
        sites=sites, site_roles=count(model=SiteRole), testing_places=session.scalar(testing),
        teams=count(model=Team), specialised_teams=count(Team.specialised.is_(True), model=Team),
        volunteers=count(), opted_out=count(Volunteer.opted_out_at.is_not(None)),
        without_coordinates=count(Volunteer.lat.is_(None)), english=count(Volunteer.language == "en"),
        volunteer_skills=count(model=volunteer_skills), memberships=count(model=volunteer_teams),
        officers=_officers(session), seconds=round(seconds, 3))


def _officers(session: Session) -> dict[str, tuple[str, str]]:
    rows = session.execute(select(Street.slug, Site.contact_name, Site.contact_phone).select_from(Site)
                           .join(Site.street).where(Site.contact_phone != "").order_by(Street.id, Site.id))
    officers: dict[str, tuple[str, str]] = {}
    for slug, name, phone in rows:
        officers.setdefault(slug, (name, phone))
    return officers


def _no_progress(stage: str, done: int, total: int) -> None:
    pass
