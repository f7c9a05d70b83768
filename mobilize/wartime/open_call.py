"""Open call: people outside the registry join an open order by SMS ("text 报名27 to this number").

An unregistered sender who texts an accept (报名, 报名27, JOIN 27, Y27...) while an order with `open_call` is
open or filled starts a short dialogue, stored in `open_call_dialogues` (one row per phone, so it survives
restarts): name -> street (Chinese name with or without 街道, English name, or a number of the list the SMS shows)
-> confirm (Y / N). On Y the person becomes a provisional volunteer (street centre as approximate home, language
from their replies) with an accepted invitation to the order: matching places them only on demands that accept
provisional volunteers, and the street officer verifies them on arrival (`verify_volunteer`).

Safety: the dialogue row is locked (FOR UPDATE; SQLite serialises writers at BEGIN IMMEDIATE) before anything is
read, and created with INSERT ... ON CONFLICT DO NOTHING, so duplicate or concurrent messages from one phone are
handled one after the other; the volunteers' unique phone is the last line of defence. Links, profanity and
overlong messages end the dialogue at once (and the phone is ignored for a day); unreadable answers are asked
again up to MAX_BAD_ANSWERS; a dialogue without an answer for DIALOGUE_TIMEOUT expires. STOP / TD at any point
ends it and nothing more is sent to that phone until START / 订阅.

Runs inside the conversation's transaction (`mobilize.conversation`); no Flask, no Redis.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobilize.domain.district import STREETS, find_street
from mobilize.domain.order_states import RUNNING_STATES
from mobilize.domain.replies import Intent
from mobilize.domain.templates import render
from mobilize.domain.text_safety import clean_line
from mobilize.models import (
    DialogueStep,
    Invitation,
    InvitationStatus,
    OpenCallDialogue,
    Order,
    OutboundMessage,
    OutboundStatus,
    Priority,
    Response,
    Street,
    Volunteer,
)
from mobilize.sms import outbox
from mobilize.sms.exchange import CARRIER_ANSWERED
from mobilize.wartime import audit, followups
from mobilize.wartime.errors import Conflict, NotFound

if TYPE_CHECKING:
    from mobilize.sms.exchange import Exchange

DIALOGUE_TIMEOUT = timedelta(minutes=30)
MAX_BAD_ANSWERS = 3  # unreadable answers before the dialogue ends
MAX_MESSAGES = 12  # inbound messages in one dialogue (N / start over loops included)
MAX_BODY = 100  # characters: longer is not an answer to "your name?"
REFUSAL_COOLDOWN = timedelta(hours=24)  # after links / abuse the phone is ignored this long
REPROMPT_AFTER = timedelta(minutes=2)  # a repeated 报名 gets the question again only after this
ACTIVE_STEPS = (DialogueStep.name, DialogueStep.street, DialogueStep.confirm)
REFUSALS = ("link", "abuse", "too_long")

_LINK = re.compile(r"(https?://|www\.|\b[a-z0-9-]+\.(com|cn|net|org|top|xyz|io|cc|me|info|vip|link)\b)", re.I)
_PROFANITY_ZH = ("傻逼", "傻B", "煞笔", "操你", "草你", "妈的", "他妈", "尼玛", "草泥马", "滚蛋", "王八蛋", "贱人",
                 "去死", "婊子", "狗日")
_PROFANITY_EN = re.compile(r"\b(fuck\w*|shit\w*|bitch\w*|asshole|cunt|dick|bastard|motherf\w*|wank\w*)\b", re.I)
_CANCEL = {"取消", "取消报名", "不报了", "不报名了", "不报名", "算了", "不了", "N", "NO", "不"}
_NAME_CJK = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff·•]{2,20}$")
_NAME_LATIN = re.compile(r"^[A-Za-z][A-Za-z .'\-]{0,38}[A-Za-z.]$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


# --- reading answers (pure) --------------------------------------------------------------------------------------


def language_of(text: str) -> str | None:
    """zh when the text has Chinese characters, en when it has Latin letters only, None otherwise (digits)."""
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(text):
        return "en"
    return None


def refusal(body: str) -> str | None:
    """Why a message ends the dialogue at once: too_long, link, abuse; None when it may be an answer."""
    text = unicodedata.normalize("NFKC", body or "")
    if len(text.strip()) > MAX_BODY:
        return "too_long"
    if _LINK.search(text):
        return "link"
    compact = re.sub(r"\s+", "", text)
    if any(word in compact for word in _PROFANITY_ZH) or _PROFANITY_EN.search(text):
        return "abuse"
    return None


def clean_name(body: str) -> str | None:
    """A person's name (2-20 Chinese characters, or 2-40 Latin letters with spaces, dots, hyphens), else None."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", body or "")).strip(" ,.;:!?，。；：！？")
    if _NAME_CJK.match(text.replace(" ", "")):
        return text.replace(" ", "")
    if _NAME_LATIN.match(text):
        return " ".join(part.capitalize() if part.islower() or part.isupper() else part for part in text.split())
    return None


