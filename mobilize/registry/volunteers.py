"""The registry's volunteers, one at a time: search, edit, deactivate and reactivate (the volunteer pages).

No Flask here: the pages (and any API that wants them) pass who acts (`Actor`) and what they may see. An edit
is checked by the CSV importer's own field rules (`csv_fields.validate_row`: the same phone normalisation, street
names, skills, list separators, lengths and text cleaning), so a value the import refuses is refused here too,
with the same reason; every change is one audit event in the caller's transaction.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Select, exists, false, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.errors import DomainError
from mobilize.domain.order_states import UNDERWAY_STATES
from mobilize.domain.phones import mask_phone
from mobilize.domain.stars import check_thresholds
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Community,
    Invitation,
    InvitationStatus,
    Order,
    OutboundMessage,
    OutboundStatus,
    ServiceRecord,
    Shift,
    ShiftSignup,
    Skill,
    Street,
    Team,
    Volunteer,
    volunteer_skills,
    volunteer_teams,
)
from mobilize.models.roster import ServiceStatus, SignupStatus
from mobilize.peacetime import staffing
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.staffing import CANCELLABLE
from mobilize.registry.csv_contract import RowError
from mobilize.registry.csv_fields import RowRules, validate_row
from mobilize.wartime import board
from mobilize.wartime.audit import Actor, record
from mobilize.wartime.messages import invite_key
from mobilize.wartime.places import NOT_YET_ARRIVED

PER_PAGE = 50
# "3星", "3 stars", "★★★": a star rating written in the search box
_STARS_IN_QUERY = re.compile(r"^\s*(?:(\d)\s*(?:星|★|stars?)|(★+)|(?:星级|stars?)\s*[:：]?\s*(\d))\s*$",
                             re.IGNORECASE)
_PHONE_DIGITS = re.compile(r"^\+?[\d\s-]{3,20}$")
DEACTIVATED_REASON = "deactivated"  # a sign-up's end reason, an invitation's withdrawal
OPEN_INVITATIONS = (InvitationStatus.queued, InvitationStatus.invited, InvitationStatus.accepted)


class VolunteerError(ValueError):
    """An edit or a state change refused; `errors` name the fields (column, reason) as the importer does."""

    def __init__(self, message: str, errors: list[RowError] | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.errors = errors or []
        self.status = status

    @property
    def by_field(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for error in self.errors:
            fields.setdefault(error.column, error.reason)
        return fields


# --- search ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """What the search page asks for. `street_id` is forced to the officer's street by the caller."""

    q: str = ""
    street_id: int | None = None
    skill: str | None = None  # code
    team: str | None = None  # name, exact
    stars: int | None = None  # exactly this many stars
    state: str = "active"  # active, deactivated, opted_out, all
    may_search_phone: bool = True  # viewers never see phones, so they cannot find anyone by one


@dataclass(frozen=True)
class Found:
    volunteer: Volunteer
    hours: float  # certified
    stars: int


@dataclass(frozen=True)
class SearchPage:
    items: list[Found]
    total: int
    page: int
    pages: int
    stars_asked: int | None  # from the form or read from the query ("3星")


def stars_in_query(q: str) -> int | None:
    match = _STARS_IN_QUERY.match(q or "")
    if not match:
        return None
    digit, filled, labelled = match.groups()
    return int(digit or labelled) if (digit or labelled) else len(filled)


def certified_hours_by_volunteer():
    """Certified hours per volunteer, as a subquery (volunteer_id, hours)."""
    return (select(ServiceRecord.volunteer_id.label("volunteer_id"),
                   func.sum(ServiceRecord.certified_hours).label("hours"))
            .where(ServiceRecord.status == ServiceStatus.certified)
            .group_by(ServiceRecord.volunteer_id).subquery("certified"))


def search_statement(search: Search, thresholds: tuple[float, ...]) -> tuple[Select, int | None]:
    """The volunteers matching `search`, with their certified hours, by name; and the star rating asked for."""
    hours_table = certified_hours_by_volunteer()
    hours = func.coalesce(hours_table.c.hours, 0.0)
    statement = (select(Volunteer, hours.label("hours"))
                 .outerjoin(hours_table, hours_table.c.volunteer_id == Volunteer.id)
                 .options(selectinload(Volunteer.street), selectinload(Volunteer.community),
                          selectinload(Volunteer.teams), selectinload(Volunteer.skills)))
    if search.street_id is not None:
        statement = statement.where(Volunteer.street_id == search.street_id)
    statement = _by_state(statement, search.state)
    if search.skill:
        statement = statement.where(exists().where(volunteer_skills.c.volunteer_id == Volunteer.id,
                                                   volunteer_skills.c.skill_id == Skill.id,
                                                   Skill.code == search.skill))
    if search.team:
        statement = statement.where(exists().where(volunteer_teams.c.volunteer_id == Volunteer.id,
                                                   volunteer_teams.c.team_id == Team.id, Team.name == search.team))
    stars = search.stars
    q = (search.q or "").strip()
    if stars is None and q and stars_in_query(q) is not None:
        stars, q = stars_in_query(q), ""
    if stars is not None:
        statement = statement.where(_stars_condition(hours, stars, thresholds))
    if q:
        statement = statement.where(_text_condition(q, search.may_search_phone))
    return statement.order_by(Volunteer.name, Volunteer.id), stars


