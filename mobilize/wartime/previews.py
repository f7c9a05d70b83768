"""What an order action will send, exactly, before it is done (issue 10, DESIGN 3.7 and 5).

The preview does not model the action: it runs the very action (`lifecycle`), and for launch and top up the
follow-up jobs the action requests at once (the first wave; the wave and the matching), inside a savepoint, notes
every outbox row they write, and rolls the savepoint back. So the preview and the action cannot disagree, and
nothing is written: the rows, the audit events, the after-commit wishes in `session.info` (wave and match
requests, sender kicks, live-board notes) are all forgotten. A refusal is the action's own (409 in a state that
does not allow it, or finish before the window starts).

The action itself may still send something else later if the world changes in between (a reply arrives, the
wave job runs a minute later and finds another audience); the preview is the truth of the moment it is asked.
"""
from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from mobilize.models import Assignment, Invitation, Order, OutboundMessage, Volunteer
from mobilize.wartime import dispatch, lifecycle, pacing_inputs, waves
from mobilize.wartime.audit import SYSTEM, Actor
from mobilize.wartime.drafts import DemandSpec
from mobilize.wartime.errors import NotFound
from mobilize.wartime.messages import DEFAULT_ZONE
from mobilize.wartime.places import ACTIVE

DEFAULT_PRICE_PER_SEGMENT = 0.045  # config's SMS_PRICE_PER_SEGMENT default
DEFAULT_CURRENCY = "CNY"
CHUNK = 500  # ids per IN (SQLite allows 32766 parameters; a wave may be larger)
NOT_INVITED = "not_invited"  # recipient_status of someone the action invites for the first time


class SmsTotals:
    """The totals of a preview's `messages` (dicts with segments and template), priced at `price_per_segment`:
    shared by the order actions' previews and the roster's."""

    messages: list[dict[str, Any]]
    price_per_segment: float

    @property
    def sms_count(self) -> int:
        return len(self.messages)

    @property
    def segments(self) -> int:
        return sum(message["segments"] for message in self.messages)

    @property
    def by_template(self) -> dict[str, int]:
        return dict(sorted(Counter(message["template"] for message in self.messages).items()))

    @property
    def estimated_cost(self) -> float:
        return round(self.segments * self.price_per_segment, 2)


@dataclass(frozen=True)
class ActionPreview(SmsTotals):
    """The SMS an action will write: one dict per message (volunteer_id, phone, name, language, template, text,
    segments, recipient_status: the volunteer's assignment status in the order, else their invitation status,
    else `not_invited`, as it is before the action)."""

    action: str
    order_id: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    price_per_segment: float = DEFAULT_PRICE_PER_SEGMENT
    currency: str = DEFAULT_CURRENCY
    # what an ending does besides texting (no_shows, released, certified_hours, withdrawn, lapsed): a commander
    # must see "64 dispatched volunteers become no-shows" before finishing, even when it sends no SMS
    effects: dict[str, Any] = field(default_factory=dict)
    # launch: the deadline's trade-off (`pacing_inputs.deadline_tradeoff`): invitations, segments and cost for the
    # chosen needed-by time and for a nearer and a later one
    deadline: dict[str, Any] | None = None

    @property
    def recipients_by_status(self) -> dict[str, int]:
        """Recipients (not messages) by their status before the action."""
        statuses = {message["volunteer_id"]: message["recipient_status"] for message in self.messages}
        return dict(sorted(Counter(statuses.values()).items()))

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "order_id": self.order_id, "messages": self.messages,
                "sms_count": self.sms_count, "segments": self.segments, "by_template": self.by_template,
                "recipients_by_status": self.recipients_by_status, "estimated_cost": self.estimated_cost,
                "currency": self.currency, "price_per_segment": self.price_per_segment, "effects": self.effects,
                "deadline": self.deadline}


class UnknownAction(NotFound):
    """There is no such action to preview; the message names the ones there are."""

    code = "unknown_action"


# --- the actions, as the service and its follow-up jobs run them --------------------------------------------

Runner = Callable[..., "lifecycle.Ending | None"]


def _launch(session: Session, order_id: int, now: datetime, zone: str, actor: Actor) -> None:
    lifecycle.launch(session, order_id, actor, now)
    waves.send_wave(session, order_id, now, zone)  # the wave job the launch requests (its SMS are the launch's)


def _top_up(session: Session, order_id: int, now: datetime, zone: str, actor: Actor, *,
            additions: list[DemandSpec], hold_max_s: float = dispatch.HOLD_MAX_S) -> None:
    lifecycle.top_up(session, order_id, list(additions), actor, now)
    # the jobs it requests, in the order they run: the wave job at once, matching after its short debounce
    waves.send_wave(session, order_id, now, zone)
    dispatch.run_matching(session, order_id, now, zone, hold_max_s=hold_max_s)


def _stop_recruiting(session: Session, order_id: int, now: datetime, zone: str, actor: Actor) -> lifecycle.Ending:
    return lifecycle.stop_recruiting(session, order_id, actor, now, zone)


def _finish(session: Session, order_id: int, now: datetime, zone: str, actor: Actor) -> lifecycle.Ending:
    return lifecycle.finish(session, order_id, actor, now, zone)


def _cancel(session: Session, order_id: int, now: datetime, zone: str, actor: Actor, *,
            reason: str | None = None) -> lifecycle.Ending:
    return lifecycle.cancel(session, order_id, actor, now, reason, zone)


RUNNERS: dict[str, Runner] = {"launch": _launch, "top_up": _top_up, "stop_recruiting": _stop_recruiting,
                              "finish": _finish, "cancel": _cancel}