def street_answer(body: str):
    """A StreetInfo from '八大关', '八大关街道', 'Badaguan' or the number of the SMS list (1-11), else None."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", body or "")).strip(",.;:!?，。；：！？#")
    if text.isdigit():
        number = int(text)
        return STREETS[number - 1] if 1 <= number <= len(STREETS) else None
    if text.endswith("街道") and len(text) > 2:
        text = text[:-2]
    elif text.endswith("街") and len(text) > 1:
        text = text[:-1]
    return find_street(text)


def is_cancel(body: str) -> bool:
    return re.sub(r"[\s,.!?，。！？]+", "", unicodedata.normalize("NFKC", body or "")).upper() in _CANCEL


# --- the orders open to the public ---------------------------------------------------------------------------------


def running_open_calls(session: Session) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.open_call.is_(True),
                                                    Order.state.in_(list(RUNNING_STATES))).order_by(Order.id)))


def _running(order: Order | None) -> bool:
    return order is not None and order.open_call and order.state in RUNNING_STATES


# --- the dialogue row, locked ----------------------------------------------------------------------------------


def _lock(session: Session, phone: str) -> OpenCallDialogue | None:
    return session.scalar(select(OpenCallDialogue).where(OpenCallDialogue.phone == phone)
                          .with_for_update().execution_options(populate_existing=True))


def _claim(session: Session, phone: str, now: datetime) -> OpenCallDialogue:
    """The phone's dialogue row, created if missing (a concurrent creator wins and we wait for it), locked."""
    values = dict(phone=phone, step=DialogueStep.ended.value, bad_answers=0, messages=0, started_at=now,
                  last_activity_at=now)
    table = OpenCallDialogue.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    session.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["phone"]))
    return _lock(session, phone)


def _registered(session: Session, phone: str, dialogue: OpenCallDialogue | None) -> bool:
    """Read after the lock: sees a volunteer that a concurrent message of this phone committed meanwhile."""
    if dialogue is not None and dialogue.step is DialogueStep.joined:
        return True
    return session.scalar(select(Volunteer.id).where(Volunteer.phone == phone)) is not None


def _active(dialogue: OpenCallDialogue | None) -> bool:
    return dialogue is not None and dialogue.step in ACTIVE_STEPS


def _end(dialogue: OpenCallDialogue, reason: str, now: datetime) -> None:
    dialogue.step, dialogue.end_reason, dialogue.ended_at = DialogueStep.ended, reason, now


