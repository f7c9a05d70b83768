"""What a roster action that texts people will send, before it is done: the very action (e.g.
`gaps.backfill_shift`) run in a savepoint that is rolled back, its outbox rows noted (the wartime previews' way,
`mobilize.wartime.previews`). So the preview and the action cannot disagree, and nothing is written or sent.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilize.models import Volunteer
from mobilize.wartime.previews import DEFAULT_CURRENCY, DEFAULT_PRICE_PER_SEGMENT, SmsTotals, run_and_roll_back

NEW_RECIPIENT = "not_invited"  # everyone a roster action texts is told something new


@dataclass(frozen=True)
class RosterPreview(SmsTotals):
    """The SMS an action would write: one dict per message (volunteer_id, phone, name, language, template, text,
    segments, street_id, recipient_status), with the same totals as an order action's preview."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    price_per_segment: float = DEFAULT_PRICE_PER_SEGMENT
    currency: str = DEFAULT_CURRENCY
    result: Any = None  # what the action returned (e.g. how many were invited)

    @property
    def recipients_by_status(self) -> dict[str, int]:
        return dict(Counter(message["recipient_status"] for message in self.messages))


def preview(session: Session, act: Callable[[], Any], *, price_per_segment: float = DEFAULT_PRICE_PER_SEGMENT,
            currency: str = DEFAULT_CURRENCY) -> RosterPreview:
    """Run `act` (which writes outbox rows in `session`) and roll it back; raises what `act` raises."""
    outcome: list = []
    written = run_and_roll_back(session, lambda: outcome.append(act()))
    ids = sorted({row["volunteer_id"] for row in written if row["volunteer_id"] is not None})
    people = {v.id: v for v in session.scalars(select(Volunteer).where(Volunteer.id.in_(ids)))} if ids else {}
    messages = []
    for row in written:
        volunteer = people.get(row["volunteer_id"])
        messages.append({**row, "name": volunteer.name if volunteer else None,
                         "language": volunteer.language if volunteer else None,
                         "street_id": volunteer.street_id if volunteer else None,
                         "recipient_status": NEW_RECIPIENT})
    return RosterPreview(messages, price_per_segment, currency, outcome[0] if outcome else None)
