"""What the roster pages show, read from the database: a street's week by post and day, the district's week by
street, a shift with its people, the swaps waiting, volunteers to add. Reads only; every change goes through
`mobilize.peacetime` (see `roster`).

A week is Monday to Sunday of the district's local dates (`Shift.local_date`: the local date a shift starts on),
so "next week" is the same seven dates for everyone, whatever the server's zone.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from mobilize.models import (
    PLACE_HOLDING,
    Post,
    Shift,
    ShiftSignup,
    ShiftStatus,
    ShiftSwap,
    SignupStatus,
    Site,
    Street,
    SwapStatus,
    Volunteer,
)

SEARCH_LIMIT = 20


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass
class ShiftCell:
    shift: Shift
    started: bool = False  # started or over: its gap can no longer be filled
    waitlisted: int = 0
    names: list[str] = field(default_factory=list)  # those holding a place (the printed roster)

    @property
    def open(self) -> int:
        return max(0, self.shift.capacity - self.shift.filled) if self.is_gap else 0

    @property
    def is_live(self) -> bool:
        return self.shift.status is not ShiftStatus.cancelled

    @property
    def is_gap(self) -> bool:
        """An open place still worth filling (a shift that started keeps its count, but is no gap to fix)."""
        return self.is_live and not self.started and self.shift.filled < self.shift.capacity

    @property
    def state(self) -> str:
        if not self.is_live:
            return "cancelled"
        if self.started:
            return "past"
        return "gap" if self.is_gap else "full"


@dataclass
class PostRow:
    post: Post
    days: list[list[ShiftCell]]  # seven lists, Monday first


@dataclass
class Week:
    monday: date
    rows: list[PostRow]

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=offset) for offset in range(7)]

    @property
    def cells(self) -> list[ShiftCell]:
        return [cell for row in self.rows for day in row.days for cell in day]

    @property
    def totals(self) -> dict[str, int]:
        live = [cell for cell in self.cells if cell.is_live]
        return {"shifts": len(live), "places": sum(c.shift.capacity for c in live),
                "filled": sum(c.shift.filled for c in live), "gaps": sum(c.is_gap for c in live),
                "open": sum(c.open for c in live)}


def street_week(session: Session, street_id: int, monday: date, now: datetime, with_names: bool = False) -> Week:
    """The street's posts (active ones, and any with a shift that week), each with its shifts per day."""
    sunday = monday + timedelta(days=6)
    shifts = list(session.scalars(
        select(Shift).join(Post).join(Site)
        .where(Site.street_id == street_id, Shift.local_date >= monday, Shift.local_date <= sunday)
        .options(selectinload(Shift.post))
        .order_by(Shift.starts_at, Shift.id)))
    post_ids = {shift.post_id for shift in shifts}
    posts = list(session.scalars(
        select(Post).join(Site)
        .where(Site.street_id == street_id, or_(Post.active.is_(True), Post.id.in_(post_ids)))
        .options(selectinload(Post.site), selectinload(Post.role), selectinload(Post.patterns))
        .order_by(Site.name, Post.name, Post.id)))
    waiting = waitlisted(session, [shift.id for shift in shifts])
    names = holders(session, [shift.id for shift in shifts]) if with_names else {}
    by_post: dict[int, list[list[ShiftCell]]] = {post.id: [[] for _ in range(7)] for post in posts}
    for shift in shifts:
        cell = ShiftCell(shift, shift.starts_at <= now, waiting.get(shift.id, 0), names.get(shift.id, []))
        by_post[shift.post_id][(shift.local_date - monday).days].append(cell)
    return Week(monday, [PostRow(post, by_post[post.id]) for post in posts])


def waitlisted(session: Session, shift_ids: list[int]) -> dict[int, int]:
    if not shift_ids:
        return {}
    return dict(session.execute(select(ShiftSignup.shift_id, func.count()).where(
        ShiftSignup.shift_id.in_(shift_ids), ShiftSignup.status == SignupStatus.waitlisted)
        .group_by(ShiftSignup.shift_id)).all())


def holders(session: Session, shift_ids: list[int]) -> dict[int, list[str]]:
    """{shift id: the names of those holding a place}, in booking order."""
    result: dict[int, list[str]] = defaultdict(list)
    if shift_ids:
        for shift_id, name in session.execute(
                select(ShiftSignup.shift_id, Volunteer.name).join(Volunteer)
                .where(ShiftSignup.shift_id.in_(shift_ids), ShiftSignup.status.in_(PLACE_HOLDING))
                .order_by(ShiftSignup.shift_id, ShiftSignup.booked_at, ShiftSignup.id)):
            result[shift_id].append(name)
    return result


@dataclass(frozen=True)
class StreetWeek:
    street: Street
    posts: int
    protected_posts: int
    shifts: int
    places: int
    filled: int
    gaps: int  # shifts not started yet with an open place
    open: int  # their open places


