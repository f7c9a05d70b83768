"""Work requested by a transaction, to be carried out after it commits: run a wave, run matching.

The service layer only writes the wish into `session.info`; `wartime.after_commit` installs the after-commit
hook that turns wishes into jobs (through `mobilize.jobs`; the bodies are in `workers/orders.py`). If Redis is
down, or the hook is not installed (tests, scripts), nothing is lost: the periodic sweep finds the same work in
the database (open places with standby, a wave due) and requests it.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

MATCH = "wartime.match"
WAVE = "wartime.wave"


def request_match(session: Session, order_id: int) -> None:
    """Accepted volunteers may be waiting or a place freed up: match this order soon (debounced)."""
    session.info.setdefault(MATCH, set()).add(order_id)


def request_wave(session: Session, order_id: int) -> None:
    """The order may need another invitation wave (the wave job decides whether one is due)."""
    session.info.setdefault(WAVE, set()).add(order_id)


def take(session: Session) -> dict[str, set[int]]:
    """The requests of the transaction just committed, forgotten at once so that they are made only once."""
    return {key: session.info.pop(key, set()) for key in (MATCH, WAVE)}


def forget(session: Session) -> None:
    """A rollback: nothing the transaction asked for happened."""
    take(session)
