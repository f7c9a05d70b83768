"""The JSON shape of each roster row (posts and patterns, shifts, sign-ups, service records, swaps), as the
schemas of `roster_schemas` describe it; phone numbers masked for those who may not see them."""
from __future__ import annotations

from mobilize.domain.phones import mask_phone
from mobilize.models import Post, ServiceRecord, Shift, ShiftPattern, ShiftSignup, ShiftSwap
from mobilize.web.api.auth import current


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
