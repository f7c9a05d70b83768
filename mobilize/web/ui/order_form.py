"""The order form's live estimate (issue 17, item 1): for the places typed so far, the invitations the launch is
expected to send in all and their cost, and the invitation SMS as each language will read it, with its segments.

Nothing here is a formula of its own. The form is saved as a draft inside a savepoint with the very function that
saves it (`drafts.create_draft`: the same checks, the same reply code), the pacing's plan for that draft is asked
(`pacing_inputs.deadline_tradeoff`, the numbers the launch's confirmation step shows), the invitation is rendered
with the launch's own template values (`messages.invitation_values`, `domain.templates.render`) and counted by
`domain.segments`; then the savepoint is rolled back and the transaction's after-commit wishes restored, so that
nothing is written (the pattern of `wartime.previews`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilize.domain.segments import count_segments
from mobilize.domain.templates import LANGUAGES, render
from mobilize.models import Order, Site, Street
from mobilize.wartime import drafts, pacing_inputs
from mobilize.wartime.audit import Actor
from mobilize.wartime.drafts import OrderSpec
from mobilize.wartime.messages import area_name, invitation_values
from mobilize.wartime.previews import rolled_back


@dataclass(frozen=True)
class SmsPreview:
    language: str
    text: str  # the invitation as volunteers nearest to `area` read it
    area: str
    segments: int
    encoding: str  # GSM-7 or UCS-2
    units: int  # septets or UTF-16 code units
    most_segments: int  # the longest over every street the order's sites are in (the area named varies)


@dataclass(frozen=True)
class Estimate:
    places: int
    sites: int
    invitations: int  # the pacing's plan in all, for the order's deadline
    segments: int
    cost: float
    feasible: bool  # the deadline can be met
    projected_at: datetime | None
    prior: str  # "history" (past orders at this time of day) or "commander" (the expected answer rate)
    reply_code: str
    sms: list[SmsPreview] = field(default_factory=list)


def estimate(session: Session, spec: OrderSpec, actor: Actor, now: datetime, zone: str, price_per_segment: float,
             segments_per_second: float) -> Estimate:
    """What launching this form as an order would send; raises `InvalidOrder` as saving it would."""
    with rolled_back(session):  # saved as Save saves it, to price what the launch would send, then undone
        order = drafts.create_draft(session, spec, actor, now)
        tradeoff = pacing_inputs.deadline_tradeoff(session, order, now, price_per_segment, segments_per_second,
                                                   zone)
        chosen = next(row for row in tradeoff["rows"] if row["chosen"])
        places = Counter()
        for demand in order.demands:
            places[demand.site_id] += demand.capacity
        result = Estimate(places=sum(places.values()), sites=len(places), invitations=chosen["invitations"],
                          segments=chosen["segments"], cost=chosen["cost"], feasible=chosen["feasible"],
                          projected_at=chosen["projected_at"], prior=tradeoff["prior"],
                          reply_code=order.reply_code,
                          sms=_sms_previews(session, order, places, spec.languages, zone))
    return result


def _sms_previews(session: Session, order: Order, places: Counter, languages, zone: str) -> list[SmsPreview]:
    """The invitation per language: its text for the street with the most places (an invitation names the
    street of the volunteer's nearest site), and the most segments over all the order's streets."""
    site_streets = dict(session.execute(select(Site.id, Site.street_id).where(Site.id.in_(list(places)))).all())
    by_street = Counter()
    for site_id, count in places.items():
        by_street[site_streets[site_id]] += count
    streets = {street.id: street for street in session.scalars(select(Street).where(
        Street.id.in_(list(by_street))))}
    main = streets.get(by_street.most_common(1)[0][0]) if by_street else None
    previews = []
    for language in (languages or LANGUAGES):
        def text_for(street: Street | None) -> str:
            return render("invitation", language, **invitation_values(order, language, area_name(street, language),
                                                                      zone))

        text = text_for(main)
        counted = count_segments(text)
        most = max([counted.segments] + [count_segments(text_for(street)).segments for street in streets.values()])
        previews.append(SmsPreview(language, text, area_name(main, language), counted.segments, counted.encoding,
                                   counted.units, most))
    return previews
