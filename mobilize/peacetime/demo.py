"""The demo roster: civility-guide posts at the demo district's intersections and stations, community patrols,
their weekly patterns, the shifts of the coming weeks (partly filled by nearby volunteers), two past weeks served
and certified, and hours carried over from before so that stars show.

`seed_roster(session, now=None, weeks=2, seed=2022)` runs after `registry.demo.seed_demo` (it needs the sites and
volunteers) and is idempotent: with any post already there it writes nothing. Deterministic for a given `now`
and seed. The caller owns the transaction.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.geo import haversine_matrix
from mobilize.domain.recurrence import local_date, occurrences
from mobilize.domain.service_time import service_hours
from mobilize.models import (
    Post,
    Role,
    ServiceKind,
    ServiceRecord,
    ServiceStatus,
    Shift,
    ShiftPattern,
    ShiftSignup,
    ShiftStatus,
    SignupStatus,
    Site,
    SiteKind,
    SiteRole,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.peacetime.codes import shift_codes
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.generation import generate_shifts

RUSH_MORNING = (time(7, 0), time(9, 0))
RUSH_EVENING = (time(17, 0), time(19, 0))
EVENING_PATROL = (time(19, 0), time(21, 0))
NIGHT_PATROL = (time(21, 30), time(0, 30))  # crosses midnight: Friday and Saturday nights
WEEKEND_PATROL = (time(9, 0), time(11, 30))
NEAR_M = 3000.0
IMPORTED_SHARE = 0.15  # volunteers with hours carried over from before this system


@dataclass(frozen=True)
class RosterSummary:
    status: str  # created, already_seeded, no_registry
    posts: int = 0
    protected_posts: int = 0
    patterns: int = 0
    shifts: int = 0
    signups: int = 0
    past_shifts: int = 0
    service_records: int = 0

    def __str__(self) -> str:
        if self.status != "created":
            return f"roster {self.status.replace('_', ' ')}, nothing written"
        return (f"roster created: {self.posts} posts ({self.protected_posts} protected), {self.patterns} patterns, "
                f"{self.shifts} upcoming shifts with {self.signups} sign-ups, {self.past_shifts} past shifts, "
                f"{self.service_records} service records")


def _plans(site: Site, roles: dict[str, int], rng: random.Random) -> list[tuple[str, str, int, bool, list]]:
    """(post name, role code, slots, protected, [(weekdays, start, end)]) for a site."""
    plans = []
    if site.kind in (SiteKind.intersection, SiteKind.station) and "civility_guide" in roles:
        slots = max(2, min(6, roles["civility_guide"]))
        station = site.kind is SiteKind.station
        rushes = [("12345", *RUSH_MORNING), ("12345", *RUSH_EVENING)]
        if station:
            rushes.append(("67", time(9, 0), time(12, 0)))
        plans.append((f"{site.name}文明引导", "civility_guide", slots, station or rng.random() < 0.34, rushes))
    if "patrol" in roles and site.kind is not SiteKind.testing_site:
        slots = max(2, min(6, roles["patrol"]))
        patterns = [("1234567", *EVENING_PATROL)]
        if site.kind is SiteKind.community_post:
            patterns += [("56", *NIGHT_PATROL), ("67", *WEEKEND_PATROL)]
        name = f"{site.name}治安巡逻" if site.kind is not SiteKind.community_post else f"{site.name}"
        plans.append((name, "patrol", slots, rng.random() < 0.25, patterns))
    return plans


def seed_roster(session: Session, now: datetime | None = None, weeks: int = 2, seed: int = 2022,
                cfg: RosterConfig | None = None, history_weeks: int = 2, fill: tuple[float, float] = (0.3, 1.0)
                ) -> RosterSummary:
    now = (now or utcnow()).replace(second=0, microsecond=0)
    cfg = cfg or RosterConfig()
    if session.scalar(select(Post.id).limit(1)) is not None:
        return RosterSummary("already_seeded")
    sites = list(session.scalars(select(Site).where(Site.kind != SiteKind.testing_site)
                                 .options(selectinload(Site.roles).selectinload(SiteRole.role)).order_by(Site.id)))
    if not sites:
        return RosterSummary("no_registry")
    rng = random.Random(seed)
    role_ids = dict(session.execute(select(Role.code, Role.id)).all())
    today = local_date(now, cfg.zone)
    history_from = today - timedelta(days=7 * history_weeks)
    posts: list[Post] = []
    for site in sites:
        roles = {sr.role.code: sr.capacity for sr in site.roles}
        for name, role, slots, protected, patterns in _plans(site, roles, rng):
            post = Post(site_id=site.id, role_id=role_ids[role], name=name[:80], slots=slots, protected=protected,
                        active=True, notes="", created_at=now)
            post.patterns = [ShiftPattern(weekdays=days, start_time=start, end_time=end, slots=None,
                                          valid_from=history_from, valid_until=None, active=True, created_at=now)
                             for days, start, end in patterns]
            session.add(post)
            posts.append(post)
    session.flush()
    generated = generate_shifts(session, now, cfg, weeks=weeks, rng=rng)
    volunteers = session.execute(select(Volunteer.id, Volunteer.lat, Volunteer.lon).where(
        Volunteer.opted_out_at.is_(None), Volunteer.phone_invalid.is_(False), Volunteer.lat.is_not(None))
        .order_by(Volunteer.id)).all()
    nearby = _nearby(sites, volunteers)
    busy: dict[int, list[tuple[datetime, datetime]]] = {}
    upcoming = list(session.scalars(select(Shift).join(Post).where(Shift.starts_at > now)
                                    .options(selectinload(Shift.post)).order_by(Shift.starts_at, Shift.id)))
    signups = _fill(session, upcoming, nearby, busy, rng, fill, now, booked=True)
    past_shifts, records = _history(session, posts, nearby, busy, rng, history_from, today, now, cfg)
    records += _imported(session, [v[0] for v in volunteers], rng, now)
    session.flush()
    return RosterSummary("created", posts=len(posts), protected_posts=sum(p.protected for p in posts),
                         patterns=sum(len(p.patterns) for p in posts), shifts=generated.created, signups=signups,
                         past_shifts=past_shifts, service_records=records)


def _nearby(sites: list[Site], volunteers) -> dict[int, list[int]]:
    """Per site: volunteer ids within NEAR_M, nearest first."""
    if not volunteers:
        return {site.id: [] for site in sites}
    ids = np.array([v[0] for v in volunteers])
    distances = haversine_matrix([s.lat for s in sites], [s.lon for s in sites], [v[1] for v in volunteers],
                                 [v[2] for v in volunteers])
    result = {}
    for row, site in enumerate(sites):
        order = np.argsort(distances[row], kind="stable")
        result[site.id] = [int(ids[i]) for i in order[:200] if distances[row, i] <= NEAR_M]
    return result


def _free(busy: dict, volunteer_id: int, start: datetime, end: datetime) -> bool:
    return all(not (s < end and e > start) for s, e in busy.get(volunteer_id, ()))


def _pick(shift: Shift, nearby: dict, busy: dict, rng: random.Random, fill: tuple[float, float]) -> list[int]:
    wanted = min(shift.capacity, round(shift.capacity * rng.uniform(*fill)))
    pool = nearby.get(shift.post.site_id, [])[:60]
    chosen = []
    for volunteer_id in rng.sample(pool, len(pool)):
        if len(chosen) >= wanted:
            break
        if _free(busy, volunteer_id, shift.starts_at, shift.ends_at):
            chosen.append(volunteer_id)
            busy.setdefault(volunteer_id, []).append((shift.starts_at, shift.ends_at))
    return chosen


def _fill(session: Session, shifts: list[Shift], nearby, busy, rng, fill, now: datetime, booked: bool) -> int:
    rows = []
    for shift in shifts:
        chosen = _pick(shift, nearby, busy, rng, fill)
        shift.filled = len(chosen)
        booked_at = min(now, shift.starts_at - timedelta(days=rng.randint(1, 6)))
        rows += [{"shift_id": shift.id, "volunteer_id": vid, "status": SignupStatus.booked, "source": "demo",
                  "created_by": "demo", "created_at": booked_at, "booked_at": booked_at} for vid in chosen]
    if rows:
        session.execute(insert(ShiftSignup), rows)
    return len(rows)


def _history(session: Session, posts: list[Post], nearby, busy, rng, first, today, now: datetime,
             cfg: RosterConfig) -> tuple[int, int]:
    """Past shifts served: completed sign-ups, records certified by the street's officer, a few no-shows."""
    plans = []
    for post in posts:
        for pattern in post.patterns:
            for occ in occurrences(pattern.weekdays, pattern.start_time, pattern.end_time, first,
                                   today - timedelta(days=1), cfg.zone):
                if occ.ends_at < now:
                    plans.append((post, pattern, occ))
    if not plans:
        return 0, 0
    codes = shift_codes(session, len(plans), rng)  # unique among themselves; ended shifts free them anyway
    shifts = [Shift(post_id=post.id, pattern_id=pattern.id, local_date=occ.local_date, starts_at=occ.starts_at,
                    ends_at=occ.ends_at, capacity=post.slots, filled=0, status=ShiftStatus.ended, code=code,
                    extra=False, created_at=occ.starts_at - timedelta(days=14))
              for (post, pattern, occ), code in zip(plans, codes)]
    session.add_all(shifts)
    session.flush()
    by_post = {p.id: p for p in posts}
    signup_rows, outcomes = [], []
    for shift in shifts:
        shift.post = by_post[shift.post_id]
        for vid in _pick(shift, nearby, busy, rng, (0.5, 1.0)):
            no_show = rng.random() < 0.04
            late = 0 if rng.random() < 0.85 else rng.randint(11, 30)
            early = rng.randint(0, 10)  # most come a few minutes early; the late ones after the grace
            arrived = shift.starts_at + timedelta(minutes=late if late else -early)
            left = shift.ends_at + timedelta(minutes=rng.randint(-15, 10))
            signup_rows.append({
                "shift_id": shift.id, "volunteer_id": vid,
                "status": SignupStatus.no_show if no_show else SignupStatus.completed, "source": "demo",
                "created_by": "demo", "created_at": shift.starts_at - timedelta(days=3),
                "booked_at": shift.starts_at - timedelta(days=3),
                "checked_in_at": None if no_show else arrived, "checked_out_at": None if no_show else left,
                "late_minutes": None if no_show or not late else late,
                "ended_at": shift.starts_at if no_show else None, "end_reason": "no_show" if no_show else None})
            outcomes.append((shift, vid, no_show, arrived, left))
            if not no_show:
                shift.filled += 1
    if not signup_rows:  # no volunteer near any post (e.g. a demo of 0 volunteers)
        return len(shifts), 0
    # (never an INSERT of an empty list: SQLAlchemy would write one row of defaults)
    session.execute(insert(ShiftSignup), signup_rows)
    signup_ids = {(sid, vid): id_ for id_, sid, vid in session.execute(
        select(ShiftSignup.id, ShiftSignup.shift_id, ShiftSignup.volunteer_id).where(
            ShiftSignup.shift_id.in_([s.id for s in shifts])))}
    officer = {s.id: s.contact_name or "officer" for s in session.scalars(select(Site))}
    record_rows = []
    for shift, vid, no_show, arrived, left in outcomes:
        if no_show:
            continue
        site = shift.post.site
        hours = service_hours(arrived, left, shift.starts_at, shift.ends_at)
        record_rows.append({
            "volunteer_id": vid, "kind": ServiceKind.shift, "signup_id": signup_ids[(shift.id, vid)],
            "street_id": site.street_id, "site_id": site.id, "description": shift.post.name[:120],
            "role": shift.post.role.name_zh, "started_at": max(arrived, shift.starts_at),
            "ended_at": min(left, shift.ends_at), "hours": hours, "certified_hours": hours,
            "status": ServiceStatus.certified, "certified_by": officer.get(site.id, "officer"),
            "certified_at": shift.ends_at + timedelta(hours=rng.randint(1, 30)), "created_at": left})
    if record_rows:
        session.execute(insert(ServiceRecord), record_rows)
    return len(shifts), len(record_rows)


def _imported(session: Session, volunteer_ids: list[int], rng: random.Random, now: datetime) -> int:
    chosen = [vid for vid in volunteer_ids if rng.random() < IMPORTED_SHARE]
    rows = [{"volunteer_id": vid, "kind": ServiceKind.imported, "description": "2019年以来累计服务时长（导入）",
             "role": "", "hours": hours, "certified_hours": hours, "status": ServiceStatus.certified,
             "certified_by": "导入 import", "certified_at": now, "created_at": now}
            for vid in chosen for hours in [round(rng.choice((rng.uniform(10, 320), rng.uniform(300, 1700))), 1)]]
    if rows:
        session.execute(insert(ServiceRecord), rows)
    return len(rows)


def roster_counts(session: Session) -> dict[str, int]:
    return {"posts": session.scalar(select(func.count()).select_from(Post)),
            "shifts": session.scalar(select(func.count()).select_from(Shift)),
            "signups": session.scalar(select(func.count()).select_from(ShiftSignup)),
            "service_records": session.scalar(select(func.count()).select_from(ServiceRecord))}
