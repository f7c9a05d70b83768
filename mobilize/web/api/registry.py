"""Read endpoints for the registry: streets, sites and volunteers (paginated, filtered, street-scoped)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Float, Integer, List, Nested, String
from apiflask.validators import OneOf
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mobilize.domain.district import find_street
from mobilize.domain.phones import mask_phone
from mobilize.models import Site, SiteRole, Skill, Street, Team, Volunteer, volunteer_skills, volunteer_teams
from mobilize.web import db
from mobilize.web.api import api
from mobilize.web.api.auth import check_street, current, token_auth
from mobilize.web.api.pagination import PageQuery, paginate
from mobilize.web.errors import ApiError


class PaginationOut(Schema):
    page = Integer()
    per_page = Integer()
    total = Integer()
    pages = Integer()
    next = Integer(allow_none=True)
    prev = Integer(allow_none=True)


class StreetOut(Schema):
    id = Integer()
    name = String()
    short_name = String()
    name_en = String()
    slug = String()
    lat = Float()
    lon = Float()


class StreetPage(Schema):
    items = List(Nested(StreetOut))
    pagination = Nested(PaginationOut)


class SiteRoleOut(Schema):
    role = String(attribute="role.code")
    role_name_zh = String(attribute="role.name_zh")
    role_name_en = String(attribute="role.name_en")
    skill = String(attribute="role.skill.code", allow_none=True)
    capacity = Integer()


class SiteOut(Schema):
    id = Integer()
    name = String()
    kind = String(attribute="kind.value")
    street = String(attribute="street.name")
    street_id = Integer()
    address = String()
    lat = Float()
    lon = Float()
    contact_name = String()
    roles = List(Nested(SiteRoleOut))


class SitePage(Schema):
    items = List(Nested(SiteOut))
    pagination = Nested(PaginationOut)


class VolunteerOut(Schema):
    id = Integer()
    name = String()
    phone = String()
    street = String()
    street_id = Integer()
    community = String(allow_none=True)
    lat = Float(allow_none=True)
    lon = Float(allow_none=True)
    location_approximate = Boolean()
    language = String()
    skills = List(String())
    teams = List(String())
    opted_out = Boolean()
    provisional = Boolean()


class VolunteerPage(Schema):
    items = List(Nested(VolunteerOut))
    pagination = Nested(PaginationOut)


class StreetFilter(PageQuery):
    street = String(load_default=None, metadata={"description": "Street name (八大关街道 or 八大关) or slug."})


class VolunteerFilter(StreetFilter):
    skill = String(load_default=None, metadata={"description": "Skill code, e.g. medical."})
    team = String(load_default=None, metadata={"description": "Team name."})
    language = String(load_default=None, validate=OneOf(["zh", "en"]))


def _street_id(name: str | None) -> int | None:
    """The street named in a filter; officers are always limited to their own."""
    principal = current()
    if name is None:
        return principal.street_id if principal.is_officer else None
    info = find_street(name)
    street_id = db().scalar(select(Street.id).where(Street.name == info.name)) if info else None
    if street_id is None:
        raise ApiError(422, f"unknown street {name!r}", code="unknown_street", details={"street": name})
    check_street(street_id)
    return street_id


@api.get("/streets")
@api.auth_required(token_auth)
@api.input(PageQuery, location="query")
@api.output(StreetPage)
def list_streets(query_data):
    """The district's streets (an officer sees their own)."""
    statement = select(Street).order_by(Street.id)
    if current().is_officer:
        statement = statement.where(Street.id == current().street_id)
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": items, "pagination": pagination}


@api.get("/sites")
@api.auth_required(token_auth)
@api.input(StreetFilter, location="query")
@api.output(SitePage)
@api.doc(responses={403: "An officer asked about another street."})
def list_sites(query_data):
    """Sites with their roles and capacities, optionally of one street."""
    statement = select(Site).options(selectinload(Site.roles).selectinload(SiteRole.role),
                                     selectinload(Site.street)).order_by(Site.id)
    street_id = _street_id(query_data["street"])
    if street_id is not None:
        statement = statement.where(Site.street_id == street_id)
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": items, "pagination": pagination}


@api.get("/sites/<int:site_id>")
@api.auth_required(token_auth)
@api.output(SiteOut)
@api.doc(responses={403: "The site is in another street than the officer's."})
def get_site(site_id: int):
    site = db().get(Site, site_id)
    if site is None:
        raise ApiError(404, f"no site {site_id}")
    check_street(site.street_id)
    return site


@api.get("/volunteers")
@api.auth_required(token_auth)
@api.input(VolunteerFilter, location="query")
@api.output(VolunteerPage)
@api.doc(responses={403: "An officer asked about another street."})
def list_volunteers(query_data):
    """Volunteers, filtered by street, skill, team or language. Phones are masked for viewers."""
    statement = select(Volunteer).options(
        selectinload(Volunteer.skills), selectinload(Volunteer.teams), selectinload(Volunteer.street),
        selectinload(Volunteer.community)).order_by(Volunteer.id)
    street_id = _street_id(query_data["street"])
    if street_id is not None:
        statement = statement.where(Volunteer.street_id == street_id)
    if query_data["skill"]:
        skill_id = db().scalar(select(Skill.id).where(Skill.code == query_data["skill"]))
        if skill_id is None:
            raise ApiError(422, f"unknown skill {query_data['skill']!r}", code="unknown_skill")
        statement = statement.join(volunteer_skills).where(volunteer_skills.c.skill_id == skill_id)
    if query_data["team"]:
        team_id = db().scalar(select(Team.id).where(Team.name == query_data["team"]))
        if team_id is None:
            raise ApiError(422, f"unknown team {query_data['team']!r}", code="unknown_team")
        statement = statement.join(volunteer_teams).where(volunteer_teams.c.team_id == team_id)
    if query_data["language"]:
        statement = statement.where(Volunteer.language == query_data["language"])
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": [volunteer_view(v) for v in items], "pagination": pagination}


@api.get("/volunteers/<int:volunteer_id>")
@api.auth_required(token_auth)
@api.output(VolunteerOut)
@api.doc(responses={403: "The volunteer lives in another street than the officer's."})
def get_volunteer(volunteer_id: int):
    volunteer = db().get(Volunteer, volunteer_id)
    if volunteer is None:
        raise ApiError(404, f"no volunteer {volunteer_id}")
    check_street(volunteer.street_id)
    return volunteer_view(volunteer)


def volunteer_view(volunteer: Volunteer) -> dict:
    phone = volunteer.phone if current().sees_phone_numbers else mask_phone(volunteer.phone)
    return {
        "id": volunteer.id, "name": volunteer.name, "phone": phone, "street": volunteer.street.name,
        "street_id": volunteer.street_id, "community": volunteer.community.name if volunteer.community else None,
        "lat": volunteer.lat, "lon": volunteer.lon, "location_approximate": volunteer.location_approximate,
        "language": volunteer.language, "skills": [s.code for s in volunteer.skills],
        "teams": [t.name for t in volunteer.teams], "opted_out": volunteer.opted_out,
        "provisional": volunteer.provisional,
    }
