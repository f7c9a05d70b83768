"""Jobs that keep the system honest. More sweeps join as orders and the outbox land."""
from __future__ import annotations

import structlog
from sqlalchemy import func, select

from workers.context import get_runtime

log = structlog.get_logger(__name__)


def heartbeat() -> dict:
    """Proves a worker can reach the database; the scheduler runs it periodically and /metrics can read it."""
    from mobilize.models import Volunteer

    with get_runtime().transaction() as session:
        volunteers = session.scalar(select(func.count()).select_from(Volunteer))
    log.info("worker.heartbeat", volunteers=volunteers)
    return {"volunteers": volunteers}


def expire_open_call_dialogues() -> int:
    """Open-call sign-up dialogues left without an answer end as `timeout` (see mobilize.wartime.open_call)."""
    from mobilize.models._types import utcnow
    from mobilize.wartime.open_call import expire_dialogues

    with get_runtime().transaction() as session:
        expired = expire_dialogues(session, utcnow())
    if expired:
        log.info("open_call.dialogues_expired", count=expired)
    return expired
