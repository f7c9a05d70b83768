"""Users and API tokens: argon2 password hashes, tokens stored as SHA-256 hashes and revocable.

The changes an admin makes (the admin pages, the CLI) go through the functions below that take an `Actor`: each
writes its audit event (who did what to whom) in the caller's transaction, never a password or a token. An
account change that would leave no active admin is refused (`LastAdmin`), as is an admin locking themself out.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mobilize.domain.district import find_street
from mobilize.domain.text_safety import clean_line
from mobilize.models import ApiToken, Street, User, UserRole
from mobilize.models._types import utcnow
from mobilize.wartime.audit import Actor, record

TOKEN_PREFIX = "mob_"
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{2,60}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200  # argon2 takes any length; a megabyte "password" is only a way to burn CPU
TOKEN_NAME_LENGTH = 60
# A token's last use is written at most this often: a write per API request would double the cost of reads.
LAST_USED_PRECISION = timedelta(minutes=1)
CLI = Actor("cli")  # who the CLI acts as in the audit trail (a shell on the server has no login)
_hasher = PasswordHasher()


class AccountError(ValueError):
    """Bad account input; the message names the problem. `field`: the form field it is about; `code`: the
    problem as a word the pages translate (the message itself is English, for the CLI and the logs)."""

    def __init__(self, message: str, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


class LastAdmin(AccountError):
    """The change would leave no active admin: nobody could manage the accounts any more."""


class NotFound(AccountError):
    """No such user or token."""


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


def create_user(session: Session, username: str, password: str, role: str, street: str | None = None,
                actor: Actor | None = None) -> User:
    """Create a user; raises AccountError naming what is wrong (nothing is written then). With `actor` (an
    admin's page, the CLI) the creation is audited; fixtures and the demo seed leave it out."""
    if not USERNAME_PATTERN.match(username or ""):
        raise AccountError("username must be 2 to 60 letters, digits or _ . @ -", "username", "bad_username")
    check_password(password)
    user_role = _role(role)
    street_row = _street_for(session, user_role, street)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"user {username!r} already exists", "username", "username_taken")
    user = User(username=username, password_hash=hash_password(password), role=user_role,
                street_id=street_row.id if street_row else None, active=True, failed_logins=0)
    session.add(user)
    session.flush()
    if actor is not None:
        record(session, actor, "user.created", "user", user.id, username=username, role=user_role.value,
               street=street_row.name if street_row else None)
    return user