def district_week(session: Session, monday: date, now: datetime) -> list[StreetWeek]:
    """Every street's week in figures (the command center's overview); gaps: of shifts not started yet."""
    sunday = monday + timedelta(days=6)
    to_come = Shift.starts_at > now
    figures = {street_id: row for street_id, *row in session.execute(
        select(Site.street_id, func.count(Shift.id), func.coalesce(func.sum(Shift.capacity), 0),
               func.coalesce(func.sum(Shift.filled), 0),
               func.coalesce(func.sum(case((to_come & (Shift.filled < Shift.capacity), 1), else_=0)), 0),
               func.coalesce(func.sum(case((to_come, Shift.capacity - Shift.filled), else_=0)), 0))
        .select_from(Shift).join(Post).join(Site)
        .where(Shift.local_date >= monday, Shift.local_date <= sunday, Shift.status != ShiftStatus.cancelled)
        .group_by(Site.street_id))}
    posts = {street_id: (total, protected) for street_id, total, protected in session.execute(
        select(Site.street_id, func.count(Post.id),
               func.coalesce(func.sum(case((Post.protected.is_(True), 1), else_=0)), 0))
        .select_from(Post).join(Site).where(Post.active.is_(True)).group_by(Site.street_id))}
    result = []
    for street in session.scalars(select(Street).order_by(Street.id)):
        shifts, places, filled, gaps, open_places = figures.get(street.id, (0, 0, 0, 0, 0))
        total, protected = posts.get(street.id, (0, 0))
        result.append(StreetWeek(street, int(total), int(protected), int(shifts), int(places), int(filled),
                                 int(gaps), int(open_places)))
    return result


# --- one shift -----------------------------------------------------------------------------------------------


@dataclass
class ShiftPeople:
    holding: list[ShiftSignup]  # booked, checked in, completed
    waitlist: list[ShiftSignup]  # in the order they are promoted
    ended: list[ShiftSignup]  # cancelled, removed, swapped, released, no-show


def shift_people(session: Session, shift_id: int) -> ShiftPeople:
    signups = list(session.scalars(select(ShiftSignup).where(ShiftSignup.shift_id == shift_id)
                                   .options(selectinload(ShiftSignup.volunteer)).order_by(ShiftSignup.id)))
    return ShiftPeople([s for s in signups if s.status.value in PLACE_HOLDING],
                       [s for s in signups if s.status is SignupStatus.waitlisted],
                       [s for s in signups if s.status.value not in PLACE_HOLDING
                        and s.status is not SignupStatus.waitlisted])


def pending_swaps(session: Session, street_id: int, shift_id: int | None = None) -> list[ShiftSwap]:
    """Proposed swaps with a side in the street (or on one shift), soonest shift first."""
    first, second = aliased(ShiftSignup), aliased(ShiftSignup)
    first_shift, second_shift = aliased(Shift), aliased(Shift)
    first_post, second_post = aliased(Post), aliased(Post)
    first_site, second_site = aliased(Site), aliased(Site)
    statement = (select(ShiftSwap)
                 .join(first, first.id == ShiftSwap.first_signup_id)
                 .join(first_shift, first_shift.id == first.shift_id)
                 .join(first_post, first_post.id == first_shift.post_id)
                 .join(first_site, first_site.id == first_post.site_id)
                 .outerjoin(second, second.id == ShiftSwap.second_signup_id)
                 .outerjoin(second_shift, second_shift.id == second.shift_id)
                 .outerjoin(second_post, second_post.id == second_shift.post_id)
                 .outerjoin(second_site, second_site.id == second_post.site_id)
                 .where(ShiftSwap.status == SwapStatus.proposed)
                 .order_by(first_shift.starts_at, ShiftSwap.id))
    if shift_id is not None:
        statement = statement.where(or_(first.shift_id == shift_id, second.shift_id == shift_id))
    else:
        second_volunteer = aliased(Volunteer)
        statement = statement.outerjoin(second_volunteer, second_volunteer.id == ShiftSwap.second_volunteer_id) \
            .where(or_(first_site.street_id == street_id, second_site.street_id == street_id,
                       (ShiftSwap.second_signup_id.is_(None)) & (second_volunteer.street_id == street_id)))
    return list(session.scalars(statement))


def find_volunteers(session: Session, text: str, street_id: int | None, exclude: set[int]) -> list[Volunteer]:
    """Volunteers whose name or phone contains `text` (of one street when given), not opted out."""
    text = text.strip()
    if not text:
        return []
    pattern = f"%{text.replace('%', '').replace('_', '')}%"
    statement = (select(Volunteer).where(or_(Volunteer.name.like(pattern), Volunteer.phone.like(pattern)),
                                         Volunteer.opted_out_at.is_(None))
                 .order_by(Volunteer.name, Volunteer.id).limit(SEARCH_LIMIT + len(exclude)))
    if street_id is not None:
        statement = statement.where(Volunteer.street_id == street_id)
    return [v for v in session.scalars(statement) if v.id not in exclude][:SEARCH_LIMIT]