def expire_dialogues(session: Session, now: datetime) -> int:
    """Periodic (optional: expiry is also applied when the phone texts again): dialogues without an answer for
    DIALOGUE_TIMEOUT end as `timeout`. Nothing is sent (a late answer gets the expiry notice)."""
    result = session.execute(update(OpenCallDialogue)
                             .where(OpenCallDialogue.step.in_([s.value for s in ACTIVE_STEPS]),
                                    OpenCallDialogue.last_activity_at < now - DIALOGUE_TIMEOUT)
                             .values(step=DialogueStep.ended, end_reason="timeout", ended_at=now)
                             .execution_options(synchronize_session=False))
    return result.rowcount


# --- entry points from the conversation ------------------------------------------------------------------------


def handle_unknown_sender(exchange: "Exchange") -> str | None:
    """A message from a phone with no volunteer record. The outcome, or None when no open call concerns it (the
    conversation then sends its usual how-to-register hint)."""
    session, phone, now, parsed = exchange.session, exchange.inbound.from_phone, exchange.now, exchange.parsed
    dialogue = _lock(session, phone)
    if dialogue is not None and dialogue.opted_out_at is not None:
        return "ignored_opted_out"  # STOP was sent: nothing until START / 订阅
    if _registered(session, phone, dialogue):
        return "open_call_already_joined"  # a concurrent message of the same phone just made the volunteer
    expired = False
    if _active(dialogue) and dialogue.last_activity_at < now - DIALOGUE_TIMEOUT:
        _end(dialogue, "timeout", now)
        expired = True
    if _active(dialogue):
        return _answer(exchange, dialogue)
    if dialogue is not None and dialogue.end_reason in REFUSALS and dialogue.ended_at > now - REFUSAL_COOLDOWN:
        return "open_call_ignored"
    calls = running_open_calls(session)
    if not calls:
        return None
    if parsed.intent is Intent.ACCEPT:
        return _start(exchange, calls)
    if expired or (dialogue is not None and dialogue.end_reason == "timeout" and dialogue.order_id
                   and dialogue.ended_at > now - DIALOGUE_TIMEOUT):
        order = session.get(Order, dialogue.order_id)
        if _running(order):
            _say(exchange, dialogue.language, "open_call_expired", code=order.reply_code)
            return "open_call_expired"
    if exchange.answered_recently("open_call_hint"):
        return "open_call_hint_quiet"
    _say(exchange, language_of(exchange.inbound.body), "open_call_hint", code=calls[0].reply_code)
    return "open_call_hint"


def opt_out(exchange: "Exchange") -> str:
    """STOP / TD from a phone without a volunteer record: the dialogue (if any) ends, nothing waiting is sent,
    and the phone gets nothing more from the open call until it opts in again."""
    session, phone, now = exchange.session, exchange.inbound.from_phone, exchange.now
    dialogue = _claim(session, phone, now)
    was_active = _active(dialogue)
    already = dialogue.opted_out_at is not None
    if was_active:
        _end(dialogue, "opted_out", now)
    dialogue.opted_out_at = dialogue.opted_out_at or now
    session.execute(update(OutboundMessage)
                    .where(OutboundMessage.to_phone == phone, OutboundMessage.volunteer_id.is_(None),
                           OutboundMessage.status == OutboundStatus.pending,
                           OutboundMessage.kind != outbox.OPT_OUT_CONFIRMATION)
                    .values(status=OutboundStatus.cancelled, error_message="recipient opted out", status_at=now)
                    .execution_options(synchronize_session=False))
    if was_active and not already and exchange.parsed.carrier_keyword not in CARRIER_ANSWERED:
        _say(exchange, dialogue.language, outbox.OPT_OUT_CONFIRMATION)
    if was_active:
        return "open_call_opted_out"
    return "opt_out_unknown_sender"


def opt_in(exchange: "Exchange") -> None:
    """START / 订阅 from a phone without a volunteer record: the open call may text it again."""
    dialogue = _lock(exchange.session, exchange.inbound.from_phone)
    if dialogue is not None:
        dialogue.opted_out_at = None


# --- the dialogue ----------------------------------------------------------------------------------------------


