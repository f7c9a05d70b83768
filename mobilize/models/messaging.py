"""The SMS outbox and inbox: every message in or out is a row first, then work for the queues."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobilize.db import Base
from mobilize.models._types import UTCDateTime, utcnow
from mobilize.models.registry import Volunteer


class Priority(str, enum.Enum):
    high = "high"  # replies, dispatch: people are waiting
    bulk = "bulk"  # invitation waves, notices


class OutboundStatus(str, enum.Enum):
    pending = "pending"  # written, not yet handed to the gateway
    sending = "sending"  # claimed by a sender; the gateway may or may not have it (see outbox.reconcile)
    queued = "queued"  # accepted by Twilio (it has a SID)
    sent = "sent"
    delivered = "delivered"
    undelivered = "undelivered"
    failed = "failed"  # refused by Twilio or given up after retries
    cancelled = "cancelled"  # never sent: the recipient opted out meanwhile, or its reason went away


class OutboundMessage(Base):
    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_messages_pending", "status", "priority", "id"),
        Index("ix_outbound_messages_volunteer", "volunteer_id", "created_at"),
        Index("ix_outbound_messages_to", "to_phone", "created_at"),
        Index("ix_outbound_messages_sent_at", "sent_at"),  # the send rate of /admin/system
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"))
    to_phone: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))  # the template's name, e.g. "dispatch"
    priority: Mapped[Priority] = mapped_column(Enum(Priority, native_enum=False, length=10))
    segments: Mapped[int] = mapped_column(Integer)
    status: Mapped[OutboundStatus] = mapped_column(Enum(OutboundStatus, native_enum=False, length=12),
                                                   default=OutboundStatus.pending)
    # "dispatch:assignment:42": the same reason never sends twice (unique where set)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    twilio_sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)  # backoff after a retryable error
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # handed to the gateway
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last delivery-status change

    volunteer: Mapped[Volunteer | None] = relationship()


class InboundMessage(Base):
    __tablename__ = "inbound_messages"
    __table_args__ = (
        Index("ix_inbound_messages_unprocessed", "processed_at", "id"),
        Index("ix_inbound_messages_from", "from_phone", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(40), unique=True)  # Twilio's retries carry the same SID
    from_phone: Mapped[str] = mapped_column(String(20))
    to_phone: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"))
    intent: Mapped[str | None] = mapped_column(String(20))
    reply_code: Mapped[str | None] = mapped_column(String(8))
    outcome: Mapped[str | None] = mapped_column(String(60))  # what the conversation did with it
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Dead letters (sms.inbox): failed processing attempts, the last one's error (truncated), and when the
    # message was set aside after MAX_ATTEMPTS of them; a dead message is never queued again unless retried.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(500))
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
