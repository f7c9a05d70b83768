"""Who may be invited to an order, who may not and why, and what inviting them costs.

Built for the whole registry at once (100,000 volunteers): one query for the candidate columns, a few small
queries (skills that demands require, this order's invitations, recent assignments), then numpy. Distances and
costs are those of matching (`domain.matching.pair_costs`: haversine, other-street penalty, skill and provisional
rules; `pool_pair_costs` computes the same column-wise), per distinct site rule rather than per demand, in chunks
to bound memory.
"""
from __future__ import annotations

import math
import weakref
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import numpy as np
from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from mobilize.domain.geo import haversine_matrix
from mobilize.domain.matching import MatchWeights, Slot, wave_size
from mobilize.domain.segments import count_segments
from mobilize.domain.templates import render
from mobilize.models import (
    Assignment,
    Demand,
    Invitation,
    Order,
    Site,
    Skill,
    Street,
    Volunteer,
    volunteer_skills,
)
from mobilize.wartime.messages import DEFAULT_ZONE, area_name, invitation_values
from mobilize.wartime.places import ACTIVE

# Exclusion reasons, in the order they are checked: a volunteer is counted under the first that applies.
REASONS = ("opted_out", "phone_invalid", "already_invited", "wrong_street", "language", "resting",
           "busy_protected_post", "busy_peacetime_shift",  # issue 5: peacetime coexistence (see below)
           "no_coordinates", "missing_skill", "too_far")
ELIGIBLE = -1
WEIGHTS = MatchWeights()  # waves rank volunteers exactly as matching prices them
PAIRS_PER_CHUNK = 2_000_000  # volunteer x site-rule pairs per numpy step (~16 MB per matrix)


@dataclass(frozen=True)
class Pool:
    """The registry's candidate columns, one array per column, in volunteer id order."""

    ids: np.ndarray
    street_ids: np.ndarray
    lat: np.ndarray  # nan: no coordinates
    lon: np.ndarray
    language: np.ndarray
    opted_out: np.ndarray
    phone_invalid: np.ndarray
    provisional: np.ndarray


@dataclass(frozen=True)
class RuleChoice:
    """One (site, rule) of the order with its open places, and its nearest eligible candidates, nearest first."""

    rule: Slot
    positions: np.ndarray  # into the pool arrays; at most the `keep` asked of `evaluate`


@dataclass(frozen=True)
class Audience:
    pool: Pool
    reason: np.ndarray  # index into REASONS, ELIGIBLE (-1) for the eligible
    nearest_cost: np.ndarray  # matching cost to the nearest eligible demand (inf unless eligible)
    nearest_distance_m: np.ndarray
    nearest_street_id: np.ndarray  # street of that demand's site (-1 unless eligible)
    by_rule: tuple[RuleChoice, ...] = ()

    def excluded(self) -> dict[str, int]:
        counts = np.bincount(self.reason[self.reason >= 0], minlength=len(REASONS))
        return {name: int(count) for name, count in zip(REASONS, counts)}

    def eligible_count(self) -> int:
        return int((self.reason == ELIGIBLE).sum())

    def nearest_first(self) -> np.ndarray:
        """Positions (into the pool arrays) of the eligible, nearest first; ties go to the lower id."""
        positions = np.flatnonzero(self.reason == ELIGIBLE)
        order = np.lexsort((self.pool.ids[positions], self.nearest_cost[positions]))
        return positions[order]


# The last pool read per engine, with the registry's version it was read at (`_registry_version`). A paced order
# evaluates a wave every few seconds while it recruits (48 waves in its first 10 minutes at 100,000 volunteers and
# 5,000 places, issue 15), and reading the whole registry each time was most of a wave's cost; the registry itself
# rarely changes meanwhile (an opt-out, a bounced number, an import), and any such change moves the version.
_POOLS: "weakref.WeakKeyDictionary[Engine, tuple[tuple, Pool]]" = weakref.WeakKeyDictionary()


def load_pool(session: Session) -> Pool:
    """The registry's candidate columns: read again only when the registry changed since the last read through
    this engine (the version is one aggregate query; the pool's arrays are never modified by their readers)."""
    version = _registry_version(session)
    engine = session.get_bind().engine
    cached = _POOLS.get(engine)
    if cached is not None and cached[0] == version:
        return cached[1]
    pool = _patched_pool(session, *cached, version) if cached is not None else None
    if pool is None:
        pool = _read_pool(session)
    _POOLS[engine] = (version, pool)
    return pool


