"""The SMS gateway: hands one message to Twilio (or to the simulator, through the same `twilio` client).

Errors are sorted into what the outbox must do with them: retry later (429, 5xx, connection), give up and mark
the recipient opted out (21610), give up and flag the number (invalid or not a mobile), or just give up. A
retryable error is `uncertain` when the request may have reached Twilio (a read timeout, a connection reset
after the request was written): such a message is looked up (`find_accepted`) before it is ever sent again.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from urllib3.exceptions import NewConnectionError
from twilio.base.exceptions import TwilioException, TwilioRestException

from config import Settings

OPTED_OUT_CODES = frozenset({21610})  # "Attempt to send to unsubscribed recipient"
INVALID_NUMBER_CODES = frozenset({21211, 21214, 21217, 21401, 21407, 21408, 21612, 21614})
RATE_LIMITED_CODES = frozenset({20429, 14107})
CLIENT_TIMEOUT_S = 30.0  # the twilio client's connect and read timeout


@dataclass(frozen=True)
class Accepted:
    sid: str
    status: str  # as Twilio answered: accepted, queued, sending, sent...


class SendError(Exception):
    def __init__(self, message: str, code: int | None = None, http_status: int | None = None,
                 retryable: bool = False, uncertain: bool = False):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.retryable = retryable
        self.uncertain = uncertain  # the gateway may have accepted the message: look it up before a retry

    @property
    def opted_out(self) -> bool:
        return self.code in OPTED_OUT_CODES

    @property
    def invalid_number(self) -> bool:
        return self.code in INVALID_NUMBER_CODES


class TwilioGateway:
    """Twilio's Messages API through the real client; `base_url` points it at the simulator."""

    def __init__(self, account_sid: str, auth_token: str, sender: str | None = None,
                 messaging_service_sid: str | None = None, base_url: str | None = None):
        if not (sender or messaging_service_sid):
            raise ValueError("a sender number or a Messaging Service SID is needed")
        from mobilize.sms.twilio_client import make_twilio_client

        self.client = make_twilio_client(account_sid, auth_token, base_url, timeout=CLIENT_TIMEOUT_S)
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid

    @property
    def sender_key(self) -> str:
        """What the rate limit is per: the Messaging Service (sender pool) or the number."""
        return self.messaging_service_sid or self.sender or "default"

    def send(self, to: str, body: str, status_callback: str | None = None) -> Accepted:
        sender = ({"messaging_service_sid": self.messaging_service_sid} if self.messaging_service_sid
                  else {"from_": self.sender})
        extra = {"status_callback": status_callback} if status_callback else {}
        try:
            message = self.client.messages.create(to=to, body=body, **sender, **extra)
        except TwilioRestException as error:
            retryable = error.status == 429 or error.status >= 500 or error.code in RATE_LIMITED_CODES
            raise SendError(error.msg or str(error), code=error.code, http_status=error.status,
                            retryable=retryable) from error
        except (requests.ConnectionError, requests.Timeout, TwilioException) as error:
            uncertain = not_sent(error) is False
            raise SendError(f"{'no answer from' if uncertain else 'cannot reach'} the SMS gateway: {error}",
                            retryable=True, uncertain=uncertain) from error
        return Accepted(message.sid, str(message.status))

    def find_accepted(self, to: str, body: str, since: datetime, until: datetime | None = None,
                      taken: Callable[[str], bool] | None = None) -> Accepted | None:
        """A message with this body that Twilio already accepted for this number since `since` (to never send
        it twice): Twilio's Messages list filtered by To and DateSent, one UTC day at a time from since's day
        (less a day, for clocks) to until's (default now), matched on the body and a creation after `since`.
        `taken(sid)` True skips a message (another row of ours already has that SID: the same text twice)."""
        until = until or datetime.now(since.tzinfo)
        day = (since - timedelta(days=1)).date()
        try:
            while day <= until.date():
                for message in self.client.messages.list(to=to, date_sent=datetime(day.year, day.month, day.day),
                                                         page_size=50, limit=200):
                    created = message.date_created
                    if message.body == body and (created is None or created >= since - timedelta(seconds=5)) \
                            and not (taken is not None and taken(message.sid)):
                        return Accepted(message.sid, str(message.status))
                day += timedelta(days=1)
        except TwilioRestException as error:
            raise SendError(error.msg or str(error), code=error.code, http_status=error.status,
                            retryable=True) from error
        except (requests.ConnectionError, requests.Timeout, TwilioException) as error:
            raise SendError(f"cannot reach the SMS gateway: {error}", retryable=True) from error
        return None


def not_sent(error: BaseException) -> bool:
    """True when the request certainly never reached the gateway (no connection was made); False when it may
    have (a read timeout, a connection dropped while the request was written or its answer awaited)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError) and not isinstance(error, requests.Timeout):
        reason = error.args[0] if error.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(reason, (NewConnectionError, ConnectionRefusedError))
    return not isinstance(error, (requests.Timeout, requests.ConnectionError))


def make_gateway(settings: Settings) -> TwilioGateway:
    if settings.sms_backend == "simulator":
        if not settings.simulator_url:
            raise ValueError("SMS_BACKEND=simulator needs SIMULATOR_URL (mobilize up sets it)")
        return TwilioGateway(settings.twilio_account_sid or "", settings.twilio_auth_token or "",
                             sender=settings.twilio_from or "+8610690000",
                             messaging_service_sid=settings.twilio_messaging_service_sid,
                             base_url=settings.simulator_url)
    return TwilioGateway(settings.twilio_account_sid, settings.twilio_auth_token, sender=settings.twilio_from,
                         messaging_service_sid=settings.twilio_messaging_service_sid)
