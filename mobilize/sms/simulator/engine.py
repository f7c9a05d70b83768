"""The simulator's behaviour, free of HTTP: accept messages like Twilio, move them through their statuses,
call back, let phones text the service and answer invitations.

Outbound lifecycle (as Twilio documents it; no callback for the initial status):
  From=...                 queued -> sent -> delivered | undelivered          (or queued -> failed)
  MessagingServiceSid=...  accepted -> queued -> sent -> delivered | ...      (`from` assigned at queued)
Every later status is POSTed to the message's StatusCallback, one after the other, the next transition
being scheduled only once the previous callback is done, so that callbacks of one message arrive in order.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from typing import Callable, Iterable, Mapping
from urllib.parse import urljoin, urlparse

import phonenumbers

from config import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN

from mobilize.domain.segments import segments
from mobilize.sms.simulator.faults import FaultConfig, Faults, error_message_for
from mobilize.sms.simulator.phones import (Phone, PhoneProfile, ProfileError, Reply, default_responder,
                                           resolve_responder)
from mobilize.sms.simulator.store import API_VERSION, FINAL_STATUSES, Message, Store
from mobilize.sms.simulator.webhooks import Dispatcher, TwimlError, WebhookResult, parse_twiml_messages

log = logging.getLogger(__name__)

# Credentials the simulator and the service share when nothing else is configured (never valid at Twilio).
DEV_ACCOUNT_SID = SIMULATOR_ACCOUNT_SID
DEV_AUTH_TOKEN = SIMULATOR_AUTH_TOKEN
DEFAULT_SENDER = "+15005550006"

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
SHORT_CODE = re.compile(r"^\d{3,8}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
MAX_BODY = 1600

# Carrier-level keywords, as Twilio handles them by default (the whole body, case-insensitive).
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
CARRIER_REPLIES = {
    "opt_out": "You have successfully been unsubscribed. You will not receive any more messages from this "
               "number. Reply START to resubscribe.",
    "opt_in": "You have successfully been re-subscribed to messages from this number. Reply HELP for help. "
              "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    "help": "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}


class ApiError(Exception):
    """A Twilio REST error: HTTP status, Twilio error code, message."""

    def __init__(self, status: int, code: int, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def to_json(self) -> dict:
        body = {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        return body


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator needs; delays are simulated seconds, multiplied by `time_scale` (0.01: 100x
    faster than life)."""

    account_sid: str = DEV_ACCOUNT_SID
    auth_token: str = DEV_AUTH_TOKEN
    webhook_url: str | None = None  # where texts from phones are POSTed (the service's /twilio/sms)
    sender_number: str = DEFAULT_SENDER  # `from` of Messaging Service sends; who phones text by default
    time_scale: float = 1.0
    queue_delay: float = 0.2  # accepted -> queued (Messaging Service only)
    sent_delay: float = 0.5  # queued -> sent
    delivery_delay: float = 2.0  # sent -> delivered/undelivered
    price_per_segment: float = 0.0075  # USD, shown negative as Twilio does
    faults: FaultConfig = field(default_factory=FaultConfig)
    default_profile: PhoneProfile = field(default_factory=PhoneProfile)  # for phones registered without one
    responder: str | None = None  # global responder: a registered name or "package.module:function"
    carrier_replies: bool = True  # answer STOP/START/HELP like Twilio's default opt-out handling
    webhook_workers: int = 8
    webhook_timeout: float = 15.0
    webhook_retries: int = 3
    webhook_retry_delay: float = 0.5  # simulated seconds before the first retry (doubling)

    def __post_init__(self) -> None:
        if not self.account_sid or not self.auth_token:
            raise ValueError("the simulator needs an account SID and an auth token")
        if self.time_scale <= 0:
            raise ValueError(f"time_scale must be positive, not {self.time_scale!r}")
        if self.webhook_workers < 1:
            raise ValueError("webhook_workers must be at least 1")
        for name in ("queue_delay", "sent_delay", "delivery_delay", "webhook_retry_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def with_changes(self, **changes) -> "SimulatorConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["auth_token"] = "***"
        data["faults"] = self.faults.to_dict()
        data["default_profile"] = asdict(self.default_profile)
        data["responder"] = self.responder or "default"
        return data


@lru_cache(maxsize=200_000)
def is_valid_number(number: str) -> bool:
    """E.164 and a valid number for its country (what Twilio checks before answering 21211)."""
    if not E164.match(number):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def _keyword(body: str) -> str:
    return body.strip().strip(".!?。！？").strip().upper()


class Simulator:
    """The in-process simulator; the Flask app and the control API are thin layers over it."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.store = Store()
        self.faults = Faults(config.faults)
        self.dispatcher = Dispatcher(config.auth_token, workers=config.webhook_workers,
                                     timeout=config.webhook_timeout, retries=config.webhook_retries,
                                     retry_delay=config.webhook_retry_delay * config.time_scale)
        self._responder: Callable[[Phone, str], list[Reply]] = (
            resolve_responder(config.responder) or default_responder)
        self.webhook_url = config.webhook_url
        self.counters = {"api_requests": 0, "api_errors": 0, "throttled": 0, "server_errors": 0,
                         "inbound_webhooks": 0, "status_callbacks": 0, "twiml_replies": 0, "twiml_errors": 0}

    # -- configuration ---------------------------------------------------------------------------------------

    def scaled(self, seconds: float) -> float:
        return seconds * self.config.time_scale

    def set_responder(self, responder: Callable[[Phone, str], list[Reply]] | str | None,
                      number: str | None = None) -> None:
        """Install a responder for every registered phone without its own (number None), or for one phone."""
        if number is None:
            resolved = resolve_responder(responder)
            self._responder = resolved if resolved is not None else default_responder
            return
        resolve_responder(responder)  # validate a name now
        with self.store.lock:
            phone = self.store.phone(number)
            if phone is None or not phone.registered:
                raise KeyError(f"no registered phone {number}")
            phone.responder = responder

    def reset(self, keep_phones: bool = False) -> None:
        """Forget messages, pending events, opt-outs and counters; faults go back to the configured ones."""
        self.dispatcher.reset()
        self.store.clear(keep_phones=keep_phones)
        self.faults.configure(self.config.faults)
        for key in self.counters:
            self.counters[key] = 0

    def close(self) -> None:
        self.dispatcher.close()

    def _count(self, key: str, amount: int = 1) -> None:
        with self.store.lock:
            self.counters[key] += amount

    # -- phones ----------------------------------------------------------------------------------------------

    def register_phones(self, phones: Iterable[Mapping | str], profile: Mapping | PhoneProfile | None = None,
                        responder: object = None) -> int:
        """Register numbers (or {"number", "profile", "responder"} dicts) as simulated phones, in bulk."""
        if isinstance(profile, PhoneProfile):
            base = profile
        else:
            base = PhoneProfile.from_dict(profile, base=self.config.default_profile) if profile else \
                self.config.default_profile
        resolve_responder(responder)
        entries = []
        for item in phones:
            if isinstance(item, str):
                number, item_profile, item_responder = item, base, responder
            elif not isinstance(item, Mapping):
                raise ProfileError(f"a phone is a number or {{number, profile, responder}}, not {item!r}")
            else:
                number = item.get("number") or ""
                raw_profile = item.get("profile")
                item_profile = raw_profile if isinstance(raw_profile, PhoneProfile) else (
                    PhoneProfile.from_dict(raw_profile, base=base) if raw_profile else base)
                item_responder = item.get("responder", responder)
                resolve_responder(item_responder)
            number = number.strip()
            if not is_valid_number(number):
                raise ProfileError(f"not an E.164 phone number: {number!r}")
            entries.append((number, item_profile, item_responder))
        return self.store.register_phones(entries)

    # -- REST: messages --------------------------------------------------------------------------------------

    def check_account(self, account_sid: str, username: str | None, password: str | None) -> None:
        if username != self.config.account_sid or password != self.config.auth_token:
            raise ApiError(401, 20003, "Authenticate", "Your AccountSid or AuthToken was incorrect.")
        if account_sid != self.config.account_sid:
            raise ApiError(401, 20003, "Authenticate",
                           f"The AccountSid {account_sid} in the URL does not match your credentials.")

    def create_message(self, form: Mapping[str, str], media: list[str] | None = None) -> dict:
        """POST Messages.json: validate like Twilio, store, schedule the status progression."""
        to = (form.get("To") or "").strip()
        from_ = (form.get("From") or "").strip() or None
        service = (form.get("MessagingServiceSid") or "").strip() or None
        body = form.get("Body")
        callback = (form.get("StatusCallback") or "").strip() or None
        media = [url for url in (media or []) if url]
        if not to:
            raise ApiError(400, 21604, "A 'To' phone number is required.")
        if not is_valid_number(to):
            raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_ and not service:
            raise ApiError(400, 21603,
                           "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
        if service and not MESSAGING_SERVICE_SID.match(service):
            raise ApiError(400, 21701, f"The Messaging Service Sid {service} is invalid.")
        if from_ and not (E164.match(from_) or SHORT_CODE.match(from_) or ALPHANUMERIC_SENDER.match(from_)):
            raise ApiError(400, 21212, f"Invalid From Number (caller ID): {from_}")
        if from_ == to:
            raise ApiError(400, 21266, "'To' and 'From' number cannot be the same")
        if not body and not media and not form.get("ContentSid"):
            raise ApiError(400, 21602, "Message body is required.")
        body = body or ""
        if len(body) > MAX_BODY:
            raise ApiError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if callback and urlparse(callback).scheme not in ("http", "https"):
            raise ApiError(400, 21609, f"The StatusCallback URL {callback} is not a valid URL.")
        if self.store.is_opted_out(to):
            raise ApiError(400, 21610, "Attempt to send to unsubscribed recipient")
        initial = "accepted" if service else "queued"
        message = self.store.add_message(
            account_sid=self.config.account_sid, direction="outbound-api", to=to,
            from_=None if service and not from_ else from_, body=body,
            status=initial, num_segments=0 if service else segments(body), messaging_service_sid=service,
            status_callback=callback, num_media=len(media), fate=self.faults.message_fate(), origin="api",
            date_sent=time.time(),  # as in Twilio's own examples: set at creation, updated when sent
        )
        with self.store.lock:
            rendered = message.to_twilio()
        self._schedule_next(message.sid, self.dispatcher.epoch)
        return rendered

    def fetch_message(self, sid: str) -> dict:
        rendered = self.store.twilio_json(sid)
        if rendered is None:
            path = f"/{API_VERSION}/Accounts/{self.config.account_sid}/Messages/{sid}.json"
            raise ApiError(404, 20404, f"The requested resource {path} was not found")
        return rendered

    def delete_message(self, sid: str) -> None:
        message = self.store.get(sid)
        if message is None:
            self.fetch_message(sid)  # raises the 404
        if message is not None and message.status not in FINAL_STATUSES:
            raise ApiError(400, 20009, "Cannot delete message because delivery has not been completed.")
        self.store.delete(sid)

    # -- the status progression ------------------------------------------------------------------------------

    def _schedule_next(self, sid: str, epoch: int) -> None:
        message = self.store.get(sid)
        if message is None or epoch != self.dispatcher.epoch:
            return
        status = message.status
        if status == "accepted":
            self.dispatcher.call_later(self.scaled(self.config.queue_delay), self._advance, sid, "queued",
                                       epoch)
        elif status == "queued":
            target = "failed" if message.fate[0] == "failed" else "sent"
            self.dispatcher.call_later(self.scaled(self.config.sent_delay), self._advance, sid, target, epoch)
        elif status == "sent":
            self.dispatcher.call_later(self.scaled(self.config.delivery_delay), self._advance, sid,
                                       message.fate[0], epoch)

    def _advance(self, sid: str, status: str, epoch: int) -> None:
        if epoch != self.dispatcher.epoch:
            return
        now = time.time()
        changes: dict = {"status": status}
        message = self.store.get(sid)
        if message is None:
            return
        if status == "queued" and message.messaging_service_sid:
            changes["from_"] = message.from_ or self.config.sender_number
            changes["num_segments"] = segments(message.body)
        elif status == "sent":
            changes["date_sent"] = now
            changes["price"] = f"{-self.config.price_per_segment * message.num_segments:.5f}"
            changes["price_unit"] = "USD"
        elif status in ("failed", "undelivered"):
            code = message.fate[1]
            changes["error_code"] = code
            changes["error_message"] = error_message_for(code)
            if status == "failed":
                changes["price"] = "0.00000"
                changes["price_unit"] = "USD"
        message = self.store.update(sid, **changes)
        if message is None:
            return
        after = (lambda _result=None: self._after_transition(sid, status, epoch))
        if message.status_callback:
            self._status_callback(message, after)
        else:
            after()

    def _after_transition(self, sid: str, status: str, epoch: int) -> None:
        if status == "delivered":
            self._deliver_to_phone(sid, epoch)
        elif status not in FINAL_STATUSES:
            self._schedule_next(sid, epoch)

    def _status_callback(self, message: Message, on_done: Callable[[WebhookResult | None], None]) -> None:
        with self.store.lock:
            params = {
                "AccountSid": message.account_sid,
                "ApiVersion": API_VERSION,
                "From": message.from_ or "",
                "MessageSid": message.sid,
                "MessageStatus": message.status,
                "SmsSid": message.sid,
                "SmsStatus": message.status,
                "To": message.to,
            }
            if message.messaging_service_sid:
                params["MessagingServiceSid"] = message.messaging_service_sid
            if message.error_code:
                params["ErrorCode"] = str(message.error_code)
            if message.status in ("delivered", "undelivered"):
                params["RawDlrDoneDate"] = time.strftime("%y%m%d%H%M", time.gmtime())
            url = message.status_callback
            token = f"{message.sid}-{message.status}"
        self._count("status_callbacks")
        self._post_webhook(url, params, token, on_done=on_done)

    def _post_webhook(self, url: str, params: dict, token: str,
                      on_response: Callable[[WebhookResult], None] | None = None,
                      on_done: Callable[[WebhookResult], None] | None = None) -> None:
        """Post, maybe twice (duplicate fault: the copy follows the first, same MessageSid and idempotency
        token). on_response sees every answer, on_done the first one once all copies are through."""
        copies = 2 if self.faults.chance(self.faults.config.duplicate_webhook_rate) else 1
        if copies == 2:
            self.dispatcher.count_duplicate()
        first: list[WebhookResult] = []

        def answered(result: WebhookResult) -> None:
            first.append(result)
            if on_response is not None:
                on_response(result)
            if len(first) < copies:
                self.dispatcher.post(url, params, answered, idempotency_token=token)
            elif on_done is not None:
                on_done(first[0])

        self.dispatcher.post(url, params, answered, idempotency_token=token)

    # -- phones receive and answer ---------------------------------------------------------------------------

    def _deliver_to_phone(self, sid: str, epoch: int) -> None:
        message = self.store.get(sid)
        if message is None:
            return
        phone = self.store.phone(message.to)
        if phone is None or not phone.registered or phone.opted_out:
            return
        responder = resolve_responder(phone.responder) if phone.responder is not None else self._responder
        if responder is None:
            return
        with phone.lock:
            replies = list(responder(phone, message.body) or [])
        for reply in replies:
            self.dispatcher.call_later(self.scaled(max(0.0, reply.delay)), self._phone_replies, phone.number,
                                       reply.body, message.from_, message.messaging_service_sid, reply.intent,
                                       epoch)

    def _phone_replies(self, number: str, body: str, to: str | None, service: str | None, intent: str | None,
                       epoch: int) -> None:
        if epoch != self.dispatcher.epoch:
            return
        self.phone_texts(number, body, to=to, messaging_service_sid=service, intent=intent, origin="phone")

    def phone_texts(self, number: str, body: str, *, to: str | None = None,
                    messaging_service_sid: str | None = None, intent: str | None = None,
                    origin: str = "manual", wait: bool = False, timeout: float = 30.0) -> dict:
        """A phone sends a text to the service: recorded, carrier keywords applied, POSTed (signed) to the
        webhook URL; a TwiML <Message> answer becomes a message to the phone. With wait=True, returns once the
        webhook has answered (its status and the replies it produced)."""
        number = number.strip()
        if not is_valid_number(number):
            raise ProfileError(f"not an E.164 phone number: {number!r}")
        if to is None or messaging_service_sid is None:
            last_to, last_service = self._last_sender(number)
            to = to or last_to or self.config.sender_number
            if messaging_service_sid is None and to == last_to:
                messaging_service_sid = last_service
        message = self.store.add_message(
            account_sid=self.config.account_sid, direction="inbound", to=to, from_=number, body=body,
            status="received", num_segments=segments(body), messaging_service_sid=messaging_service_sid,
            date_sent=time.time(), origin=origin, intent=intent,
        )
        keyword = _keyword(body)
        carrier_reply = None
        if keyword in OPT_OUT_KEYWORDS:
            self.store.set_opted_out(number, True)
            carrier_reply = CARRIER_REPLIES["opt_out"]
        elif keyword in OPT_IN_KEYWORDS:
            self.store.set_opted_out(number, False)
            carrier_reply = CARRIER_REPLIES["opt_in"]
        elif keyword in HELP_KEYWORDS:
            carrier_reply = CARRIER_REPLIES["help"]
        if carrier_reply and self.config.carrier_replies:
            self._reply_to_phone(number, to, carrier_reply, messaging_service_sid, origin="carrier",
                                 ignore_opt_out=True)
        with self.store.lock:
            result: dict = {"message": message.to_sim(), "webhook": None}
        if not self.webhook_url:
            return result
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": number,
            "FromCountry": _region(number),
            "MessageSid": message.sid,
            "NumMedia": "0",
            "NumSegments": str(message.num_segments),
            "SmsMessageSid": message.sid,
            "SmsSid": message.sid,
            "SmsStatus": "received",
            "To": to,
            "ToCountry": _region(to),
        }
        if messaging_service_sid:
            params["MessagingServiceSid"] = messaging_service_sid
        done = threading.Event() if wait else None
        outcome: dict = {}

        def on_answer(webhook: WebhookResult) -> None:
            replies = self._handle_twiml(webhook, number, to, messaging_service_sid)
            if not outcome:
                outcome.update(status=webhook.status, attempts=webhook.attempts, error=webhook.error,
                               replies=replies)
            if done is not None:
                done.set()

        self._count("inbound_webhooks")
        self._post_webhook(self.webhook_url, params, message.sid, on_response=on_answer)
        if done is not None:
            done.wait(timeout)
            result["webhook"] = outcome or None
        return result

    def _last_sender(self, number: str) -> tuple[str | None, str | None]:
        with self.store.lock:
            phone = self.store.phone(number)
            if phone is None:
                return None, None
            for message in reversed(phone.messages):
                if message.direction != "inbound" and message.from_:
                    return message.from_, message.messaging_service_sid
            return None, None

    def _handle_twiml(self, webhook: WebhookResult, number: str, service_number: str,
                      messaging_service_sid: str | None) -> list[dict]:
        if not webhook.ok or not webhook.body.strip():
            return []
        try:
            verbs = parse_twiml_messages(webhook.body)
        except TwimlError as error:
            self._count("twiml_errors")
            log.warning("webhook %s answered bad TwiML: %s", webhook.url, error)
            return []
        replies = []
        for verb in verbs:
            callback = urljoin(webhook.url, verb.action) if verb.action else None
            replies.append(self._reply_to_phone(verb.to or number, verb.from_ or service_number, verb.body,
                                                messaging_service_sid, origin="twiml",
                                                status_callback=callback))
            self._count("twiml_replies")
        return replies

    def _reply_to_phone(self, number: str, from_: str, body: str, messaging_service_sid: str | None, *,
                        origin: str, status_callback: str | None = None,
                        ignore_opt_out: bool = False) -> dict:
        """A message to a phone that Twilio sends by itself (TwiML reply, carrier auto-reply)."""
        blocked = not ignore_opt_out and self.store.is_opted_out(number)
        message = self.store.add_message(
            account_sid=self.config.account_sid, direction="outbound-reply", to=number, from_=from_,
            body=body,
            status="failed" if blocked else "queued", num_segments=segments(body),
            messaging_service_sid=messaging_service_sid, status_callback=status_callback, origin=origin,
            fate=("failed", 21610) if blocked else self.faults.message_fate(), date_sent=time.time(),
        )
        if blocked:
            message = self.store.update(message.sid, error_code=21610,
                                        error_message=error_message_for(21610)) or message
        else:
            self._schedule_next(message.sid, self.dispatcher.epoch)
        with self.store.lock:
            return message.to_sim()

    # -- reporting -------------------------------------------------------------------------------------------

    def stats(self) -> dict:
        data = self.store.stats()
        with self.store.lock:
            data["counters"] = dict(self.counters)
        data["dispatcher"] = self.dispatcher.stats()
        data["faults"] = self.faults.config.to_dict()
        return data


def _region(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
    except phonenumbers.NumberParseException:
        return ""
