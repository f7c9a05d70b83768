"""Wartime recruitment orders (招募令): demands per site and role, invitations, responses, assignments.

Capacity is enforced by the database: `demands.filled` counts the active assignments and is only ever changed by
an atomic conditional UPDATE (`filled < capacity`), with a CHECK constraint as the last line of defence.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobilize.db import Base
from mobilize.domain.order_states import OrderState  # the state machine's own vocabulary, stored as is
from mobilize.models._text import cleaned_text
from mobilize.models._types import UTCDateTime, utcnow
from mobilize.models.registry import Role, Site, Skill, Volunteer


# the orders whose reply code volunteers may still text (domain.order_states.LIVE_STATES): one order per code
LIVE_CODE_WHERE = "state IN ('draft', 'open', 'filled', 'staffed')"


class PeacetimePolicy(str, enum.Enum):
    leave = "leave"  # volunteers on an overlapping shift are not invited
    release = "release"  # they may be invited; if placed, they are released from the shift (never protected posts)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("expected_answer_rate > 0 AND expected_answer_rate <= 1", name="answer_rate"),
        CheckConstraint("over_recruit_factor >= 1", name="over_recruit"),
        # a reply code names one order among those volunteers can still answer
        Index("uq_orders_live_code", "reply_code", unique=True,
              sqlite_where=text(LIVE_CODE_WHERE), postgresql_where=text(LIVE_CODE_WHERE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    reply_code: Mapped[str] = mapped_column(String(4))
    state: Mapped[OrderState] = mapped_column(Enum(OrderState, native_enum=False, length=12),
                                              default=OrderState.draft)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # eligibility
    street_ids: Mapped[list | None] = mapped_column(JSON)  # None: the whole district
    max_distance_m: Mapped[float | None] = mapped_column(Float)
    languages: Mapped[list | None] = mapped_column(JSON)  # None: any
    rest_hours: Mapped[int] = mapped_column(Integer, default=0)  # not mobilised in the last N hours
    peacetime_policy: Mapped[PeacetimePolicy] = mapped_column(Enum(PeacetimePolicy, native_enum=False, length=10),
                                                              default=PeacetimePolicy.leave)
    # strategy
    expected_answer_rate: Mapped[float] = mapped_column(Float, default=0.5)
    over_recruit_factor: Mapped[float] = mapped_column(Float, default=1.2)
    wave_interval_s: Mapped[int] = mapped_column(Integer, default=600)
    confirmation_required: Mapped[bool] = mapped_column(Boolean, default=True)
    confirmation_timeout_s: Mapped[int] = mapped_column(Integer, default=1800)
    open_call: Mapped[bool] = mapped_column(Boolean, default=False)  # unregistered senders may join by SMS
    # the deadline: 95% of the places filled by then (None: the start); the waves pace their invitations to it
    needed_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # everyone at once
    # lifecycle
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recruiting_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_wave_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waves_sent: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def deadline(self) -> datetime:
        """When 95% of the places must be filled: `needed_by`, by default the order's start."""
        return self.needed_by or self.starts_at

    demands: Mapped[list["Demand"]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                   order_by="Demand.id")

    _text = cleaned_text(lines=("title",), required=("title",))


