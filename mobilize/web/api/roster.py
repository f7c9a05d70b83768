"""Peacetime rosters over HTTP: thin views over `mobilize.peacetime` (rules, capacity and overlaps live there).

Admins and commanders manage every street; a street officer reads and changes only their own street's posts,
shifts, sign-ups and service records (403 elsewhere); viewers read, with phone numbers masked. Only commanders
mark a post protected (never stripped by a wartime order) or enter a district-wide holiday. Times without an
offset are the district's local time.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Response
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from mobilize.domain.phones import mask_phone
from mobilize.domain.recurrence import day_bounds
from mobilize.models import (
    GapReport,
    Post,
    RosterHoliday,
    ServiceRecord,
    Shift,
    ShiftPattern,
    ShiftSignup,
    ShiftStatus,
    ShiftSwap,
    SignupStatus,
    Site,
    UserRole,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.peacetime import certificate, gaps, generation, posts, service, staffing, swaps
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.errors import NotFound, PeacetimeError
from mobilize.wartime.audit import Actor
from mobilize.web import db, runtime
from mobilize.web.api import api
from mobilize.web.api.auth import check_street, current, require_command, token_auth
from mobilize.web.api.pagination import PageQuery, paginate
from mobilize.web.api.registry import _street_id
from mobilize.web.api.roster_schemas import (
    AtIn,
    CertifyIn,
    GapOut,
    GapQuery,
    GapReportPage,
    GenerateOut,
    HolidayIn,
    HolidayList,
    HolidayOut,
    HoursOut,
    LateIn,
    PatternIn,
    PatternOut,
    PostFilter,
    PostIn,
    PostOut,
    PostPage,
    PostPatch,
    ServiceRecordFilter,
    ServiceRecordOut,
    ServiceRecordPage,
    ShiftCancelIn,
    ShiftDetail,
    ShiftFilter,
    ShiftIn,
    ShiftOut,
    ShiftPage,
    ShiftPatch,
    SignupCancelIn,
    SignupFilter,
    SignupIn,
    SignupOut,
    SignupPage,
    SwapAnswerIn,
    SwapIn,
    SwapOut,
)
from mobilize.web.errors import ApiError, error_body


@api.errorhandler(PeacetimeError)
def _peacetime_error(error: PeacetimeError):
    return error_body(error.status, error.message, error.code, error.details), error.status


# --- helpers ------------------------------------------------------------------------------------------------


def _actor() -> Actor:
    principal = current()
    return Actor.user(principal.username, principal.user_id)


def _cfg() -> RosterConfig:
    return RosterConfig.from_settings(runtime().settings)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(_cfg().zone))


def _writer() -> None:
    if current().role is UserRole.viewer:
        raise ApiError(403, "viewers cannot change the roster", code="forbidden")


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _post(post_id: int) -> Post:
    post = db().scalar(select(Post).where(Post.id == post_id).options(
        selectinload(Post.site).selectinload(Site.street), selectinload(Post.role), selectinload(Post.patterns)))
    if post is None:
        raise NotFound(f"no post {post_id}", details={"post_id": post_id})
    check_street(post.site.street_id)
    return post


def _shift(shift_id: int) -> Shift:
    shift = staffing.load_shift(db(), shift_id)
    check_street(shift.post.site.street_id)
    return shift


def _signup(signup_id: int) -> ShiftSignup:
    signup = staffing.load_signup(db(), signup_id)
    check_street(_shift(signup.shift_id).post.site.street_id)
    return signup


def _assignable(volunteer_id: int) -> Volunteer:
    """Officers assign the volunteers of their own street (others sign up themselves, by SMS)."""
    volunteer = db().get(Volunteer, volunteer_id)
    if volunteer is None:
        raise ApiError(422, f"unknown volunteer {volunteer_id}", code="unknown_volunteer",
                       details={"volunteer_id": volunteer_id})
    check_street(volunteer.street_id)
    return volunteer


def _commit() -> None:
    db().commit()
    db().expire_all()


def pattern_view(pattern: ShiftPattern, created: int | None = None) -> dict:
    return {"id": pattern.id, "post_id": pattern.post_id, "weekdays": pattern.weekdays,
            "start_time": pattern.start_time.strftime("%H:%M"), "end_time": pattern.end_time.strftime("%H:%M"),
            "slots": pattern.slots, "valid_from": pattern.valid_from, "valid_until": pattern.valid_until,
            "active": pattern.active, "shifts_created": created}


def post_view(post: Post) -> dict:
    site = post.site
    return {"id": post.id, "name": post.name, "site_id": site.id, "site": site.name, "site_kind": site.kind.value,
            "street_id": site.street_id, "street": site.street.name, "role": post.role.code, "slots": post.slots,
            "protected": post.protected, "active": post.active, "notes": post.notes,
            "patterns": [pattern_view(p) for p in post.patterns]}


def _waitlisted(shift_ids: list[int]) -> dict[int, int]:
    if not shift_ids:
        return {}
    return dict(db().execute(select(ShiftSignup.shift_id, func.count()).where(
        ShiftSignup.shift_id.in_(shift_ids), ShiftSignup.status == SignupStatus.waitlisted)
        .group_by(ShiftSignup.shift_id)).all())


def shift_view(shift: Shift, waitlisted: int = 0) -> dict:
    post, site = shift.post, shift.post.site
    return {"id": shift.id, "code": shift.code, "post_id": post.id, "post": post.name, "site_id": site.id,
            "site": site.name, "street_id": site.street_id, "street": site.street.name, "role": post.role.code,
            "protected": post.protected, "local_date": shift.local_date, "starts_at": shift.starts_at,
            "ends_at": shift.ends_at, "capacity": shift.capacity, "filled": shift.filled,
            "open": shift.capacity - shift.filled, "waitlisted": waitlisted, "status": shift.status.value,
            "extra": shift.extra, "cancel_reason": shift.cancel_reason}


def signup_view(signup: ShiftSignup, outcome: str | None = None, position: int | None = None) -> dict:
    volunteer = signup.volunteer
    phone = volunteer.phone if current().sees_phone_numbers else mask_phone(volunteer.phone)
    return {"id": signup.id, "shift_id": signup.shift_id, "shift_code": signup.shift.code,
            "status": signup.status.value, "source": signup.source,
            "volunteer": {"id": volunteer.id, "name": volunteer.name, "phone": phone,
                          "street_id": volunteer.street_id},
            **{key: getattr(signup, key) for key in ("created_at", "booked_at", "checked_in_at", "checked_out_at",
                                                     "late_minutes", "ended_at", "end_reason")},
            "waitlist_position": position, "outcome": outcome}


def record_view(record: ServiceRecord) -> dict:
    return {**{key: getattr(record, key) for key in (
        "id", "volunteer_id", "signup_id", "assignment_id", "order_id", "street_id", "site_id", "description",
        "role", "started_at", "ended_at", "hours", "certified_hours", "certified_by", "certified_at",
        "adjustment_reason")}, "volunteer": record.volunteer.name, "kind": record.kind.value,
        "status": record.status.value}


def swap_view(swap: ShiftSwap) -> dict:
    return {key: getattr(swap, key) for key in (
        "id", "code", "first_signup_id", "second_signup_id", "first_volunteer_id", "second_volunteer_id",
        "first_accepted_at", "second_accepted_at", "created_at", "decided_at", "outcome")} | {
        "status": swap.status.value}


def _officer_street_filter(statement, street_column, street_name: str | None):
    street_id = _street_id(street_name)
    return statement.where(street_column == street_id) if street_id is not None else statement


# --- posts and patterns --------------------------------------------------------------------------------------


@api.get("/posts")
@api.auth_required(token_auth)
@api.input(PostFilter, location="query")
@api.output(PostPage)
def list_posts(query_data):
    """Posts (recurring duties at sites), optionally of one street or site."""
    statement = (select(Post).join(Site).options(selectinload(Post.site).selectinload(Site.street),
                                                 selectinload(Post.role), selectinload(Post.patterns))
                 .order_by(Site.street_id, Post.id))
    statement = _officer_street_filter(statement, Site.street_id, query_data["street"])
    for key in ("site_id", "active", "protected"):
        if query_data[key] is not None:
            statement = statement.where(getattr(Post, key) == query_data[key])
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": [post_view(p) for p in items], "pagination": pagination}


@api.post("/posts")
@api.auth_required(token_auth)
@api.input(PostIn)
@api.output(PostOut, status_code=201)
def create_post(json_data):
    """A new post at a site (officers: on their street; only commanders mark it protected)."""
    _writer()
    site = db().get(Site, json_data["site_id"])
    if site is not None:
        check_street(site.street_id)
    if json_data["protected"]:
        require_command()
    post = posts.create_post(db(), actor=_actor(), now=utcnow(), **json_data)
    _commit()
    return post_view(_post(post.id))


@api.get("/posts/<int:post_id>")
@api.auth_required(token_auth)
@api.output(PostOut)
def get_post(post_id: int):
    return post_view(_post(post_id))


@api.patch("/posts/<int:post_id>")
@api.auth_required(token_auth)
@api.input(PostPatch)
@api.output(PostOut)
def update_post(post_id: int, json_data):
    """Change a post; `protected` is for commanders."""
    _writer()
    _post(post_id)
    if "protected" in json_data:
        require_command()
    posts.update_post(db(), post_id, actor=_actor(), now=utcnow(), **json_data)
    _commit()
    return post_view(_post(post_id))


@api.post("/posts/<int:post_id>/patterns")
@api.auth_required(token_auth)
@api.input(PatternIn)
@api.output(PatternOut, status_code=201)
def add_pattern(post_id: int, json_data):
    """A weekly pattern (local times); by default the coming weeks' shifts are created at once."""
    _writer()
    _post(post_id)
    now, cfg = utcnow(), _cfg()
    pattern = posts.add_pattern(db(), post_id, weekdays=json_data["weekdays"],
                                start_time=_hhmm(json_data["start_time"]), end_time=_hhmm(json_data["end_time"]),
                                slots=json_data["slots"], valid_from=json_data["valid_from"],
                                valid_until=json_data["valid_until"], actor=_actor(), now=now, cfg=cfg)
    created = None
    if json_data["generate"]:
        created = generation.generate_shifts(db(), now, cfg, post_ids=[post_id]).created
    _commit()
    return pattern_view(db().get(ShiftPattern, pattern.id), created)


