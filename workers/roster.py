"""Peacetime roster jobs: the shift generator (hourly) and the roster sweep (every minute). Thin: each step opens
its own transaction and calls `mobilize.peacetime`; the database is the truth, so a missed run (a worker or Redis
restart) is caught up by the next one, and running twice does nothing twice (unique shifts per post and start,
reminders claimed by a conditional UPDATE and deduplicated in the outbox, one gap report per local date).
"""
from __future__ import annotations

from datetime import datetime

import structlog

from mobilize.models._types import utcnow
from mobilize.peacetime import gaps, generation, reminders, service, staffing, swaps
from mobilize.peacetime.config import RosterConfig
from workers.context import get_runtime
from workers.periodic import exclusive

log = structlog.get_logger(__name__)


def _config() -> RosterConfig:
    return RosterConfig.from_settings(get_runtime().settings)


@exclusive("roster.generate_roster", lease_s=600)
def generate_roster(now: datetime | None = None) -> dict:
    """Create the shifts of the coming weeks from the patterns; free the codes of shifts long over."""
    now, cfg, runtime = now or utcnow(), _config(), get_runtime()
    with runtime.transaction() as session:
        result = generation.generate_shifts(session, now, cfg)
    with runtime.transaction() as session:
        ended = generation.end_past_shifts(session, now, cfg)
    return {"created": result.created, "skipped_holidays": result.skipped_holidays, "ended": ended}


@exclusive("roster.sweep_roster", lease_s=300)
def sweep_roster(now: datetime | None = None) -> dict:
    """Reminders, waitlist promotions, swap expiry, automatic check-outs, wartime service records, and the daily
    gap report with its backfill invitations. Each step commits on its own: one failing does not stop the rest."""
    now, cfg, runtime = now or utcnow(), _config(), get_runtime()
    done: dict = {}

    def step(name, action) -> None:
        try:
            with runtime.transaction() as session:
                done[name] = action(session)
        except Exception:  # noqa: BLE001 - logged; the next sweep tries again
            log.exception("roster.sweep_step_failed", step=name)
            done[name] = "failed"

    step("reminders", lambda s: _reminder_summary(reminders.send_due_reminders(s, now, cfg)))
    step("promoted", lambda s: staffing.promote_all(s, now, cfg))
    step("waitlists_closed", lambda s: staffing.drop_stale_waitlists(s, now))
    step("swaps_expired", lambda s: swaps.expire(s, now))
    step("auto_checked_out", lambda s: service.auto_check_out(s, now, cfg))
    step("wartime_records", lambda s: service.record_missing_wartime_service(s, now))
    step("gap_report", lambda s: _gap_summary(gaps.run_daily(s, now, cfg)))
    reminded = done.get("reminders")
    if any(v for k, v in done.items() if k != "reminders") or (isinstance(reminded, dict) and any(reminded.values())):
        log.info("roster.swept", **done)
    return done


def _reminder_summary(run) -> dict:
    return {"day": run.day, "hour": run.hour, "skipped": run.skipped, "waiting": run.waiting_for_morning}


def _gap_summary(report) -> dict | None:
    if report is None:
        return None
    return {"date": str(report.report_date), "shifts": report.shifts, "open_places": report.open_places,
            "invitations": report.invitations}
