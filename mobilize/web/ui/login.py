"""Password checks with lockout, and the audit of logins. SQLAlchemy only: the HTTP side is in `auth`.

After MAX_FAILURES wrong passwords in a row an account is locked for LOCK_MINUTES (stored on the user, so
every web process agrees); a locked account refuses even the right password. Unknown usernames cost the same
argon2 verification as known ones, so response times do not tell which usernames exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import update
from sqlalchemy.orm import Session

from mobilize.accounts import find_user, hash_password, verify_password
from mobilize.models import AuditEvent, User

MAX_FAILURES = 5
LOCK_MINUTES = 15


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    reason: str  # "ok", "bad_credentials", "locked", "inactive"

    @property
    def ok(self) -> bool:
        return self.user is not None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("no user has this password")


def attempt_login(session: Session, username: str, password: str, now: datetime, ip: str) -> LoginResult:
    """Check a login and record it (failures, lockout, audit); the caller commits."""
    user = find_user(session, username) if username else None
    if user is not None and user.locked_until is not None and user.locked_until > now:
        audit(session, "login_refused_locked", user.username, user.id, ip)
        return LoginResult(None, "locked")
    password_ok = verify_password(user.password_hash if user is not None else _dummy_hash(), password)
    if user is None:
        audit(session, "login_failed", "anonymous", None, ip, username=username[:60])
        return LoginResult(None, "bad_credentials")
    if password_ok and user.active:
        user.failed_logins = 0
        user.locked_until = None
        audit(session, "login", user.username, user.id, ip)
        return LoginResult(user, "ok")
    _count_failure(session, user, now, ip)
    return LoginResult(None, "inactive" if password_ok else "bad_credentials")


def _count_failure(session: Session, user: User, now: datetime, ip: str) -> None:
    # One atomic increment: concurrent wrong guesses on several web processes all count.
    failures = session.execute(update(User).where(User.id == user.id)
                               .values(failed_logins=User.failed_logins + 1)
                               .returning(User.failed_logins)).scalar_one()
    audit(session, "login_failed", user.username, user.id, ip, failures=failures)
    if failures >= MAX_FAILURES:
        locked_until = now + timedelta(minutes=LOCK_MINUTES)
        session.execute(update(User).where(User.id == user.id)
                        .values(failed_logins=0, locked_until=locked_until))
        audit(session, "account_locked", user.username, user.id, ip, until=locked_until.isoformat())
    session.expire(user)


def audit(session: Session, action: str, actor: str, user_id: int | None, ip: str, **details) -> None:
    session.add(AuditEvent(actor=actor[:80], actor_user_id=user_id, action=action, subject_type="user",
                           subject_id=user_id, details={"ip": ip, **details}))