@api.delete("/patterns/<int:pattern_id>")
@api.auth_required(token_auth)
@api.output(PatternOut)
def deactivate_pattern(pattern_id: int):
    """Stop a pattern (shifts already generated stay; cancel them one by one if needed)."""
    _writer()
    pattern = db().get(ShiftPattern, pattern_id)
    if pattern is None:
        raise NotFound(f"no pattern {pattern_id}")
    _post(pattern.post_id)
    posts.deactivate_pattern(db(), pattern_id, actor=_actor(), now=utcnow())
    _commit()
    return pattern_view(db().get(ShiftPattern, pattern_id))


@api.post("/posts/<int:post_id>/shifts")
@api.auth_required(token_auth)
@api.input(ShiftIn)
@api.output(ShiftOut, status_code=201)
def add_shift(post_id: int, json_data):
    """A one-off extra shift at the post."""
    _writer()
    _post(post_id)
    shift = posts.add_extra_shift(db(), post_id, starts_at=_aware(json_data["starts_at"]),
                                  ends_at=_aware(json_data["ends_at"]), slots=json_data["slots"], actor=_actor(),
                                  now=utcnow(), cfg=_cfg())
    _commit()
    return shift_view(_shift(shift.id))


# --- shifts --------------------------------------------------------------------------------------------------


