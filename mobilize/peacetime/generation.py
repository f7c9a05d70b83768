"""The shift generator: dated shifts from the weekly patterns, some weeks ahead. Idempotent and safe to run
concurrently: a shift is unique per (post, start), so a second run (or a concurrent one) creates nothing new.

Times are computed in the configured zone (Asia/Shanghai) by `domain.recurrence`, never in the server's zone.
Holidays (`RosterHoliday`) on a date keep the generator from creating that date's shifts; those already generated
are cancelled when the holiday is entered (`posts.add_holiday`).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.recurrence import day_bounds, local_date, occurrences
from mobilize.models import Post, RosterHoliday, Shift, ShiftPattern, ShiftStatus, Site
from mobilize.peacetime.codes import shift_codes
from mobilize.peacetime.config import RosterConfig

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class GenerationResult:
    created: int
    skipped_holidays: int
    first_date: date
    last_date: date


def holiday_applies(holiday: RosterHoliday, post: Post) -> bool:
    if holiday.post_id is not None:
        return holiday.post_id == post.id
    return holiday.street_id is None or holiday.street_id == post.site.street_id


def generate_shifts(session: Session, now: datetime, cfg: RosterConfig, *, weeks: int | None = None,
                    post_ids: list[int] | None = None, rng=None) -> GenerationResult:
    """Create the missing shifts of active patterns from now to `weeks` ahead (local dates)."""
    for attempt in range(3):
        try:
            with session.begin_nested():
                return _generate(session, now, cfg, weeks or cfg.weeks_ahead, post_ids, rng)
        except IntegrityError:
            # a concurrent run created some of the same shifts (or took a code) first: look again
            log.info("roster.generate_retry", attempt=attempt)
    return _generate(session, now, cfg, weeks or cfg.weeks_ahead, post_ids, rng)


def _generate(session: Session, now: datetime, cfg: RosterConfig, weeks: int, post_ids, rng) -> GenerationResult:
    today = local_date(now, cfg.zone)
    last = today + timedelta(days=7 * weeks - 1)
    statement = (select(ShiftPattern).join(Post).where(
        ShiftPattern.active.is_(True), Post.active.is_(True), ShiftPattern.valid_from <= last,
        (ShiftPattern.valid_until.is_(None)) | (ShiftPattern.valid_until >= today))
        .options(selectinload(ShiftPattern.post).selectinload(Post.site)).order_by(ShiftPattern.id))
    if post_ids is not None:
        statement = statement.where(ShiftPattern.post_id.in_(post_ids))
    patterns = list(session.scalars(statement))
    if not patterns:
        return GenerationResult(0, 0, today, last)
    by_post: dict[int, list[ShiftPattern]] = defaultdict(list)
    for pattern in patterns:
        by_post[pattern.post_id].append(pattern)
    window_start = day_bounds(today, cfg.zone)[0]
    existing: dict[int, set[datetime]] = defaultdict(set)
    for post_id, starts_at in session.execute(select(Shift.post_id, Shift.starts_at).where(
            Shift.post_id.in_(list(by_post)), Shift.starts_at >= window_start - timedelta(days=1))):
        existing[post_id].add(starts_at)
    holidays = list(session.scalars(select(RosterHoliday).where(RosterHoliday.on_date >= today,
                                                                RosterHoliday.on_date <= last)))
    planned: list[tuple[ShiftPattern, object]] = []
    skipped = 0
    for post_id, post_patterns in by_post.items():
        post = post_patterns[0].post
        off_days = {h.on_date for h in holidays if holiday_applies(h, post)}
        for pattern in post_patterns:
            first = max(pattern.valid_from, today)
            until = min(pattern.valid_until, last) if pattern.valid_until else last
            for occ in occurrences(pattern.weekdays, pattern.start_time, pattern.end_time, first, until, cfg.zone):
                if occ.starts_at <= now or occ.starts_at in existing[post_id]:
                    continue
                if occ.local_date in off_days:
                    skipped += 1
                    continue
                existing[post_id].add(occ.starts_at)
                planned.append((pattern, occ))
    if planned:
        codes = shift_codes(session, len(planned), rng)
        session.add_all([
            Shift(post_id=pattern.post_id, pattern_id=pattern.id, local_date=occ.local_date,
                  starts_at=occ.starts_at, ends_at=occ.ends_at, capacity=pattern.slots or pattern.post.slots,
                  filled=0, status=ShiftStatus.scheduled, code=code, extra=False, created_at=now)
            for (pattern, occ), code in zip(planned, codes)])
        session.flush()
    if planned or skipped:
        log.info("roster.generated", created=len(planned), skipped_holidays=skipped, first=str(today),
                 last=str(last))
    return GenerationResult(len(planned), skipped, today, last)


def end_past_shifts(session: Session, now: datetime, cfg: RosterConfig) -> int:
    """Shifts over for a while become `ended`: their codes are free for new shifts."""
    cutoff = now - timedelta(hours=cfg.code_free_after_h)
    return session.execute(update(Shift).where(Shift.status == ShiftStatus.scheduled, Shift.ends_at < cutoff)
                           .values(status=ShiftStatus.ended).execution_options(synchronize_session=False)).rowcount


def shifts_of_street(street_id: int):
    """A filter: shifts at the posts of one street's sites."""
    return Shift.post_id.in_(select(Post.id).join(Site).where(Site.street_id == street_id))
