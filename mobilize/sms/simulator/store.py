"""The simulator's state: messages and phones, in memory, behind one lock.

Every message the simulator knows (sent through the REST API, typed by a phone, replied by TwiML or by the
carrier) is a `Message`; every number that sent or received one is a `Phone` with its conversation.
Readers get plain dicts built under the lock, never live objects, so that the HTTP threads, the dispatcher's
threads and the scheduler can share the store safely.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from mobilize.sms.simulator.phones import Phone, PhoneProfile

API_VERSION = "2010-04-01"
FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "received", "canceled"})

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(timestamp: float | None) -> str | None:
    """`Thu, 24 Aug 2023 05:01:45 +0000`, as Twilio writes dates (locale-independent)."""
    if timestamp is None:
        return None
    t = time.gmtime(timestamp)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000")


_sid_random = random.Random()  # seeded from os.urandom once (a urandom call per message costs ~0.1 ms here)


def new_sid(prefix: str = "SM") -> str:
    """A Twilio-style SID: two letters and 32 hex digits (unique in practice, not a secret)."""
    return f"{prefix}{_sid_random.getrandbits(128):032x}"


@dataclass
class Message:
    """One message, in Twilio's terms, plus what only the simulator knows (origin, intent, history)."""

    sid: str
    seq: int
    account_sid: str
    direction: str  # inbound, outbound-api, outbound-reply
    to: str
    from_: str | None
    body: str
    status: str
    num_segments: int
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    num_media: int = 0
    date_created: float = field(default_factory=time.time)
    date_updated: float = 0.0
    date_sent: float | None = None
    error_code: int | None = None
    error_message: str | None = None
    price: str | None = None
    price_unit: str | None = None
    # simulator-only
    origin: str = "api"  # api, twiml, carrier, phone (a simulated phone's responder), manual (typed by hand)
    intent: str | None = None  # what a simulated phone meant (accept, decline, stop...): drills' ground truth
    fate: tuple[str, int | None] = ("delivered", None)  # final status decided at creation, and its error code
    history: list[tuple[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.date_updated:
            self.date_updated = self.date_created
        if not self.history:
            self.history.append((self.status, self.date_created))

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    @property
    def phone_number(self) -> str | None:
        """The number on the far (phone) side of this message."""
        return self.from_ if self.direction == "inbound" else self.to

    def to_twilio(self) -> dict:
        """The Message resource exactly as Twilio's REST API shows it (schema `api.v2010.account.message`)."""
        uri = self.uri
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(self.num_media),
            "num_segments": str(self.num_segments),
            "price": self.price,
            "price_unit": self.price_unit,
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": uri[:-5] + "/Media.json",
                "feedback": uri[:-5] + "/Feedback.json",
            },
            "to": self.to,
            "uri": uri,
        }

    def to_sim(self) -> dict:
        """The Twilio view plus the simulator's own fields (for the control API and the /phones page)."""
        data = self.to_twilio()
        data.update(
            origin=self.origin,
            intent=self.intent,
            status_callback=self.status_callback,
            timestamp=self.date_created,
            history=[{"status": status, "at": at} for status, at in self.history],
        )
        return data


