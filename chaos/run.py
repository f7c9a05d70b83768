"""The chaos run: one live stack, `trials` orders each hit by one fault, the invariants checked after each."""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chaos import checks
from chaos.faults import FAULTS, inject, plan
from chaos.report import TrialResult
from chaos.supervise import RESTARTS, revive

POLL_S = 0.5


@dataclass
class ChaosConfig:
    trials: int = 30
    seed: int = 2022
    volunteers: int = 2000
    places: int = 60
    compress: float = 60.0
    settle_s: float = 75.0  # after the fault's end: how long a trial may take to settle
    hit_within_s: tuple[float, float] = (1.0, 20.0)  # when, after the launch, the fault is injected
    time_limit_s: float = 3000.0  # the whole run; trials not started by then are skipped
    workdir: Path | None = None
    faults: tuple[str, ...] = FAULTS  # the kinds drawn from (all by default; one to chase a single fault)


def run_chaos(config: ChaosConfig, say: Callable[[str], None]) -> tuple[list[TrialResult], dict]:
    from mobilize.drill.live_config import LiveDrillConfig
    from mobilize.drill.live_order import create_and_launch
    from mobilize.drill.live_stack import live_stack

    rng = random.Random(config.seed)
    live = LiveDrillConfig(volunteers=config.volunteers, places=config.places, seed=config.seed,
                           compress=config.compress, hold_max_s=0.0, roster=False)
    drill = live.drill_config()
    started = time.monotonic()
    results: list[TrialResult] = []
    ledger = checks.Ledger()
    info: dict = {}
    with live_stack(config.workdir, simulator_time_scale=live.simulator_time_scale(),
                    env_overrides=live.env_overrides(), worker_count=live.workers,
                    web_workers=live.web_workers) as stack:
        say(f"seeding {config.volunteers:,} volunteers in {stack.settings.instance_path}")
        stack.prepare(config.volunteers, config.seed, roster=False)
        say("starting the stack (redis, simulator, web, workers, scheduler)")
        phones = stack.start(register_phones=True, seed=config.seed)
        say(f"{phones:,} phones answer, people x{config.compress:g}, confirmation timeout "
            f"{drill.confirmation_timeout_s} s, {config.places} places per order")
        for number, kind in enumerate(plan(config.trials, rng, config.faults), start=1):
            if time.monotonic() - started > config.time_limit_s:
                say(f"time limit of {config.time_limit_s:.0f} s reached: {len(results)} trials ran")
                break
            result = _trial(stack, number, kind, config, drill, rng, ledger, say, create_and_launch)
            results.append(result)
            say(f"trial {number}: {kind} at {result.injected_at_s:g} s ({result.moment}): dup {result.duplicate_sms}"
                f"/{result.duplicate_sid} lost {result.lost_replies} wrongful {result.wrongful_timeouts} overfill "
                f"{result.overfills} stall {result.stall_s:g} s recovery {result.recovery_s} s"
                f"{'' if result.settled else ' (not settled)'}")
        revive(stack, say)
        info["restarts"] = dict(RESTARTS)
        info["real_seconds"] = round(time.monotonic() - started, 1)
    return results, info