@api.get("/shifts")
@api.auth_required(token_auth)
@api.input(ShiftFilter, location="query")
@api.output(ShiftPage)
def list_shifts(query_data):
    """Shifts by street and local date range (default: today), in start order."""
    cfg = _cfg()
    first = query_data["date"] or (utcnow().astimezone(ZoneInfo(cfg.zone)).date())
    start = day_bounds(first, cfg.zone)[0]
    end = day_bounds(first + timedelta(days=query_data["days"] - 1), cfg.zone)[1]
    statement = (select(Shift).join(Post).join(Site).where(Shift.starts_at >= start, Shift.starts_at < end)
                 .options(selectinload(Shift.post).selectinload(Post.site).selectinload(Site.street),
                          selectinload(Shift.post).selectinload(Post.role))
                 .order_by(Shift.starts_at, Shift.id))
    statement = _officer_street_filter(statement, Site.street_id, query_data["street"])
    if query_data["post_id"] is not None:
        statement = statement.where(Shift.post_id == query_data["post_id"])
    if query_data["status"]:
        statement = statement.where(Shift.status == query_data["status"])
    if query_data["open_only"]:
        statement = statement.where(Shift.filled < Shift.capacity, Shift.status == ShiftStatus.scheduled)
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    waiting = _waitlisted([s.id for s in items])
    return {"items": [shift_view(s, waiting.get(s.id, 0)) for s in items], "pagination": pagination}


