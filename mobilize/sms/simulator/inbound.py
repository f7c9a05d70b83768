"""Texts from phones to the service, and what Twilio sends to phones by itself: an inbound message is recorded,
carrier keywords (STOP, START, HELP) applied and answered, then POSTed, signed, to the service's webhook; a TwiML
<Message> in the answer becomes a message to the phone (as does a carrier reply), refused to an opted-out phone."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urljoin

from mobilize.domain.segments import segments
from mobilize.sms.simulator.callbacks import WebhookPoster
from mobilize.sms.simulator.carrier import CARRIER_REPLIES, carrier_action
from mobilize.sms.simulator.configuration import SimulatorConfig
from mobilize.sms.simulator.faults import Faults, error_message_for
from mobilize.sms.simulator.phones import ProfileError
from mobilize.sms.simulator.store import API_VERSION, Store
from mobilize.sms.simulator.validation import is_valid_number, region_of
from mobilize.sms.simulator.webhooks import TwimlError, WebhookResult, parse_twiml_messages

log = logging.getLogger(__name__)


class Inbound:
    """Phones' texts to the service and Twilio's own messages to phones. `webhook_url()` is where texts are
    POSTed (None: nowhere); `start(sid)` starts an outbound message's status progression."""

    def __init__(self, config: SimulatorConfig, store: Store, faults: Faults, poster: WebhookPoster,
                 count: Callable[[str], None], webhook_url: Callable[[], str | None],
                 start: Callable[[str], None]) -> None:
        self.config = config
        self.store = store
        self.faults = faults
        self.poster = poster
        self.count = count
        self.webhook_url = webhook_url
        self.start = start

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
        action = carrier_action(body)
        if action == "opt_out":
            self.store.set_opted_out(number, True)
        elif action == "opt_in":
            self.store.set_opted_out(number, False)
        if action and self.config.carrier_replies:
            self.reply_to_phone(number, to, CARRIER_REPLIES[action], messaging_service_sid, origin="carrier",
                                ignore_opt_out=True)
        with self.store.lock:
            result: dict = {"message": message.to_sim(), "webhook": None}
        webhook_url = self.webhook_url()
        if not webhook_url:
            return result
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": number,
            "FromCountry": region_of(number),
            "MessageSid": message.sid,
            "NumMedia": "0",
            "NumSegments": str(message.num_segments),
            "SmsMessageSid": message.sid,
            "SmsSid": message.sid,
            "SmsStatus": "received",
            "To": to,
            "ToCountry": region_of(to),
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

        self.count("inbound_webhooks")
        self.poster.post(webhook_url, params, message.sid, on_response=on_answer)
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
            self.count("twiml_errors")
            log.warning("webhook %s answered bad TwiML: %s", webhook.url, error)
            return []
        replies = []
        for verb in verbs:
            callback = urljoin(webhook.url, verb.action) if verb.action else None
            replies.append(self.reply_to_phone(verb.to or number, verb.from_ or service_number, verb.body,
                                               messaging_service_sid, origin="twiml", status_callback=callback))
            self.count("twiml_replies")
        return replies

    def reply_to_phone(self, number: str, from_: str, body: str, messaging_service_sid: str | None, *,
                       origin: str, status_callback: str | None = None, ignore_opt_out: bool = False) -> dict:
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
            self.start(message.sid)
        with self.store.lock:
            return message.to_sim()