class Store:
    """Thread-safe in-memory messages and phones; `version` grows on every change (the /phones page polls)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.clear()

    # -- housekeeping ----------------------------------------------------------------------------------------

    def clear(self, keep_phones: bool = False) -> None:
        with self.lock:
            self._messages: dict[str, Message] = {}
            self._order: list[Message] = []
            self._by_number: dict[str, list[Message]] = {}  # every message a number sent or received
            if keep_phones:
                for phone in self._phones.values():
                    phone.reset_conversation()
                self._phones = {number: phone for number, phone in self._phones.items() if phone.registered}
            else:
                self._phones: dict[str, Phone] = {}
            self._seq = 0
            self.version = getattr(self, "version", 0) + 1
            self.changed.notify_all()

    def _touch(self) -> None:
        self.version += 1
        self.changed.notify_all()

    # -- messages --------------------------------------------------------------------------------------------

    def add_message(self, **fields) -> Message:
        """Create and index a message; its phone (created on first sight) gets it in its conversation."""
        sid = fields.pop("sid", None) or new_sid("MM" if fields.get("num_media") else "SM")
        with self.lock:
            self._seq += 1
            message = Message(sid=sid, seq=self._seq, **fields)
            self._messages[sid] = message
            self._order.append(message)
            for end in {message.to, message.from_}:
                if end:
                    self._by_number.setdefault(end, []).append(message)
            number = message.phone_number
            if number:
                self._ensure_phone(number).messages.append(message)
            self._touch()
            return message

    def get(self, sid: str) -> Message | None:
        with self.lock:
            return self._messages.get(sid)

    def twilio_json(self, sid: str) -> dict | None:
        with self.lock:
            message = self._messages.get(sid)
            return None if message is None else message.to_twilio()

    def update(self, sid: str, **changes) -> Message | None:
        """Change a message's fields; a new `status` is stamped into its history and date_updated."""
        with self.lock:
            message = self._messages.get(sid)
            if message is None:
                return None
            now = time.time()
            new_from = changes.get("from_")
            if new_from and new_from != message.from_:  # a Messaging Service assigned its sender
                self._by_number.setdefault(new_from, []).append(message)
            for name, value in changes.items():
                setattr(message, name, value)
            if "status" in changes:
                message.history.append((changes["status"], now))
            message.date_updated = now
            self._touch()
            return message

    def delete(self, sid: str) -> bool:
        with self.lock:
            message = self._messages.pop(sid, None)
            if message is None:
                return False
            self._order.remove(message)
            for end in {message.to, message.from_}:
                if end and message in self._by_number.get(end, ()):
                    self._by_number[end].remove(message)
            phone = self._phones.get(message.phone_number or "")
            if phone is not None and message in phone.messages:
                phone.messages.remove(message)
            self._touch()
            return True

    def select(self, predicate: Callable[[Message], bool] | None = None, *, newest_first: bool = True,
               to: str | None = None, from_: str | None = None, before_seq: int | None = None,
               after_seq: int | None = None, limit: int | None = None,
               render: Callable[[Message], dict] = Message.to_twilio) -> list[dict]:
        """Messages matching the filters, rendered under the lock, newest first unless told otherwise."""
        with self.lock:
            source: Iterable[Message]
            number = to or from_
            if number is not None:  # one number's messages: a much shorter list to scan
                source = list(self._by_number.get(number, ()))
            else:
                source = self._order
            iterator: Iterator[Message] = reversed(source) if newest_first else iter(source)
            out: list[dict] = []
            for message in iterator:
                if before_seq is not None and message.seq >= before_seq:
                    continue
                if after_seq is not None and message.seq <= after_seq:
                    continue
                if to is not None and message.to != to:
                    continue
                if from_ is not None and message.from_ != from_:
                    continue
                if predicate is not None and not predicate(message):
                    continue
                out.append(render(message))
                if limit is not None and len(out) >= limit:
                    break
            return out

    def seq_of(self, sid: str) -> int | None:
        with self.lock:
            message = self._messages.get(sid)
            return None if message is None else message.seq

    def count(self) -> int:
        with self.lock:
            return len(self._order)

    # -- phones ----------------------------------------------------------------------------------------------

    def _ensure_phone(self, number: str) -> Phone:
        phone = self._phones.get(number)
        if phone is None:
            phone = self._phones[number] = Phone(number=number, registered=False)
        return phone

    def ensure_phone(self, number: str) -> Phone:
        with self.lock:
            return self._ensure_phone(number)

    def phone(self, number: str) -> Phone | None:
        with self.lock:
            return self._phones.get(number)

    def register_phones(self, entries: Iterable[tuple[str, PhoneProfile, object]]) -> int:
        """(number, profile, responder) triples; a known phone keeps its conversation and opt-out state."""
        count = 0
        with self.lock:
            for number, profile, responder in entries:
                phone = self._ensure_phone(number)
                phone.register(profile, responder)
                count += 1
            self._touch()
        return count

    def remove_phone(self, number: str) -> bool:
        with self.lock:
            phone = self._phones.get(number)
            if phone is None:
                return False
            if phone.messages:  # keep the conversation: the number goes back to a passive, unregistered phone
                phone.unregister()
            else:
                del self._phones[number]
            self._touch()
            return True

    def set_opted_out(self, number: str, opted_out: bool) -> Phone:
        with self.lock:
            phone = self._ensure_phone(number)
            phone.opted_out = opted_out
            self._touch()
            return phone

    def is_opted_out(self, number: str) -> bool:
        with self.lock:
            phone = self._phones.get(number)
            return bool(phone and phone.opted_out)

    def phones(self, query: str | None = None, *, registered_only: bool = False) -> list[Phone]:
        with self.lock:
            phones = list(self._phones.values())
        if registered_only:
            phones = [phone for phone in phones if phone.registered]
        if query:
            phones = [phone for phone in phones if query in phone.number]
        return phones

    def phone_summaries(self, query: str | None = None, limit: int = 200, offset: int = 0,
                        registered_only: bool = False) -> tuple[int, list[dict]]:
        with self.lock:
            phones = self.phones(query, registered_only=registered_only)
            phones.sort(key=lambda phone: (phone.messages[-1].seq if phone.messages else 0, phone.number),
                        reverse=True)
            page = phones[offset:offset + limit]
            return len(phones), [phone.summary() for phone in page]

    def phone_detail(self, number: str) -> dict | None:
        with self.lock:
            phone = self._phones.get(number)
            if phone is None:
                return None
            return {"phone": phone.summary(), "messages": [message.to_sim() for message in phone.messages]}

    # -- stats -----------------------------------------------------------------------------------------------

    def stats(self) -> dict:
        with self.lock:
            by_status: dict[str, int] = {}
            by_direction: dict[str, int] = {}
            by_origin: dict[str, int] = {}
            by_error: dict[str, int] = {}
            segments = {"outbound": 0, "delivered": 0, "inbound": 0}
            for message in self._order:
                by_direction[message.direction] = by_direction.get(message.direction, 0) + 1
                by_origin[message.origin] = by_origin.get(message.origin, 0) + 1
                if message.error_code:
                    key = str(message.error_code)
                    by_error[key] = by_error.get(key, 0) + 1
                if message.direction == "inbound":
                    segments["inbound"] += message.num_segments
                    continue
                by_status[message.status] = by_status.get(message.status, 0) + 1
                segments["outbound"] += message.num_segments
                if message.status == "delivered":
                    segments["delivered"] += message.num_segments
            registered = sum(1 for phone in self._phones.values() if phone.registered)
            opted_out = sum(1 for phone in self._phones.values() if phone.opted_out)
            return {
                "messages": len(self._order),
                "outbound_by_status": by_status,
                "by_direction": by_direction,
                "by_origin": by_origin,
                "by_error_code": by_error,
                "segments": segments,
                "phones": {"known": len(self._phones), "registered": registered, "opted_out": opted_out},
                "version": self.version,
            }