def _shift_detail(shift_id: int) -> dict:
    shift = _shift(shift_id)
    signups = db().scalars(select(ShiftSignup).where(ShiftSignup.shift_id == shift_id)
                           .options(selectinload(ShiftSignup.volunteer), selectinload(ShiftSignup.shift))
                           .order_by(ShiftSignup.id)).all()
    waiting = [s for s in signups if s.status is SignupStatus.waitlisted]
    views = [signup_view(s, position=waiting.index(s) + 1 if s in waiting else None) for s in signups]
    return {**shift_view(shift, len(waiting)), "signups": views}


@api.get("/shifts/<int:shift_id>")
@api.auth_required(token_auth)
@api.output(ShiftDetail)
def get_shift(shift_id: int):
    """A shift with its sign-ups and waitlist."""
    return _shift_detail(shift_id)


@api.patch("/shifts/<int:shift_id>")
@api.auth_required(token_auth)
@api.input(ShiftPatch)
@api.output(ShiftDetail)
def update_shift(shift_id: int, json_data):
    """Change a shift's places (never below those taken; new places go to the waitlist first)."""
    _writer()
    _shift(shift_id)
    posts.set_capacity(db(), shift_id, json_data["capacity"], actor=_actor(), now=utcnow(), cfg=_cfg())
    _commit()
    return _shift_detail(shift_id)


@api.post("/shifts/<int:shift_id>/cancel")
@api.auth_required(token_auth)
@api.input(ShiftCancelIn)
@api.output(ShiftDetail)
def cancel_shift(shift_id: int, json_data):
    """Cancel one shift (an exception): its volunteers are told by SMS."""
    _writer()
    _shift(shift_id)
    posts.cancel_shift(db(), shift_id, reason=json_data["reason"], actor=_actor(), now=utcnow(), cfg=_cfg())
    _commit()
    return _shift_detail(shift_id)


@api.post("/holidays")
@api.auth_required(token_auth)
@api.input(HolidayIn)
@api.output(HolidayOut, status_code=201)
def add_holiday(json_data):
    """No shifts that local date (a post, a street, or the district: commanders): those generated are cancelled."""
    _writer()
    street_id = None
    if json_data["post_id"] is not None:
        street_id_of_post = _post(json_data["post_id"]).site.street_id
        check_street(street_id_of_post)
    elif json_data["street"]:
        street_id = _street_id(json_data["street"])
    elif current().is_officer:
        raise ApiError(403, "officers enter holidays for their street or its posts", code="other_street")
    holiday, cancelled = posts.add_holiday(db(), on_date=json_data["date"], reason=json_data["reason"],
                                           street_id=street_id, post_id=json_data["post_id"], actor=_actor(),
                                           now=utcnow(), cfg=_cfg())
    _commit()
    return {"id": holiday.id, "date": holiday.on_date, "street_id": holiday.street_id, "post_id": holiday.post_id,
            "reason": holiday.reason, "created_by": holiday.created_by, "cancelled_shifts": len(cancelled)}


