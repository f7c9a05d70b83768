"""The exports' tables, read from the database: an order's dispatches and arrivals, the certified hours per
volunteer over a period, a street's roster for a week. No Flask: the words (headers, names of statuses, roles
and streets in the reader's language) and the phone masking come in from the view, so a table is the same
whoever renders it, as CSV or as .xlsx (`mobilize.domain.exports`).

Read-only queries; every table is built whole before a byte is sent.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.district import street_label
from mobilize.domain.exports import Column, Table
from mobilize.models import (
    Order,
    Post,
    ServiceKind,
    ServiceRecord,
    ServiceStatus,
    Shift,
    ShiftSignup,
    SignupStatus,
    Site,
    Street,
    Volunteer,
)
from mobilize.wartime import board

# Sign-ups that are no longer on the roster: the volunteer cancelled, swapped away or was taken off.
OFF_THE_ROSTER = (SignupStatus.cancelled, SignupStatus.swapped, SignupStatus.removed)


@dataclass(frozen=True)
class Words:
    """Everything a table says in the reader's language, given by the view. `labels[kind][code]` names a code
    (kinds: assignment_status, end_reason, shift_status, signup_status, weekday); a code without a name is
    shown as it is, never dropped."""

    language: str
    headers: Mapping[str, str]
    labels: Mapping[str, Mapping[str, str]]
    yes: str

    def header(self, key: str) -> str:
        return self.headers.get(key, key)

    def label(self, kind: str, code: str | None) -> str:
        if not code:
            return ""
        return self.labels.get(kind, {}).get(code, code)

    def street(self, street) -> str:
        return street_label(street, self.language)

    def role(self, role) -> str:
        return role.name_en if self.language == "en" else role.name_zh


@dataclass(frozen=True)
class Privacy:
    """What the reader may see: `phone` turns a number into what they may read (masked for viewers), `text`
    does the same to free text that may hold one."""

    phone: Callable[[str], str]
    text: Callable[[str], str]


def _columns(words: Words, spec: tuple[tuple[str, str], ...]) -> list[Column]:
    return [Column(key, words.header(key), kind) for key, kind in spec]


# --- an order's dispatches and arrivals ---------------------------------------------------------------------

ASSIGNMENT_COLUMNS = (
    ("assignment_id", "integer"), ("volunteer", "text"), ("phone", "text"), ("street", "text"),
    ("site", "text"), ("role", "text"), ("status", "text"), ("distance_m", "integer"), ("backfill", "text"),
    ("assigned_at", "datetime"), ("dispatched_at", "datetime"), ("confirmed_at", "datetime"),
    ("arrived_at", "datetime"), ("completed_at", "datetime"), ("ended_at", "datetime"),
    ("end_reason", "text"), ("hours", "number"),
)


def order_assignments(session: Session, order: Order, words: Words, privacy: Privacy, zone: str) -> Table:
    """One row per assignment of the order: who was sent where, as what, and when each step happened."""
    rows = []
    for a in session.scalars(board.assignments_query(order.id)):
        site = a.demand.site
        rows.append((
            a.id, privacy.text(a.volunteer.name), privacy.phone(a.volunteer.phone), words.street(site.street),
            privacy.text(site.name), words.role(a.demand.role),
            words.label("assignment_status", a.status.value),
            None if a.distance_m is None else round(a.distance_m), words.yes if a.backfill else "",
            a.created_at, a.notified_at, a.confirmed_at, a.arrived_at, a.completed_at, a.ended_at,
            words.label("end_reason", a.end_reason), a.hours))
    return Table(f"#{order.reply_code} {order.id}", _columns(words, ASSIGNMENT_COLUMNS), rows, zone)


# --- certified hours per volunteer --------------------------------------------------------------------------

HOURS_COLUMNS = (
    ("volunteer_id", "integer"), ("volunteer", "text"), ("phone", "text"), ("home_street", "text"),
    ("certified_hours", "number"), ("shift_hours", "number"), ("wartime_hours", "number"),
    ("imported_hours", "number"), ("records", "integer"), ("first_service", "datetime"),
    ("last_service", "datetime"),
)


def certified_hours(session: Session, first_day: date, last_day: date, street_id: int | None, words: Words,
                    privacy: Privacy, zone: str) -> Table:
    """Per volunteer, the hours certified for service given from `first_day` to `last_day` (local dates, both
    included), by kind; with `street_id`, only the service given in that street (where the officer certified
    it). A record's moment is when the service started (imported hours without one: when they were
    certified). Most hours first."""
    start, end = _local_day_bounds(first_day, last_day, zone)
    served_at = func.coalesce(ServiceRecord.started_at, ServiceRecord.certified_at)
    statement = (select(ServiceRecord.volunteer_id, ServiceRecord.kind,
                        func.sum(ServiceRecord.certified_hours), func.count(), func.min(served_at),
                        func.max(served_at))
                 .where(ServiceRecord.status == ServiceStatus.certified, served_at >= start, served_at < end)
                 .group_by(ServiceRecord.volunteer_id, ServiceRecord.kind))
    if street_id is not None:
        statement = statement.where(ServiceRecord.street_id == street_id)
    totals: dict[int, dict] = defaultdict(lambda: {"kinds": defaultdict(float), "records": 0, "first": None,
                                                    "last": None})
    for volunteer_id, kind, hours, count, first, last in session.execute(statement):
        total = totals[volunteer_id]
        total["kinds"][ServiceKind(kind).value] += hours or 0.0
        total["records"] += count
        total["first"] = min(filter(None, (total["first"], _aware(first))), default=None)
        total["last"] = max(filter(None, (total["last"], _aware(last))), default=None)
    volunteers = _volunteers(session, list(totals))
    rows = []
    for volunteer_id, total in totals.items():
        volunteer = volunteers[volunteer_id]
        kinds = total["kinds"]
        rows.append((volunteer_id, privacy.text(volunteer.name), privacy.phone(volunteer.phone),
                     words.street(volunteer.street), round(sum(kinds.values()), 2),
                     round(kinds["shift"], 2), round(kinds["wartime"], 2), round(kinds["imported"], 2),
                     total["records"], total["first"], total["last"]))
    rows.sort(key=lambda row: (-row[4], row[0]))
    title = f"{first_day.isoformat()} ~ {last_day.isoformat()}"
    return Table(title, _columns(words, HOURS_COLUMNS), rows, zone)


def _volunteers(session: Session, ids: list[int]) -> dict[int, Volunteer]:
    found: dict[int, Volunteer] = {}
    for chunk in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        for volunteer in session.scalars(select(Volunteer).where(Volunteer.id.in_(ids[chunk:chunk + 900]))
                                         .options(selectinload(Volunteer.street))):
            found[volunteer.id] = volunteer
    return found


def _local_day_bounds(first_day: date, last_day: date, zone: str) -> tuple[datetime, datetime]:
    """[the start of first_day, the start of the day after last_day) in the district's zone, as UTC."""
    local = ZoneInfo(zone)
    utc = ZoneInfo("UTC")
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=local).astimezone(utc)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=local).astimezone(utc)
    return start, end


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo("UTC"))  # SQLite hands stored UTC back without tzinfo in aggregates


