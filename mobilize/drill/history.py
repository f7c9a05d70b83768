"""The district's past orders, for the drill: what the pacing's prior (`wartime.pacing_inputs.history_prior`) reads.

A real district has answered orders before; a fresh drill instance has not. `seed_history` writes past orders as
the service would have left them, closed: each a day earlier at the drill's time of day, its invitations handed
to the gateway at the sender's cap and answered (or not) by the drill's people (`responder.AnswerModel`: answer
rate, STOPs and declines, lognormal delays), drawn with their own random stream so the drill's own answers are not
disturbed. The pacing learns from these rows only what it would learn from real ones: counts and delays.
"""
from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from mobilize.drill.responder import AnswerModel
from mobilize.wartime.messages import invite_key

PAST_ORDER_INVITATIONS = 1000  # invitations per past order
HISTORY_SENDER_RATE = 100.0  # invitations handed per second in the past orders


def seed_history(runtime, build_order, config, launch: datetime, invitations: int, model: AnswerModel) -> int:
    """Past orders with `invitations` invitations in all, a day apart before `launch`; returns how many written."""
    from mobilize.models import Order, OrderState, Volunteer

    rng = random.Random(config.seed * 7919 + 1)
    with runtime.transaction() as session:
        volunteers = session.execute(select(Volunteer.id, Volunteer.phone)
                                     .where(Volunteer.opted_out_at.is_(None))).all()
    written = 0
    for day in range(1, math.ceil(invitations / PAST_ORDER_INVITATIONS) + 1):
        count = min(PAST_ORDER_INVITATIONS, invitations - written)
        past = launch - timedelta(days=day)
        order_id = build_order(runtime, config, past)
        people = rng.sample(volunteers, min(count, len(volunteers)))
        with runtime.transaction() as session:
            session.execute(update(Order).where(Order.id == order_id).values(
                state=OrderState.closed, launched_at=past, closed_at=past + timedelta(hours=10), waves_sent=1,
                last_wave_at=past))
            invitation_rows, message_rows = _past_rows(order_id, people, past, model, rng)
            _insert(session, invitation_rows, message_rows)
        written += len(people)
    return written


def _past_rows(order_id: int, people: list, launch: datetime, model: AnswerModel, rng: random.Random
               ) -> tuple[list[dict], list[dict]]:
    from mobilize.models import InvitationStatus, OutboundStatus, Priority

    invitations, messages = [], []
    for position, (volunteer_id, phone) in enumerate(people):
        sent_at = launch + timedelta(seconds=(position + 1) / HISTORY_SENDER_RATE)
        status, answered_at = InvitationStatus.cancelled, None  # silent: lapsed when the order closed
        if rng.random() < model.answer_rate:
            delay = rng.lognormvariate(math.log(model.delay_median_s), model.delay_sigma)
            answered_at = sent_at + timedelta(seconds=delay)
            declined = rng.random() < model.stop_rate or rng.random() < model.decline_rate
            status = InvitationStatus.declined if declined else InvitationStatus.accepted
        invitations.append({"order_id": order_id, "volunteer_id": volunteer_id, "wave": 1, "status": status,
                            "invited_at": launch, "answered_at": answered_at})
        messages.append({"volunteer_id": volunteer_id, "to_phone": phone, "body": "(past order's invitation)",
                         "kind": "invitation", "priority": Priority.bulk, "segments": 1,
                         "status": OutboundStatus.delivered, "dedupe_key": invite_key(order_id, volunteer_id),
                         "attempts": 1, "created_at": launch, "sent_at": sent_at})
    return invitations, messages


def _insert(session, invitation_rows: list[dict], message_rows: list[dict]) -> None:
    from mobilize.models import Invitation, OutboundMessage

    for start in range(0, len(invitation_rows), 500):
        session.execute(insert(Invitation), invitation_rows[start:start + 500])
        session.execute(insert(OutboundMessage), message_rows[start:start + 500])