def _by_state(statement: Select, state: str) -> Select:
    if state == "active":
        return statement.where(Volunteer.deactivated_at.is_(None))
    if state == "deactivated":
        return statement.where(Volunteer.deactivated_at.is_not(None))
    if state == "opted_out":
        return statement.where(Volunteer.opted_out_at.is_not(None))
    return statement


def _stars_condition(hours, stars: int, thresholds: tuple[float, ...]):
    """Exactly `stars` stars. Stars count thresholds reached at two decimals (`mobilize.domain.stars`): a sum of
    99.995 hours shows as 100.00 and is one star, hence the half-hundredth."""
    levels = check_thresholds(thresholds)
    if stars < 0 or stars > len(levels):
        return false()
    conditions = []
    if stars > 0:
        conditions.append(hours >= levels[stars - 1] - 0.005)
    if stars < len(levels):
        conditions.append(hours < levels[stars] - 0.005)
    return conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]


def _text_condition(q: str, may_search_phone: bool):
    """Name, street, community, team or skill containing the text; the phone too, for those who see phones."""
    like = {"autoescape": True}
    street = exists().where(Street.id == Volunteer.street_id, or_(
        Street.name.contains(q, **like), Street.short_name.contains(q, **like), Street.name_en.icontains(q, **like)))
    community = exists().where(Community.id == Volunteer.community_id, Community.name.contains(q, **like))
    team = exists().where(volunteer_teams.c.volunteer_id == Volunteer.id, volunteer_teams.c.team_id == Team.id,
                          Team.name.contains(q, **like))
    skill = exists().where(volunteer_skills.c.volunteer_id == Volunteer.id, volunteer_skills.c.skill_id == Skill.id,
                           or_(Skill.code == q.lower(), Skill.name_zh.contains(q, **like),
                               Skill.name_en.icontains(q, **like)))
    conditions = [Volunteer.name.contains(q, **like), street, community, team, skill]
    if may_search_phone and looks_like_phone(q):
        digits = re.sub(r"\D", "", q)
        conditions.append(Volunteer.phone.contains(digits, **like))
    return or_(*conditions)


def looks_like_phone(q: str) -> bool:
    return bool(_PHONE_DIGITS.match(q or ""))


def search_volunteers(session: Session, search: Search, thresholds: tuple[float, ...], page: int = 1,
                      per_page: int = PER_PAGE) -> SearchPage:
    statement, stars = search_statement(search, thresholds)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.execute(statement.limit(per_page).offset((page - 1) * per_page)).all()
    levels = check_thresholds(thresholds)
    items = [Found(volunteer, round(float(hours), 2), sum(1 for t in levels if round(float(hours), 2) >= t))
             for volunteer, hours in rows]
    return SearchPage(items, total, page, pages, stars)


# --- edit ------------------------------------------------------------------------------------------------------

EDITABLE = ("name", "phone", "street", "community", "lat", "lon", "skills", "teams", "language")


def form_values(volunteer: Volunteer) -> dict[str, str]:
    """A volunteer as the edit form (and the CSV file) writes them."""
    return {
        "name": volunteer.name, "phone": volunteer.phone, "street": volunteer.street.name,
        "community": volunteer.community.name if volunteer.community else "",
        "lat": "" if volunteer.lat is None else repr(volunteer.lat),
        "lon": "" if volunteer.lon is None else repr(volunteer.lon),
        # sorted: a list just assigned is in the query's order, a loaded one in the relationship's
        "skills": ";".join(sorted(skill.code for skill in volunteer.skills)),
        "teams": ";".join(sorted(team.name for team in volunteer.teams)), "language": volunteer.language,
    }


