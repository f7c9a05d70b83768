"""An order's delivery and response funnel (issue 17, item 2): invited, delivered, failed (with the carrier's
reasons), answered, accepted, declined, placed, confirmed, arrived; for the whole order, per street and per site.
Read-only queries, no Flask.

One query per group of figures, whatever the number of sites (an order has up to 5,000 places over 41 sites):
the invitations by street and status, their SMS by street, status and error, the assignments by street, site and
status. A street's row follows the same people down the funnel: volunteers by their own street (an invitation
has no site; it is the place, later, that has one). A site's row starts where a site is known: who was placed
there, confirmed and arrived, against its capacity.

Stages, each counted once per volunteer of the order:
- invited: invitations of the order (all of them, also those that later lapsed);
- delivered / failed: the invitation SMS the carrier reported delivered / failed or undelivered (the rest are
  in the outbox or on their way: `in_flight`; withdrawn before sending: `withdrawn`);
- answered: invitations with an answer; accepted / declined: what it was;
- placed: volunteers holding a place now (proposed, dispatched, confirmed, arrived or done);
- confirmed: of those, who confirmed (or needed not); arrived: who arrived (or is done).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Demand,
    Invitation,
    InvitationStatus,
    Order,
    OutboundMessage,
    OutboundStatus,
    Street,
    Volunteer,
)
from mobilize.wartime.messages import invite_key_prefix

STAGES = ("invited", "delivered", "failed", "answered", "accepted", "declined", "placed", "confirmed", "arrived")
SITE_STAGES = ("capacity", "placed", "confirmed", "arrived")
PLACED = (AssignmentStatus.proposed, AssignmentStatus.notified, AssignmentStatus.confirmed,
          AssignmentStatus.arrived, AssignmentStatus.completed)
CONFIRMED = (AssignmentStatus.confirmed, AssignmentStatus.arrived, AssignmentStatus.completed)
ARRIVED = (AssignmentStatus.arrived, AssignmentStatus.completed)
DELIVERED = (OutboundStatus.delivered,)
FAILED = (OutboundStatus.failed, OutboundStatus.undelivered)
WITHDRAWN = (OutboundStatus.cancelled,)


@dataclass
class FunnelRow:
    key: int | None  # street or site id (None: the whole order)
    name: str
    name_en: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES + ("in_flight", "withdrawn",
                                                                                      "capacity"), 0))

    def add(self, stage: str, count: int) -> None:
        self.counts[stage] = self.counts.get(stage, 0) + count


@dataclass(frozen=True)
class FailureReason:
    code: int | None
    message: str | None
    count: int


@dataclass
class Funnel:
    total: FunnelRow
    streets: list[FunnelRow]
    sites: list[FunnelRow]
    reasons: list[FailureReason]

    def chart_data(self) -> dict:
        """What the chart draws (funnel.js): the stages and the whole order's counts, and per street."""
        return {"stages": list(STAGES), "total": [self.total.counts[s] for s in STAGES],
                "streets": [{"id": row.key, "name": row.name, "name_en": row.name_en,
                             "counts": [row.counts[s] for s in STAGES]} for row in self.streets]}


def funnel(session: Session, order: Order) -> Funnel:
    total = FunnelRow(None, "")
    streets: dict[int, FunnelRow] = {}
    all_streets = {s.id: s for s in session.scalars(select(Street))}

    def street_row(street_id: int) -> FunnelRow:
        if street_id not in streets:
            street = all_streets.get(street_id)
            streets[street_id] = FunnelRow(street_id, street.name if street else str(street_id),
                                           street.name_en if street else "")
        return streets[street_id]

    def add(street_id: int, stage: str, count: int) -> None:
        total.add(stage, count)
        street_row(street_id).add(stage, count)

    # 1. the invitations: invited, answered, accepted, declined
    for street_id, status, answered, count in session.execute(
            select(Volunteer.street_id, Invitation.status, Invitation.answered_at.is_not(None), func.count())
            .join(Volunteer, Volunteer.id == Invitation.volunteer_id)
            .where(Invitation.order_id == order.id)
            .group_by(Volunteer.street_id, Invitation.status, Invitation.answered_at.is_not(None))):
        add(street_id, "invited", count)
        if answered or status in (InvitationStatus.accepted, InvitationStatus.declined):
            add(street_id, "answered", count)
        if status is InvitationStatus.accepted:
            add(street_id, "accepted", count)
        elif status is InvitationStatus.declined:
            add(street_id, "declined", count)

    # 2. the invitation SMS: delivered, failed (and why), on their way, withdrawn
    prefix = invite_key_prefix(order.id)  # a key range: the unique index on dedupe_key serves it
    reasons: dict[tuple, int] = defaultdict(int)
    for street_id, status, code, message, count in session.execute(
            select(Volunteer.street_id, OutboundMessage.status, OutboundMessage.error_code,
                   OutboundMessage.error_message, func.count())
            .join(Volunteer, Volunteer.id == OutboundMessage.volunteer_id)
            .where(OutboundMessage.dedupe_key >= prefix, OutboundMessage.dedupe_key < prefix[:-1] + ";")
            .group_by(Volunteer.street_id, OutboundMessage.status, OutboundMessage.error_code,
                      OutboundMessage.error_message)):
        if status in DELIVERED:
            add(street_id, "delivered", count)
        elif status in FAILED:
            add(street_id, "failed", count)
            reasons[(code, message)] += count
        elif status in WITHDRAWN:
            add(street_id, "withdrawn", count)
        else:
            add(street_id, "in_flight", count)

    # 3. the places: placed, confirmed, arrived, per volunteer's street and per site
    sites = {demand.site_id: demand.site for demand in order.demands}
    site_rows = {site_id: FunnelRow(site_id, site.name) for site_id, site in
                 sorted(sites.items(), key=lambda item: (item[1].street_id, item[1].name))}
    for demand in order.demands:
        site_rows[demand.site_id].add("capacity", demand.capacity)
        total.add("capacity", demand.capacity)
    for street_id, site_id, status, count in session.execute(
            select(Volunteer.street_id, Demand.site_id, Assignment.status, func.count())
            .join(Volunteer, Volunteer.id == Assignment.volunteer_id)
            .join(Demand, Demand.id == Assignment.demand_id)
            .where(Assignment.order_id == order.id, Assignment.status.in_(PLACED))
            .group_by(Volunteer.street_id, Demand.site_id, Assignment.status)):
        site = site_rows.setdefault(site_id, FunnelRow(site_id, str(site_id)))
        for stage, statuses in (("placed", PLACED), ("confirmed", CONFIRMED), ("arrived", ARRIVED)):
            if status in statuses:
                add(street_id, stage, count)
                site.add(stage, count)

    ordered_streets = [streets[key] for key in sorted(streets)]
    failures = sorted((FailureReason(code, message, count) for (code, message), count in reasons.items()),
                      key=lambda reason: -reason.count)
    return Funnel(total, ordered_streets, list(site_rows.values()), failures)


