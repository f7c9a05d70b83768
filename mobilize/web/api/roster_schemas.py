"""Request and response schemas of the peacetime roster API (APIFlask/marshmallow: they validate input, giving
422 in DESIGN's error format, and describe the endpoints in the OpenAPI document)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp

from mobilize.models import ServiceKind, ServiceStatus, ShiftStatus, SignupStatus
from mobilize.peacetime import posts
from mobilize.web.api.fields import (
    BoundedDate,
    BoundedDateTime,
    QueryInteger,
    RowId,
    RowIdFilter,
    StrictBoolean,
    StrictFloat,
    StrictInteger,
)
from mobilize.web.api.pagination import PageQuery
from mobilize.web.api.registry import PaginationOut

HHMM = Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="use HH:MM (24-hour local time)")


class PatternIn(Schema):
    weekdays = String(required=True, validate=Length(min=1, max=20),
                      metadata={"description": "ISO weekdays (Monday = 1): '1-5', '67', '1,3,5'."})
    start_time = String(required=True, validate=HHMM, metadata={"description": "Local start, e.g. 07:00."})
    end_time = String(required=True, validate=HHMM,
                      metadata={"description": "Local end; not after the start means the next day."})
    slots = StrictInteger(load_default=None, allow_none=True, validate=Range(min=1, max=posts.MAX_SLOTS))
    valid_from = BoundedDate(load_default=None, allow_none=True)
    valid_until = BoundedDate(load_default=None, allow_none=True)
    generate = StrictBoolean(load_default=True,
                             metadata={"description": "Create the coming weeks' shifts at once."})


class PatternOut(Schema):
    id = Integer()
    post_id = Integer()
    weekdays = String()
    start_time = String()
    end_time = String()
    slots = Integer(allow_none=True)
    valid_from = Date()
    valid_until = Date(allow_none=True)
    active = Boolean()
    shifts_created = Integer(allow_none=True)


class PostIn(Schema):
    site_id = RowId(required=True)
    role = String(required=True, metadata={"description": "Role code: civility_guide, patrol..."})
    slots = StrictInteger(required=True, validate=Range(min=1, max=posts.MAX_SLOTS))
    name = String(load_default=None, allow_none=True, validate=Length(min=1, max=80))
    protected = StrictBoolean(load_default=False, metadata={"description": "Commanders only."})
    notes = String(load_default="", validate=Length(max=2000))


class PostPatch(Schema):
    name = String(validate=Length(min=1, max=80))
    slots = StrictInteger(validate=Range(min=1, max=posts.MAX_SLOTS))
    protected = StrictBoolean(metadata={"description": "Commanders only."})
    active = StrictBoolean()
    notes = String(validate=Length(max=2000))


class PostOut(Schema):
    id = Integer()
    name = String()
    site_id = Integer()
    site = String()
    site_kind = String()
    street_id = Integer()
    street = String()
    role = String()
    slots = Integer()
    protected = Boolean()
    active = Boolean()
    notes = String()
    patterns = List(Nested(PatternOut))


class PostPage(Schema):
    items = List(Nested(PostOut))
    pagination = Nested(PaginationOut)


class PostFilter(PageQuery):
    street = String(load_default=None)
    site_id = RowIdFilter(load_default=None)
    active = Boolean(load_default=None)
    protected = Boolean(load_default=None)


class ShiftIn(Schema):
    starts_at = BoundedDateTime(required=True,
                                metadata={"description": "ISO 8601; without an offset: local time."})
    ends_at = BoundedDateTime(required=True)
    slots = StrictInteger(load_default=None, allow_none=True, validate=Range(min=1, max=posts.MAX_SLOTS))


class ShiftPatch(Schema):
    capacity = StrictInteger(required=True, validate=Range(min=1, max=posts.MAX_SLOTS))


class ShiftCancelIn(Schema):
    reason = String(required=True, validate=Length(min=1, max=120))


class ShiftOut(Schema):
    id = Integer()
    code = String()
    post_id = Integer()
    post = String()
    site_id = Integer()
    site = String()
    street_id = Integer()
    street = String()
    role = String()
    protected = Boolean()
    local_date = Date()
    starts_at = DateTime()
    ends_at = DateTime()
    capacity = Integer()
    filled = Integer()
    open = Integer()
    waitlisted = Integer()
    status = String()
    extra = Boolean()
    cancel_reason = String(allow_none=True)


class ShiftPage(Schema):
    items = List(Nested(ShiftOut))
    pagination = Nested(PaginationOut)


class ShiftFilter(PageQuery):
    street = String(load_default=None)
    date = BoundedDate(load_default=None, metadata={"description": "First local date (default: today)."})
    days = QueryInteger(load_default=1, validate=Range(min=1, max=62))
    post_id = RowIdFilter(load_default=None)
    status = String(load_default=None, validate=OneOf([s.value for s in ShiftStatus]))
    open_only = Boolean(load_default=False, metadata={"description": "Only shifts with free places."})


class VolunteerBrief(Schema):
    id = Integer()
    name = String()
    phone = String()
    street_id = Integer()


class SignupOut(Schema):
    id = Integer()
    shift_id = Integer()
    shift_code = String()
    status = String()
    source = String()
    volunteer = Nested(VolunteerBrief)
    created_at = DateTime()
    booked_at = DateTime(allow_none=True)
    checked_in_at = DateTime(allow_none=True)
    checked_out_at = DateTime(allow_none=True)
    late_minutes = Integer(allow_none=True)
    ended_at = DateTime(allow_none=True)
    end_reason = String(allow_none=True)
    waitlist_position = Integer(allow_none=True)
    outcome = String(allow_none=True)


class ShiftDetail(ShiftOut):
    signups = List(Nested(SignupOut))


class SignupIn(Schema):
    volunteer_id = RowId(required=True)
    waitlist = StrictBoolean(load_default=False,
                             metadata={"description": "Join the waitlist when the shift is full."})
    notify = StrictBoolean(load_default=True, metadata={"description": "Tell the volunteer by SMS."})


class SignupFilter(PageQuery):
    street = String(load_default=None)
    volunteer_id = RowIdFilter(load_default=None)
    shift_id = RowIdFilter(load_default=None)
    status = String(load_default=None, validate=OneOf([s.value for s in SignupStatus]))


class SignupCancelIn(Schema):
    reason = String(load_default=None, allow_none=True, validate=Length(max=40))


class AtIn(Schema):
    at = BoundedDateTime(load_default=None, allow_none=True, metadata={
        "description": "When it happened (default: now); without an offset: local time."})


class LateIn(Schema):
    minutes = StrictInteger(required=True, validate=Range(min=0, max=1440))


class SwapIn(Schema):
    signup_id = RowId(required=True, metadata={"description": "The first volunteer's booking (shift X)."})
    with_volunteer_id = RowId(required=True, metadata={"description": "Who takes shift X."})
    their_signup_id = RowId(load_default=None, allow_none=True,
                              metadata={"description": "Their booking (shift Y) for a two-way swap."})


class SwapAnswerIn(Schema):
    volunteer_id = RowId(required=True)
    accept = StrictBoolean(required=True)


class SwapOut(Schema):
    id = Integer()
    code = String()
    status = String()
    first_signup_id = Integer()
    second_signup_id = Integer(allow_none=True)
    first_volunteer_id = Integer()
    second_volunteer_id = Integer()
    first_accepted_at = DateTime(allow_none=True)
    second_accepted_at = DateTime(allow_none=True)
    created_at = DateTime()
    decided_at = DateTime(allow_none=True)
    outcome = String(allow_none=True)


class HolidayIn(Schema):
    date = BoundedDate(required=True)
    reason = String(required=True, validate=Length(min=1, max=80))
    street = String(load_default=None, allow_none=True, metadata={"description": "A street only (name)."})
    post_id = RowId(load_default=None, allow_none=True, metadata={"description": "One post only."})


class HolidayOut(Schema):
    id = Integer()
    date = Date()
    street_id = Integer(allow_none=True)
    post_id = Integer(allow_none=True)
    reason = String()
    created_by = String()
    cancelled_shifts = Integer(allow_none=True)


class HolidayList(Schema):
    items = List(Nested(HolidayOut))


class ServiceRecordOut(Schema):
    id = Integer()
    volunteer_id = Integer()
    volunteer = String()
    kind = String()
    signup_id = Integer(allow_none=True)
    assignment_id = Integer(allow_none=True)
    order_id = Integer(allow_none=True)
    street_id = Integer(allow_none=True)
    site_id = Integer(allow_none=True)
    description = String()
    role = String()
    started_at = DateTime(allow_none=True)
    ended_at = DateTime(allow_none=True)
    hours = Float()
    certified_hours = Float(allow_none=True)
    status = String()
    certified_by = String(allow_none=True)
    certified_at = DateTime(allow_none=True)
    adjustment_reason = String(allow_none=True)


class ServiceRecordPage(Schema):
    items = List(Nested(ServiceRecordOut))
    pagination = Nested(PaginationOut)


class ServiceRecordFilter(PageQuery):
    street = String(load_default=None)
    volunteer_id = RowIdFilter(load_default=None)
    status = String(load_default=None, validate=OneOf([s.value for s in ServiceStatus]))
    kind = String(load_default=None, validate=OneOf([k.value for k in ServiceKind]))


class CertifyIn(Schema):
    hours = StrictFloat(load_default=None, allow_none=True, validate=Range(min=0, max=10_000),
                  metadata={"description": "Certified hours; omit to approve the recorded ones."})
    reason = String(load_default=None, allow_none=True, validate=Length(max=200),
                    metadata={"description": "Required when the hours differ from the recorded ones."})


class HoursOut(Schema):
    volunteer_id = Integer()
    name = String()
    certified_hours = Float()
    pending_hours = Float()
    points = Float()
    stars = Integer()
    next_threshold = Float(allow_none=True)
    hours_to_next = Float(allow_none=True)
    thresholds = List(Float())
    points_per_hour = Float()
    records = Integer()


class GapQuery(Schema):
    street = String(load_default=None)
    date = BoundedDate(load_default=None)
    days = QueryInteger(load_default=None, allow_none=True, validate=Range(min=1, max=14))


class GapItem(Schema):
    shift_id = Integer()
    code = String()
    post_id = Integer()
    post = String()
    site = String()
    role = String()
    protected = Boolean()
    starts_at = String()
    ends_at = String()
    capacity = Integer()
    filled = Integer()
    open = Integer()
    invited = Integer(required=False)


class GapStreet(Schema):
    street_id = Integer()
    street = String()
    shifts = Integer()
    open_places = Integer()
    items = List(Nested(GapItem))


class GapOut(Schema):
    first_day = String()
    days = Integer()
    from_ = String(data_key="from")
    until = String()
    shifts = Integer()
    open_places = Integer()
    streets = List(Nested(GapStreet))


class GapReportOut(Schema):
    id = Integer()
    report_date = Date()
    created_at = DateTime()
    shifts = Integer()
    open_places = Integer()
    invitations = Integer()
    streets = List(Nested(GapStreet))


class GapReportPage(Schema):
    items = List(Nested(GapReportOut))
    pagination = Nested(PaginationOut)


class GenerateOut(Schema):
    created = Integer()
    skipped_holidays = Integer()
    first_date = Date()
    last_date = Date()


class SignupPage(Schema):
    items = List(Nested(SignupOut))
    pagination = Nested(PaginationOut)