@api.get("/holidays")
@api.auth_required(token_auth)
@api.output(HolidayList)
def list_holidays():
    """Holidays from today on."""
    today = utcnow().astimezone(ZoneInfo(_cfg().zone)).date()
    rows = db().scalars(select(RosterHoliday).where(RosterHoliday.on_date >= today).order_by(RosterHoliday.on_date))
    return {"items": [{"id": h.id, "date": h.on_date, "street_id": h.street_id, "post_id": h.post_id,
                       "reason": h.reason, "created_by": h.created_by, "cancelled_shifts": None} for h in rows]}


# --- sign-ups, check-in and check-out --------------------------------------------------------------------------


@api.post("/shifts/<int:shift_id>/signups")
@api.auth_required(token_auth)
@api.input(SignupIn)
@api.output(SignupOut, status_code=201)
def create_signup(shift_id: int, json_data):
    """Book a volunteer (an officer assigns); 409 when full (unless `waitlist`) or when they are busy then."""
    _writer()
    _shift(shift_id)
    _assignable(json_data["volunteer_id"])
    result = staffing.sign_up(db(), shift_id, json_data["volunteer_id"], actor=_actor(), now=utcnow(), cfg=_cfg(),
                              source="officer" if current().is_officer else "api", waitlist=json_data["waitlist"],
                              notify=json_data["notify"])
    signup_id = result.signup.id
    _commit()
    return signup_view(staffing.load_signup(db(), signup_id), result.outcome, result.position)


@api.get("/signups")
@api.auth_required(token_auth)
@api.input(SignupFilter, location="query")
@api.output(SignupPage)
def list_signups(query_data):
    """Sign-ups by volunteer, shift, status or street (the shift's)."""
    statement = (select(ShiftSignup).join(Shift).join(Post).join(Site)
                 .options(selectinload(ShiftSignup.volunteer), selectinload(ShiftSignup.shift))
                 .order_by(Shift.starts_at, ShiftSignup.id))
    statement = _officer_street_filter(statement, Site.street_id, query_data["street"])
    for key in ("volunteer_id", "shift_id", "status"):
        if query_data[key] is not None:
            statement = statement.where(getattr(ShiftSignup, key) == query_data[key])
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": [signup_view(s) for s in items], "pagination": pagination}


@api.post("/signups/<int:signup_id>/cancel")
@api.auth_required(token_auth)
@api.input(SignupCancelIn)
@api.output(SignupOut)
def cancel_signup(signup_id: int, json_data):
    """Take a volunteer off a shift (or its waitlist) before it starts; the place goes to the waitlist."""
    _writer()
    _signup(signup_id)
    staffing.cancel_signup(db(), signup_id, actor=_actor(), now=utcnow(), cfg=_cfg(), by_officer=True,
                           reason=json_data["reason"])
    _commit()
    return signup_view(staffing.load_signup(db(), signup_id))


@api.post("/signups/<int:signup_id>/check-in")
@api.auth_required(token_auth)
@api.input(AtIn)
@api.output(SignupOut)
def check_in(signup_id: int, json_data):
    """The volunteer arrived (late is recorded past the grace minutes)."""
    _writer()
    _signup(signup_id)
    service.check_in(db(), signup_id, actor=_actor(), now=utcnow(), cfg=_cfg(), at=_aware(json_data["at"]))
    _commit()
    return signup_view(staffing.load_signup(db(), signup_id))


@api.post("/signups/<int:signup_id>/check-out")
@api.auth_required(token_auth)
@api.input(AtIn)
@api.output(ServiceRecordOut)
def check_out(signup_id: int, json_data):
    """The volunteer left: a pending service record (hours on site within the shift)."""
    _writer()
    _signup(signup_id)
    record = service.check_out(db(), signup_id, actor=_actor(), now=utcnow(), cfg=_cfg(), at=_aware(json_data["at"]))
    record_id = record.id
    _commit()
    return record_view(db().get(ServiceRecord, record_id))


