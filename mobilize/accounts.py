"""Users and API tokens: argon2 password hashes, tokens stored as SHA-256 hashes and revocable."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilize.domain.district import find_street
from mobilize.models import ApiToken, Street, User, UserRole
from mobilize.models._types import utcnow

TOKEN_PREFIX = "mob_"
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{2,60}$")
MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()


class AccountError(ValueError):
    """Bad account input; the message names the problem."""


@dataclass(frozen=True)
class Principal:
    """Who is acting, as the rest of the app needs to know it (no ORM object leaks out of a session)."""

    user_id: int
    username: str
    role: UserRole
    street_id: int | None

    @property
    def is_officer(self) -> bool:
        return self.role is UserRole.officer

    @property
    def sees_phone_numbers(self) -> bool:
        # Viewers watch progress; they never need to call anyone.
        return self.role is not UserRole.viewer

    @property
    def can_command(self) -> bool:
        return self.role in (UserRole.admin, UserRole.commander)

    def may_access_street(self, street_id: int | None) -> bool:
        return not self.is_officer or street_id == self.street_id

    @classmethod
    def of(cls, user: User) -> "Principal":
        return cls(user.id, user.username, user.role, user.street_id)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(session: Session, username: str, password: str, role: str, street: str | None = None) -> User:
    """Create a user; raises AccountError naming what is wrong (nothing is written then)."""
    if not USERNAME_PATTERN.match(username or ""):
        raise AccountError("username must be 2 to 60 letters, digits or _ . @ -")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    try:
        user_role = UserRole(role)
    except ValueError:
        raise AccountError(f"role must be one of {', '.join(r.value for r in UserRole)}, not {role!r}") from None
    street_row = _street_for(session, user_role, street)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=user_role,
                street_id=street_row.id if street_row else None, active=True, failed_logins=0)
    session.add(user)
    session.flush()
    return user


def _street_for(session: Session, role: UserRole, street: str | None) -> Street | None:
    if role is not UserRole.officer:
        if street:
            raise AccountError("only officers are bound to a street; drop --street")
        return None
    if not street:
        raise AccountError("an officer needs --street (e.g. 八大关街道)")
    info = find_street(street)
    row = session.scalar(select(Street).where(Street.name == info.name)) if info else None
    if row is None:
        raise AccountError(f"unknown street {street!r}")
    return row


def issue_token(session: Session, user: User) -> str:
    """A new API token for the user; only its hash is stored, so this is the one time it can be read."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), prefix=token[:12]))
    session.flush()
    return token


def authenticate_token(session: Session, token: str, now: datetime | None = None) -> Principal | None:
    """Who the token acts for, or None: unknown or revoked, or its account disabled or locked. A token is no
    way around a lock: while failed logins hold the account locked (`locked_until`, in the future) its tokens
    are refused like its password, and both work again when the lock runs out; a disabled account's tokens
    work again if it is enabled again (they are not revoked)."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    now = now or utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None or not account_usable(row.user, now):
        return None
    row.last_used_at = now
    return Principal.of(row.user)


def account_usable(user: User, now: datetime) -> bool:
    """Neither disabled nor locked at `now`."""
    return user.active and not is_locked(user, now)


def is_locked(user: User, now: datetime) -> bool:
    """Locked by failed logins until `locked_until` (see `mobilize.web.ui.login`)."""
    return user.locked_until is not None and user.locked_until > now


def revoke_token(session: Session, token: str) -> bool:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
