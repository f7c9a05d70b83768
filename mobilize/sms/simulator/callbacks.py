"""Webhooks as Twilio posts them: a message's status callback (its parameters), and any POST perhaps delivered
twice (the duplicate-webhook fault: the copy follows the first, same MessageSid and idempotency token)."""
from __future__ import annotations

import time
from collections.abc import Callable

from mobilize.sms.simulator.faults import Faults
from mobilize.sms.simulator.store import API_VERSION, Message, Store
from mobilize.sms.simulator.webhooks import Dispatcher, WebhookResult


class WebhookPoster:
    """Posts through the dispatcher, applying the duplicate fault; counts status callbacks in `count`."""

    def __init__(self, store: Store, dispatcher: Dispatcher, faults: Faults, count: Callable[[str], None]) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.faults = faults
        self.count = count

    def post(self, url: str, params: dict, token: str, on_response: Callable[[WebhookResult], None] | None = None,
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

    def status_callback(self, message: Message, on_done: Callable[[WebhookResult | None], None]) -> None:
        """POST the message's current status to its StatusCallback; on_done once it is answered."""
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
        self.count("status_callbacks")
        self.post(url, params, token, on_done=on_done)
