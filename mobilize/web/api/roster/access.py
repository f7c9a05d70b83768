"""Who may touch what in the roster: viewers only read, and rows loaded by id are checked against the caller's
streets (403 for an officer elsewhere, 404 when missing)."""
from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from mobilize.models import Post, Shift, ShiftSignup, Site, UserRole, Volunteer
from mobilize.peacetime import staffing
from mobilize.peacetime.errors import NotFound
from mobilize.web import db
from mobilize.web.api.auth import check_street, current
from mobilize.web.api.registry import _street_id
from mobilize.web.errors import ApiError


def require_writer() -> None:
    if current().role is UserRole.viewer:
        raise ApiError(403, "viewers cannot change the roster", code="forbidden")


def checked_post(post_id: int) -> Post:
    post = db().scalar(select(Post).where(Post.id == post_id).options(
        selectinload(Post.site).selectinload(Site.street), selectinload(Post.role), selectinload(Post.patterns)))
    if post is None:
        raise NotFound(f"no post {post_id}", details={"post_id": post_id})
    check_street(post.site.street_id)
    return post


def checked_shift(shift_id: int) -> Shift:
    shift = staffing.load_shift(db(), shift_id)
    check_street(shift.post.site.street_id)
    return shift


def checked_signup(signup_id: int) -> ShiftSignup:
    signup = staffing.load_signup(db(), signup_id)
    check_street(checked_shift(signup.shift_id).post.site.street_id)
    return signup


def checked_assignee(volunteer_id: int) -> Volunteer:
    """Officers assign the volunteers of their own street (others sign up themselves, by SMS)."""
    volunteer = db().get(Volunteer, volunteer_id)
    if volunteer is None:
        raise ApiError(422, f"unknown volunteer {volunteer_id}", code="unknown_volunteer",
                       details={"volunteer_id": volunteer_id})
    check_street(volunteer.street_id)
    return volunteer


def by_street(statement: Select, street_column, street_name: str | None) -> Select:
    """`statement` limited to the street the query names; an officer's always to their own (403 elsewhere)."""
    street_id = _street_id(street_name)
    return statement.where(street_column == street_id) if street_id is not None else statement