class Demand(Base):
    """(order, site, role) with a capacity: how many people are wanted there."""

    __tablename__ = "demands"
    __table_args__ = (
        UniqueConstraint("order_id", "site_id", "role_id"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("filled >= 0 AND filled <= capacity", name="filled_within_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="RESTRICT"))
    capacity: Mapped[int] = mapped_column(Integer)
    filled: Mapped[int] = mapped_column(Integer, default=0)  # active assignments; see module docstring
    required_skill_id: Mapped[int | None] = mapped_column(ForeignKey("skills.id", ondelete="RESTRICT"))
    accepts_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # since when an open place here could be taken by an accepted volunteer who waits (wartime.dispatch: a place is
    # held back for a nearer answer at most HOLD_MAX_S); None when no such volunteer waits
    idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="demands")
    site: Mapped[Site] = relationship()
    role: Mapped[Role] = relationship()
    required_skill: Mapped[Skill | None] = relationship()


class InvitationStatus(str, enum.Enum):
    queued = "queued"  # chosen for a wave, SMS in the outbox
    invited = "invited"  # awaiting an answer
    accepted = "accepted"
    declined = "declined"
    cancelled = "cancelled"  # lapsed: recruiting stopped, or the order ended, before an answer


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("order_id", "volunteer_id"),  # nobody is invited twice to one order
        Index("ix_invitations_volunteer_status", "volunteer_id", "status"),
        # covering the standby's and the pending invitees' reads (migration 0016)
        Index("ix_invitations_order_status_volunteer", "order_id", "status", "volunteer_id", "invited_at"),
        # the standby's read: the order's accepted invitations no assignment keeps off it (migration 0018)
        Index("ix_invitations_order_standby", "order_id", "status", "off_standby", "volunteer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"))
    wave: Mapped[int] = mapped_column(Integer)
    status: Mapped[InvitationStatus] = mapped_column(Enum(InvitationStatus, native_enum=False, length=12),
                                                     default=InvitationStatus.invited)
    distance_m: Mapped[float | None] = mapped_column(Float)  # to the nearest open demand when invited
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    standby_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # on standby and said they can go at short notice: placed soon after, they are dispatched as confirmed
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # an assignment of this order keeps the volunteer off its standby (`wartime.places.keeps_off_standby`): kept
    # by `wartime.places` with the assignments, in their transaction, never set by hand (`standby_filter`)
    off_standby: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    order: Mapped[Order] = relationship()
    volunteer: Mapped[Volunteer] = relationship()


class Response(Base):
    """What a volunteer answered about an order, as parsed from an inbound SMS (or set by an officer)."""

    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_order", "order_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"))
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id", ondelete="SET NULL"))
    intent: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssignmentStatus(str, enum.Enum):
    proposed = "proposed"  # placed by matching; dispatch SMS in the outbox
    notified = "notified"  # dispatch sent; awaiting confirmation (when required)
    confirmed = "confirmed"
    arrived = "arrived"
    completed = "completed"
    released = "released"  # dropped out, timed out, released by an officer, or the order ended
    declined = "declined"
    no_show = "no_show"


ACTIVE_ASSIGNMENT = ("proposed", "notified", "confirmed", "arrived", "completed")


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        # one live place per volunteer per order (released ones stay as history)
        Index("uq_assignments_active_volunteer", "order_id", "volunteer_id", unique=True,
              sqlite_where=text("status IN ('proposed', 'notified', 'confirmed', 'arrived', 'completed')"),
              postgresql_where=text("status IN ('proposed', 'notified', 'confirmed', 'arrived', 'completed')")),
        Index("ix_assignments_demand_status", "demand_id", "status"),
        Index("ix_assignments_confirm_by", "status", "confirm_by"),
        # the standby's anti-join (`wartime.standby.standby_filter`): an order's assignments of every status, with
        # what decides whether one blocks its volunteer (read from the index alone, migration 0017)
        Index("ix_assignments_order_volunteer_status", "order_id", "volunteer_id", "status", "end_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    status: Mapped[AssignmentStatus] = mapped_column(Enum(AssignmentStatus, native_enum=False, length=12),
                                                     default=AssignmentStatus.proposed)
    distance_m: Mapped[float | None] = mapped_column(Float)
    backfill: Mapped[bool] = mapped_column(Boolean, default=False)  # took the place of someone released
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # released / declined / no-show
    end_reason: Mapped[str | None] = mapped_column(String(40))
    hours: Mapped[float | None] = mapped_column(Float)  # certified at close
    notes: Mapped[str] = mapped_column(Text, default="")

    order: Mapped[Order] = relationship()
    demand: Mapped[Demand] = relationship()
    volunteer: Mapped[Volunteer] = relationship()

    _text = cleaned_text(lines=("end_reason",), multiline=("notes",))