def _say(exchange: "Exchange", language: str | None, template: str, **values) -> OutboundMessage | None:
    values.setdefault("hotline", exchange.settings.hotline)
    body = render(template, language or "zh", **values)
    return outbox.queue_message(exchange.session, body=body, kind=template, priority=Priority.high,
                                to_phone=exchange.inbound.from_phone)


def _start(exchange: "Exchange", calls: list[Order]) -> str:
    session, now, code = exchange.session, exchange.now, exchange.parsed.code
    language = language_of(exchange.inbound.body)
    if code is not None:
        named = [order for order in calls if order.reply_code == code]
        if not named:
            return _ask_which(exchange, calls, language)
        order = named[0]
    elif len(calls) == 1:
        order = calls[0]
    else:
        return _ask_which(exchange, calls, language)
    dialogue = _claim(session, exchange.inbound.from_phone, now)
    if dialogue.opted_out_at is not None:
        return "ignored_opted_out"
    if _registered(session, dialogue.phone, dialogue):
        return "open_call_already_joined"
    if _active(dialogue):  # a concurrent or repeated first message: the dialogue already runs
        return _answer(exchange, dialogue)
    dialogue.order_id, dialogue.step, dialogue.language = order.id, DialogueStep.name, language
    dialogue.name = dialogue.street_id = dialogue.volunteer_id = None
    dialogue.bad_answers, dialogue.messages = 0, 1
    dialogue.started_at = dialogue.last_activity_at = dialogue.prompted_at = now
    dialogue.ended_at = dialogue.end_reason = None
    _say(exchange, language, "open_call_ask_name", code=order.reply_code)
    audit.record(session, audit.Actor.sms(dialogue.phone), "open_call.started", "open_call_dialogue", dialogue.id,
                 now, order_id=order.id)
    return "open_call_started"


def _ask_which(exchange: "Exchange", calls: list[Order], language: str | None) -> str:
    _say(exchange, language, "open_call_which", codes=[f"#{o.reply_code}" for o in calls], code=calls[0].reply_code)
    return "open_call_asked_which"


def _answer(exchange: "Exchange", dialogue: OpenCallDialogue) -> str:
    session, now, body, parsed = exchange.session, exchange.now, exchange.inbound.body, exchange.parsed
    dialogue.messages += 1
    dialogue.last_activity_at = now
    order = session.get(Order, dialogue.order_id) if dialogue.order_id else None
    code = order.reply_code if order is not None else ""
    reason = refusal(body)
    if reason is not None:
        _end(dialogue, reason, now)
        _say(exchange, dialogue.language, "open_call_refused")
        _audit_end(exchange, dialogue)
        return f"open_call_refused_{reason}"
    if not _running(order):
        _end(dialogue, "call_over", now)
        _say(exchange, dialogue.language, "open_call_over", code=code)
        return "open_call_over"
    if is_cancel(body) and dialogue.step is not DialogueStep.confirm:
        return _stop(exchange, dialogue, "cancelled", code)
    if dialogue.messages > MAX_MESSAGES:
        return _stop(exchange, dialogue, "too_many_messages", code)
    if dialogue.language is None:
        dialogue.language = language_of(body)
    if dialogue.step is DialogueStep.name:
        return _on_name(exchange, dialogue, order)
    if dialogue.step is DialogueStep.street:
        return _on_street(exchange, dialogue, order)
    if parsed.intent is Intent.ACCEPT:
        return _join(exchange, dialogue, order)
    if parsed.intent in (Intent.DECLINE, Intent.DROP_OUT):  # N: the details are wrong, start over
        dialogue.step, dialogue.name, dialogue.street_id = DialogueStep.name, None, None
        return _prompt(exchange, dialogue, "open_call_ask_name", "open_call_restarted", code=code)
    return _bad(exchange, dialogue, order)