def edit_volunteer(session: Session, volunteer_id: int, values: Mapping[str, str], *, actor: Actor,
                   now: datetime, street_id_allowed: int | None = None, default_region: str = "CN") -> list[str]:
    """Change a volunteer's registry fields; returns the names of the fields changed (audited as one event).

    `values` as the CSV file writes them (skills and teams `;`-separated). `street_id_allowed`: an officer's
    street, which the volunteer may not be moved out of. Raises VolunteerError naming every bad field; nothing
    is changed then."""
    volunteer = load(session, volunteer_id)
    rules = RowRules.from_skills(session.execute(select(Skill.code, Skill.name_zh)).all(), default_region)
    record_values = {name: str(values.get(name, "") or "") for name in EDITABLE}
    row, errors = validate_row(0, record_values, rules)
    if row is None:
        raise VolunteerError("; ".join(f"{e.column}: {e.reason}" for e in errors), errors)
    if row.lat is None:  # the form has no address column: a volunteer needs a place to be invited by distance
        raise VolunteerError("lat: required", [RowError(0, "lat", "required: the volunteer's home latitude"),
                                               RowError(0, "lon", "required: the volunteer's home longitude")])
    street = session.scalar(select(Street).where(Street.name == row.street))
    if street is None:
        raise VolunteerError(f"street {row.street!r} is not in the database",
                             [RowError(0, "street", f"street {row.street!r} is not in the database")])
    if street_id_allowed is not None and street.id != street_id_allowed:
        raise VolunteerError("officers keep volunteers in their own street",
                             [RowError(0, "street", "officers keep volunteers in their own street")], status=403)
    taken = session.scalar(select(Volunteer.id).where(Volunteer.phone == row.phone, Volunteer.id != volunteer.id))
    if taken is not None:
        raise VolunteerError(f"phone {mask_phone(row.phone)} belongs to another volunteer",
                             [RowError(0, "phone", f"{row.phone} belongs to another volunteer (#{taken})")],
                             status=409)
    before = form_values(volunteer)
    volunteer.name, volunteer.phone, volunteer.street_id = row.name, row.phone, street.id
    volunteer.street = street
    volunteer.community = _community(session, street.id, row.community) if row.community else None
    if (row.lat, row.lon) != (volunteer.lat, volunteer.lon):
        volunteer.lat, volunteer.lon, volunteer.location_approximate = row.lat, row.lon, False
    volunteer.language = row.language or "zh"
    volunteer.skills = list(session.scalars(select(Skill).where(Skill.code.in_(row.skills or ()))))
    volunteer.teams = [_team(session, name) for name in row.teams or ()]
    after = form_values(volunteer)
    changed = [name for name in EDITABLE if before[name] != after[name]]
    if changed:
        volunteer.updated_at = now
        details = {name: {"from": _audited(name, before[name]), "to": _audited(name, after[name])}
                   for name in changed}
        record(session, actor, "volunteer.updated", "volunteer", volunteer.id, now, changes=details)
    session.flush()
    return changed


def _audited(name: str, value: str) -> str:
    return mask_phone(value) if name == "phone" and value else value  # no phone in clear in the audit trail


def _community(session: Session, street_id: int, name: str) -> Community:
    """A community by name in the street; created when new, as the import does."""
    community = session.scalar(select(Community).where(Community.street_id == street_id, Community.name == name))
    if community is None:
        community = Community(street_id=street_id, name=name)
        session.add(community)
        session.flush()
    return community


def _team(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == name))
    if team is None:
        team = Team(name=name, street_id=None, specialised=False)
        session.add(team)
        session.flush()
    return team


# --- deactivate ------------------------------------------------------------------------------------------------


def load(session: Session, volunteer_id: int) -> Volunteer:
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None:
        raise VolunteerError(f"no volunteer {volunteer_id}", status=404)
    return volunteer


@dataclass(frozen=True)
class Holdings:
    """What a volunteer holds of what is coming, as deactivation sees it."""

    signups: list[ShiftSignup]  # upcoming shifts: booked or waitlisted, not started
    assignments: list[Assignment]  # active wartime places not reached yet (dispatched or confirmed)
    arrived: list[Assignment]  # on site: kept, as for an opt-out (their hours are still certified)
    invitations: list[Invitation]  # open: queued, awaiting an answer, or accepted (on standby)

    @property
    def booked(self) -> int:
        return sum(1 for signup in self.signups if signup.status is SignupStatus.booked)

    @property
    def waitlisted(self) -> int:
        return sum(1 for signup in self.signups if signup.status is SignupStatus.waitlisted)

    @property
    def anything(self) -> bool:
        return bool(self.signups or self.assignments or self.invitations)


@dataclass(frozen=True)
class Released:
    """What a deactivation ended: counts for the page and the audit."""

    shifts: int = 0  # booked places given up (the waitlist moved up)
    waitlist: int = 0  # waitlist places left
    assignments: int = 0  # wartime places released (backfilled)
    invitations: int = 0  # open invitations withdrawn
    kept_arrived: int = 0  # on site: kept


