"""Peacetime duty rosters (平时): posts, weekly patterns, dated shifts, sign-ups, swaps and service records.

Capacity is enforced by the database as for wartime demands: `shifts.filled` counts the sign-ups that hold a
place (booked, checked in, completed) and is only changed by an atomic conditional UPDATE (`filled < capacity`),
with a CHECK constraint as the last line of defence. One live sign-up per volunteer and shift (a partial unique
index). Service records are what a volunteer served, on a shift or a wartime assignment, certified by an officer
(or by the order's close); points and stars are computed from the certified hours (`mobilize.domain.stars`).
"""
from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobilize.db import Base
from mobilize.models._text import cleaned_text
from mobilize.models._types import UTCDateTime, utcnow
from mobilize.models.registry import Role, Site, Volunteer


class Post(Base):
    """A recurring duty at a site: civility guides at an intersection or station, a community patrol."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("site_id", "name"),
        CheckConstraint("slots >= 1 AND slots <= 500", name="slots"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"), index=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(80))
    slots: Mapped[int] = mapped_column(Integer)  # places per shift unless the pattern says otherwise
    protected: Mapped[bool] = mapped_column(Boolean, default=False)  # never stripped by a wartime order
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship()
    role: Mapped[Role] = relationship()
    patterns: Mapped[list["ShiftPattern"]] = relationship(back_populates="post", order_by="ShiftPattern.id")

    _text = cleaned_text(lines=("name",), multiline=("notes",), required=("name",))


class ShiftPattern(Base):
    """Weekly recurrence of a post's shifts, in local wall-clock time (Settings.timezone)."""

    __tablename__ = "shift_patterns"
    __table_args__ = (CheckConstraint("slots IS NULL OR (slots >= 1 AND slots <= 500)", name="slots"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    weekdays: Mapped[str] = mapped_column(String(7))  # ISO weekdays, e.g. "12345" (Monday = 1)
    start_time: Mapped[time] = mapped_column(Time)  # local
    end_time: Mapped[time] = mapped_column(Time)  # local; not after start_time: the next day
    slots: Mapped[int | None] = mapped_column(Integer)  # None: the post's slots
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    post: Mapped[Post] = relationship(back_populates="patterns")


class RosterHoliday(Base):
    """An exception that cancels the shifts of a local date: of one post, of a street, or (neither) everywhere."""

    __tablename__ = "roster_holidays"
    __table_args__ = (Index("ix_roster_holidays_on_date", "on_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    on_date: Mapped[date] = mapped_column(Date)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(80))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    _text = cleaned_text(lines=("reason",), required=("reason",))


class ShiftStatus(str, enum.Enum):
    scheduled = "scheduled"  # upcoming or running; its SMS code is live
    cancelled = "cancelled"  # a holiday or an officer cancelled it
    ended = "ended"  # over for a while; its code is free again


class Shift(Base):
    """One dated occurrence of a post, with places (`capacity`) and how many are taken (`filled`)."""

    __tablename__ = "shifts"
    __table_args__ = (
        UniqueConstraint("post_id", "starts_at"),  # the generator is idempotent
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("filled >= 0 AND filled <= capacity", name="filled_within_capacity"),
        # a code names one shift among those volunteers can still take or check into
        Index("uq_shifts_live_code", "code", unique=True,
              sqlite_where=text("status = 'scheduled'"), postgresql_where=text("status = 'scheduled'")),
        Index("ix_shifts_starts_at", "starts_at"),
        Index("ix_shifts_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="RESTRICT"))
    pattern_id: Mapped[int | None] = mapped_column(ForeignKey("shift_patterns.id", ondelete="SET NULL"))
    local_date: Mapped[date] = mapped_column(Date)  # the local date it starts on
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    filled: Mapped[int] = mapped_column(Integer, default=0)  # sign-ups holding a place; see module docstring
    status: Mapped[ShiftStatus] = mapped_column(Enum(ShiftStatus, native_enum=False, length=12),
                                                default=ShiftStatus.scheduled)
    code: Mapped[str] = mapped_column(String(4))  # for SMS: 班次2718 / SHIFT 2718
    extra: Mapped[bool] = mapped_column(Boolean, default=False)  # a one-off shift, not from a pattern
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(120))

    post: Mapped[Post] = relationship()
    pattern: Mapped[ShiftPattern | None] = relationship()

    _text = cleaned_text(lines=("cancel_reason",))


class SignupStatus(str, enum.Enum):
    waitlisted = "waitlisted"  # no place yet; promoted in order when one frees
    booked = "booked"
    checked_in = "checked_in"
    completed = "completed"  # checked out; a service record waits for certification
    cancelled = "cancelled"  # by the volunteer, or the shift was cancelled
    released = "released"  # taken off by a wartime order (released_by_order_id)
    no_show = "no_show"
    swapped = "swapped"  # handed over to another volunteer by an accepted swap
    removed = "removed"  # taken off by an officer


PLACE_HOLDING = ("booked", "checked_in", "completed")  # counted in shifts.filled
LIVE_SIGNUP = ("waitlisted", "booked", "checked_in", "completed")  # one per volunteer and shift


class ShiftSignup(Base):
    __tablename__ = "shift_signups"
    __table_args__ = (
        Index("uq_shift_signups_live", "shift_id", "volunteer_id", unique=True,
              sqlite_where=text("status IN ('waitlisted', 'booked', 'checked_in', 'completed')"),
              postgresql_where=text("status IN ('waitlisted', 'booked', 'checked_in', 'completed')")),
        Index("ix_shift_signups_shift_status", "shift_id", "status"),
        Index("ix_shift_signups_volunteer_status", "volunteer_id", "status"),
        CheckConstraint("late_minutes IS NULL OR late_minutes >= 0", name="late_minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"))
    status: Mapped[SignupStatus] = mapped_column(Enum(SignupStatus, native_enum=False, length=12))
    source: Mapped[str] = mapped_column(String(20))  # sms, api, officer, waitlist, swap, demo
    created_by: Mapped[str] = mapped_column(String(80))  # username, "sms:+86139****0001", "system"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it got its place
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late_minutes: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))
    released_by_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    reminded_day_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_hour_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    shift: Mapped[Shift] = relationship()
    volunteer: Mapped[Volunteer] = relationship()

    _text = cleaned_text(lines=("end_reason",))


class SwapStatus(str, enum.Enum):
    proposed = "proposed"  # waiting for both volunteers to accept
    completed = "completed"
    declined = "declined"
    cancelled = "cancelled"
    expired = "expired"  # a shift started first
    failed = "failed"  # accepted by both but no longer possible (a booking changed meanwhile)


class ShiftSwap(Base):
    """The first volunteer's place goes to the second; with `second_signup_id`, the second's place goes to the
    first (a two-way swap). Done only when both accepted."""

    __tablename__ = "shift_swaps"
    __table_args__ = (
        Index("uq_shift_swaps_live_code", "code", unique=True,
              sqlite_where=text("status = 'proposed'"), postgresql_where=text("status = 'proposed'")),
        Index("ix_shift_swaps_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(4))  # for SMS: 换班57 / SWAP 57
    status: Mapped[SwapStatus] = mapped_column(Enum(SwapStatus, native_enum=False, length=12),
                                               default=SwapStatus.proposed)
    first_signup_id: Mapped[int] = mapped_column(ForeignKey("shift_signups.id", ondelete="CASCADE"))
    second_signup_id: Mapped[int | None] = mapped_column(ForeignKey("shift_signups.id", ondelete="CASCADE"))
    first_volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    second_volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    first_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    second_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(80))

    first_signup: Mapped[ShiftSignup] = relationship(foreign_keys=[first_signup_id])
    second_signup: Mapped[ShiftSignup | None] = relationship(foreign_keys=[second_signup_id])
    first_volunteer: Mapped[Volunteer] = relationship(foreign_keys=[first_volunteer_id])
    second_volunteer: Mapped[Volunteer] = relationship(foreign_keys=[second_volunteer_id])


class ServiceKind(str, enum.Enum):
    shift = "shift"  # a peacetime shift (signup_id)
    wartime = "wartime"  # a completed assignment of a closed order (assignment_id)
    imported = "imported"  # hours carried over from before this system


class ServiceStatus(str, enum.Enum):
    pending = "pending"  # recorded, waiting for the officer
    certified = "certified"  # certified_hours count for points and stars


class ServiceRecord(Base):
    __tablename__ = "service_records"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'shift' AND signup_id IS NOT NULL AND assignment_id IS NULL)"
            " OR (kind = 'wartime' AND assignment_id IS NOT NULL AND signup_id IS NULL)"
            " OR (kind = 'imported' AND signup_id IS NULL AND assignment_id IS NULL)",
            name="source"),
        CheckConstraint("hours >= 0", name="hours_not_negative"),
        CheckConstraint("certified_hours IS NULL OR certified_hours >= 0", name="certified_not_negative"),
        CheckConstraint("status <> 'certified' OR certified_hours IS NOT NULL", name="certified_has_hours"),
        UniqueConstraint("signup_id"),  # one record per shift sign-up
        UniqueConstraint("assignment_id"),  # one record per wartime assignment
        Index("ix_service_records_volunteer_status", "volunteer_id", "status"),
        Index("ix_service_records_street_status", "street_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"))
    kind: Mapped[ServiceKind] = mapped_column(Enum(ServiceKind, native_enum=False, length=10))
    signup_id: Mapped[int | None] = mapped_column(ForeignKey("shift_signups.id", ondelete="CASCADE"))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id", ondelete="SET NULL"))  # where served
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(String(120))  # the post or the order's title
    role: Mapped[str] = mapped_column(String(60), default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hours: Mapped[float] = mapped_column(Float)  # as recorded (check-in to check-out within the shift)
    certified_hours: Mapped[float | None] = mapped_column(Float)
    status: Mapped[ServiceStatus] = mapped_column(Enum(ServiceStatus, native_enum=False, length=10),
                                                  default=ServiceStatus.pending)
    certified_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    certified_by: Mapped[str | None] = mapped_column(String(80))
    certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    adjustment_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    volunteer: Mapped[Volunteer] = relationship()

    _text = cleaned_text(lines=("description", "role", "certified_by", "adjustment_reason"),
                         required=("description",))


class GapReport(Base):
    """The daily report of unfilled shifts per street (one per local date), with the backfill it started."""

    __tablename__ = "roster_gap_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_date: Mapped[date] = mapped_column(Date, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    shifts: Mapped[int] = mapped_column(Integer)  # unfilled shifts in the report
    open_places: Mapped[int] = mapped_column(Integer)
    invitations: Mapped[int] = mapped_column(Integer)  # backfill SMS queued
    streets: Mapped[list] = mapped_column(JSON)  # [{street_id, street, shifts, open_places, items: [...]}]
