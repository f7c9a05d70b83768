"""A small roster for peacetime tests: posts at two sites, volunteers at known distances, wartime orders built
directly, and helpers to act as an officer, as volunteers texting, and as the workers."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from itertools import count

from sqlalchemy import func, select

from mobilize.models import (
    PLACE_HOLDING,
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Demand,
    Order,
    OrderState,
    Post,
    Role,
    Shift,
    ShiftSignup,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.peacetime import posts
from mobilize.peacetime.config import RosterConfig
from mobilize.wartime.audit import Actor
from tests.factories import sent, text  # noqa: F401  (shared with the other suites)
from tests import factories

OFFICER = Actor("officer-badaguan", None)
BADAGUAN = (36.0525, 120.3520)  # an intersection in 八大关
ZHANSHAN = (36.0605, 120.3670)  # a station in 湛山, ~1.6 km east
CFG = RosterConfig()
_codes = count(1000)


def post(session, street: str = "八大关", at=BADAGUAN, role: str = "civility_guide", slots: int = 2,
         protected: bool = False, name: str | None = None) -> Post:
    site = factories.site(session, street, name, roles={role: slots}, lat=at[0], lon=at[1])
    return posts.create_post(session, site_id=site.id, role=role, slots=slots, actor=OFFICER, now=utcnow(),
                             protected=protected)


def shift(session, post_row: Post, starts_at: datetime, hours: float = 2, capacity: int | None = None) -> Shift:
    """A shift built directly (any time, past included), with a fresh code."""
    from mobilize.domain.recurrence import local_date

    row = Shift(post_id=post_row.id, local_date=local_date(starts_at, CFG.zone), starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=hours), capacity=capacity or post_row.slots, filled=0,
                code=str(next(_codes)), extra=True, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def people(session, n: int, street: str = "八大关", near=BADAGUAN, step_m: float = 100.0, **kwargs) -> list[Volunteer]:
    metres_per_degree_lon = 111_320 * 0.809
    return [factories.volunteer(session, street, name=f"{street}{i}", lat=near[0],
                                lon=near[1] + (i + 1) * step_m / metres_per_degree_lon, **kwargs)
            for i in range(n)]


def wartime_assignment(session, volunteer: Volunteer, starts_at: datetime, ends_at: datetime,
                       status: AssignmentStatus = AssignmentStatus.confirmed, code: str = "27",
                       state: OrderState = OrderState.open) -> Assignment:
    site = factories.site(session, "八大关", lat=BADAGUAN[0], lon=BADAGUAN[1])
    role = session.scalar(select(Role).where(Role.code == "registration"))
    order = Order(title="全员核酸检测志愿者招募", reply_code=code, state=state, starts_at=starts_at, ends_at=ends_at)
    session.add(order)
    session.flush()
    demand = Demand(order_id=order.id, site_id=site.id, role_id=role.id, capacity=5, filled=1)
    session.add(demand)
    session.flush()
    assignment = Assignment(order_id=order.id, demand_id=demand.id, volunteer_id=volunteer.id, status=status,
                            notes="")
    session.add(assignment)
    session.flush()
    return assignment


def at_local(day_offset: int, hh: int, mm: int = 0, base: datetime | None = None) -> datetime:
    """A UTC instant: the Shanghai local time hh:mm, `day_offset` days after base's local date."""
    from mobilize.domain.recurrence import at_local as _at, local_date

    day = local_date(base or utcnow(), CFG.zone) + timedelta(days=day_offset)
    return _at(day, time(hh, mm), CFG.zone)


def audit_actions(runtime, subject_type: str | None = None) -> list[str]:
    with runtime.transaction() as session:
        statement = select(AuditEvent.action).order_by(AuditEvent.id)
        if subject_type:
            statement = statement.where(AuditEvent.subject_type == subject_type)
        return list(session.scalars(statement))


def check_capacity(runtime) -> None:
    """No shift past capacity, and `filled` is exactly the number of sign-ups holding a place."""
    with runtime.transaction() as session:
        for row in session.scalars(select(Shift)):
            actual = session.scalar(select(func.count()).select_from(ShiftSignup).where(
                ShiftSignup.shift_id == row.id, ShiftSignup.status.in_(list(PLACE_HOLDING))))
            assert 0 <= row.filled <= row.capacity, (row.id, row.filled, row.capacity)
            assert row.filled == actual, (row.id, row.filled, actual)
