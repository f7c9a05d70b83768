"""The drill on the live stack: `mobilize up`'s processes in a throwaway folder, time compressed.

Embedded Redis, a migrated SQLite file, the SMS simulator (`mobilize simulator`), the web app under gunicorn
(signed webhooks at /twilio/sms), RQ workers (the first with RQ's scheduler for delayed jobs) and the RQ cron
scheduler for the periodic sweeps: the commands of `mobilize.supervisor.Stack`, started from the same code. This
process seeds the demo district, registers every volunteer's phone in the simulator with the drill's answer
model (`mobilize.drill.responder:drill_responder`, as `mobilize up` does), creates the historical order
(`engine.build_order`) and launches it; from then on only the live stack acts: waves, webhooks, matching, the
outbox sender, the sweeps. This process watches the database until the order is filled or the time limit
passes, then reads the simulator's message log and builds the drill's report (`report.build_report`).

Time: everything people do runs `compress` times faster (the simulator's time scale is 1/compress), and so do
the order's strategy timers (wave interval, confirmation timeout, in compressed seconds) and the matching's
hold-back (MATCH_HOLD_MAX_S). The service's own machinery is not compressed: the sender's cap
(SMS_SEGMENTS_PER_SECOND, per real second), the 10 s sweeps, the match debounce. Times in the report are REAL
seconds.

The parts: `live_config` (the settings and the compression), `live_stack` (the processes, started and stopped),
`live_order` (the order launched and followed in the database), `live_report` (the gateway's log and the report).
"""
from __future__ import annotations

import time

from mobilize.drill.live_config import LiveDrillConfig
from mobilize.drill.live_order import create_and_launch, wait_outbox_drained, watch
from mobilize.drill.live_report import LiveClock, gateway_log, live_report
from mobilize.drill.live_stack import live_stack
from mobilize.supervisor import StackError


def run_live_drill(config: LiveDrillConfig) -> dict:
    """Run the drill on a throwaway live stack and return its report (times in real seconds)."""
    say = config.progress or (lambda _message: None)
    drill = config.drill_config()
    started = time.perf_counter()
    with live_stack(config.workdir, simulator_time_scale=config.simulator_time_scale(),
                    env_overrides=config.env_overrides(), worker_count=config.workers,
                    web_workers=config.web_workers) as stack:
        say(f"seeding the demo district with {config.volunteers:,} volunteers in {stack.settings.instance_path}")
        stack.prepare(config.volunteers, config.seed, config.roster)
        say("starting the stack (redis, simulator, web, workers, scheduler)")
        phones = stack.start(register_phones=True, seed=config.seed)
        if not phones:
            raise StackError("no simulated phone was registered: nobody would answer (see the simulator's log)")
        order_id, launched = create_and_launch(stack.runtime, drill)
        say(f"order {order_id}: {config.places} places; launched; {phones:,} phones answer, time x{config.compress:g}")
        trace = watch(stack, order_id, config, say)
        drained = wait_outbox_drained(stack)
        stack.stop_producers()  # late answers still arrive, but nothing more is sent
        messages = gateway_log(stack)
        stack.stop()  # no more writes: the report reads a database at rest
        report = live_report(stack.runtime, order_id, drill, trace, LiveClock(launched, trace.real_s), messages)
    report["outbox_drained"] = drained
    report["real_seconds"] = round(time.perf_counter() - started, 1)
    return report
