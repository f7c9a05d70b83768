"""Request and response schemas of the orders API (APIFlask/marshmallow: they validate input, giving 422 in
DESIGN's error format, and describe the endpoints in the OpenAPI document)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from mobilize.models import AssignmentStatus, OrderState
from mobilize.wartime import drafts
from mobilize.web.api.fields import (
    BoundedDateTime,
    RowId,
    RowIdFilter,
    StrictBoolean,
    StrictFloat,
    StrictInteger,
)
from mobilize.web.api.pagination import PageQuery
from mobilize.web.api.registry import PaginationOut

ASSIGNMENT_STATUSES = [status.value for status in AssignmentStatus]


class DemandIn(Schema):
    site_id = RowId(required=True)
    role = String(required=True, metadata={"description": "Role code, e.g. registration, queue_keeping."})
    capacity = StrictInteger(required=True, validate=Range(min=1, max=drafts.MAX_CAPACITY))
    skill = String(load_default=None, allow_none=True,
                   metadata={"description": "A skill code required on top of the role's own (e.g. english)."})


class EligibilityIn(Schema):
    streets = List(String(), load_default=None, allow_none=True,
                   metadata={"description": "Streets whose volunteers are invited (names); none: the district."})
    max_distance_m = StrictFloat(load_default=None, allow_none=True,
                                 validate=Range(min=0, min_inclusive=False))
    languages = List(String(validate=OneOf(["zh", "en"])), load_default=None, allow_none=True)
    rest_hours = StrictInteger(load_default=0, validate=Range(min=0, max=drafts.MAX_REST_HOURS),
                         metadata={"description": "Not mobilised by another order within this many hours."})
    peacetime_policy = String(load_default="leave", validate=OneOf(["leave", "release"]))


class StrategyIn(Schema):
    expected_answer_rate = StrictFloat(load_default=0.5, validate=Range(min=0, max=1, min_inclusive=False))
    over_recruit_factor = StrictFloat(load_default=1.2, validate=Range(min=1, max=10))
    wave_interval_s = StrictInteger(load_default=600, validate=Range(min=10, max=86_400))
    confirmation_required = StrictBoolean(load_default=True)
    confirmation_timeout_s = StrictInteger(load_default=1800, validate=Range(min=60, max=172_800))


class OrderIn(Schema):
    title = String(required=True, validate=Length(min=1, max=80))
    starts_at = BoundedDateTime(required=True,
                                metadata={"description": "ISO 8601; without an offset: local time."})
    ends_at = BoundedDateTime(required=True)
    demands = List(Nested(DemandIn), required=True, validate=Length(min=1))
    eligibility = Nested(EligibilityIn, load_default=lambda: EligibilityIn().load({}))
    strategy = Nested(StrategyIn, load_default=lambda: StrategyIn().load({}))
    needed_by = DateTime(load_default=None, allow_none=True, metadata={
        "description": "95% of the places filled by then (ISO 8601; without an offset: local time); null: the "
                       "start. The waves are paced to it with the fewest SMS."})
    urgent = Boolean(load_default=False, metadata={"description": "Invite everyone eligible at once, nearest "
                                                                  "first."})


class EligibilityPatch(Schema):
    streets = List(String(), allow_none=True)
    max_distance_m = StrictFloat(allow_none=True, validate=Range(min=0, min_inclusive=False))
    languages = List(String(validate=OneOf(["zh", "en"])), allow_none=True)
    rest_hours = StrictInteger(validate=Range(min=0, max=drafts.MAX_REST_HOURS))
    peacetime_policy = String(validate=OneOf(["leave", "release"]))


class StrategyPatch(Schema):
    expected_answer_rate = StrictFloat(validate=Range(min=0, max=1, min_inclusive=False))
    over_recruit_factor = StrictFloat(validate=Range(min=1, max=10))
    wave_interval_s = StrictInteger(validate=Range(min=10, max=86_400))
    confirmation_required = StrictBoolean()
    confirmation_timeout_s = StrictInteger(validate=Range(min=60, max=172_800))


class OrderPatch(Schema):
    title = String(validate=Length(min=1, max=80))
    starts_at = BoundedDateTime()
    ends_at = BoundedDateTime()
    demands = List(Nested(DemandIn), validate=Length(min=1),
                   metadata={"description": "Replaces all demands of the draft."})
    eligibility = Nested(EligibilityPatch)
    strategy = Nested(StrategyPatch)
    needed_by = DateTime(allow_none=True)
    urgent = Boolean()


class TopUpDemandIn(Schema):
    site_id = RowId(required=True)
    role = String(required=True)
    add = StrictInteger(required=True, validate=Range(min=1, max=drafts.MAX_CAPACITY),
                  metadata={"description": "Places added to this site and role (a new demand if it had none)."})
    skill = String(load_default=None, allow_none=True)


class TopUpIn(Schema):
    demands = List(Nested(TopUpDemandIn), required=True, validate=Length(min=1))


class CancelIn(Schema):
    reason = String(load_default=None, allow_none=True, validate=Length(max=200))


class DemandOut(Schema):
    id = Integer()
    site_id = Integer()
    site = String()
    street_id = Integer()
    street = String()
    role = String()
    capacity = Integer()
    filled = Integer()
    open = Integer()
    skill = String(allow_none=True)
    accepts_provisional = Boolean()


class EligibilityOut(Schema):
    streets = List(String(), allow_none=True)
    max_distance_m = Float(allow_none=True)
    languages = List(String(), allow_none=True)
    rest_hours = Integer()
    peacetime_policy = String()


class StrategyOut(Schema):
    expected_answer_rate = Float()
    over_recruit_factor = Float()
    wave_interval_s = Integer()
    confirmation_required = Boolean()
    confirmation_timeout_s = Integer()


class OrderOut(Schema):
    id = Integer()
    title = String()
    reply_code = String()
    state = String()
    starts_at = DateTime()
    ends_at = DateTime()
    capacity = Integer()
    filled = Integer()
    eligibility = Nested(EligibilityOut)
    strategy = Nested(StrategyOut)
    demands = List(Nested(DemandOut))
    waves_sent = Integer()
    last_wave_at = DateTime(allow_none=True)
    created_at = DateTime()
    launched_at = DateTime(allow_none=True)
    filled_at = DateTime(allow_none=True)
    recruiting_stopped_at = DateTime(allow_none=True, metadata={"description": "When recruiting was stopped."})
    closed_at = DateTime(allow_none=True, metadata={"description": "When the order was finished."})
    cancelled_at = DateTime(allow_none=True)
    needed_by = DateTime(allow_none=True, metadata={"description": "As set; null: the start."})
    deadline = DateTime(metadata={"description": "When 95% of the places must be filled: needed_by or the start."})
    urgent = Boolean()


class OrderPage(Schema):
    items = List(Nested(OrderOut))
    pagination = Nested(PaginationOut)


class OrderFilter(PageQuery):
    state = String(load_default=None, validate=OneOf([state.value for state in OrderState]))


class EndingOut(Schema):
    order = Nested(OrderOut)
    told = Integer(metadata={"description": "Volunteers told by SMS (thanked, not needed, or called off)."})
    released = Integer(metadata={"description": "Assignments ended (released, or no-shows at finish)."})
    certified_hours = Float()
    no_shows = Integer(metadata={"description": "Finish: dispatched volunteers who never arrived."})
    withdrawn = Integer(metadata={"description": "Invitations still in the outbox, never sent."})
    lapsed = Integer(metadata={"description": "Invitations never answered, closed without a message."})


class ActionPreviewQuery(Schema):
    demands = String(load_default=None, metadata={
        "description": "top-up only: the places to add, the top-up body's `demands` list JSON-encoded, e.g. "
                       '[{"site_id": 1, "role": "registration", "add": 2}] (or POST the body to '
                       "/orders/{id}/preview/top-up)."})


class PreviewMessageOut(Schema):
    volunteer_id = Integer(allow_none=True)
    phone = String(metadata={"description": "E.164; masked for viewers."})
    name = String(allow_none=True)
    language = String(allow_none=True)
    template = String(metadata={"description": "The SMS template (the outbox's kind)."})
    text = String(metadata={"description": "The SMS exactly as it will be sent."})
    segments = Integer()
    recipient_status = String(metadata={
        "description": "The recipient's standing in the order before the action: their live assignment's status "
                       "(proposed, notified, confirmed, arrived, completed), else their invitation's (invited, "
                       "accepted = standby, declined, cancelled), else not_invited."})


class ActionPreviewOut(Schema):
    action = String()
    order_id = Integer()
    messages = List(Nested(PreviewMessageOut), metadata={"description": "Every SMS the action will send."})
    sms_count = Integer()
    segments = Integer(metadata={"description": "Total segments (cost and throughput are per segment)."})
    by_template = Dict(keys=String(), values=Integer(), metadata={"description": "{template: messages}"})
    recipients_by_status = Dict(keys=String(), values=Integer(),
                                metadata={"description": "{recipient_status: recipients}"})
    estimated_cost = Float(metadata={"description": "segments x price_per_segment (SMS_PRICE_PER_SEGMENT)."})
    currency = String()
    price_per_segment = Float()
    effects = Dict(keys=String(), values=Float(), metadata={
        "description": "What an ending does besides texting: released (assignments ended), no_shows (dispatched "
                       "volunteers who never arrived), withdrawn (invitations never sent), lapsed (invitations "
                       "closed without a message), certified_hours. Empty for launch and top-up."})
    deadline = Nested("DeadlineTradeoffOut", allow_none=True, metadata={
        "description": "Launch only: for the needed-by time, and one twice as near and one twice as far, the "
                       "invitations the pacing expects to send in all, their segments and cost."})


class DeadlineRowOut(Schema):
    factor = Float(metadata={"description": "Time to this deadline over the time to the chosen one."})
    needed_by = DateTime()
    chosen = Boolean()
    invitations = Integer()
    segments = Integer(metadata={"description": "The invitations' segments."})
    cost = Float()
    feasible = Boolean(metadata={"description": "95% of the places can be filled by then (95% confidence)."})
    projected_at = DateTime(allow_none=True, metadata={"description": "When 95% would be filled."})


class DeadlineTradeoffOut(Schema):
    prior = String(metadata={"description": "history (past orders) or commander (the expected answer rate)."})
    yes_rate = Float()
    urgent = Boolean()
    rows = List(Nested(DeadlineRowOut))


class WaveOut(Schema):
    invitations = Integer()
    segments = Integer()


class SmsCostOut(Schema):
    invitations = Integer(metadata={"description": "SMS if every eligible volunteer were invited."})
    segments = Integer()
    segments_per_invitation = Dict(keys=String(), values=Integer())
    first_wave = Nested(WaveOut)


class PreviewOut(Schema):
    eligible = Integer()
    excluded = Dict(keys=String(), values=Integer(),
                    metadata={"description": "Excluded volunteers by the first reason that applies."})
    open_places = Integer()
    sms = Nested(SmsCostOut)


class ProgressCounts(Schema):
    capacity = Integer()
    assigned = Integer()
    confirmed = Integer()
    arrived = Integer()
    no_show = Integer()
    open = Integer()


class AnswerCounts(ProgressCounts):
    invited = Integer()
    accepted = Integer()
    standby = Integer()
    declined = Integer()
    no_answer = Integer()


class StreetProgress(AnswerCounts):
    street_id = Integer()
    street = String()


class SiteProgress(ProgressCounts):
    site_id = Integer()
    site = String()
    street_id = Integer()


class RoleProgress(ProgressCounts):
    role = String()


class ProjectionOut(Schema):
    deadline = DateTime(metadata={"description": "needed_by, or the start."})
    urgent = Boolean()
    covered = Boolean(metadata={"description": "95% of the places are filled or covered by people waiting."})
    projected_at = DateTime(allow_none=True, metadata={"description": "When 95% of the places are expected "
                                                                      "filled at this pace (null: not in sight)."})
    on_track = Boolean()
    yes_rate = Float(metadata={"description": "The share of invitations expected to bring a yes."})
    prior = String(metadata={"description": "history (past orders) or commander (the expected answer rate)."})
    planned_invitations = Integer(metadata={"description": "New invitations the pacing plans now."})


class ProgressOut(Schema):
    order_id = Integer()
    state = String()
    reply_code = String()
    projection = Nested(ProjectionOut, allow_none=True)
    totals = Nested(AnswerCounts)
    streets = List(Nested(StreetProgress),
                   metadata={"description": "Places by the site's street; answers by the volunteer's street."})
    sites = List(Nested(SiteProgress))
    roles = List(Nested(RoleProgress))


class ProgressQuery(Schema):
    street = String(load_default=None, metadata={"description": "One street (officers: their own)."})


class AssignmentVolunteerOut(Schema):
    id = Integer()
    name = String()
    phone = String()
    street_id = Integer()


class AssignmentOut(Schema):
    id = Integer()
    order_id = Integer()
    demand_id = Integer()
    status = String()
    volunteer = Nested(AssignmentVolunteerOut)
    site_id = Integer()
    site = String()
    street_id = Integer()
    street = String()
    role = String()
    distance_m = Float(allow_none=True)
    backfill = Boolean()
    created_at = DateTime()
    notified_at = DateTime(allow_none=True)
    confirm_by = DateTime(allow_none=True)
    confirmed_at = DateTime(allow_none=True)
    arrived_at = DateTime(allow_none=True)
    completed_at = DateTime(allow_none=True)
    ended_at = DateTime(allow_none=True)
    end_reason = String(allow_none=True)
    hours = Float(allow_none=True)


class AssignmentPage(Schema):
    items = List(Nested(AssignmentOut))
    pagination = Nested(PaginationOut)


class AssignmentFilter(PageQuery):
    street = String(load_default=None)
    status = String(load_default=None, validate=OneOf(ASSIGNMENT_STATUSES))
    site_id = RowIdFilter(load_default=None)
