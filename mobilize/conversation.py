"""The SMS conversation: what an inbound message means for the volunteer who sent it, and what we answer.

Runs inside the transaction that marks the inbound message processed, so its effects happen exactly once.
Answers go through the outbox (priority high). No Flask, no Redis.

Order replies (accept, decline, drop out, arrived, done) go to the wartime reply handler
(`mobilize.wartime.replies`); when they apply to nothing, the volunteer gets the short not-understood help.
The router sits on top of its handlers: what they share with it (`Exchange`, the replier) is in
`mobilize.sms.exchange`, below them all.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from config import Settings
from mobilize.domain.replies import Intent, parse_reply
from mobilize.models import InboundMessage, Volunteer
from mobilize.models._types import utcnow
from mobilize.peacetime.sms import CHECK_INTENTS, ROSTER_INTENTS, handle_roster_reply, handle_shift_check
from mobilize.sms import outbox
from mobilize.sms.exchange import CARRIER_ANSWERED, HINT_INTERVAL, Exchange, Replier  # noqa: F401  (re-exported)
from mobilize.wartime import audit, open_call, optouts
from mobilize.wartime.replies import handle_order_reply

ORDER_INTENTS = frozenset({Intent.ACCEPT, Intent.DECLINE, Intent.DROP_OUT, Intent.ARRIVED, Intent.DONE})


@lru_cache(maxsize=1)
def _volunteer_by_phone():
    """The sender's volunteer, built once (every inbound message reads it)."""
    return select(Volunteer).where(Volunteer.phone == bindparam("phone"))


def handle_inbound(session: Session, settings: Settings, inbound: InboundMessage,
                   now: datetime | None = None) -> str:
    """Apply one inbound message; returns a short outcome for the record (also stored on the message)."""
    parsed = parse_reply(inbound.body)
    volunteer = session.scalar(_volunteer_by_phone(), {"phone": inbound.from_phone})
    exchange = Exchange(session, settings, inbound, parsed, volunteer, now or utcnow())
    inbound.volunteer_id = volunteer.id if volunteer else None
    inbound.intent = parsed.intent.value
    inbound.reply_code = parsed.code
    outcome = _route(exchange)
    inbound.outcome = outcome
    return outcome


def _route(exchange: Exchange) -> str:
    intent = exchange.parsed.intent
    if intent is Intent.OPT_OUT:
        return _opt_out(exchange)
    if intent is Intent.OPT_IN:
        return _opt_in(exchange)
    if exchange.volunteer is None:
        return _unknown_sender(exchange)
    if exchange.volunteer.opted_out:
        return "ignored_opted_out"  # nothing but START/订阅 is answered after an opt-out
    if intent is Intent.HELP:
        exchange.reply("help")
        return "help_sent"
    # peacetime roster: 时长/HOURS, 班次/SHIFT, 换班/SWAP; 签到/签退 on a shift now (else they stay order replies)
    if intent in ROSTER_INTENTS:
        outcome = handle_roster_reply(exchange)
        return outcome if outcome is not None else _not_understood(exchange, "nothing_to_answer")
    if intent in CHECK_INTENTS:
        outcome = handle_shift_check(exchange)
        if outcome is not None:
            return outcome
    if intent in ORDER_INTENTS:
        outcome = handle_order_reply(exchange)
        return outcome if outcome is not None else _not_understood(exchange, "no_open_invitation")
    return _not_understood(exchange, "not_understood")


def _opt_out(exchange: Exchange) -> str:
    volunteer = exchange.volunteer
    if volunteer is None:
        return open_call.opt_out(exchange)  # ends an open-call sign-up; nothing more is sent to the phone
    already = volunteer.opted_out
    # marks the opt-out (cancelling what still waits in the outbox) and frees their places in running orders
    optouts.release_opted_out(exchange.session, volunteer.id, exchange.now, audit.Actor.sms(volunteer.phone))
    exchange.session.refresh(volunteer)
    if not already and exchange.parsed.carrier_keyword not in CARRIER_ANSWERED:
        exchange.reply(outbox.OPT_OUT_CONFIRMATION)
    return "opted_out" if not already else "already_opted_out"


def _opt_in(exchange: Exchange) -> str:
    volunteer = exchange.volunteer
    if volunteer is None:
        open_call.opt_in(exchange)
        return _unknown_sender(exchange)
    if not volunteer.opted_out:
        return "already_opted_in"
    volunteer.opted_out_at = None
    if exchange.parsed.carrier_keyword not in CARRIER_ANSWERED:
        exchange.reply("opt_in_confirm")
    return "opted_in"


def _unknown_sender(exchange: Exchange) -> str:
    outcome = open_call.handle_unknown_sender(exchange)  # sign-up dialogue while an open call runs
    if outcome is not None:
        return outcome
    if exchange.answered_recently("unknown_sender"):
        return "unknown_sender_quiet"
    exchange.reply("unknown_sender")
    return "unknown_sender_hint"


def _not_understood(exchange: Exchange, outcome: str) -> str:
    """One short help reply; a second unreadable message within a day gets none (never a loop)."""
    if exchange.answered_recently("not_understood"):
        return f"{outcome}_quiet"
    exchange.reply("not_understood")
    return outcome
