"""The simulator's behaviour, free of HTTP: the `Simulator` that the Flask app and the control API drive. It
wires its parts together and answers the REST calls: accept messages like Twilio (`validation`), move them
through their statuses (`progression`) with their status callbacks (`callbacks`), let phones answer what they
receive (`answers`) and text the service (`inbound`), with carrier keywords (`carrier`) and faults (`faults`).

Outbound lifecycle (as Twilio documents it; no callback for the initial status):
  From=...                 queued -> sent -> delivered | undelivered          (or queued -> failed)
  MessagingServiceSid=...  accepted -> queued -> sent -> delivered | ...      (`from` assigned at queued)
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from mobilize.domain.segments import segments
from mobilize.sms.simulator.answers import PhoneAnswers
from mobilize.sms.simulator.callbacks import WebhookPoster
from mobilize.sms.simulator.configuration import SimulatorConfig
from mobilize.sms.simulator.faults import Faults
from mobilize.sms.simulator.inbound import Inbound
from mobilize.sms.simulator.phones import (Phone, PhoneProfile, ProfileError, Reply, default_responder,
                                           resolve_responder)
from mobilize.sms.simulator.progression import StatusProgression
from mobilize.sms.simulator.store import API_VERSION, FINAL_STATUSES, Store
from mobilize.sms.simulator.validation import ApiError, is_valid_number, parse_outbound
from mobilize.sms.simulator.webhooks import Dispatcher

COUNTERS = ("api_requests", "api_errors", "throttled", "server_errors", "inbound_webhooks", "status_callbacks",
            "twiml_replies", "twiml_errors")


class Simulator:
    """The in-process simulator; the Flask app and the control API are thin layers over it."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.store = Store()
        self.faults = Faults(config.faults)
        self.dispatcher = Dispatcher(config.auth_token, workers=config.webhook_workers,
                                     timeout=config.webhook_timeout, retries=config.webhook_retries,
                                     retry_delay=config.webhook_retry_delay * config.time_scale)
        self.webhook_url = config.webhook_url
        self.counters = {key: 0 for key in COUNTERS}
        self.poster = WebhookPoster(self.store, self.dispatcher, self.faults, self._count)
        self.progression = StatusProgression(config, self.store, self.dispatcher, self.poster,
                                             on_delivered=self._delivered)
        self.inbound = Inbound(config, self.store, self.faults, self.poster, self._count,
                               webhook_url=lambda: self.webhook_url, start=self.progression.start)
        self.answers = PhoneAnswers(config, self.store, self.dispatcher, texts=self._phone_replies)

    # -- configuration ---------------------------------------------------------------------------------------

    def scaled(self, seconds: float) -> float:
        return self.config.scaled(seconds)

    def set_responder(self, responder: Callable[[Phone, str], list[Reply]] | str | None,
                      number: str | None = None) -> None:
        """Install a responder for every registered phone without its own (number None), or for one phone."""
        if number is None:
            resolved = resolve_responder(responder)
            self.answers.responder = resolved if resolved is not None else default_responder
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

    def phone_texts(self, number: str, body: str, *, to: str | None = None,
                    messaging_service_sid: str | None = None, intent: str | None = None,
                    origin: str = "manual", wait: bool = False, timeout: float = 30.0) -> dict:
        """A phone sends a text to the service (see `Inbound.phone_texts`)."""
        return self.inbound.phone_texts(number, body, to=to, messaging_service_sid=messaging_service_sid,
                                        intent=intent, origin=origin, wait=wait, timeout=timeout)

    def _delivered(self, sid: str, epoch: int) -> None:
        self.answers.deliver(sid, epoch)

    def _phone_replies(self, number: str, body: str, to: str | None, service: str | None,
                       intent: str | None) -> None:
        self.inbound.phone_texts(number, body, to=to, messaging_service_sid=service, intent=intent, origin="phone")

    # -- REST: messages --------------------------------------------------------------------------------------

    def check_account(self, account_sid: str, username: str | None, password: str | None) -> None:
        if username != self.config.account_sid or password != self.config.auth_token:
            raise ApiError(401, 20003, "Authenticate", "Your AccountSid or AuthToken was incorrect.")
        if account_sid != self.config.account_sid:
            raise ApiError(401, 20003, "Authenticate",
                           f"The AccountSid {account_sid} in the URL does not match your credentials.")

    def create_message(self, form: Mapping[str, str], media: list[str] | None = None) -> dict:
        """POST Messages.json: validate like Twilio, store, schedule the status progression."""
        request = parse_outbound(form, media)
        if self.store.is_opted_out(request.to):
            raise ApiError(400, 21610, "Attempt to send to unsubscribed recipient")
        service = request.messaging_service_sid
        message = self.store.add_message(
            account_sid=self.config.account_sid, direction="outbound-api", to=request.to,
            from_=None if service and not request.from_ else request.from_, body=request.body,
            status="accepted" if service else "queued", num_segments=0 if service else segments(request.body),
            messaging_service_sid=service, status_callback=request.status_callback, num_media=len(request.media),
            fate=self.faults.message_fate(), origin="api",
            date_sent=time.time(),  # as in Twilio's own examples: set at creation, updated when sent
        )
        with self.store.lock:
            rendered = message.to_twilio()
        self.progression.start(message.sid)
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

    # -- reporting -------------------------------------------------------------------------------------------

    def stats(self) -> dict:
        data = self.store.stats()
        with self.store.lock:
            data["counters"] = dict(self.counters)
        data["dispatcher"] = self.dispatcher.stats()
        data["faults"] = self.faults.config.to_dict()
        return data
