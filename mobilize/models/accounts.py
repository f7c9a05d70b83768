"""Users of the web UI and API, and their API tokens (stored as hashes only)."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobilize.db import Base
from mobilize.models._text import cleaned_text
from mobilize.models._types import UTCDateTime, utcnow
from mobilize.models.registry import Street


class UserRole(str, enum.Enum):
    admin = "admin"
    commander = "commander"
    officer = "officer"
    viewer = "viewer"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role <> 'officer' OR street_id IS NOT NULL", name="officer_has_street"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[UserRole] = mapped_column(Enum(UserRole, native_enum=False, length=20))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id", ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    street: Mapped[Street | None] = relationship()
    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    prefix: Mapped[str] = mapped_column(String(12))  # first characters, to tell tokens apart in listings
    name: Mapped[str | None] = mapped_column(String(60))  # what it is for, as the admin who issued it wrote
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # to the minute (LAST_USED_PRECISION)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    _text = cleaned_text(lines=("name",))
