"""The registry: streets, communities, sites and their roles, skills, teams and volunteers."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobilize.db import Base
from mobilize.models._text import cleaned_text
from mobilize.models._types import UTCDateTime, utcnow


class Street(Base):
    """One of the district's 11 sub-districts (街道)."""

    __tablename__ = "streets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)  # full name, e.g. 八大关街道
    short_name: Mapped[str] = mapped_column(String(20), unique=True)  # e.g. 八大关
    name_en: Mapped[str] = mapped_column(String(60))
    slug: Mapped[str] = mapped_column(String(40), unique=True)  # URL form, e.g. badaguan
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)

    communities: Mapped[list["Community"]] = relationship(back_populates="street", order_by="Community.name")
    sites: Mapped[list["Site"]] = relationship(back_populates="street", order_by="Site.name")

    _text = cleaned_text(lines=("name", "short_name", "name_en"), required=("name", "short_name"))


class Community(Base):
    __tablename__ = "communities"
    __table_args__ = (UniqueConstraint("street_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)

    street: Mapped[Street] = relationship(back_populates="communities")

    _text = cleaned_text(lines=("name",), required=("name",))


class SiteKind(str, enum.Enum):
    testing_site = "testing_site"
    intersection = "intersection"
    station = "station"
    community_post = "community_post"
    other = "other"


class Skill(Base):
    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. medical
    name_zh: Mapped[str] = mapped_column(String(40), unique=True)
    name_en: Mapped[str] = mapped_column(String(60))

    _text = cleaned_text(lines=("name_zh", "name_en"), required=("name_zh",))


class Role(Base):
    """A kind of job at a site (registration, queue keeping...), possibly needing a skill."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    skill_id: Mapped[int | None] = mapped_column(ForeignKey("skills.id", ondelete="RESTRICT"))
    accepts_provisional: Mapped[bool] = mapped_column(Boolean, default=False)

    skill: Mapped[Skill | None] = relationship()

    _text = cleaned_text(lines=("name_zh", "name_en"), required=("name_zh",))


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (
        UniqueConstraint("street_id", "name"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="coordinates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id", ondelete="RESTRICT"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[SiteKind] = mapped_column(Enum(SiteKind, native_enum=False, length=20))
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    contact_name: Mapped[str] = mapped_column(String(40), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")

    street: Mapped[Street] = relationship(back_populates="sites")
    roles: Mapped[list["SiteRole"]] = relationship(back_populates="site", cascade="all, delete-orphan")

    _text = cleaned_text(lines=("name", "address", "contact_name"), required=("name",))


class SiteRole(Base):
    """A role offered at a site with its usual capacity (wartime demands may ask for other numbers)."""

    __tablename__ = "site_roles"
    __table_args__ = (
        UniqueConstraint("site_id", "role_id"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="RESTRICT"))
    capacity: Mapped[int] = mapped_column(Integer)

    site: Mapped[Site] = relationship(back_populates="roles")
    role: Mapped[Role] = relationship()


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id", ondelete="SET NULL"))
    specialised: Mapped[bool] = mapped_column(Boolean, default=False)

    _text = cleaned_text(lines=("name",), required=("name",))


volunteer_skills = Table(
    "volunteer_skills",
    Base.metadata,
    Column("volunteer_id", ForeignKey("volunteers.id", ondelete="CASCADE"), primary_key=True),
    Column("skill_id", ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_volunteer_skills_skill_id", "skill_id"),
)

volunteer_teams = Table(
    "volunteer_teams",
    Base.metadata,
    Column("volunteer_id", ForeignKey("volunteers.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_volunteer_teams_team_id", "team_id"),
)


class Volunteer(Base):
    __tablename__ = "volunteers"
    __table_args__ = (
        CheckConstraint("language IN ('zh', 'en')", name="language"),
        CheckConstraint(
            "(lat IS NULL AND lon IS NULL) OR (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180)",
            name="coordinates",
        ),
        # the opted out, few: the pacing's audience is every volunteer less these (`pacing_inputs.audience_bound`,
        # read on every evaluation; counting those not opted out read all 100,000 rows)
        Index("ix_volunteers_opted_out", "opted_out_at", sqlite_where=text("opted_out_at IS NOT NULL"),
              postgresql_where=text("opted_out_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id", ondelete="RESTRICT"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="SET NULL"))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    location_approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(2), default="zh")
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # taken out of the active pool by the service (not by the volunteer): invited by nothing, history kept
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)  # joined by SMS, not yet verified
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    street: Mapped[Street] = relationship()
    community: Mapped[Community | None] = relationship()
    skills: Mapped[list[Skill]] = relationship(secondary=volunteer_skills, order_by=Skill.code)
    teams: Mapped[list[Team]] = relationship(secondary=volunteer_teams, order_by=Team.name)

    _text = cleaned_text(lines=("name",), multiline=("notes",), required=("name",))

    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None

    @property
    def active(self) -> bool:
        return self.deactivated_at is None