def holdings(session: Session, volunteer_id: int, now: datetime) -> Holdings:
    signups = list(session.scalars(
        select(ShiftSignup).join(Shift, Shift.id == ShiftSignup.shift_id)
        .where(ShiftSignup.volunteer_id == volunteer_id, ShiftSignup.status.in_(list(CANCELLABLE)),
               Shift.starts_at > now)
        .options(selectinload(ShiftSignup.shift)).order_by(Shift.starts_at, ShiftSignup.id)))
    active = list(session.scalars(
        select(Assignment).join(Order, Order.id == Assignment.order_id)
        .where(Assignment.volunteer_id == volunteer_id,
               Assignment.status.in_(list(NOT_YET_ARRIVED) + [AssignmentStatus.arrived]),
               Order.state.in_(list(UNDERWAY_STATES)))
        .options(selectinload(Assignment.order)).order_by(Assignment.order_id, Assignment.id)))
    invitations = list(session.scalars(
        select(Invitation).join(Order, Order.id == Invitation.order_id)
        .where(Invitation.volunteer_id == volunteer_id, Invitation.status.in_(list(OPEN_INVITATIONS)),
               Order.state.in_(list(UNDERWAY_STATES)))
        .order_by(Invitation.order_id)))
    return Holdings(signups=signups,
                    assignments=[a for a in active if a.status is not AssignmentStatus.arrived],
                    arrived=[a for a in active if a.status is AssignmentStatus.arrived],
                    invitations=invitations)


def deactivate(session: Session, volunteer_id: int, *, actor: Actor, now: datetime, cfg: RosterConfig,
               reason: str = "") -> Released:
    """Take the volunteer out of the active pool (no order, notice or backfill invites them); their history
    stays. Twice is refused (409): the first deactivation's time and reason are kept, and nothing is released.

    What they hold of what is coming is given up in the caller's transaction, through the services an officer
    would use, with their usual effects: an upcoming shift sign-up is taken off as the roster page's remove does
    (SMS; the waitlist moves up), a wartime place not reached yet is released as the board's officer release
    does (SMS; the place is backfilled), and open invitations are withdrawn. Someone already on site keeps
    their place. Reactivating restores none of it."""
    volunteer = load(session, volunteer_id)
    if volunteer.deactivated_at is not None:
        raise VolunteerError("the volunteer is already deactivated", status=409)
    reason = " ".join((reason or "").split())[:200]
    held = holdings(session, volunteer_id, now)
    # counted first: releasing changes the statuses of the rows `held` lists
    released = Released(shifts=held.booked, waitlist=held.waitlisted, assignments=len(held.assignments),
                        invitations=len(held.invitations), kept_arrived=len(held.arrived))
    try:
        # the orders first, in id order, then the shifts (whose waitlist locks other volunteers' rows): the
        # order in which matching takes its locks (its order, then volunteers), so the two never deadlock
        for assignment in held.assignments:
            board.officer_release(session, assignment, actor, now)
        for signup in held.signups:
            staffing.cancel_signup(session, signup.id, actor=actor, now=now, cfg=cfg, by_officer=True,
                                   reason=DEACTIVATED_REASON)
    except DomainError as error:  # changed meanwhile (a shift started, a place ended): the caller rolls back
        raise VolunteerError(f"could not release what the volunteer holds: {error}", status=409) from error
    for invitation in held.invitations:
        _withdraw(session, invitation, actor, now)
    volunteer.deactivated_at = now
    record(session, actor, "volunteer.deactivated", "volunteer", volunteer.id, now, reason=reason,
           released=asdict(released))
    session.flush()
    return released


def _withdraw(session: Session, invitation: Invitation, actor: Actor, now: datetime) -> None:
    """An open invitation ends: an acceptance (standby) is declined, as an opt-out declines it, so matching no
    longer draws on them; one not answered lapses (cancelled, as when recruiting stops) and its SMS, if still
    in the outbox, is never sent."""
    if invitation.status is InvitationStatus.accepted:
        invitation.status = InvitationStatus.declined
    else:
        invitation.status = InvitationStatus.cancelled
        session.execute(update(OutboundMessage)
                        .where(OutboundMessage.status == OutboundStatus.pending,
                               OutboundMessage.dedupe_key == invite_key(invitation.order_id, invitation.volunteer_id))
                        .values(status=OutboundStatus.cancelled, error_message=DEACTIVATED_REASON, status_at=now)
                        .execution_options(synchronize_session=False))
    record(session, actor, "invitation.withdrawn", "invitation", invitation.id, now,
           order_id=invitation.order_id, volunteer_id=invitation.volunteer_id, reason=DEACTIVATED_REASON)


def reactivate(session: Session, volunteer_id: int, *, actor: Actor, now: datetime) -> Volunteer:
    volunteer = load(session, volunteer_id)
    if volunteer.deactivated_at is None:
        raise VolunteerError("the volunteer is active", status=409)
    volunteer.deactivated_at = None
    record(session, actor, "volunteer.reactivated", "volunteer", volunteer.id, now)
    session.flush()
    return volunteer
