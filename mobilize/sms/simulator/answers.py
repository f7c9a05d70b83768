"""Phones answer what they receive: a delivered message goes to its phone's responder (the phone's own, else
the simulator's), and each reply it returns is scheduled to be texted back after its delay."""
from __future__ import annotations

from collections.abc import Callable

from mobilize.sms.simulator.configuration import SimulatorConfig
from mobilize.sms.simulator.phones import Phone, Reply, default_responder, resolve_responder
from mobilize.sms.simulator.store import Store
from mobilize.sms.simulator.webhooks import Dispatcher

Responder = Callable[[Phone, str], list[Reply]]
# texts(number, body, to, messaging_service_sid, intent): a phone texts the service
PhoneTexts = Callable[[str, str, str | None, str | None, str | None], object]


class PhoneAnswers:
    """Runs the responders of registered phones and schedules their replies; `responder` is the one for phones
    without their own."""

    def __init__(self, config: SimulatorConfig, store: Store, dispatcher: Dispatcher, texts: PhoneTexts) -> None:
        self.config = config
        self.store = store
        self.dispatcher = dispatcher
        self.texts = texts
        self.responder: Responder = resolve_responder(config.responder) or default_responder

    def deliver(self, sid: str, epoch: int) -> None:
        """The delivered message `sid` reaches its phone: unless unregistered or opted out, its responder
        answers, and every reply is texted back after its (scaled) delay, in the same epoch."""
        message = self.store.get(sid)
        if message is None:
            return
        phone = self.store.phone(message.to)
        if phone is None or not phone.registered or phone.opted_out:
            return
        responder = resolve_responder(phone.responder) if phone.responder is not None else self.responder
        if responder is None:
            return
        with phone.lock:
            replies = list(responder(phone, message.body) or [])
        for reply in replies:
            self.dispatcher.call_later(self.config.scaled(max(0.0, reply.delay)), self._reply, phone.number,
                                       reply.body, message.from_, message.messaging_service_sid, reply.intent,
                                       epoch)

    def _reply(self, number: str, body: str, to: str | None, service: str | None, intent: str | None,
               epoch: int) -> None:
        if epoch != self.dispatcher.epoch:
            return
        self.texts(number, body, to, service, intent)