@api.post("/signups/<int:signup_id>/late")
@api.auth_required(token_auth)
@api.input(LateIn)
@api.output(SignupOut)
def mark_late(signup_id: int, json_data):
    _writer()
    _signup(signup_id)
    service.mark_late(db(), signup_id, json_data["minutes"], actor=_actor(), now=utcnow())
    _commit()
    return signup_view(staffing.load_signup(db(), signup_id))


@api.post("/signups/<int:signup_id>/no-show")
@api.auth_required(token_auth)
@api.output(SignupOut)
def mark_no_show(signup_id: int):
    """A booked volunteer did not come (once the shift started); the place shows as a gap."""
    _writer()
    _signup(signup_id)
    service.mark_no_show(db(), signup_id, actor=_actor(), now=utcnow())
    _commit()
    return signup_view(staffing.load_signup(db(), signup_id))


# --- swaps ---------------------------------------------------------------------------------------------------


@api.post("/swaps")
@api.auth_required(token_auth)
@api.input(SwapIn)
@api.output(SwapOut, status_code=201)
def create_swap(json_data):
    """Propose a swap; both volunteers are asked by SMS and it happens when both accepted."""
    _writer()
    _signup(json_data["signup_id"])
    _assignable(json_data["with_volunteer_id"])
    if json_data["their_signup_id"] is not None:
        _signup(json_data["their_signup_id"])
    swap = swaps.propose(db(), json_data["signup_id"], json_data["with_volunteer_id"], actor=_actor(), now=utcnow(),
                         cfg=_cfg(), second_signup_id=json_data["their_signup_id"])
    swap_id = swap.id
    _commit()
    return swap_view(swaps.load_swap(db(), swap_id))


def _swap(swap_id: int) -> ShiftSwap:
    swap = swaps.load_swap(db(), swap_id)
    _signup(swap.first_signup_id)
    return swap


@api.get("/swaps/<int:swap_id>")
@api.auth_required(token_auth)
@api.output(SwapOut)
def get_swap(swap_id: int):
    return swap_view(_swap(swap_id))


@api.post("/swaps/<int:swap_id>/answer")
@api.auth_required(token_auth)
@api.input(SwapAnswerIn)
@api.output(SwapOut)
def answer_swap(swap_id: int, json_data):
    """Record a volunteer's answer given to the officer (volunteers usually answer by SMS: 换班 / SWAP)."""
    _writer()
    _swap(swap_id)
    swaps.answer(db(), swap_id, json_data["volunteer_id"], json_data["accept"], actor=_actor(), now=utcnow(),
                 cfg=_cfg())
    _commit()
    return swap_view(swaps.load_swap(db(), swap_id))


# --- service records, certification, hours --------------------------------------------------------------------


@api.get("/service-records")
@api.auth_required(token_auth)
@api.input(ServiceRecordFilter, location="query")
@api.output(ServiceRecordPage)
def list_service_records(query_data):
    """Service records (shifts and wartime assignments), e.g. `status=pending` for what awaits certification."""
    statement = select(ServiceRecord).options(selectinload(ServiceRecord.volunteer)).order_by(ServiceRecord.id)
    statement = _officer_street_filter(statement, ServiceRecord.street_id, query_data["street"])
    for key in ("volunteer_id", "status", "kind"):
        if query_data[key] is not None:
            statement = statement.where(getattr(ServiceRecord, key) == query_data[key])
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": [record_view(r) for r in items], "pagination": pagination}


@api.post("/service-records/<int:record_id>/certify")
@api.auth_required(token_auth)
@api.input(CertifyIn)
@api.output(ServiceRecordOut)
def certify_record(record_id: int, json_data):
    """Certify the recorded hours, or other hours with a reason (audited)."""
    _writer()
    record = db().get(ServiceRecord, record_id)
    if record is None:
        raise NotFound(f"no service record {record_id}")
    check_street(record.street_id)
    service.certify(db(), record_id, actor=_actor(), now=utcnow(), hours=json_data["hours"],
                    reason=json_data["reason"])
    _commit()
    return record_view(db().get(ServiceRecord, record_id))


