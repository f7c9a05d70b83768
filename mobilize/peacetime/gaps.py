"""Gaps: unfilled shifts per street, the daily report, and backfill invitations to nearby volunteers.

The daily run (`run_daily`, from the periodic sweep) happens once per local date, after `gap_report_hour`: it
reports the unfilled shifts from now to the end of tomorrow, per street, stores the report (`GapReport`, unique
per date: a second run that day does nothing) and invites nearby volunteers to the shifts that are still worth
filling. `invite_backfill` is also what the coexistence with wartime orders calls when it releases a volunteer.

Backfill candidates: not opted out, a valid phone, a known home within `backfill_radius_m` of the post, not on
this shift already, not busy at that time (another shift or a live wartime assignment), not invited to this
shift before; nearest first, `backfill_per_place` per open place (at most `backfill_max_per_shift`).
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.geo import haversine_matrix
from mobilize.domain.recurrence import day_bounds, local_date
from mobilize.models import (
    LIVE_SIGNUP,
    GapReport,
    OutboundMessage,
    Post,
    Shift,
    ShiftSignup,
    ShiftStatus,
    Site,
    Street,
    Volunteer,
)
from mobilize.peacetime import messages
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.conflicts import busy_volunteers
from mobilize.peacetime.errors import Conflict
from mobilize.peacetime.staffing import load_shift
from mobilize.wartime.audit import SYSTEM, Actor, record

METRES_PER_DEGREE_LAT = 111_320.0


def unfilled(session: Session, starts_from: datetime, starts_before: datetime,
             street_id: int | None = None) -> list[Shift]:
    statement = (select(Shift).join(Post).join(Site).where(
        Shift.status == ShiftStatus.scheduled, Shift.filled < Shift.capacity, Shift.starts_at >= starts_from,
        Shift.starts_at < starts_before)
        .options(selectinload(Shift.post).selectinload(Post.site).selectinload(Site.street),
                 selectinload(Shift.post).selectinload(Post.role))
        .order_by(Site.street_id, Shift.starts_at, Shift.id))
    if street_id is not None:
        statement = statement.where(Site.street_id == street_id)
    return list(session.scalars(statement))


def report(session: Session, now: datetime, cfg: RosterConfig, *, first_day: date | None = None,
           days: int | None = None, street_id: int | None = None) -> dict:
    """Unfilled shifts per street between the start of `first_day` (not before now) and `days` days later."""
    first_day = first_day or local_date(now, cfg.zone)
    days = days or cfg.gap_report_days
    start = max(now, day_bounds(first_day, cfg.zone)[0])
    end = day_bounds(first_day + timedelta(days=days - 1), cfg.zone)[1]
    streets: dict[int, dict] = {}
    for street in session.scalars(select(Street).order_by(Street.id)):
        if street_id is None or street.id == street_id:
            streets[street.id] = {"street_id": street.id, "street": street.name, "shifts": 0, "open_places": 0,
                                  "items": []}
    for shift in unfilled(session, start, end, street_id):
        site = shift.post.site
        entry = streets[site.street_id]
        missing = shift.capacity - shift.filled
        entry["shifts"] += 1
        entry["open_places"] += missing
        entry["items"].append({
            "shift_id": shift.id, "code": shift.code, "post_id": shift.post_id, "post": shift.post.name,
            "site": site.name, "role": shift.post.role.code, "protected": shift.post.protected,
            "starts_at": shift.starts_at.isoformat(), "ends_at": shift.ends_at.isoformat(),
            "capacity": shift.capacity, "filled": shift.filled, "open": missing})
    rows = list(streets.values())
    return {"from": start.isoformat(), "until": end.isoformat(), "first_day": first_day.isoformat(), "days": days,
            "shifts": sum(r["shifts"] for r in rows), "open_places": sum(r["open_places"] for r in rows),
            "streets": rows}


def backfill_key(shift_id: int, volunteer_id: int) -> str:
    return f"roster:backfill:shift:{shift_id}:volunteer:{volunteer_id}"


def candidates(session: Session, shift: Shift, cfg: RosterConfig, limit: int,
               exclude: frozenset[int] = frozenset()) -> list[tuple[Volunteer, float]]:
    """Nearby volunteers who could take a place on the shift, nearest first, with their distance in metres
    (`exclude`: volunteers not to ask, e.g. those of the wartime order that released the place)."""
    site = shift.post.site
    radius = cfg.backfill_radius_m
    dlat = radius / METRES_PER_DEGREE_LAT
    dlon = radius / (METRES_PER_DEGREE_LAT * max(0.01, math.cos(math.radians(site.lat))))
    on_shift = select(ShiftSignup.volunteer_id).where(ShiftSignup.shift_id == shift.id,
                                                      ShiftSignup.status.in_(LIVE_SIGNUP))
    rows = session.execute(select(Volunteer.id, Volunteer.lat, Volunteer.lon).where(
        Volunteer.opted_out_at.is_(None), Volunteer.phone_invalid.is_(False), Volunteer.lat.is_not(None),
        Volunteer.deactivated_at.is_(None), Volunteer.lat.between(site.lat - dlat, site.lat + dlat),
        Volunteer.lon.between(site.lon - dlon, site.lon + dlon),
        Volunteer.id.not_in(on_shift))).all()
    if not rows:
        return []
    ids = np.array([r[0] for r in rows])
    distances = haversine_matrix([r[1] for r in rows], [r[2] for r in rows], [site.lat], [site.lon])[:, 0]
    order = np.argsort(distances, kind="stable")
    ranked = [(int(ids[i]), float(distances[i])) for i in order if distances[i] <= radius]
    chosen: list[tuple[int, float]] = []
    prefix = f"roster:backfill:shift:{shift.id}:volunteer:"
    invited = {int(key.rsplit(":", 1)[1]) for key in session.scalars(
        select(OutboundMessage.dedupe_key).where(OutboundMessage.dedupe_key.startswith(prefix)))}
    # look at a few more than needed at a time: some are busy
    for start in range(0, len(ranked), max(50, limit * 4)):
        batch = [(vid, d) for vid, d in ranked[start:start + max(50, limit * 4)]
                 if vid not in invited and vid not in exclude]
        busy = busy_volunteers(session, [vid for vid, _ in batch], shift.starts_at, shift.ends_at)
        chosen += [(vid, d) for vid, d in batch if vid not in busy]
        if len(chosen) >= limit:
            break
    chosen = chosen[:limit]
    volunteers = {v.id: v for v in session.scalars(select(Volunteer).where(Volunteer.id.in_([c[0] for c in chosen])))}
    return [(volunteers[vid], distance) for vid, distance in chosen]


def invite_backfill(session: Session, shift: Shift, now: datetime, cfg: RosterConfig,
                    limit: int | None = None, exclude: frozenset[int] = frozenset()) -> int:
    """Invite nearby free volunteers to the shift's open places by SMS (bulk, quiet hours respected). Returns
    how many were invited (queued)."""
    if shift.status is not ShiftStatus.scheduled or shift.starts_at - now < timedelta(hours=cfg.backfill_min_lead_h):
        return 0
    open_places = shift.capacity - shift.filled
    if open_places <= 0:
        return 0
    wanted = limit if limit is not None else min(cfg.backfill_max_per_shift, open_places * cfg.backfill_per_place)
    sent = 0
    for volunteer, _distance in candidates(session, shift, cfg, wanted, frozenset(exclude)):
        values = messages.shift_values(shift, volunteer.language, cfg.zone)
        message = messages.send_notice(session, cfg, volunteer, "shift_backfill", now,
                                       dedupe_key=backfill_key(shift.id, volunteer.id), open=open_places,
                                       useful_until=shift.starts_at - timedelta(hours=cfg.backfill_min_lead_h),
                                       **values)
        sent += message is not None
    return sent


def backfill_shift(session: Session, shift_id: int, *, actor: Actor, now: datetime, cfg: RosterConfig) -> int:
    """An officer asks for backfill of one shift now (the roster page, after its preview): the same invitations
    as the daily run's, nearest free volunteers first. Refused (Conflict) when there is nothing worth inviting to,
    rather than silently sending nothing: not open, full, or starting within `backfill_min_lead_h`.
    Returns how many were invited; audited."""
    shift = load_shift(session, shift_id)
    if shift.status is not ShiftStatus.scheduled:
        raise Conflict(f"shift {shift.code} is {shift.status.value}", code="shift_not_open",
                       details={"shift_id": shift_id, "status": shift.status.value})
    if shift.filled >= shift.capacity:
        raise Conflict(f"shift {shift.code} is full: nothing to backfill", code="shift_full",
                       details={"shift_id": shift_id, "capacity": shift.capacity})
    if shift.starts_at - now < timedelta(hours=cfg.backfill_min_lead_h):
        raise Conflict(f"shift {shift.code} starts within {cfg.backfill_min_lead_h} h: too late to invite by SMS",
                       code="too_late_to_backfill",
                       details={"shift_id": shift_id, "starts_at": shift.starts_at.isoformat()})
    invited = invite_backfill(session, shift, now, cfg)
    record(session, actor, "shift.backfill_requested", "shift", shift.id, now, open=shift.capacity - shift.filled,
           invited=invited)
    return invited


def run_daily(session: Session, now: datetime, cfg: RosterConfig, force: bool = False) -> GapReport | None:
    """Once per local date, after `gap_report_hour` (or at once with `force`): report and backfill."""
    today = local_date(now, cfg.zone)
    local_hour = (now - day_bounds(today, cfg.zone)[0]).total_seconds() / 3600
    if not force and local_hour < cfg.gap_report_hour:
        return None
    if session.scalar(select(GapReport.id).where(GapReport.report_date == today)) is not None:
        return None
    content = report(session, now, cfg, first_day=today)
    gap = GapReport(report_date=today, created_at=now, shifts=content["shifts"], open_places=content["open_places"],
                    invitations=0, streets=content["streets"])
    try:
        with session.begin_nested():
            session.add(gap)
            session.flush()
    except IntegrityError:
        return None  # another worker reported today
    invitations = 0
    by_id = {shift.id: shift for shift in unfilled(session, now, datetime.fromisoformat(content["until"]))}
    for street in content["streets"]:
        for item in street["items"]:
            shift = by_id.get(item["shift_id"])
            if shift is not None:
                count = invite_backfill(session, shift, now, cfg)
                item["invited"] = count
                invitations += count
    gap.invitations = invitations
    gap.streets = [dict(street) for street in content["streets"]]  # a new list: the JSON column sees the change
    record(session, SYSTEM, "roster.gap_report", "roster_gap_report", gap.id, now, report_date=str(today),
           shifts=gap.shifts, open_places=gap.open_places, invitations=invitations)
    return gap


def open_places_by_street(session: Session, now: datetime, until: datetime) -> dict[int, int]:
    rows = session.execute(select(Site.street_id, func.sum(Shift.capacity - Shift.filled)).select_from(Shift)
                           .join(Post).join(Site).where(Shift.status == ShiftStatus.scheduled,
                                                        Shift.starts_at >= now, Shift.starts_at < until)
                           .group_by(Site.street_id))
    return {street_id: int(total or 0) for street_id, total in rows}