def check_password(password: str | None) -> None:
    """Today's password rules (the same for a new user and a reset)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters", "password", "password_short")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password must be at most {MAX_PASSWORD_LENGTH} characters", "password", "password_long")


def _role(role: str | UserRole) -> UserRole:
    try:
        return UserRole(role)
    except ValueError:
        raise AccountError(f"role must be one of {', '.join(r.value for r in UserRole)}, not {role!r}",
                           "role", "bad_role") from None


def _street_for(session: Session, role: UserRole, street: str | None) -> Street | None:
    if role is not UserRole.officer:
        if street:
            raise AccountError("only officers are bound to a street; drop --street", "street", "street_not_allowed")
        return None
    if not street:
        raise AccountError("an officer needs --street (e.g. 八大关街道)", "street", "street_needed")
    info = find_street(street)
    row = session.scalar(select(Street).where(Street.name == info.name)) if info else None
    if row is None:
        raise AccountError(f"unknown street {street!r}", "street", "unknown_street")
    return row


# --- an admin's changes to accounts (audited) ---------------------------------------------------------------


def user_or_error(session: Session, user_id: int, lock: bool = False) -> User:
    user = session.get(User, user_id, with_for_update=lock, populate_existing=lock)
    if user is None:
        raise NotFound(f"no user {user_id}", None, "not_found")
    return user


def change_role(session: Session, user_id: int, role: str, street: str | None, actor: Actor) -> User:
    """Give the user a role, and officers their street (the street is dropped for other roles)."""
    user = user_or_error(session, user_id, lock=True)
    new_role = _role(role)
    street_row = _street_for(session, new_role, street or None)
    if user.role is UserRole.admin and new_role is not UserRole.admin:
        _keep_an_admin(session, user, "demote")
    before = (user.role.value, user.street.name if user.street else None)
    user.role, user.street_id = new_role, street_row.id if street_row else None
    session.flush()
    session.refresh(user, ["street"])
    after = (new_role.value, street_row.name if street_row else None)
    if after != before:
        record(session, actor, "user.role_changed", "user", user.id, username=user.username,
               role_before=before[0], street_before=before[1], role=after[0], street=after[1])
    return user


def lock_user(session: Session, user_id: int, actor: Actor) -> User:
    """Disable the account until an admin unlocks it: its logins end at their next request (every request
    reloads the user) and its tokens are refused (`account_usable`)."""
    user = user_or_error(session, user_id, lock=True)
    if actor.user_id == user.id:
        raise AccountError("you cannot lock your own account", "user", "self_lock")
    if user.role is UserRole.admin and user.active:
        _keep_an_admin(session, user, "lock")
    if user.active:
        user.active = False
        record(session, actor, "user.locked", "user", user.id, username=user.username)
    return user


def unlock_user(session: Session, user_id: int, actor: Actor) -> User:
    """Enable the account again, and end a lock by failed logins (their count starts again from zero)."""
    user = user_or_error(session, user_id, lock=True)
    was = {"active": user.active, "locked_until": user.locked_until.isoformat() if user.locked_until else None,
           "failed_logins": user.failed_logins}
    if not user.active or user.locked_until is not None or user.failed_logins:
        user.active, user.locked_until, user.failed_logins = True, None, 0
        record(session, actor, "user.unlocked", "user", user.id, username=user.username, **was)
    return user


def reset_password(session: Session, user_id: int, password: str, actor: Actor) -> User:
    """Set a new password (today's rules). The audit says that it changed, never what to."""
    check_password(password)
    user = user_or_error(session, user_id, lock=True)
    user.password_hash = hash_password(password)
    record(session, actor, "user.password_reset", "user", user.id, username=user.username)
    return user


def _keep_an_admin(session: Session, user: User, change: str) -> None:
    """Refuse `change` (demote, lock) of an active admin when no other active admin would be left. The other
    admins' rows are locked (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers), so two admins demoting
    each other at once cannot both pass."""
    others = session.scalars(select(User.id).where(User.role == UserRole.admin, User.active.is_(True),
                                                   User.id != user.id).with_for_update()).all()
    if not others:
        raise LastAdmin(f"{user.username} is the last active admin: make another admin before you {change} "
                        f"this account", "role" if change == "demote" else "user", "last_admin")


def issue_token(session: Session, user: User, name: str | None = None, actor: Actor | None = None) -> str:
    """A new API token for the user; only its hash is stored, so this is the one time it can be read. With
    `actor` the issue is audited (the token's id and prefix, never the token)."""
    name = clean_line(name or "")[:TOKEN_NAME_LENGTH] or None  # hidden characters only: no name
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_token_hash(token), prefix=token[:12], name=name)
    session.add(row)
    session.flush()
    if actor is not None:
        record(session, actor, "token.issued", "api_token", row.id, username=user.username, prefix=row.prefix,
               name=name)
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
    _note_use(session, row, now)
    return Principal.of(row.user)


def _note_use(session: Session, row: ApiToken, now: datetime) -> None:
    """Write the token's last use when the stored one is older than LAST_USED_PRECISION: a script calling the
    API many times a second writes once a minute. A conditional UPDATE, so that concurrent requests with the
    same token write it once between them, and only the request that wins holds the row's lock."""
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_PRECISION:
        return
    session.execute(update(ApiToken).where(ApiToken.id == row.id,
                                           (ApiToken.last_used_at.is_(None))
                                           | (ApiToken.last_used_at < now - LAST_USED_PRECISION))
                    .values(last_used_at=now).execution_options(synchronize_session=False))


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


def revoke_token_id(session: Session, token_id: int, actor: Actor) -> ApiToken:
    """Revoke a token by its id (the pages never hold the token itself). It is refused from the next request
    on: every request looks the token up. Revoking a revoked token changes nothing."""
    row = session.get(ApiToken, token_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFound(f"no API token {token_id}", None, "not_found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(session, actor, "token.revoked", "api_token", row.id, username=row.user.username,
               prefix=row.prefix, name=row.name)
    return row


def active_admin_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)
                          .where(User.role == UserRole.admin, User.active.is_(True)))


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