# --- a street's roster for a week ---------------------------------------------------------------------------

ROSTER_COLUMNS = (
    ("date", "date"), ("weekday", "text"), ("starts_at", "datetime"), ("ends_at", "datetime"),
    ("site", "text"), ("post", "text"), ("role", "text"), ("shift_status", "text"), ("capacity", "integer"),
    ("filled", "integer"), ("volunteer", "text"), ("phone", "text"), ("signup_status", "text"),
    ("checked_in_at", "datetime"), ("checked_out_at", "datetime"),
)


def street_roster(session: Session, street: Street, monday: date, words: Words, privacy: Privacy,
                  zone: str) -> Table:
    """The street's shifts from `monday` to the Sunday after (local dates), by start time, each with the
    people on it (one row a person; a shift nobody took yet has one row without a person, so its open places
    show).
    Cancelled shifts are listed with their status; sign-ups cancelled, swapped away or removed are not."""
    shifts = session.scalars(
        select(Shift).join(Post, Post.id == Shift.post_id).join(Site, Site.id == Post.site_id)
        .where(Site.street_id == street.id, Shift.local_date >= monday,
               Shift.local_date <= monday + timedelta(days=6))
        .options(selectinload(Shift.post).selectinload(Post.site),
                 selectinload(Shift.post).selectinload(Post.role))
        .order_by(Shift.starts_at, Site.name, Post.name, Shift.id)).all()
    people: dict[int, list[ShiftSignup]] = defaultdict(list)
    shift_ids = [shift.id for shift in shifts]
    for chunk in range(0, len(shift_ids), 900):
        for signup in session.scalars(
                select(ShiftSignup).where(ShiftSignup.shift_id.in_(shift_ids[chunk:chunk + 900]),
                                          ShiftSignup.status.not_in(OFF_THE_ROSTER))
                .options(selectinload(ShiftSignup.volunteer)).order_by(ShiftSignup.id)):
            people[signup.shift_id].append(signup)
    rows = []
    for shift in shifts:
        post = shift.post
        weekday = words.label("weekday", str(shift.local_date.isoweekday()))
        common = (shift.local_date, weekday, shift.starts_at, shift.ends_at, privacy.text(post.site.name),
                  privacy.text(post.name), words.role(post.role),
                  words.label("shift_status", shift.status.value), shift.capacity, shift.filled)
        signups = sorted(people.get(shift.id, []), key=_roster_order)
        if not signups:
            rows.append(common + ("", "", "", None, None))
        for signup in signups:
            rows.append(common + (privacy.text(signup.volunteer.name), privacy.phone(signup.volunteer.phone),
                                  words.label("signup_status", signup.status.value), signup.checked_in_at,
                                  signup.checked_out_at))
    title = f"{words.street(street)} {monday.isoformat()}"
    return Table(title, _columns(words, ROSTER_COLUMNS), rows, zone)


def _roster_order(signup: ShiftSignup) -> tuple[int, int]:
    """Those holding a place first, then the waiting list, then the others; in sign-up order."""
    rank = {SignupStatus.checked_in: 0, SignupStatus.completed: 0, SignupStatus.booked: 0,
            SignupStatus.waitlisted: 1}.get(signup.status, 2)
    return rank, signup.id