def _volunteer(volunteer_id: int) -> Volunteer:
    volunteer = db().get(Volunteer, volunteer_id)
    if volunteer is None:
        raise ApiError(404, f"no volunteer {volunteer_id}")
    check_street(volunteer.street_id)
    return volunteer


@api.get("/volunteers/<int:volunteer_id>/hours")
@api.auth_required(token_auth)
@api.output(HoursOut)
def volunteer_hours(volunteer_id: int):
    """Certified hours, points and stars (thresholds and the points rate are configuration)."""
    volunteer, cfg = _volunteer(volunteer_id), _cfg()
    standing = service.standing(db(), volunteer.id, cfg)
    records = db().scalar(select(func.count()).select_from(ServiceRecord).where(
        ServiceRecord.volunteer_id == volunteer.id))
    return {"volunteer_id": volunteer.id, "name": volunteer.name, "certified_hours": standing.hours,
            "pending_hours": service.pending_hours(db(), volunteer.id), "points": standing.points,
            "stars": standing.stars, "next_threshold": standing.next_threshold,
            "hours_to_next": standing.hours_to_next, "thresholds": list(cfg.star_thresholds),
            "points_per_hour": cfg.points_per_hour, "records": records}


@api.get("/volunteers/<int:volunteer_id>/certificate")
@api.auth_required(token_auth)
@api.doc(responses={200: {"description": "A printable HTML certificate of service hours.",
                          "content": {"text/html": {}}}})
def volunteer_certificate(volunteer_id: int):
    """The certificate of service hours, a printable HTML page."""
    volunteer = _volunteer(volunteer_id)
    page = certificate.to_html(certificate.build(db(), volunteer, _cfg(), utcnow()))
    return Response(page, mimetype="text/html")


@api.get("/volunteers/<int:volunteer_id>/certificate.csv")
@api.auth_required(token_auth)
@api.doc(responses={200: {"description": "The certified service records as CSV (UTF-8).",
                          "content": {"text/csv": {}}}})
def volunteer_certificate_csv(volunteer_id: int):
    volunteer = _volunteer(volunteer_id)
    body = certificate.to_csv(certificate.build(db(), volunteer, _cfg(), utcnow()))
    return Response("\ufeff" + body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="service-hours-{volunteer.id}.csv"'})


# --- gaps ----------------------------------------------------------------------------------------------------


@api.get("/roster/gaps")
@api.auth_required(token_auth)
@api.input(GapQuery, location="query")
@api.output(GapOut)
def roster_gaps(query_data):
    """Unfilled shifts per street, live (default: from now to the end of tomorrow)."""
    street_id = _street_id(query_data["street"])
    return gaps.report(db(), utcnow(), _cfg(), first_day=query_data["date"], days=query_data["days"],
                       street_id=street_id)


@api.get("/roster/gap-reports")
@api.auth_required(token_auth)
@api.input(PageQuery, location="query")
@api.output(GapReportPage)
def roster_gap_reports(query_data):
    """The stored daily reports, newest first (officers see their street's part)."""
    statement = select(GapReport).order_by(GapReport.report_date.desc())
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    principal = current()
    views = []
    for report in items:
        streets = [s for s in report.streets if principal.may_access_street(s["street_id"])]
        views.append({"id": report.id, "report_date": report.report_date, "created_at": report.created_at,
                      "shifts": sum(s["shifts"] for s in streets),
                      "open_places": sum(s["open_places"] for s in streets),
                      "invitations": report.invitations, "streets": streets})
    return {"items": views, "pagination": pagination}


@api.post("/roster/generate")
@api.auth_required(token_auth)
@api.output(GenerateOut)
def roster_generate():
    """Run the shift generator now (it also runs hourly)."""
    require_command()
    result = generation.generate_shifts(db(), utcnow(), _cfg())
    _commit()
    return result.__dict__