def _on_name(exchange: "Exchange", dialogue: OpenCallDialogue, order: Order) -> str:
    intent = exchange.parsed.intent
    if intent is Intent.ACCEPT:  # 报名 again (a duplicate, or the question got lost)
        if dialogue.prompted_at is not None and dialogue.prompted_at > exchange.now - REPROMPT_AFTER:
            return "open_call_repeat_quiet"
        return _prompt(exchange, dialogue, "open_call_ask_name", "open_call_repeat", code=order.reply_code)
    if intent is Intent.HELP:
        return _prompt(exchange, dialogue, "open_call_ask_name", "open_call_reprompted", code=order.reply_code)
    name = clean_name(exchange.inbound.body) if intent in (Intent.UNKNOWN, Intent.DECLINE) else None
    if name is None:
        return _bad(exchange, dialogue, order)
    dialogue.name = name[:60]
    dialogue.step = DialogueStep.street
    return _prompt(exchange, dialogue, "open_call_ask_street", "open_call_named")


def _on_street(exchange: "Exchange", dialogue: OpenCallDialogue, order: Order) -> str:
    info = street_answer(exchange.inbound.body)
    street = exchange.session.scalar(select(Street).where(Street.name == info.name)) if info else None
    if street is None:
        return _bad(exchange, dialogue, order)
    dialogue.street_id, dialogue.step = street.id, DialogueStep.confirm
    return _prompt(exchange, dialogue, "open_call_confirm", "open_call_street_set", name=dialogue.name,
                   area=_street_label(street, dialogue.language), code=order.reply_code)


def _street_label(street: Street, language: str | None) -> str:
    return street.name if (language or "zh") == "zh" else f"{street.name_en} Street"


def _prompt(exchange: "Exchange", dialogue: OpenCallDialogue, template: str, outcome: str, **values) -> str:
    _say(exchange, dialogue.language, template, **values)
    dialogue.prompted_at = exchange.now
    return outcome


def _bad(exchange: "Exchange", dialogue: OpenCallDialogue, order: Order) -> str:
    dialogue.bad_answers += 1
    if dialogue.bad_answers >= MAX_BAD_ANSWERS:
        return _stop(exchange, dialogue, "too_many_tries", order.reply_code)
    if dialogue.step is DialogueStep.name:
        return _prompt(exchange, dialogue, "open_call_bad_name", "open_call_bad_name")
    if dialogue.step is DialogueStep.street:
        return _prompt(exchange, dialogue, "open_call_ask_street", "open_call_bad_street")
    street = exchange.session.get(Street, dialogue.street_id)
    return _prompt(exchange, dialogue, "open_call_confirm", "open_call_bad_confirm", name=dialogue.name,
                   area=_street_label(street, dialogue.language), code=order.reply_code)


def _stop(exchange: "Exchange", dialogue: OpenCallDialogue, reason: str, code: str) -> str:
    _end(dialogue, reason, exchange.now)
    _say(exchange, dialogue.language, "open_call_ended", code=code)
    _audit_end(exchange, dialogue)
    return f"open_call_ended_{reason}"


def _audit_end(exchange: "Exchange", dialogue: OpenCallDialogue) -> None:
    audit.record(exchange.session, audit.Actor.sms(dialogue.phone), "open_call.ended", "open_call_dialogue",
                 dialogue.id, exchange.now, order_id=dialogue.order_id, reason=dialogue.end_reason,
                 step_messages=dialogue.messages)


