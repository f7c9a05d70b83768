"""What every roster view takes from the request and the app: the acting user, the roster settings, local
times (a time without an offset is the district's) and the commit."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from mobilize.peacetime.config import RosterConfig
from mobilize.wartime.audit import Actor
from mobilize.web import db, runtime
from mobilize.web.api.auth import current


def actor() -> Actor:
    principal = current()
    return Actor.user(principal.username, principal.user_id)


def roster_config() -> RosterConfig:
    return RosterConfig.from_settings(runtime().settings)


def aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(roster_config().zone))


def commit() -> None:
    db().commit()
    db().expire_all()
