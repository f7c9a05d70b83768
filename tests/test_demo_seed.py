"""The demo district (`mobilize.registry.demo.seed_demo`) on SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import random
import shutil
from collections import Counter, defaultdict

import phonenumbers
import pytest
from geopy.distance import distance
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilize.db import make_engine, make_session_factory, transaction
from mobilize.domain.district import STREETS
from mobilize.domain.phones import normalise_phone
from mobilize.models import (
    Community,
    Role,
    Site,
    SiteKind,
    SiteRole,
    Skill,
    Street,
    Team,
    Volunteer,
    volunteer_skills,
    volunteer_teams,
)
from mobilize.registry.demo import seed_demo
from mobilize.registry.demo_geography import on_land
from mobilize.registry.demo_teams import SPECIALISED_TEAMS

VOLUNTEERS = 3000
HISTORICAL_ORDER = 435  # volunteers the district once sent to the 11 streets' testing sites


def seed(runtime, volunteers: int = VOLUNTEERS, **kwargs):
    with runtime.transaction() as session:
        return seed_demo(session, volunteers=volunteers, **kwargs)


# ----------------------------------------------------------------------------------------------------
# Fingerprints: everything but database ids, sorted in Python (collations differ between databases)
# ----------------------------------------------------------------------------------------------------


def _links(session: Session, table, column) -> dict[int, list[str]]:
    links = defaultdict(list)
    rows = session.execute(select(table.c.volunteer_id, column).join_from(table, column.table))
    for volunteer_id, value in rows:
        links[volunteer_id].append(value)
    return links


def volunteer_tuples(session: Session) -> list[tuple]:
    skills = _links(session, volunteer_skills, Skill.code)
    teams = _links(session, volunteer_teams, Team.name)
    rows = session.execute(
        select(Volunteer, Street.slug, Community.name).join(Street, Volunteer.street_id == Street.id)
        .outerjoin(Community, Volunteer.community_id == Community.id)).all()
    return sorted(
        (v.name, v.phone, slug, community, repr(v.lat), repr(v.lon), v.location_approximate, v.language,
         v.opted_out_at and v.opted_out_at.isoformat(), v.created_at.isoformat(), tuple(sorted(skills[v.id])),
         tuple(sorted(teams[v.id])))
        for v, slug, community in rows)


def site_tuples(session: Session) -> list[tuple]:
    roles = defaultdict(list)
    for site_id, code, capacity in session.execute(
            select(SiteRole.site_id, Role.code, SiteRole.capacity).join(Role)):
        roles[site_id].append((code, capacity))
    rows = session.execute(select(Site, Street.slug, Community.name).join(Street, Site.street_id == Street.id)
                           .outerjoin(Community, Site.community_id == Community.id)).all()
    return sorted((slug, s.name, s.kind.value, s.address, repr(s.lat), repr(s.lon), s.contact_name,
                   s.contact_phone, community, tuple(sorted(roles[s.id]))) for s, slug, community in rows)


def structure_tuples(session: Session) -> list[tuple]:
    communities = session.execute(
        select(Street.slug, Community.name, Community.lat, Community.lon).join(Street))
    teams = session.execute(select(Team.name, Team.specialised, Street.slug).outerjoin(Street))
    return sorted(("community", *map(repr, row)) for row in communities) + sorted(
        ("team", *map(repr, row)) for row in teams)


def fingerprint(session: Session) -> str:
    data = repr((volunteer_tuples(session), site_tuples(session), structure_tuples(session)))
    return hashlib.sha256(data.encode()).hexdigest()


@pytest.fixture
def second_sqlite(sqlite_template, tmp_path):
    """Another fresh, migrated SQLite database, beside the one under test."""
    path = tmp_path / "second.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield make_session_factory(engine)
    engine.dispose()


# ----------------------------------------------------------------------------------------------------
# The district's structure
# ----------------------------------------------------------------------------------------------------


def test_every_street_gets_communities_and_sites(runtime):
    summary = seed(runtime)
    assert summary.status == "created" and summary.created
    with runtime.transaction() as session:
        for street in session.scalars(select(Street)):
            assert 3 <= len(street.communities) <= 6, street.name
            assert 2 <= len(street.sites) <= 5, street.name
            testing = [site for site in street.sites if site.kind is SiteKind.testing_site]
            assert testing, f"{street.name} has no testing site"
            for site in testing:
                capacities = {site_role.role.code: site_role.capacity for site_role in site.roles}
                assert capacities["registration"] > 0 and capacities["queue_keeping"] > 0, site.name
                assert site.name.endswith("核酸检测点")
            for site in street.sites:
                assert site.roles and site.address.startswith("青岛市市南区") and site.contact_name, site.name
                assert sum(site_role.capacity for site_role in site.roles) > 0


def test_sites_have_the_roles_of_their_kind(runtime):
    summary = seed(runtime)
    expected = {
        SiteKind.testing_site: {"registration", "queue_keeping", "data_entry", "medical_support"},
        SiteKind.intersection: {"civility_guide"},
        SiteKind.station: {"civility_guide", "patrol"},
        SiteKind.community_post: {"patrol"},
    }
    with runtime.transaction() as session:
        sites = session.scalars(select(Site)).all()
        for site in sites:
            assert {site_role.role.code for site_role in site.roles} <= expected[site.kind], site.name
        kinds = Counter(site.kind.value for site in sites)
    assert kinds == summary.sites
    assert summary.sites["testing_site"] >= 11
    civility_posts = summary.sites.get("intersection", 0) + summary.sites.get("station", 0)
    assert civility_posts >= 11  # one per street at least
    assert 22 <= summary.total_sites <= 55


def test_testing_sites_hold_the_historical_order(runtime):
    summary = seed(runtime)
    with runtime.transaction() as session:
        places = session.execute(
            select(Role.code, SiteRole.capacity).join(SiteRole.role).join(SiteRole.site)
            .where(Site.kind == SiteKind.testing_site)).all()
    front_desk = sum(capacity for code, capacity in places if code in ("registration", "queue_keeping"))
    assert front_desk >= HISTORICAL_ORDER
    assert summary.testing_places == sum(capacity for _, capacity in places)
    assert summary.testing_places < 1000  # a few hundred places, not thousands


def test_teams_skills_and_people(runtime):
    summary = seed(runtime)
    with runtime.transaction() as session:
        communities = session.scalars(select(Community)).all()
        teams = session.scalars(select(Team)).all()
        volunteers = session.scalars(select(Volunteer)).all()
        memberships = Counter(volunteer_id for volunteer_id, in session.execute(
            select(volunteer_teams.c.volunteer_id)))
        skill_counts = Counter(code for code, in session.execute(
            select(Skill.code).join(volunteer_skills, volunteer_skills.c.skill_id == Skill.id)))
        for volunteer in volunteers[:200]:
            assert volunteer.community.street_id == volunteer.street_id
            assert volunteer.teams[0].specialised or volunteer.teams[0].street_id == volunteer.street_id
    specialised = [team for team in teams if team.specialised]
    assert [team.name for team in specialised] == [name for name, _ in SPECIALISED_TEAMS[:len(specialised)]]
    assert len(teams) - len(specialised) >= len(communities)
    assert any(name.endswith("社区志愿服务队") and name.startswith("八大关街道") for name in (t.name for t in teams))
    assert summary.volunteers == len(volunteers) == VOLUNTEERS
    assert set(memberships.values()) <= {1, 2} and len(memberships) == VOLUNTEERS
    rates = {code: count / VOLUNTEERS for code, count in skill_counts.items()}
    assert 0.03 <= rates["medical"] <= 0.07 and 0.12 <= rates["data_entry"] <= 0.18
    assert 0.07 <= rates["first_aid"] <= 0.14 and 0.03 <= rates["english"] <= 0.09
    assert 0.015 <= summary.english / VOLUNTEERS <= 0.05
    assert 1 <= summary.opted_out <= 0.015 * VOLUNTEERS
    assert 1 <= summary.without_coordinates <= 0.015 * VOLUNTEERS
    surnames = Counter(volunteer.name[0] for volunteer in volunteers if volunteer.language == "zh")
    assert {name for name, _ in surnames.most_common(3)} == {"王", "张", "李"}  # as in Shandong
    assert all(2 <= len(volunteer.name) <= 4 for volunteer in volunteers if volunteer.language == "zh")


def test_team_count_grows_with_the_volunteers(sqlite_runtime):
    volunteers = 25_000
    summary = seed(sqlite_runtime, volunteers=volunteers)
    assert summary.teams == pytest.approx(volunteers / 250, abs=2)
    assert 4 <= summary.specialised_teams <= 13
    assert summary.memberships <= 2 * volunteers


# ----------------------------------------------------------------------------------------------------
# Phones and coordinates
# ----------------------------------------------------------------------------------------------------


def test_phones_are_unique_valid_chinese_mobiles(runtime):
    summary = seed(runtime)
    with runtime.transaction() as session:
        phones = session.scalars(select(Volunteer.phone)).all()
        contacts = set(session.scalars(select(Site.contact_phone)))
    assert len(phones) == len(set(phones)) == VOLUNTEERS
    assert contacts.isdisjoint(phones)
    assert len(contacts) == len(STREETS) == len(summary.officers)  # one street officer per street
    for phone in phones + sorted(contacts):
        assert phone.startswith("+861") and len(phone) == 14, phone
        assert normalise_phone(phone) == phone
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.number_type(number) in (phonenumbers.PhoneNumberType.MOBILE,
                                                    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def test_coordinates_stay_near_their_street_and_on_land(runtime):
    seed(runtime)
    with runtime.transaction() as session:
        centres = {street.id: (street.lat, street.lon) for street in session.scalars(select(Street))}
        homes = session.execute(select(Volunteer.street_id, Volunteer.lat, Volunteer.lon)
                                .where(Volunteer.lat.is_not(None))).all()
        places = session.execute(select(Site.street_id, Site.lat, Site.lon)).all()
        places += session.execute(select(Community.street_id, Community.lat, Community.lon)).all()
    sample = random.Random(7).sample(homes, 400) + places
    for street_id, lat, lon in sample:
        assert distance(centres[street_id], (lat, lon)).km <= 3.0, (street_id, lat, lon)
        assert on_land(lat, lon), (lat, lon)
    assert max(distance(centres[s], (lat, lon)).km for s, lat, lon in sample) > 1.0  # scattered, not stacked


# ----------------------------------------------------------------------------------------------------
# Determinism and idempotence
# ----------------------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_district_on_both_databases(runtime, second_sqlite):
    seed(runtime, volunteers=5000)
    with transaction(second_sqlite) as session:
        seed_demo(session, volunteers=5000)
    with runtime.transaction() as session:
        first_volunteers, first = volunteer_tuples(session), fingerprint(session)
    with transaction(second_sqlite) as session:
        second_volunteers, second = volunteer_tuples(session), fingerprint(session)
    assert len(first_volunteers) == 5000
    assert first_volunteers[:50] == second_volunteers[:50]
    assert first == second


def test_another_seed_gives_another_district(runtime, second_sqlite):
    seed(runtime, volunteers=500, seed=1)
    with transaction(second_sqlite) as session:
        seed_demo(session, volunteers=500, seed=2)
    with runtime.transaction() as session:
        first = {row[1] for row in volunteer_tuples(session)}
    with transaction(second_sqlite) as session:
        second = {row[1] for row in volunteer_tuples(session)}
    assert len(first & second) < 5


def test_seeding_twice_writes_nothing_the_second_time(runtime):
    first = seed(runtime)
    with runtime.transaction() as session:
        before = fingerprint(session)
    again = seed(runtime, volunteers=VOLUNTEERS * 2)
    assert again.status == "already_seeded" and not again.created
    assert "already" in str(again)
    assert (again.volunteers, again.teams, again.sites, again.communities) == (
        first.volunteers, first.teams, first.sites, first.communities)
    with runtime.transaction() as session:
        assert fingerprint(session) == before


def test_a_registry_with_other_data_is_left_alone(runtime):
    with runtime.transaction() as session:
        session.add(Team(name="某单位志愿服务队"))
    summary = seed(runtime)
    assert summary.status == "registry_not_empty"
    assert (summary.volunteers, summary.communities, summary.teams, summary.total_sites) == (0, 0, 1, 0)


def test_progress_and_bad_arguments(runtime):
    stages = []
    seed(runtime, volunteers=200, progress=lambda stage, done, total: stages.append((stage, done, total)))
    assert ("volunteers", 200, 200) in stages
    assert {stage for stage, _, _ in stages} >= {"communities", "sites", "teams", "volunteers", "memberships"}
    with runtime.transaction() as session, pytest.raises(ValueError):
        seed_demo(session, volunteers=-1)


# ----------------------------------------------------------------------------------------------------
# Tiny demos: no volunteer, or too few for every post (an INSERT of no rows wrote a row of defaults)
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("volunteers", [0, 1, 2, 7])
def test_a_tiny_demo_seeds_the_district_and_its_roster(runtime, volunteers):
    from sqlalchemy import func

    from mobilize.models import Post, ServiceRecord, ShiftSignup
    from mobilize.peacetime.demo import seed_roster

    with runtime.transaction() as session:  # as `mobilize seed demo` does: both in one transaction
        summary = seed_demo(session, volunteers=volunteers)
        roster = seed_roster(session)
    assert summary.created and summary.volunteers == volunteers and summary.total_sites >= 2 * len(STREETS)
    assert roster.status == "created" and roster.posts > 0 and roster.shifts > 0
    with runtime.transaction() as session:
        def count(model) -> int:
            return session.scalar(select(func.count()).select_from(model))

        signups, records = count(ShiftSignup), count(ServiceRecord)
        assert count(Post) == roster.posts
        assert signups == roster.signups + session.scalar(select(func.count()).select_from(ShiftSignup).where(
            ShiftSignup.source == "demo", ShiftSignup.status != "booked"))
        assert set(session.scalars(select(ShiftSignup.volunteer_id).distinct())) <= set(
            session.scalars(select(Volunteer.id)))
    if volunteers == 0:
        assert (signups, records, roster.signups, roster.service_records) == (0, 0, 0, 0)
    else:
        assert signups > 0 and roster.past_shifts > 0


def test_seed_demo_command_with_no_volunteers(sqlite_url, tmp_path):
    from click.testing import CliRunner

    from mobilize.cli import build_cli

    env = {"DATABASE_URL": sqlite_url, "MOBILIZE_INSTANCE_PATH": str(tmp_path / "instance"),
           "SMS_BACKEND": "simulator"}
    result = CliRunner().invoke(build_cli(), ["seed", "demo", "--volunteers", "0"], env=env)
    assert result.exit_code == 0, result.output
    assert "demo district created" in result.output and " 0 volunteers" in result.output
    assert "with 0 sign-ups" in result.output and "0 service records" in result.output
    assert "commander / " in result.output