# A pool is patched with the rows stamped (`updated_at`) since this long before its newest stamp, and the new
# ids, rather than read whole again: at district scale the opt-outs answering the invitations (a STOP now and
# then) moved the version between most of the 48 waves, and each re-read 100,000 rows (issue 15). The margin
# covers a writer whose stamp is older than a stamp already seen when it commits (two workers' transactions).
PATCH_MARGIN = timedelta(minutes=5)
PATCH_MAX_SHARE = 0.1  # more rows changed than this share of the pool: read it whole (as cheap, and simpler)
PATCH_MIN_ROWS = 1000  # ... or than this many, whichever is more


def _patched_pool(session: Session, version: tuple, pool: Pool, now_version: tuple) -> Pool | None:
    """`pool` (read at `version`) brought up to `now_version` by reading only the rows changed since, or None
    when that is not possible or not worth it (then the whole pool is read)."""
    count, max_id, newest, *_ = version
    if newest is None or max_id is None:
        return None
    statement = _pool_rows().add_columns(Volunteer.deactivated_at.is_not(None)).where(
        (Volunteer.updated_at >= newest - PATCH_MARGIN) | (Volunteer.id > max_id))
    most = max(int(PATCH_MAX_SHARE * count), PATCH_MIN_ROWS)
    rows = session.connection().execute(statement.limit(most + 1)).all()
    if len(rows) > most:
        return None
    changed = np.array([row[0] for row in rows], dtype=np.int64)
    kept = ~np.isin(pool.ids, changed)  # every changed row is dropped, then added back unless deactivated
    fresh = _as_pool([row[:-1] for row in rows if not row[-1]])
    columns = [np.concatenate((old[kept], new)) for old, new in zip(_columns(pool), _columns(fresh))]
    order = np.argsort(columns[0], kind="stable")
    patched = Pool(*(column[order] for column in columns))
    total, deactivated = now_version[0], now_version[4]
    if len(patched.ids) != total - deactivated:  # a row deleted outright, or added beyond the margin
        return None
    return patched


def _columns(pool: Pool) -> list[np.ndarray]:
    return [pool.ids, pool.street_ids, pool.lat, pool.lon, pool.language, pool.opted_out, pool.phone_invalid,
            pool.provisional]


def _registry_version(session: Session) -> tuple:
    """What changes whenever a row the pool is made of changes: volunteers added or removed (count, highest id),
    edited (latest `updated_at`, stamped by every ORM and Core update), opted out, deactivated or marked
    unreachable (counts: whatever clock stamped them)."""
    return tuple(session.connection().execute(select(
        func.count(), func.max(Volunteer.id), func.max(Volunteer.updated_at), func.count(Volunteer.opted_out_at),
        func.count(Volunteer.deactivated_at), func.count().filter(Volunteer.phone_invalid.is_(True)))).one())


def _read_pool(session: Session) -> Pool:
    """One query, executed on the connection (Core rows, no ORM loading: 100,000 rows in a few tenths of a s)."""
    # deactivated volunteers (issue 16) are out of the pool altogether
    return _as_pool(session.connection().execute(_pool_rows().where(Volunteer.deactivated_at.is_(None))
                                                 .order_by(Volunteer.id)).all())


def _pool_rows():
    return select(Volunteer.id, Volunteer.street_id, Volunteer.lat, Volunteer.lon, Volunteer.language,
                  Volunteer.opted_out_at.is_not(None), Volunteer.phone_invalid, Volunteer.provisional)


def _as_pool(rows) -> Pool:
    columns = list(zip(*rows)) if rows else [()] * 8
    return Pool(np.array(columns[0], dtype=np.int64), np.array(columns[1], dtype=np.int64),
                np.array(columns[2], dtype=float), np.array(columns[3], dtype=float),
                np.array(columns[4], dtype="<U2"), np.array(columns[5], dtype=bool),
                np.array(columns[6], dtype=bool), np.array(columns[7], dtype=bool))


def order_slots(session: Session, order: Order, open_only: bool) -> list[Slot]:
    """The order's demands as matching slots (only those with a free place if `open_only`)."""
    rows = session.execute(_slots_statement(), {"order_id": order.id}).all()
    slots = [Slot(demand_id, lat, lon, street_id, capacity - filled if open_only else capacity, skill, provisional)
             for demand_id, lat, lon, street_id, capacity, filled, skill, provisional in rows]
    return [slot for slot in slots if slot.open_capacity > 0]


