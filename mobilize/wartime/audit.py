"""Who acts on orders, and the audit trail of what they did (one AuditEvent per change)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mobilize.domain.phones import mask_phone
from mobilize.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    name: str  # username, "system", or "sms:+86139****0001"
    user_id: int | None = None

    @classmethod
    def system(cls) -> "Actor":
        return cls("system")

    @classmethod
    def user(cls, username: str, user_id: int | None) -> "Actor":
        return cls(username, user_id)

    @classmethod
    def sms(cls, phone: str) -> "Actor":
        return cls(f"sms:{mask_phone(phone)}")  # the audit trail never shows a phone number in clear


SYSTEM = Actor.system()


def record(session: Session, actor: Actor, action: str, subject_type: str, subject_id: int | None,
           now: datetime | None = None, **details: Any) -> None:
    """Add an audit event to the caller's transaction (it commits or rolls back with the change itself)."""
    event = AuditEvent(actor=actor.name, actor_user_id=actor.user_id, action=action, subject_type=subject_type,
                       subject_id=subject_id, details=details)
    if now is not None:
        event.at = now
    session.add(event)
