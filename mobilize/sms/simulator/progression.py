"""The outbound status machine: a message moves accepted -> queued -> sent -> delivered | undelivered (or
queued -> failed, as its fate says), each step after the configured delay; every later status is POSTed to its
StatusCallback and the next step is scheduled only once that callback is done, so that callbacks of one message
arrive in order. A delivered message is handed to the phone (`on_delivered`)."""
from __future__ import annotations

import time
from collections.abc import Callable

from mobilize.domain.segments import segments
from mobilize.sms.simulator.callbacks import WebhookPoster
from mobilize.sms.simulator.configuration import SimulatorConfig
from mobilize.sms.simulator.faults import error_message_for
from mobilize.sms.simulator.store import FINAL_STATUSES, Store
from mobilize.sms.simulator.webhooks import Dispatcher


class StatusProgression:
    """Schedules each outbound message's next status on the dispatcher; events of an older epoch (before a
    reset) do nothing."""

    def __init__(self, config: SimulatorConfig, store: Store, dispatcher: Dispatcher, poster: WebhookPoster,
                 on_delivered: Callable[[str, int], None]) -> None:
        self.config = config
        self.store = store
        self.dispatcher = dispatcher
        self.poster = poster
        self.on_delivered = on_delivered

    def start(self, sid: str) -> None:
        """Schedule a message's first transition (in the dispatcher's current epoch)."""
        self.schedule_next(sid, self.dispatcher.epoch)

    def schedule_next(self, sid: str, epoch: int) -> None:
        message = self.store.get(sid)
        if message is None or epoch != self.dispatcher.epoch:
            return
        status = message.status
        scaled = self.config.scaled
        if status == "accepted":
            self.dispatcher.call_later(scaled(self.config.queue_delay), self._advance, sid, "queued", epoch)
        elif status == "queued":
            target = "failed" if message.fate[0] == "failed" else "sent"
            self.dispatcher.call_later(scaled(self.config.sent_delay), self._advance, sid, target, epoch)
        elif status == "sent":
            self.dispatcher.call_later(scaled(self.config.delivery_delay), self._advance, sid, message.fate[0],
                                       epoch)

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
            self.poster.status_callback(message, after)
        else:
            after()

    def _after_transition(self, sid: str, status: str, epoch: int) -> None:
        if status == "delivered":
            self.on_delivered(sid, epoch)
        elif status not in FINAL_STATUSES:
            self.schedule_next(sid, epoch)
