"""Drafting an order: what a valid order is, its short reply code, creating, editing and discarding it while a
draft."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobilize.domain.district import find_street
from mobilize.domain.order_states import LIVE_STATES, OrderAction
from mobilize.domain.templates import LANGUAGES
from mobilize.domain.text_safety import clean_line
from mobilize.models import Demand, Order, PeacetimePolicy, Role, Site, Skill, Street
from mobilize.wartime import audit
from mobilize.wartime.audit import Actor
from mobilize.wartime.errors import InvalidOrder, require_transition
from mobilize.wartime.places import lock_order

MAX_CAPACITY = 10_000
MAX_REST_HOURS = 24 * 30
CODE_RANGES = (range(10, 100), range(100, 1000))  # never 0, 1, 2 alone: those are reply keywords


@dataclass(frozen=True)
class DemandSpec:
    site_id: int
    role: str  # role code, e.g. "registration"
    capacity: int
    skill: str | None = None  # a skill code; defaults to the role's own (a role's skill cannot be dropped)


@dataclass(frozen=True)
class OrderSpec:
    """Everything a commander decides about an order. Times are timezone-aware."""

    title: str
    starts_at: datetime
    ends_at: datetime
    demands: tuple[DemandSpec, ...]
    streets: tuple[str, ...] | None = None  # None: the whole district
    max_distance_m: float | None = None
    languages: tuple[str, ...] | None = None  # None: any
    rest_hours: int = 0
    peacetime_policy: str = PeacetimePolicy.leave.value
    expected_answer_rate: float = 0.5
    over_recruit_factor: float = 1.2
    wave_interval_s: int = 600
    confirmation_required: bool = True
    confirmation_timeout_s: int = 1800
    needed_by: datetime | None = None  # 95% of the places filled by then; None: the start (issue 14)
    urgent: bool = False  # everyone eligible invited at once, nearest first


EDITABLE = frozenset(f.name for f in dataclasses.fields(OrderSpec))


@dataclass
class _Checked:
    """A spec resolved against the registry: ids instead of names."""

    spec: OrderSpec
    street_ids: list[int] | None = None
    demands: list[dict[str, Any]] = field(default_factory=list)


def create_draft(session: Session, spec: OrderSpec, actor: Actor, now: datetime) -> Order:
    """A new draft order with an automatically allocated reply code; InvalidOrder names every problem."""
    checked = _check(session, spec, now)
    order = _insert_with_code(session, checked, actor, now)
    audit.record(session, actor, "order.created", "order", order.id, now, title=spec.title,
                 reply_code=order.reply_code, demands=_demand_summary(checked))
    return order


def update_draft(session: Session, order_id: int, changes: Mapping[str, Any], actor: Actor, now: datetime) -> Order:
    """Edit a draft: `changes` holds OrderSpec fields; the result is checked as a whole."""
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise InvalidOrder(f"unknown field(s): {', '.join(unknown)}",
                           details={name: "unknown field" for name in unknown})
    order = lock_order(session, order_id)
    require_transition(order.id, order.state, OrderAction.update)
    spec = dataclasses.replace(spec_of(session, order), **changes)
    checked = _check(session, spec, now)
    _apply(order, checked)
    _replace_demands(session, order, checked.demands)
    session.flush()
    audit.record(session, actor, "order.updated", "order", order.id, now, changed=sorted(changes),
                 demands=_demand_summary(checked))
    return order


def discard_draft(session: Session, order_id: int, actor: Actor, now: datetime) -> dict[str, Any]:
    """Delete a draft (with its demands): it was never launched, so no volunteer heard of it and nothing refers
    to it but its own audit events. Those stay, and `order.discarded` records what the draft was (its spec), so
    the trail still reads whole. A launched order is never deleted: 409, it has endings of its own. Returns the
    recorded details."""
    order = lock_order(session, order_id)
    require_transition(order.id, order.state, OrderAction.update)  # a draft only: the 409 says why
    spec = spec_of(session, order)
    details = {"title": order.title, "reply_code": order.reply_code,
               "starts_at": order.starts_at.isoformat(), "ends_at": order.ends_at.isoformat(),
               "demands": [{"site_id": d.site_id, "role": d.role, "capacity": d.capacity} for d in spec.demands],
               "streets": list(spec.streets) if spec.streets is not None else None}
    audit.record(session, actor, "order.discarded", "order", order.id, now, **details)
    session.delete(order)
    session.flush()
    return details


DEFAULT_WINDOW = timedelta(hours=6)


def default_window(now: datetime) -> tuple[datetime, datetime]:
    """The window a new order's form offers before the commander picks one: from now (to the minute) to about six
    hours later, on the hour. It crosses midnight when it must: late in the evening a window cut at 23:59 would be
    minutes long, or empty, and the form would refuse its own defaults."""
    starts_at = now.replace(second=0, microsecond=0)
    return starts_at, (starts_at + DEFAULT_WINDOW).replace(minute=0)


def spec_of(session: Session, order: Order) -> OrderSpec:
    """The spec an order was made from (for editing it)."""
    street_names = None
    if order.street_ids is not None:
        names = dict(session.execute(select(Street.id, Street.name).where(Street.id.in_(order.street_ids))).all())
        street_names = tuple(names.get(street_id, str(street_id)) for street_id in order.street_ids)
    demands = tuple(DemandSpec(d.site_id, d.role.code, d.capacity,
                               d.required_skill.code if d.required_skill else None) for d in order.demands)
    return OrderSpec(order.title, order.starts_at, order.ends_at, demands, street_names, order.max_distance_m,
                     tuple(order.languages) if order.languages is not None else None, order.rest_hours,
                     order.peacetime_policy.value, order.expected_answer_rate, order.over_recruit_factor,
                     order.wave_interval_s, order.confirmation_required, order.confirmation_timeout_s,
                     order.needed_by, order.urgent)


# --- validation -------------------------------------------------------------------------------------------------


def _check(session: Session, spec: OrderSpec, now: datetime) -> _Checked:
    problems: dict[str, str] = {}
    _check_scalars(spec, now, problems)
    checked = _Checked(spec)
    checked.street_ids = _check_streets(session, spec.streets, problems)
    checked.demands = check_demands(session, spec.demands, problems)
    if problems:
        raise InvalidOrder("invalid order: " + "; ".join(f"{key}: {text}" for key, text in problems.items()),
                           details=problems)
    return checked


def _check_scalars(spec: OrderSpec, now: datetime, problems: dict[str, str]) -> None:
    title = clean_line(spec.title or "")  # as Order.title stores it: only hidden characters is no title
    if not title or len(title) > 80:
        problems["title"] = "a title of 1 to 80 characters is required"
    for name in ("starts_at", "ends_at"):
        value = getattr(spec, name)
        if not isinstance(value, datetime) or value.tzinfo is None:
            problems[name] = "a date and time with a time zone is required"
    if "starts_at" not in problems and "ends_at" not in problems:
        if spec.ends_at <= spec.starts_at:
            problems["ends_at"] = "the window must end after it starts"
        elif spec.ends_at <= now:
            problems["ends_at"] = "the window is already over"
    _check_deadline(spec, now, problems)
    _range(problems, "expected_answer_rate", spec.expected_answer_rate, 0, 1, "must be more than 0 and at most 1",
           low_open=True)
    _range(problems, "over_recruit_factor", spec.over_recruit_factor, 1, 10, "must be between 1 and 10")
    _range(problems, "wave_interval_s", spec.wave_interval_s, 10, 86_400, "must be 10 to 86400 seconds")
    _range(problems, "confirmation_timeout_s", spec.confirmation_timeout_s, 60, 86_400 * 2,
           "must be 60 to 172800 seconds")
    _range(problems, "rest_hours", spec.rest_hours, 0, MAX_REST_HOURS, f"must be 0 to {MAX_REST_HOURS} hours")
    if spec.max_distance_m is not None:
        _range(problems, "max_distance_m", spec.max_distance_m, 0, 200_000, "must be more than 0 and at most "
               "200000 metres", low_open=True)
    if spec.languages is not None:
        bad = [language for language in spec.languages if language not in LANGUAGES]
        if bad or not spec.languages:
            problems["languages"] = f"languages must be a non-empty list of {', '.join(LANGUAGES)}"
    if spec.peacetime_policy not in {policy.value for policy in PeacetimePolicy}:
        problems["peacetime_policy"] = "must be leave or release"


def _check_deadline(spec: OrderSpec, now: datetime, problems: dict[str, str]) -> None:
    """needed_by: after now (a deadline already past cannot be paced to) and not after the window ends."""
    if not isinstance(spec.urgent, bool):
        problems["urgent"] = "must be true or false"
    if spec.needed_by is None:
        return
    problem = needed_by_problem(spec.needed_by, spec.ends_at if "ends_at" not in problems else None, now)
    if problem:
        problems["needed_by"] = problem


def needed_by_problem(needed_by: object, ends_at: datetime | None, now: datetime) -> str | None:
    """What is wrong with a needed-by time, if anything (also checked at launch: a draft's deadline may pass)."""
    if not isinstance(needed_by, datetime) or needed_by.tzinfo is None:
        return "a date and time with a time zone is required"
    if needed_by <= now:
        return "the needed-by time must be in the future"
    if isinstance(ends_at, datetime) and ends_at.tzinfo is not None and needed_by > ends_at:
        return "the needed-by time must not be after the order ends"
    return None


def _range(problems: dict[str, str], name: str, value, low, high, text: str, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems[name] = text
    elif value > high or value < low or (low_open and value == low):
        problems[name] = text


def _check_streets(session: Session, streets, problems: dict[str, str]) -> list[int] | None:
    if streets is None:
        return None
    if not streets:
        problems["streets"] = "give at least one street, or none at all for the whole district"
        return None
    ids, unknown = [], []
    for name in streets:
        info = find_street(str(name))
        street_id = session.scalar(select(Street.id).where(Street.name == info.name)) if info else None
        (ids.append(street_id) if street_id is not None else unknown.append(str(name)))
    if unknown:
        problems["streets"] = f"unknown street(s): {', '.join(unknown)}"
    return sorted(set(ids))


def check_demands(session: Session, demands, problems: dict[str, str], *, allow_empty: bool = False
                  ) -> list[dict[str, Any]]:
    """Demands resolved to ids: site, role, capacity, required skill, provisional rule. Problems by position."""
    if not demands and not allow_empty:
        problems["demands"] = "an order needs at least one demand (site, role, capacity)"
        return []
    roles = {role.code: role for role in session.scalars(select(Role))}
    skills = {skill.code: skill for skill in session.scalars(select(Skill))}
    site_ids = {d.site_id for d in demands if isinstance(d.site_id, int)}
    sites = set(session.scalars(select(Site.id).where(Site.id.in_(site_ids)))) if site_ids else set()
    resolved, seen = [], set()
    for index, demand in enumerate(demands):
        key = f"demands[{index}]"
        problem = _demand_problem(demand, roles, skills, sites, seen)
        if problem:
            problems[key] = problem
            continue
        role = roles[demand.role]
        skill = skills[demand.skill] if demand.skill else role.skill
        seen.add((demand.site_id, demand.role))
        resolved.append({"site_id": demand.site_id, "role_id": role.id, "role": demand.role,
                         "capacity": demand.capacity, "required_skill_id": skill.id if skill else None,
                         "accepts_provisional": role.accepts_provisional})
    return resolved


def _demand_problem(demand: DemandSpec, roles, skills, sites, seen) -> str | None:
    if demand.site_id not in sites:
        return f"unknown site {demand.site_id}"
    if demand.role not in roles:
        return f"unknown role {demand.role!r} (known: {', '.join(sorted(roles))})"
    if isinstance(demand.capacity, bool) or not isinstance(demand.capacity, int) or demand.capacity < 1:
        return "capacity must be a whole number of at least 1"
    if demand.capacity > MAX_CAPACITY:
        return f"capacity must be at most {MAX_CAPACITY}"
    if demand.skill is not None and demand.skill not in skills:
        return f"unknown skill {demand.skill!r} (known: {', '.join(sorted(skills))})"
    role = roles[demand.role]
    if role.skill is not None and demand.skill not in (None, role.skill.code):
        return f"role {demand.role!r} needs skill {role.skill.code!r}; a demand cannot drop or replace it"
    if (demand.site_id, demand.role) in seen:
        return f"site {demand.site_id} and role {demand.role!r} appear twice; give one demand with the total"
    return None


# --- writing ----------------------------------------------------------------------------------------------------


def _apply(order: Order, checked: _Checked) -> None:
    spec = checked.spec
    order.title = spec.title.strip()
    order.starts_at, order.ends_at = spec.starts_at, spec.ends_at
    order.street_ids = checked.street_ids
    order.max_distance_m = spec.max_distance_m
    order.languages = sorted(set(spec.languages)) if spec.languages is not None else None
    order.rest_hours = spec.rest_hours
    order.peacetime_policy = PeacetimePolicy(spec.peacetime_policy)
    order.expected_answer_rate = spec.expected_answer_rate
    order.over_recruit_factor = spec.over_recruit_factor
    order.wave_interval_s = spec.wave_interval_s
    order.confirmation_required = spec.confirmation_required
    order.confirmation_timeout_s = spec.confirmation_timeout_s
    order.needed_by = spec.needed_by
    order.urgent = spec.urgent


def _insert_with_code(session: Session, checked: _Checked, actor: Actor, now: datetime) -> Order:
    """Insert the order under a free reply code; a concurrent draft taking the same code makes us pick again."""
    for _attempt in range(10):
        order = Order(reply_code=allocate_reply_code(session), created_by_id=actor.user_id, created_at=now,
                      open_call=False, waves_sent=0)
        _apply(order, checked)
        try:
            with session.begin_nested():
                session.add(order)
                session.flush()
        except IntegrityError:
            continue
        _replace_demands(session, order, checked.demands)
        session.flush()
        return order
    raise RuntimeError("could not allocate a reply code after 10 attempts")


def allocate_reply_code(session: Session) -> str:
    """The shortest code free among live orders; never used before if possible, else the one unused longest
    (so that a late reply to an old order is unlikely to land on a new one)."""
    live = set(session.scalars(select(Order.reply_code).where(Order.state.in_(list(LIVE_STATES)))))
    last_used = dict(session.execute(select(Order.reply_code, func.max(Order.created_at))
                                     .group_by(Order.reply_code)).all())
    for codes in CODE_RANGES:
        free = [str(number) for number in codes if str(number) not in live]
        if free:
            never = [code for code in free if code not in last_used]
            return never[0] if never else min(free, key=lambda code: last_used[code])
    raise InvalidOrder("no free reply code: close or cancel old orders first", code="no_reply_code")


def _replace_demands(session: Session, order: Order, wanted: list[dict[str, Any]]) -> None:
    """Make the order's demands exactly `wanted` (kept pairs are updated in place: (site, role) is unique)."""
    existing = {(d.site_id, d.role_id): d for d in order.demands}
    keys = set()
    for values in wanted:
        key = (values["site_id"], values["role_id"])
        keys.add(key)
        demand = existing.get(key)
        if demand is None:
            order.demands.append(Demand(site_id=values["site_id"], role_id=values["role_id"],
                                        capacity=values["capacity"], filled=0,
                                        required_skill_id=values["required_skill_id"],
                                        accepts_provisional=values["accepts_provisional"]))
        else:
            demand.capacity = values["capacity"]
            demand.required_skill_id = values["required_skill_id"]
    for key, demand in existing.items():
        if key not in keys:
            order.demands.remove(demand)


def _demand_summary(checked: _Checked) -> list[dict[str, Any]]:
    return [{"site_id": d["site_id"], "role": d["role"], "capacity": d["capacity"]} for d in checked.demands]
