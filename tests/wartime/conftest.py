"""A small district for wartime tests: two streets' sites, volunteers at known distances, helpers to act as the
command center, as volunteers texting, and as the workers."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from mobilize.models import (
    Assignment,
    Demand,
    Invitation,
    Order,
    OutboundMessage,
    OutboundStatus,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.wartime import dispatch, drafts, lifecycle, waves
from mobilize.wartime.audit import Actor
from mobilize.wartime.drafts import DemandSpec, OrderSpec
from mobilize.wartime.places import ACTIVE
from tests import factories
from tests.factories import sent, text  # noqa: F401  (shared with the other suites)

COMMANDER = Actor("cmd", None)
BADAGUAN = (36.0525, 120.3520)  # a site in 八大关
ZHANSHAN = (36.0605, 120.3670)  # a site in 湛山, ~1.6 km east


def later(hours: float = 24) -> datetime:
    return utcnow() + timedelta(hours=hours)


def sites(session, specs=(("八大关", "太平角检测点", BADAGUAN), ("湛山", "湛山检测点", ZHANSHAN))) -> list:
    return [factories.site(session, street, name, lat=lat, lon=lon) for street, name, (lat, lon) in specs]


def people(session, n: int, street: str = "八大关", near=BADAGUAN, step_m: float = 100.0, **kwargs) -> list[Volunteer]:
    """n volunteers east of `near`, the i-th about (i + 1) * step_m away."""
    metres_per_degree_lon = 111_320 * 0.809  # cos(36 degrees)
    return [factories.volunteer(session, street, name=f"{street}{i}", lat=near[0],
                                lon=near[1] + (i + 1) * step_m / metres_per_degree_lon, **kwargs)
            for i in range(n)]


def spec(demands, **overrides) -> OrderSpec:
    values = {"title": "全员核酸检测志愿者招募", "starts_at": later(24), "ends_at": later(29),
              "demands": tuple(DemandSpec(*d) for d in demands), "expected_answer_rate": 0.5,
              "over_recruit_factor": 1.0}
    values.update(overrides)
    return OrderSpec(**values)


def draft(runtime, demands, **overrides) -> int:
    with runtime.transaction() as session:
        return drafts.create_draft(session, spec(demands, **overrides), COMMANDER, utcnow()).id


def launched(runtime, demands, wave: bool = True, handed: bool = True, **overrides) -> int:
    order_id = draft(runtime, demands, **overrides)
    with runtime.transaction() as session:
        lifecycle.launch(session, order_id, COMMANDER, utcnow())
    if wave:
        run_wave(runtime, order_id, handed=handed)
    return order_id


def run_wave(runtime, order_id: int, now: datetime | None = None, handed: bool = True):
    """The wave job; with `handed`, its invitations then go to the gateway as a running sender would send them
    (volunteers answer what they received: a bare answer ignores invitations still in the outbox)."""
    with runtime.transaction() as session:
        result = waves.send_wave(session, order_id, now or utcnow())
    if handed:
        handed_to_the_gateway(runtime)
    return result


def concurrent_waves(runtime, order_id: int, jobs: int = 4) -> list[int]:
    """`jobs` wave jobs at once on one order; the volunteers invited afterwards, in order (none may fail)."""
    errors = []

    def wave():
        try:
            run_wave(runtime, order_id)
        except Exception as error:  # noqa: BLE001  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=wave) for _ in range(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    return invited_ids(runtime, order_id)


def run_match(runtime, order_id: int, now: datetime | None = None):
    with runtime.transaction() as session:
        return dispatch.run_matching(session, order_id, now or utcnow())


def invited_ids(runtime, order_id: int) -> list[int]:
    with runtime.transaction() as session:
        return list(session.scalars(select(Invitation.volunteer_id).where(Invitation.order_id == order_id)
                                    .order_by(Invitation.id)))


def active(runtime, order_id: int) -> list[Assignment]:
    with runtime.transaction() as session:
        return list(session.scalars(select(Assignment).where(Assignment.order_id == order_id,
                                                             Assignment.status.in_(list(ACTIVE)))
                                    .order_by(Assignment.id)))


def handed_to_the_gateway(runtime, kind: str = "invitation") -> None:
    """As the sender would: every pending message of `kind` handed to the gateway (tests run no sender). An
    invitation still in the outbox is withdrawn when its order fills, so a test whose volunteers answer
    invitations must have sent them first."""
    with runtime.transaction() as session:
        session.execute(update(OutboundMessage).where(OutboundMessage.kind == kind,
                                                      OutboundMessage.status == OutboundStatus.pending)
                        .values(status=OutboundStatus.sent))


def order_row(runtime, order_id: int) -> Order:
    with runtime.transaction() as session:
        return session.get(Order, order_id)


def check_capacity_invariants(runtime, order_id: int | None = None) -> None:
    """No demand past capacity, and `filled` is exactly the number of active assignments."""
    with runtime.transaction() as session:
        statement = select(Demand)
        if order_id is not None:
            statement = statement.where(Demand.order_id == order_id)
        for demand in session.scalars(statement):
            actual = session.scalar(select(func.count()).select_from(Assignment).where(
                Assignment.demand_id == demand.id, Assignment.status.in_(list(ACTIVE))))
            assert 0 <= demand.filled <= demand.capacity, (demand.id, demand.filled, demand.capacity)
            assert demand.filled == actual, (demand.id, demand.filled, actual)
