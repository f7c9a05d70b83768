"""Bearer-token authentication and the street scoping every endpoint applies."""
from __future__ import annotations

from apiflask import HTTPTokenAuth

from mobilize.accounts import Principal, authenticate_token
from mobilize.web import db
from mobilize.web.errors import ApiError, error_body

token_auth = HTTPTokenAuth(scheme="Bearer", description="A token from `mobilize users token --username U`.")


@token_auth.verify_token
def verify(token: str) -> Principal | None:
    principal = authenticate_token(db(), token)
    if principal is not None:
        db().commit()  # last_used_at
    return principal


@token_auth.error_processor
def auth_error(error):
    message = "a valid bearer token is required" if error.status_code == 401 else "not allowed"
    return error_body(error.status_code, message), error.status_code, error.headers


def current() -> Principal:
    return token_auth.current_user


def require_command() -> Principal:
    principal = current()
    if not principal.can_command:
        raise ApiError(403, "only admins and commanders may do this", code="forbidden")
    return principal


def check_street(street_id: int | None) -> None:
    """A street officer reads and changes only their own street."""
    if not current().may_access_street(street_id):
        raise ApiError(403, "officers may only access their own street", code="other_street")