ACTIONS = tuple(RUNNERS)


def run_action(session: Session, order_id: int, action: str, now: datetime, zone: str = DEFAULT_ZONE,
               actor: Actor = SYSTEM, **action_args: Any) -> "lifecycle.Ending | None":
    """The action and the follow-ups it requests at once, in the caller's transaction (what `preview_action`
    runs and rolls back; tests run it for real to compare). An ending returns what it did."""
    if action not in RUNNERS:
        raise UnknownAction(f"no order action {action!r} to preview (there are: {', '.join(ACTIONS)})",
                            details={"action": action, "actions": list(ACTIONS)})
    return RUNNERS[action](session, order_id, now, zone, actor, **action_args)


# --- the preview -----------------------------------------------------------------------------------------------


def preview_action(session: Session, order_id: int, action: str, now: datetime, zone: str = DEFAULT_ZONE,
                   *, price_per_segment: float = DEFAULT_PRICE_PER_SEGMENT, currency: str = DEFAULT_CURRENCY,
                   **action_args: Any) -> ActionPreview:
    """The SMS `action` (launch, top_up, stop_recruiting, finish, cancel) would write now, without writing
    anything. Raises what the action raises (409 when the order's state or window does not allow it)."""
    outcome: list = []
    written = run_and_roll_back(session, lambda: outcome.append(
        run_action(session, order_id, action, now, zone, **action_args)))
    deadline = None
    if action == "launch":  # the deadline's trade-off: what a nearer or a later one would cost (issue 14)
        order = session.get(Order, order_id)
        deadline = pacing_inputs.deadline_tradeoff(session, order, now, price_per_segment, zone=zone)
    return ActionPreview(action, order_id, _describe(session, order_id, written), price_per_segment, currency,
                         _effects(outcome[0] if outcome else None), deadline)


def _effects(ending: "lifecycle.Ending | None") -> dict[str, Any]:
    if ending is None:
        return {}
    return {"released": ending.released, "no_shows": ending.no_shows, "withdrawn": ending.withdrawn,
            "lapsed": ending.lapsed, "certified_hours": round(ending.certified_hours, 2)}


@contextmanager
def rolled_back(session: Session) -> Iterator[None]:
    """What runs inside happens in a savepoint that is then rolled back, whatever happens; the transaction's
    after-commit wishes (`session.info`) become what they were. Rolling back a savepoint fires
    after_soft_rollback, which drops the whole transaction's sender kicks, and the inside may add wishes of its
    own: both ways, restoring the snapshot is what keeps them right."""
    saved_info = _snapshot(session.info)
    savepoint = session.begin_nested()
    try:
        yield
    finally:
        if savepoint.is_active:
            savepoint.rollback()
        session.info.clear()
        session.info.update(saved_info)


def run_and_roll_back(session: Session, act: Callable[[], None]) -> list[dict[str, Any]]:
    """Run `act` in a savepoint and roll it back; the outbox rows it wrote, as plain values (in write order)."""
    written: list[OutboundMessage] = []

    def note(_session: Session, instance: object) -> None:
        if isinstance(instance, OutboundMessage):
            written.append(instance)

    event.listen(session, "pending_to_persistent", note)
    try:
        with rolled_back(session):
            act()
            session.flush()
            rows = [{"id": m.id, "volunteer_id": m.volunteer_id, "phone": m.to_phone, "template": m.kind,
                     "text": m.body, "segments": m.segments} for m in written]
    finally:
        event.remove(session, "pending_to_persistent", note)
    return sorted(rows, key=lambda row: row["id"])


def _snapshot(info: dict) -> dict:
    return {key: copy.deepcopy(value) if isinstance(value, (set, dict, list)) else value
            for key, value in info.items()}


def _describe(session: Session, order_id: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add who each recipient is and where they stand in the order (read after the rollback: before the action)."""
    ids = sorted({row["volunteer_id"] for row in rows if row["volunteer_id"] is not None})
    people = {v.id: v for chunk in _chunks(ids)
              for v in session.scalars(select(Volunteer).where(Volunteer.id.in_(chunk)))}
    statuses = recipient_statuses(session, order_id, ids)
    described = []
    for row in rows:
        volunteer = people.get(row["volunteer_id"])
        described.append({"volunteer_id": row["volunteer_id"], "phone": row["phone"],
                          "name": volunteer.name if volunteer else None,
                          "language": volunteer.language if volunteer else None,
                          "template": row["template"], "text": row["text"], "segments": row["segments"],
                          "recipient_status": statuses.get(row["volunteer_id"], NOT_INVITED)})
    return described


def recipient_statuses(session: Session, order_id: int, volunteer_ids: list[int]) -> dict[int, str]:
    """Per volunteer: the status of their live assignment in the order, else of their invitation."""
    statuses: dict[int, str] = {}
    for chunk in _chunks(volunteer_ids):
        statuses.update({vid: status.value for vid, status in session.execute(select(
            Invitation.volunteer_id, Invitation.status).where(Invitation.order_id == order_id,
                                                              Invitation.volunteer_id.in_(chunk)))})
    for chunk in _chunks(volunteer_ids):  # a live assignment says more than the invitation
        statuses.update({vid: status.value for vid, status in session.execute(select(
            Assignment.volunteer_id, Assignment.status).where(Assignment.order_id == order_id,
                                                              Assignment.volunteer_id.in_(chunk),
                                                              Assignment.status.in_(list(ACTIVE))))})
    return statuses


def _chunks(ids: list[int], size: int = CHUNK) -> list[list[int]]:
    return [ids[start:start + size] for start in range(0, len(ids), size)]