def _join(exchange: "Exchange", dialogue: OpenCallDialogue, order: Order) -> str:
    """The provisional volunteer, their accepted invitation, the audit and the answer, in one transaction."""
    session, now, phone = exchange.session, exchange.now, dialogue.phone
    street = session.get(Street, dialogue.street_id)
    language = dialogue.language or "zh"
    try:
        with session.begin_nested():
            volunteer = Volunteer(name=dialogue.name, phone=phone, street_id=street.id, lat=street.lat,
                                  lon=street.lon, location_approximate=True, language=language, provisional=True,
                                  notes=f"joined by SMS, open call #{order.reply_code}")
            session.add(volunteer)
            session.flush()
    except IntegrityError:  # registered meanwhile by someone else (an import): never a second volunteer
        _end(dialogue, "already_registered", now)
        return "open_call_already_joined"
    session.add(Invitation(order_id=order.id, volunteer_id=volunteer.id, wave=0, status=InvitationStatus.accepted,
                           invited_at=now, answered_at=now))
    session.add(Response(order_id=order.id, volunteer_id=volunteer.id, inbound_message_id=exchange.inbound.id,
                         intent=Intent.ACCEPT.value, outcome="joined_open_call", at=now))
    dialogue.step, dialogue.volunteer_id, dialogue.ended_at, dialogue.end_reason = (
        DialogueStep.joined, volunteer.id, now, "joined")
    exchange.inbound.volunteer_id = volunteer.id
    audit.record(session, audit.Actor.sms(phone), "volunteer.joined_open_call", "volunteer", volunteer.id, now,
                 order_id=order.id, street=street.name, language=language, dialogue_id=dialogue.id)
    body = render("open_call_joined", language, code=order.reply_code)
    outbox.queue_message(session, body=body, kind="open_call_joined", priority=Priority.high, volunteer=volunteer,
                         dedupe_key=f"open_call_joined:volunteer:{volunteer.id}")
    followups.request_match(session, order.id)
    return "open_call_joined"


# --- command center and officers ------------------------------------------------------------------------------


def set_open_call(session: Session, order_id: int, open_call: bool, actor: audit.Actor, now: datetime) -> Order:
    """Publish an order openly (or stop): only while it can still take people (draft, open, filled)."""
    from mobilize.wartime.places import lock_order

    order = lock_order(session, order_id)
    if order.state.value not in ("draft", "open", "filled"):
        raise Conflict(f"order {order.id} is {order.state.value}: it cannot take sign-ups",
                       code="illegal_transition", details={"state": order.state.value})
    if order.open_call != open_call:
        order.open_call = open_call
        audit.record(session, actor, "order.open_call_set", "order", order.id, now, open_call=open_call)
    return order


def announcement(order: Order, number: str | None) -> dict[str, str]:
    """What to read on the radio or post in the app."""
    to = number or "本号码"
    to_en = number or "this number"
    return {"zh": f"招募令#{order.reply_code}「{order.title}」：发送短信“报名{order.reply_code}”到{to}即可报名，"
                  "按提示回复姓名和所在街道。",
            "en": f"Call-out #{order.reply_code} ({order.title}): text JOIN {order.reply_code} to {to_en} "
                  "and answer with your name and street."}


def verify_volunteer(session: Session, volunteer_id: int, actor: audit.Actor, now: datetime,
                     name: str | None = None, notes: str | None = None) -> Volunteer:
    """The officer checked the person on arrival: no longer provisional (the name may be corrected)."""
    volunteer = session.scalar(select(Volunteer).where(Volunteer.id == volunteer_id).with_for_update())
    if volunteer is None:
        raise NotFound(f"no volunteer {volunteer_id}", details={"volunteer_id": volunteer_id})
    if not volunteer.provisional:
        raise Conflict(f"volunteer {volunteer_id} is not provisional (already verified or registered)",
                       code="not_provisional", details={"volunteer_id": volunteer_id})
    changes = {}
    name = clean_line(name or "")[:60]  # as Volunteer.name stores it: only hidden characters is no new name
    if name and name != volunteer.name:
        changes["name"] = {"from": volunteer.name, "to": name}
        volunteer.name = name
    volunteer.provisional = False
    if notes:
        volunteer.notes = (volunteer.notes + "\n" if volunteer.notes else "") + notes.strip()
    audit.record(session, actor, "volunteer.verified", "volunteer", volunteer.id, now, **changes,
                 notes=notes or None)
    return volunteer
