"""The wartime SMS: values for the templates, rendered in the volunteer's language, written to the outbox.

Dedupe keys name the reason of a message, so that the same reason never sends twice (retried jobs, duplicate
replies, two workers): invite:order:<o>:volunteer:<v>, dispatch:assignment:<a>, ...
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mobilize.domain.templates import render
from mobilize.domain.timefmt import format_clock, format_start, format_window
from mobilize.models import Assignment, Demand, OutboundMessage, Order, Priority, Street, Volunteer
from mobilize.sms import outbox

DEFAULT_ZONE = "Asia/Shanghai"  # Settings.timezone's default; jobs pass the configured one


def invite_key(order_id: int, volunteer_id: int) -> str:
    return f"invite:order:{order_id}:volunteer:{volunteer_id}"


def invite_key_prefix(order_id: int) -> str:
    return f"invite:order:{order_id}:"


DISPATCH_KINDS = ("dispatch", "dispatch_direct")  # the SMS that tell a volunteer where to go (one per assignment)


def dispatch_key(assignment_id: int) -> str:
    return f"dispatch:assignment:{assignment_id}"


def not_needed_key(order_id: int, volunteer_id: int) -> str:
    """One "not needed this time" per volunteer and order, whether stop recruiting or finish sends it."""
    return f"{not_needed_prefix(order_id)}{volunteer_id}"


def not_needed_prefix(order_id: int) -> str:
    return f"not_needed:order:{order_id}:volunteer:"


def called_off_key(order_id: int, volunteer_id: int) -> str:
    """One "called off" per volunteer and order, whether the cancel or a later reply to it sends it."""
    return f"called_off:order:{order_id}:volunteer:{volunteer_id}"


def full_key(order_id: int, volunteer_id: int) -> str:
    """One "all places are filled" per volunteer and order, to a yes after recruiting stopped."""
    return f"full:order:{order_id}:volunteer:{volunteer_id}"


def area_name(street: Street | None, language: str) -> str:
    """Where the work is, roughly: the street of the nearest site (English volunteers get its English name)."""
    if street is None:
        return "全区" if language == "zh" else "the district"
    return street.name if language == "zh" else f"{street.name_en} Street"


def invitation_values(order: Order, language: str, area: str, zone: str = DEFAULT_ZONE) -> dict[str, Any]:
    return {"code": order.reply_code, "title": order.title, "area": area,
            "window": format_window(order.starts_at, order.ends_at, language, zone)}


def dispatch_values(order: Order, demand: Demand, language: str, zone: str = DEFAULT_ZONE) -> dict[str, Any]:
    site, role = demand.site, demand.role
    return {"code": order.reply_code, "start": format_start(order.starts_at, language, zone), "site": site.name,
            "address": site.address or site.name, "role": role.name_zh if language == "zh" else role.name_en,
            "officer": site.contact_name or "", "officer_phone": site.contact_phone or ""}


def send(session: Session, volunteer: Volunteer, template: str, priority: Priority = Priority.high,
         dedupe_key: str | None = None, **values: Any) -> OutboundMessage | None:
    """Render `template` in the volunteer's language and queue it (None: opted out, or already sent)."""
    body = render(template, volunteer.language, **values)
    return outbox.queue_message(session, body=body, kind=template, priority=priority, volunteer=volunteer,
                                dedupe_key=dedupe_key)


def invitation(volunteer: Volunteer, dedupe_key: str, **values: Any) -> outbox.ToQueue:
    """A wave's invitation to `volunteer`, rendered in their language, for outbox.queue_many."""
    return outbox.ToQueue(volunteer, render("invitation", volunteer.language, **values), "invitation",
                          Priority.bulk, dedupe_key)


def send_dispatch(session: Session, order: Order, assignment: Assignment, zone: str = DEFAULT_ZONE
                  ) -> OutboundMessage | None:
    """The dispatch SMS: "confirm by" when the place waits for a confirmation, "just go" when it does not (a ready
    standby volunteer, or an order that requires no confirmation: the assignment is confirmed already)."""
    volunteer = assignment.volunteer
    values = dispatch_values(order, assignment.demand, volunteer.language, zone)
    if assignment.confirm_by is None:
        return send(session, volunteer, "dispatch_direct", Priority.high, dispatch_key(assignment.id), **values)
    deadline = format_clock(assignment.confirm_by, zone)
    return send(session, volunteer, "dispatch", Priority.high, dispatch_key(assignment.id), deadline=deadline,
                **values)