@lru_cache(maxsize=1)
def _slots_statement():
    """`order_slots`' read, built once (every match, wave evaluation and idle check runs it; building it cost
    as much as running it)."""
    return (select(Demand.id, Site.lat, Site.lon, Site.street_id, Demand.capacity, Demand.filled, Skill.code,
                   Demand.accepts_provisional)
            .join(Site, Site.id == Demand.site_id)
            .outerjoin(Skill, Skill.id == Demand.required_skill_id)
            .where(Demand.order_id == bindparam("order_id")).order_by(Demand.id))


def evaluate(session: Session, order: Order, *, open_only: bool,
             pool: Pool | None = None, slots: list[Slot] | None = None, keep_per_rule: int = 0) -> Audience:
    """Every volunteer of the registry judged for this order: excluded (and why) or eligible (and how near to
    the order's places, or to `slots` when given: a wave aims at the places standby cannot fill). With
    `keep_per_rule`, also the nearest candidates of each (site, rule), for waves that serve every place."""
    pool = pool or load_pool(session)
    n = len(pool.ids)
    reason = np.full(n, ELIGIBLE, dtype=np.int8)

    def exclude(name: str, mask: np.ndarray) -> None:
        reason[(reason == ELIGIBLE) & mask] = REASONS.index(name)

    exclude("opted_out", pool.opted_out)
    exclude("phone_invalid", pool.phone_invalid)
    exclude("already_invited", np.isin(pool.ids, _invited_ids(session, order)))
    if order.street_ids is not None:
        exclude("wrong_street", ~np.isin(pool.street_ids, np.array(order.street_ids, dtype=np.int64)))
    if order.languages is not None:
        exclude("language", ~np.isin(pool.language, np.array(order.languages, dtype="<U2")))
    exclude("resting", np.isin(pool.ids, _resting_ids(session, order)))
    # Peacetime coexistence (issue 5): booked on a shift overlapping the window. A protected post always
    # excludes; another shift only under the `leave` policy (under `release` they are released when placed).
    # (Imported here: the roster imports wartime modules.)
    from mobilize.peacetime.coexistence import leaves_roster_alone, roster_busy

    on_protected, on_shift = roster_busy(session, order)
    exclude("busy_protected_post", np.isin(pool.ids, on_protected))
    if leaves_roster_alone(order):
        exclude("busy_peacetime_shift", np.isin(pool.ids, on_shift))
    exclude("no_coordinates", np.isnan(pool.lat) | np.isnan(pool.lon))
    if slots is None:
        slots = order_slots(session, order, open_only)
    cost, distance, street, by_rule = _nearest(session, order, pool, reason, exclude, slots, keep_per_rule)
    return Audience(pool, reason, cost, distance, street, by_rule)


def _invited_ids(session: Session, order: Order) -> np.ndarray:
    if order.id is None:
        return np.zeros(0, np.int64)
    return np.array(session.scalars(select(Invitation.volunteer_id).where(Invitation.order_id == order.id)).all(),
                    dtype=np.int64)


def _resting_ids(session: Session, order: Order) -> np.ndarray:
    """Volunteers mobilised by another order within `rest_hours` of this window (or during it): their active,
    arrived or completed assignment's order window, widened by the rest, overlaps this one."""
    rest = timedelta(hours=order.rest_hours or 0)
    statement = (select(Assignment.volunteer_id).join(Order, Order.id == Assignment.order_id)
                 .where(Assignment.status.in_(list(ACTIVE)), Order.starts_at < order.ends_at + rest,
                        Order.ends_at > order.starts_at - rest))
    if order.id is not None:
        statement = statement.where(Assignment.order_id != order.id)
    return np.array(session.scalars(statement).all(), dtype=np.int64)


def _skill_codes(session: Session, pool: Pool, codes: set[str]) -> dict[str, np.ndarray]:
    """For each skill some demand requires: a mask over the pool of who has it."""
    if not codes:
        return {}
    rows = session.execute(select(Skill.code, volunteer_skills.c.volunteer_id).join(
        volunteer_skills, volunteer_skills.c.skill_id == Skill.id).where(Skill.code.in_(codes))).all()
    holders: dict[str, list[int]] = {code: [] for code in codes}
    for code, volunteer_id in rows:
        holders[code].append(volunteer_id)
    return {code: np.isin(pool.ids, np.array(ids, dtype=np.int64)) for code, ids in holders.items()}


