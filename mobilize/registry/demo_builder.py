"""Writes the demo district into the registry with bulk Core inserts, stage by stage: communities, sites and
their roles, teams, then volunteers with their skills and teams. The plans come from `demo_district`,
`demo_teams` and `demo_volunteers`, drawn from one seeded RNG in that order."""
from __future__ import annotations

import random
from collections.abc import Callable
from itertools import accumulate

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from mobilize.domain.district import STREETS
from mobilize.models.registry import (
    Community,
    Role,
    Site,
    SiteRole,
    Skill,
    Street,
    Team,
    Volunteer,
    volunteer_skills,
    volunteer_teams,
)
from mobilize.registry.demo_district import (
    DemoCommunity,
    DemoSite,
    plan_communities,
    plan_sites,
    top_up_testing_places,
)
from mobilize.registry.demo_names import PhoneMaker, chinese_name
from mobilize.registry.demo_teams import SPECIALISED_TEAMS, Specialised, plan_regular_teams, team_counts
from mobilize.registry.demo_volunteers import VolunteerMaker

Progress = Callable[[str, int, int], None]
"""Called as progress(stage, done, total) while seeding; stages: communities, sites, site roles, teams,
volunteers, skills, memberships (volunteers in teams)."""

INSERT_CHUNK = 5000


class DemoBuilder:
    """One build of the demo into `session`; `rng` draws everything, `progress` hears of each insert."""

    def __init__(self, session: Session, rng: random.Random, progress: Progress):
        self.session, self.rng, self.progress = session, rng, progress
        self.phone = PhoneMaker(rng)
        self.street_ids = dict(session.execute(select(Street.slug, Street.id)).all())
        self.skill_ids = dict(session.execute(select(Skill.code, Skill.id)).all())
        self.role_ids = dict(session.execute(select(Role.code, Role.id)).all())
        missing = [street.slug for street in STREETS if street.slug not in self.street_ids]
        if missing:
            raise RuntimeError(f"streets missing from the database ({', '.join(missing)}): "
                               "run `mobilize db upgrade`")
        self.volunteer = VolunteerMaker(rng, self.phone, self.skill_ids)

    def build(self, volunteers: int) -> None:
        communities = self.insert_communities()
        self.insert_sites(communities)
        specialised = self.insert_teams(communities, volunteers)
        self.insert_volunteers(communities, specialised, volunteers)

    def insert(self, table, rows: list[dict], stage: str) -> None:
        for start in range(0, len(rows), INSERT_CHUNK):
            self.session.execute(insert(table), rows[start:start + INSERT_CHUNK])
            self.progress(stage, min(start + INSERT_CHUNK, len(rows)), len(rows))

    def insert_communities(self) -> list[DemoCommunity]:
        communities = [community for street in STREETS
                       for community in plan_communities(self.rng, street, self.street_ids[street.slug])]
        self.insert(Community.__table__, [
            {"street_id": c.street_id, "name": c.name, "lat": c.lat, "lon": c.lon} for c in communities
        ], "communities")
        ids = {(street_id, name): id_ for id_, street_id, name in
               self.session.execute(select(Community.id, Community.street_id, Community.name))}
        for community in communities:
            community.id = ids[community.street_id, community.name]
        return communities

    def insert_sites(self, communities: list[DemoCommunity]) -> None:
        sites, contacts = [], {}
        for street in STREETS:
            contacts[self.street_ids[street.slug]] = (chinese_name(self.rng), self.phone())
            sites += plan_sites(self.rng, street, self.street_ids[street.slug],
                                [c for c in communities if c.street is street])
        top_up_testing_places(sites)
        self.insert(Site.__table__, [self.site_row(site, contacts) for site in sites], "sites")
        ids = {(street_id, name): id_ for id_, street_id, name in
               self.session.execute(select(Site.id, Site.street_id, Site.name))}
        self.insert(SiteRole.__table__, [
            {"site_id": ids[site.street_id, site.name], "role_id": self.role_ids[code], "capacity": capacity}
            for site in sites for code, capacity in site.roles.items()
        ], "site roles")

    @staticmethod
    def site_row(site: DemoSite, contacts: dict[int, tuple[str, str]]) -> dict:
        name, phone = contacts[site.street_id]
        return {"street_id": site.street_id, "community_id": site.community.id if site.community else None,
                "name": site.name, "kind": site.kind, "address": site.address, "lat": site.lat,
                "lon": site.lon, "contact_name": name, "contact_phone": phone}

    def insert_teams(self, communities: list[DemoCommunity], volunteers: int) -> list[Specialised]:
        """Regular teams (ids set on each community) and specialised teams, returned as (id, skill code)."""
        specialised_count, target = team_counts(volunteers)
        regular = plan_regular_teams(self.rng, communities, target)
        rows = [{"name": name, "street_id": c.street_id, "specialised": False} for c, name in regular]
        rows += [{"name": name, "street_id": None, "specialised": True}
                 for name, _ in SPECIALISED_TEAMS[:specialised_count]]
        self.insert(Team.__table__, rows, "teams")
        ids = dict(self.session.execute(select(Team.name, Team.id)).all())
        for community, name in regular:
            community.team_ids.append(ids[name])
        return [(ids[name], skill) for name, skill in SPECIALISED_TEAMS[:specialised_count]]

    def insert_volunteers(self, communities: list[DemoCommunity], specialised: list[Specialised],
                          count: int) -> None:
        cum_weights = list(accumulate(c.weight for c in communities))
        homes = self.rng.choices(communities, cum_weights=cum_weights, k=count)
        people = [self.volunteer.person(home, specialised) for home in homes]
        self.insert(Volunteer.__table__, [row for row, _, _ in people], "volunteers")
        ids = dict(self.session.execute(select(Volunteer.phone, Volunteer.id)).all())
        self.insert(volunteer_skills, [
            {"volunteer_id": ids[row["phone"]], "skill_id": self.skill_ids[code]}
            for row, skills, _ in people for code in skills
        ], "skills")
        self.insert(volunteer_teams, [
            {"volunteer_id": ids[row["phone"]], "team_id": team_id}
            for row, _, teams in people for team_id in teams
        ], "memberships")

