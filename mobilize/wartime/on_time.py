"""On time is on time (issue 10, item 6): an answer the webhook stored before a deadline counts as given
before it, even when it is processed after (Redis was down, the inbound jobs are behind).

Before the timeout sweep releases an unconfirmed dispatch past its `confirm_by`, it looks for messages from
that volunteer stored before `confirm_by` and not processed yet:

- an answer about this order (accept, decline, drop out, arrived, done; bare or with this order's code) is
  processed here, as the inbound job would (`conversation.handle_inbound`), with its effects dated when it was
  received, inside the sweep's transaction (which holds this order's lock, the only order lock such an answer
  takes). It is claimed with the inbound job's own claim (`sms.inbox`), without waiting: a job processing it
  right now keeps the dispatch for this sweep, and the job's answer then decides;
- an opt-out keeps the dispatch too: the inbound job releases it as an opt-out (its locks span every order the
  volunteer is in, which the sweep, holding one order's lock, must not take) and no timeout text is sent;
- anything else (help, the roster, an answer naming another order) does not decide this dispatch.

Without the settings to answer with (a caller that does not pass them), answers about this order keep the
dispatch too, for the inbound job. Whatever cannot be processed here (an error) is left to the inbound job and
does not keep the dispatch: a message that never processes must not hold a place forever.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilize.domain.order_states import UNDERWAY_STATES
from mobilize.domain.replies import Intent, parse_reply
from mobilize.models import Assignment, InboundMessage, Order, Volunteer
from mobilize.sms import inbox

if TYPE_CHECKING:
    from config import Settings

log = structlog.get_logger(__name__)

# the conversation's ORDER_INTENTS: the answers the wartime reply handler applies to an order
ORDER_ANSWERS = frozenset({Intent.ACCEPT, Intent.DECLINE, Intent.DROP_OUT, Intent.ARRIVED, Intent.DONE})


def answer_stored_replies(session: Session, order: Order, expired: list[Assignment], now: datetime,
                          settings: "Settings | None") -> set[int]:
    """Process the replies stored in time about these dispatches (in the caller's transaction, which holds the
    order lock). Returns the ids of the dispatches that must not time out in this sweep."""
    if not expired:
        return set()
    by_phone = _by_phone(session, expired)
    deadline = max(assignment.confirm_by for assignment in expired)
    stored = inbox.unprocessed_from(session, by_phone, deadline)
    other_codes = _other_codes(session, order) if stored else set()
    kept: set[int] = set()
    for message in stored:  # oldest first: a volunteer's answers are applied in the order they came
        assignment = by_phone[message.from_phone]
        if assignment.id in kept or message.received_at >= assignment.confirm_by:
            continue  # an earlier answer is still pending, or this one came too late to count
        what = _what_it_is(message, order, other_codes)
        if what == "unrelated":
            continue
        if what == "opt_out" or settings is None or not _answer_now(session, settings, message, now):
            kept.add(assignment.id)
    return kept


def _by_phone(session: Session, expired: list[Assignment]) -> dict[str, Assignment]:
    """The dispatches by their volunteer's phone (one query, not one lazy load per dispatch)."""
    phones = dict(session.execute(select(Volunteer.id, Volunteer.phone).where(
        Volunteer.id.in_([assignment.volunteer_id for assignment in expired]))).all())
    return {phones[assignment.volunteer_id]: assignment for assignment in expired
            if assignment.volunteer_id in phones}


def _other_codes(session: Session, order: Order) -> set[str]:
    """The codes of the other orders a reply can still be about (their volunteers may answer)."""
    return set(session.scalars(select(Order.reply_code).where(Order.state.in_(list(UNDERWAY_STATES)),
                                                              Order.id != order.id)))


def _what_it_is(message: InboundMessage, order: Order, other_codes: set[str]) -> str:
    """"answer" (about this order), "opt_out", or "unrelated"."""
    parsed = parse_reply(message.body)
    if parsed.intent is Intent.OPT_OUT:
        return "opt_out"
    if parsed.intent not in ORDER_ANSWERS:
        return "unrelated"
    if parsed.code is not None and parsed.code != order.reply_code and parsed.code in other_codes:
        return "unrelated"  # its effects (and locks) are another order's
    return "answer"


def _answer_now(session: Session, settings: "Settings", message: InboundMessage, now: datetime) -> bool:
    """Claim and process the message here, in a savepoint. False when another transaction is processing it
    right now (its outcome decides; this sweep must not pre-empt it)."""
    from mobilize.conversation import handle_inbound  # the conversation imports wartime modules

    # A savepoint's rollback fires after_soft_rollback, which forgets the whole transaction's requested
    # follow-ups and sender kicks (see places.place): keep them to put back.
    requests = {key: set(value) for key, value in session.info.items() if isinstance(value, set)}
    try:
        with session.begin_nested():
            claim = inbox.claim_without_waiting(session, message.id, now)
            if claim is inbox.Claim.busy:
                return False
            if claim is inbox.Claim.claimed:
                # effects dated when it was received: a confirmation in time is recorded as in time
                handle_inbound(session, settings, message, now=message.received_at)
    except Exception:  # noqa: BLE001 - one bad message must not stop the sweep of the whole order
        session.info.update(requests)
        log.exception("wartime.stored_reply_failed", inbound_id=message.id)
    return True
