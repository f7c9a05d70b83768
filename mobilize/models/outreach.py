"""Reaching people outside the order flow: open-call sign-up dialogues (unregistered senders joining an order by
SMS) and plain notices from the command center."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mobilize.db import Base
from mobilize.models._text import cleaned_text, cleaned_texts
from mobilize.models._types import UTCDateTime, utcnow


class DialogueStep(str, enum.Enum):
    name = "name"  # waiting for the person's name
    street = "street"  # waiting for their street
    confirm = "confirm"  # waiting for Y / N on the summary
    joined = "joined"  # done: a provisional volunteer exists
    ended = "ended"  # stopped: timeout, bad input, cancelled, opted out, the call ended


class OpenCallDialogue(Base):
    """The SMS sign-up of one phone number. One row per phone (unique): concurrent or repeated messages from
    the same phone serialise on it, so a phone never creates two volunteers."""

    __tablename__ = "open_call_dialogues"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    step: Mapped[DialogueStep] = mapped_column(Enum(DialogueStep, native_enum=False, length=10))
    language: Mapped[str | None] = mapped_column(String(2))  # None until a reply shows it
    name: Mapped[str | None] = mapped_column(String(60))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id", ondelete="SET NULL"))
    bad_answers: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[int] = mapped_column(Integer, default=0)  # inbound messages in this dialogue
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prompted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last question we sent
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(30))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # STOP: nothing more is sent to them
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"))

    _text = cleaned_text(lines=("name",))  # checked by the dialogue first (open_call.clean_name)


class NoticeState(str, enum.Enum):
    draft = "draft"
    sent = "sent"  # the messages are in the outbox


class Notice(Base):
    """A plain message (no answer expected) to an audience chosen by street, team, skill and language."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    texts: Mapped[dict] = mapped_column(JSON)  # {"zh": ..., "en": ...}, at least one
    street_ids: Mapped[list | None] = mapped_column(JSON)  # None: any
    team_ids: Mapped[list | None] = mapped_column(JSON)
    skill_codes: Mapped[list | None] = mapped_column(JSON)
    languages: Mapped[list | None] = mapped_column(JSON)
    include_provisional: Mapped[bool] = mapped_column(default=False)
    state: Mapped[NoticeState] = mapped_column(Enum(NoticeState, native_enum=False, length=10),
                                               default=NoticeState.draft)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recipients: Mapped[int] = mapped_column(Integer, default=0)  # messages queued at send
    segments: Mapped[int] = mapped_column(Integer, default=0)

    _text = cleaned_text(multiline=("note",))
    _texts = cleaned_texts("texts")