def _nearest(session: Session, order: Order, pool: Pool, reason: np.ndarray, exclude, slots: list[Slot],
             keep: int):
    n = len(pool.ids)
    cost, distance = np.full(n, np.inf), np.full(n, np.inf)
    street = np.full(n, -1, dtype=np.int64)
    rules = _site_rules(slots)
    if not rules:
        exclude("missing_skill", np.ones(n, bool))  # no open place anyone could fill
        return cost, distance, street, ()
    skills = _skill_codes(session, pool, {rule.required_skill for rule in rules} - {None})
    positions = np.flatnonzero(reason == ELIGIBLE)
    step = max(1000, PAIRS_PER_CHUNK // len(rules))
    rule_streets = np.array([rule.street_id for rule in rules], dtype=np.int64)
    best: list[list[tuple]] = [[] for _ in rules]  # per rule, chunk by chunk: (positions, costs) of its nearest
    for start in range(0, len(positions), step):
        chunk = positions[start:start + step]
        pair_distance, pair_cost = pool_pair_costs(pool, chunk, rules, skills)
        allowed = np.isfinite(pair_cost)
        distance[chunk] = np.where(allowed, pair_distance, np.inf).min(axis=1)
        if order.max_distance_m is not None:
            allowed &= pair_distance <= order.max_distance_m
        priced = np.where(allowed, pair_cost, np.inf)
        nearest_rule = priced.argmin(axis=1)
        cost[chunk] = priced[np.arange(len(chunk)), nearest_rule]
        street[chunk] = np.where(np.isfinite(cost[chunk]), rule_streets[nearest_rule], -1)
        for column, kept in zip(priced.T if keep else (), best):
            rows = _smallest(column, keep)
            kept.append((chunk[rows], column[rows]))
    exclude("missing_skill", np.isinf(distance))
    exclude("too_far", np.isinf(cost))
    return cost, distance, street, tuple(_choice(rule, kept, pool, keep) for rule, kept in zip(rules, best))


def _choice(rule: Slot, kept: list[tuple], pool: Pool, keep: int) -> "RuleChoice":
    positions = np.concatenate([p for p, _ in kept]) if kept else np.zeros(0, np.int64)
    costs = np.concatenate([c for _, c in kept]) if kept else np.zeros(0)
    order = np.lexsort((pool.ids[positions], costs))[:keep]
    return RuleChoice(rule, positions[order])


def pool_pair_costs(pool: Pool, positions: np.ndarray, rules: list[Slot], skills: dict[str, np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """`domain.matching.pair_costs` for pool rows, column-wise: the same distances and integer costs (inf where a
    rule forbids the pair; the distance limit is applied by the caller), without a Candidate object per row.
    A test holds the two equal."""
    distance = haversine_matrix(pool.lat[positions], pool.lon[positions], [r.site_lat for r in rules],
                                [r.site_lon for r in rules])
    metres = distance.copy()
    other_street = pool.street_ids[positions][:, None] != np.array([r.street_id for r in rules])[None, :]
    metres += np.where(other_street, WEIGHTS.other_street_penalty_m, 0.0)
    skilled = np.array([r.required_skill is not None for r in rules])
    metres -= np.where(skilled, WEIGHTS.skill_bonus_m, 0.0)
    cost = np.rint(metres / WEIGHTS.metres_per_unit)
    closed = np.array([not r.accepts_provisional for r in rules])
    forbidden = pool.provisional[positions][:, None] & closed[None, :]
    for code, holders in skills.items():
        needs = np.array([r.required_skill == code for r in rules])
        forbidden |= (~holders[positions])[:, None] & needs[None, :]
    cost[forbidden] = np.inf
    return distance, cost


def _smallest(column: np.ndarray, keep: int) -> np.ndarray:
    """Row indices of the `keep` smallest finite values (any order)."""
    finite = np.flatnonzero(np.isfinite(column))
    if keep <= 0:
        return finite[:0]
    if len(finite) > keep:
        finite = finite[np.argpartition(column[finite], keep - 1)[:keep]]
    return finite


def _site_rules(slots: list[Slot]) -> list[Slot]:
    """One slot per distinct (site, rule), with the open places of its demands: demands of one site with the same
    rules price every volunteer alike."""
    places: dict[tuple, int] = {}
    for slot in slots:
        key = (slot.site_lat, slot.site_lon, slot.street_id, slot.required_skill, slot.accepts_provisional)
        places[key] = places.get(key, 0) + slot.open_capacity
    return [Slot(number, *key[:3], open_places, *key[3:])
            for number, (key, open_places) in enumerate(places.items(), start=1)]


def choose_wave(audience: Audience, size: int, expected_answer_rate: float, over_recruit_factor: float
                ) -> np.ndarray:
    """Who gets the next `size` invitations (pool positions). Every (site, rule) gets its share of the wave, as
    many as its open places call for, from its own nearest candidates, scarcest rule first (a medical post is
    not left to wait for the next wave because nearer unskilled volunteers fill the global ranking); what is
    left of the wave goes to the nearest overall."""
    chosen: list[int] = []
    taken: set[int] = set()
    rules = [choice for choice in audience.by_rule if len(choice.positions)]
    wanted = [choice.rule.open_capacity * over_recruit_factor / expected_answer_rate for choice in rules]
    scale = size / sum(wanted) if wanted and sum(wanted) else 0
    for index in sorted(range(len(rules)), key=lambda i: len(rules[i].positions)):
        quota = min(math.ceil(round(wanted[index] * scale, 9)), size - len(chosen))
        for position in rules[index].positions.tolist():
            if quota <= 0:
                break
            if position not in taken:
                taken.add(position)
                chosen.append(position)
                quota -= 1
    for position in audience.nearest_first().tolist():
        if len(chosen) >= size:
            break
        if position not in taken:
            taken.add(position)
            chosen.append(position)
    return np.array(chosen, dtype=np.int64)


# --- the preview ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    eligible: int
    excluded: dict[str, int]
    open_places: int
    invitations: int  # SMS if every eligible volunteer were invited
    segments: int  # ... and their segments
    first_wave: int  # the size of the next wave
    first_wave_segments: int
    segments_per_invitation: dict[str, int]  # the longest invitation per language

    def as_dict(self) -> dict:
        return {"eligible": self.eligible, "excluded": self.excluded, "open_places": self.open_places,
                "sms": {"invitations": self.invitations, "segments": self.segments,
                        "segments_per_invitation": self.segments_per_invitation,
                        "first_wave": {"invitations": self.first_wave, "segments": self.first_wave_segments}}}


def preview(session: Session, order: Order, zone: str = DEFAULT_ZONE) -> Preview:
    """How many would be invited, how many are left out and why, and what the invitations cost in segments."""
    open_only = order.state.value != "draft"
    slots = order_slots(session, order, open_only)
    places = sum(slot.open_capacity for slot in slots)
    size = wave_size(places, order.expected_answer_rate, order.over_recruit_factor, 0)
    audience = evaluate(session, order, open_only=open_only, slots=slots, keep_per_rule=size)
    segments = _segments_by_group(session, order, audience, zone)
    each = np.zeros(len(audience.pool.ids), dtype=np.int64)  # segments of each eligible volunteer's invitation
    for (language, street_id), count in segments.items():
        each[(audience.pool.language == language) & (audience.nearest_street_id == street_id)] = count
    each[audience.reason != ELIGIBLE] = 0

    def cost(positions) -> int:
        return int(each[positions].sum())

    wave = choose_wave(audience, size, order.expected_answer_rate, order.over_recruit_factor)
    eligible = np.flatnonzero(audience.reason == ELIGIBLE)
    longest: dict[str, int] = {}
    for (language, _street), count in segments.items():
        longest[language] = max(longest.get(language, 0), count)
    return Preview(len(eligible), audience.excluded(), places, len(eligible), cost(eligible), len(wave), cost(wave),
                   longest)


def _segments_by_group(session: Session, order: Order, audience: Audience, zone: str) -> dict[tuple[str, int], int]:
    """Segments of the invitation per (language, street of the nearest site): the only parts that vary."""
    streets = {street.id: street for street in session.scalars(select(Street))}
    eligible = audience.reason == ELIGIBLE
    groups = Counter(zip(audience.pool.language[eligible].tolist(), audience.nearest_street_id[eligible].tolist()))
    result = {}
    for language, street_id in groups:
        area = area_name(streets.get(street_id), language)
        text = render("invitation", language, **invitation_values(order, language, area, zone))
        result[(language, street_id)] = count_segments(text).segments
    return result
