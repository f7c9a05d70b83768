"""The conversation's shared vocabulary: one inbound message being handled (`Exchange`) and how to answer it.

Below the handlers that use it (`wartime.replies`, `wartime.open_call`, `peacetime.sms`) and the router on top
of them (`mobilize.conversation`), so that the router may import the handlers without the handlers importing
the router back. No Flask, no Redis.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from mobilize.domain.replies import ParsedReply
from mobilize.domain.templates import render
from mobilize.models import InboundMessage, OutboundMessage, Priority, Volunteer
from mobilize.sms import outbox

# Twilio answers these itself at the carrier level (and blocks us after STOP): we don't answer a second time.
CARRIER_ANSWERED = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
                              "START", "UNSTOP"})
HINT_INTERVAL = timedelta(hours=24)  # unknown senders and unreadable replies get one answer a day at most


class Replier(Protocol):
    def __call__(self, template: str, **values) -> OutboundMessage | None: ...


@dataclass
class Exchange:
    """One inbound message being handled: who sent it, what it says, and how to answer them."""

    session: Session
    settings: Settings
    inbound: InboundMessage
    parsed: ParsedReply
    volunteer: Volunteer | None
    now: datetime

    @property
    def language(self) -> str:
        return self.volunteer.language if self.volunteer else "zh"

    def reply(self, template: str, **values) -> OutboundMessage | None:
        values.setdefault("hotline", self.settings.hotline)
        body = render(template, self.language, **values)
        return outbox.queue_message(self.session, body=body, kind=template, priority=Priority.high,
                                    volunteer=self.volunteer,
                                    to_phone=None if self.volunteer else self.inbound.from_phone)

    def answered_recently(self, template: str) -> bool:
        since = self.now - HINT_INTERVAL
        return self.session.scalar(
            select(OutboundMessage.id).where(OutboundMessage.to_phone == self.inbound.from_phone,
                                             OutboundMessage.kind == template,
                                             OutboundMessage.created_at >= since).limit(1)) is not None
