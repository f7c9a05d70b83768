"""The historical order on the live stack: created and launched, its fill read from the database and followed
until every place is filled or the time limit passes (the timelines, in real seconds from launch), and the
outbox waited for until the last dispatches reached the gateway."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from mobilize.drill.engine import DrillConfig, Trace, build_order
from mobilize.drill.live_config import LiveDrillConfig
from mobilize.drill.live_stack import LiveStack

POLL_S = 0.5  # how often the driver reads the fill from the database
PROGRESS_EVERY_S = 5.0
DRAIN_TIMEOUT_S = 60.0  # after the fill: how long to wait for the last dispatches to reach the gateway
KNOWN_TO_COME = ("confirmed", "arrived", "completed")  # assignment statuses: the volunteer said they come


def create_and_launch(runtime: Any, drill: DrillConfig) -> tuple[int, datetime]:
    """The historical order (engine.build_order), launched now: the wave request becomes an RQ job on commit."""
    from mobilize.models._types import utcnow
    from mobilize.wartime import lifecycle
    from mobilize.wartime.audit import Actor

    order_id = build_order(runtime, drill, utcnow())
    launched = utcnow()
    with runtime.transaction() as session:
        lifecycle.launch(session, order_id, Actor("drill", None), launched)
    return order_id, launched


def fill_counts(runtime: Any, order_id: int) -> dict[str, int]:
    """The order's fill from the database, as the simulated drill counts it: places taken (`placed`), taken and
    the dispatch handed to the gateway (`told`), taken and confirmed (`confirmed`); and the waves sent."""
    from mobilize.models import (
        Assignment,
        Demand,
        Order,
        OutboundMessage,
        OutboundStatus,
    )
    from mobilize.wartime.messages import DISPATCH_KINDS, dispatch_key
    from mobilize.wartime.places import ACTIVE

    with runtime.transaction() as session:
        placed = session.scalar(select(func.coalesce(func.sum(Demand.filled), 0)).where(Demand.order_id == order_id))
        waves = session.scalar(select(Order.waves_sent).where(Order.id == order_id))
        active = session.execute(select(Assignment.id, Assignment.status).where(
            Assignment.order_id == order_id, Assignment.status.in_(list(ACTIVE)))).all()
        handed = set(session.scalars(select(OutboundMessage.dedupe_key).where(
            OutboundMessage.kind.in_(DISPATCH_KINDS), OutboundMessage.status.not_in(
                [OutboundStatus.pending, OutboundStatus.sending, OutboundStatus.cancelled]))))
    # a direct dispatch (a ready standby volunteer) is confirmed when written, but known only once handed over
    confirmed = sum(_value(status) in KNOWN_TO_COME and dispatch_key(aid) in handed for aid, status in active)
    told = sum(dispatch_key(aid) in handed or _value(status) in KNOWN_TO_COME for aid, status in active)
    return {"placed": int(placed), "told": told, "confirmed": confirmed, "waves": int(waves or 0)}


def _value(status: Any) -> str:
    return getattr(status, "value", status)


def fill_definition(runtime: Any, order_id: int) -> str:
    """"confirmed" when the order requires confirmation, else "told": a place is filled, as a commander means
    it, once its volunteer said they come (or, without confirmation, once the dispatch reached the gateway)."""
    from mobilize.models import Order

    with runtime.transaction() as session:
        return "confirmed" if session.get(Order, order_id).confirmation_required else "told"


def pending_outbound(runtime: Any) -> int:
    """Messages in the outbox due and not yet handed to the gateway (pending or claimed by a sender). A message
    held until the morning (a roster notice in the district's quiet hours: `not_before`) is not due: a drill
    run at night would otherwise never see its outbox drained."""
    from mobilize.models import OutboundMessage, OutboundStatus
    from mobilize.models._types import utcnow

    with runtime.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.status.in_([OutboundStatus.pending, OutboundStatus.sending]),
            or_(OutboundMessage.not_before.is_(None), OutboundMessage.not_before <= utcnow()))))


def wait_outbox_drained(stack: LiveStack, timeout: float = DRAIN_TIMEOUT_S) -> bool:
    """Until the outbox holds nothing not yet handed to the gateway; False when `timeout` passed first."""
    deadline = time.monotonic() + timeout
    while pending_outbound(stack.runtime):
        stack.check()
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def watch(stack: LiveStack, order_id: int, config: LiveDrillConfig, say: Callable[[str], None]) -> Trace:
    """Poll the fill until every place is filled as a commander means it (see `fill_definition`) or the time
    limit passes; the timelines in real seconds from launch."""
    trace = Trace()
    definition = fill_definition(stack.runtime, order_id)
    _set(trace, "fill_definition", definition)
    start = time.monotonic()
    last: dict[str, int] = {}
    last_note = start
    while True:
        stack.check()
        now = time.monotonic() - start
        counts = fill_counts(stack.runtime, order_id)
        counts["ready"] = counts[definition]
        trace.waves = counts["waves"]
        for name, timeline in (("placed", "fill_times"), ("told", "told_times"), ("confirmed", "confirmed_times"),
                               ("ready", "ready_times")):
            if last.get(name) != counts[name] and hasattr(trace, timeline):
                last[name] = counts[name]
                getattr(trace, timeline).append((now, counts[name]))
        if counts["placed"] >= config.places and getattr(trace, "first_placed_s", 0) is None:
            trace.first_placed_s = now
        if counts["ready"] >= config.places:
            trace.first_fill_s = now
            break
        if now > config.time_limit_s:
            say(f"time limit of {config.time_limit_s:.0f} s reached at {counts['ready']}/{config.places} {definition}")
            break
        if time.monotonic() - last_note >= PROGRESS_EVERY_S:
            last_note = time.monotonic()
            say(f"t={now:6.0f} s  placed {counts['placed']}/{config.places}  told {counts['told']}  confirmed "
                f"{counts['confirmed']}  waves {counts['waves']}")
        time.sleep(POLL_S)
    trace.real_s = time.monotonic() - start
    return trace


def _set(trace: Trace, name: str, value: Any) -> None:
    """Only fields the drill's Trace has (it grows with the simulated drill's report)."""
    if hasattr(trace, name):
        setattr(trace, name, value)