def _trial(stack, number, kind, config, drill, rng, ledger, say, create_and_launch) -> TrialResult:
    from mobilize.models._types import utcnow
    from mobilize.wartime import lifecycle
    from mobilize.wartime.audit import Actor

    revive(stack, say)
    order_id, _launched = create_and_launch(stack.runtime, drill)
    launched = time.time()
    result = TrialResult(number, kind, order_id, places=config.places)
    say(f"trial {number}/{config.trials}: order {order_id} launched; {kind} coming")
    hit_at = rng.uniform(*config.hit_within_s)
    while time.time() - launched < hit_at:
        revive(stack, say)
        time.sleep(0.2)
    hit = inject(kind, stack, say)
    result.injected_at_s = round(hit.started - launched, 1)
    result.fault_s = round(hit.ended - hit.started, 1)
    result.moment = hit.moment
    # follow the order after the fault: stalls and recovery, until it settles or the bound passes
    stall_since: float | None = None
    last_count = None
    recovery_from = None
    control = stack.control()
    seq_at_end = None
    while True:
        revive(stack, say)
        now = time.time()
        try:
            snap = checks.snapshot(stack.runtime, order_id)
        except Exception as error:  # noqa: BLE001 - the database is busy: try again
            say(f"  snapshot failed: {error}")
            time.sleep(POLL_S)
            continue
        if now >= hit.ended:
            if seq_at_end is None:
                seq_at_end = _newest_seq(control)
                if snap.work_waiting:
                    recovery_from = hit.ended
                else:
                    result.recovery_s = 0.0
            if recovery_from is not None:
                recovered = _recovered(control, seq_at_end, snap, hit.ended)
                if recovered is not None:
                    result.recovery_s, recovery_from = recovered, None
            if snap.stalled and snap.assignments == last_count:
                stall_since = stall_since or now
                result.stall_s = max(result.stall_s, round(now - stall_since, 1))
            else:
                stall_since = None
            last_count = snap.assignments
        settled = (now >= hit.ended and snap.placed >= snap.places and snap.pending_outbox == 0
                   and snap.unprocessed == 0 and _all_confirmed(stack.runtime, order_id))
        if settled:
            break
        if now > hit.ended + config.settle_s:
            result.settled = False
            result.notes.append(f"not settled {config.settle_s:g} s after the fault: placed {snap.placed}/"
                                f"{snap.places}, open with standby {snap.standby if snap.open else 0}, outbox "
                                f"{snap.pending_outbox}, unprocessed {snap.unprocessed}, unconfirmed 20 s past confirm_by "
                                f"{snap.overdue}")
            break
        time.sleep(POLL_S)
    if recovery_from is not None:
        result.recovery_s = None
        result.notes.append("no placement or send after the fault")
    result.placed = snap.placed
    _check(stack, result, ledger)
    with stack.runtime.transaction() as session:  # the next order finds its volunteers free
        lifecycle.cancel(session, order_id, Actor("chaos", None), utcnow(), reason="chaos trial over")
    return result


def _newest_seq(control) -> int:
    rows = control.messages(limit=1)
    return rows[0]["seq"] if rows else 0


def _recovered(control, seq: int, snap, since: float) -> float | None:
    """Seconds from the fault's end to the first send (gateway) or placement after it; None: none yet."""
    times = [float(m["timestamp"]) for m in control.messages(after=seq, direction="outbound-api", limit=1000)]
    if snap.last_assignment_s is not None and snap.last_assignment_s >= since:
        times.append(snap.last_assignment_s)
    times = [t for t in times if t >= since]
    return round(max(0.0, min(times) - since), 1) if times else None


def _all_confirmed(runtime, order_id: int) -> bool:
    from sqlalchemy import func, select

    from mobilize.models import Assignment, AssignmentStatus

    with runtime.transaction() as session:
        return not session.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.order_id == order_id,
            Assignment.status.in_([AssignmentStatus.proposed, AssignmentStatus.notified])))


def _check(stack, result: TrialResult, ledger: checks.Ledger) -> None:
    from mobilize.drill.live_report import gateway_log

    messages = gateway_log(stack)
    by_text, by_sid = checks.duplicates(stack.runtime, messages)
    result.duplicate_sms, ledger.duplicate_sms = max(0, by_text - ledger.duplicate_sms), max(by_text,
                                                                                             ledger.duplicate_sms)
    result.duplicate_sid, ledger.duplicate_sid = max(0, by_sid - ledger.duplicate_sid), max(by_sid,
                                                                                            ledger.duplicate_sid)
    lost, dead = checks.replies(stack.runtime, messages)
    new_lost = sorted(lost - ledger.lost)
    result.lost_replies = len(new_lost)
    result.dead_letters = len(dead - ledger.dead)
    ledger.lost |= lost
    ledger.dead |= dead
    wrong = checks.wrongful_timeouts(stack.runtime, result.order_id)
    result.wrongful_timeouts = len(wrong)
    if wrong:
        result.notes.append(f"wrongful timeouts: assignments {wrong[:5]}")
    over = checks.overfills(stack.runtime, result.order_id)
    result.overfills = len(over)
    result.notes += over[:3]
    if result.lost_replies:
        result.notes.append(f"lost replies: {new_lost[:3]}")
