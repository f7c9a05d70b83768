"""(c) on the live stack: reply -> dispatch SMS handed to the gateway, in real time, under a burst of accepting
replies (`python -m benchmarks.bench_live`, or `scripts/bench live`).

The stack is `mobilize drill --live`'s (`mobilize.drill.live_stack.LiveStack`: `mobilize up`'s processes in a
throwaway folder: embedded Redis, migrated SQLite, the simulator, gunicorn web receiving signed webhooks, 2 RQ
workers, the cron scheduler). One order with more places than replies is launched; its first wave invites
`places` volunteers (expected answer rate 1, no over-recruiting); once every invitation has reached the gateway,
`replies` of the invitees text "Y<code>" (as the invitation asks) from their simulated phones, spread evenly over
`window` seconds: the simulator records each text and POSTs it, signed as Twilio does, to /twilio/sms. The rest
of the invitees stay silent, as people do.

Latency of one reply: from the webhook storing it (inbound_messages.received_at) to the simulator accepting its
dispatch SMS from the sender (the gateway's own timestamp of the message). Measured for the service's default
matching policy (hold-back: a placeable volunteer may wait up to dispatch.HOLD_MAX_S for nearer answers still
pending) and for placement at once (MATCH_HOLD_MAX_S=0), each on a fresh stack.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from benchmarks.report import machine_description, write_section
from mobilize.drill.engine import DrillConfig
from mobilize.drill.live_order import create_and_launch, wait_outbox_drained
from mobilize.drill.live_report import dispatch_rows, epoch_s, gateway_log, parsed_inbound, reply_to_dispatch
from mobilize.drill.live_stack import LiveStack, live_stack
from mobilize.drill.report import capacity_violations, percentile
from mobilize.wartime.messages import DISPATCH_KINDS

COMMAND = "python -m benchmarks.bench_live"
# The matching's timers per policy (the environment `mobilize up` reads; nothing set keeps the service's own)
# Placing at once the debounce is 0.5 s since issue 15 (2 s before: kept beside it as its baseline); with the
# hold-back it stays 2 s (0.5 s beside it: faster here, but the district drill walks people farther)
POLICIES = {"default": {}, "default_debounce_05": {"MATCH_DEBOUNCE_S": "0.5"},
            "at_once": {"MATCH_HOLD_MAX_S": "0"}, "at_once_debounce_2s": {"MATCH_HOLD_MAX_S": "0", "MATCH_DEBOUNCE_S": "2"},
            "at_once_no_debounce": {"MATCH_HOLD_MAX_S": "0", "MATCH_DEBOUNCE_S": "0"}}


def log(message: str) -> None:
    print(f"[bench_live {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def invitees(stack: LiveStack, order_id: int) -> tuple[str, list[str]]:
    """The order's reply code and its invitees' phones (id order)."""
    from mobilize.models import Invitation, Order, Volunteer

    with stack.runtime.transaction() as session:
        code = session.scalar(select(Order.reply_code).where(Order.id == order_id))
        phones = list(session.scalars(select(Volunteer.phone).join(Invitation, Invitation.volunteer_id == Volunteer.id)
                                      .where(Invitation.order_id == order_id).order_by(Invitation.id)))
    return code, phones


def burst(stack: LiveStack, phones: list[str], body: str, window_s: float) -> tuple[float, int]:
    """Each phone texts `body` at its slot, evenly over `window_s` (a pool of senders keeps to the schedule);
    returns how long the burst took and how many texts the simulator refused."""
    control = stack.control()
    start = time.monotonic() + 0.5
    failures = []
    lock = threading.Lock()

    def one(index: int, phone: str) -> None:
        delay = start + index * window_s / len(phones) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            control.send_from_phone(phone, body)
        except Exception as error:  # noqa: BLE001 - counted and reported, the burst goes on
            with lock:
                failures.append(str(error))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(len(phones)), phones))
    if failures:
        log(f"{len(failures)} texts refused, e.g. {failures[0]}")
    return time.monotonic() - start, len(failures)


def placed(stack: LiveStack, order_id: int) -> int:
    from mobilize.models import Assignment

    with stack.runtime.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Assignment)
                                  .where(Assignment.order_id == order_id)))


def wait_placed(stack: LiveStack, order_id: int, target: int, limit_s: float) -> float:
    started = time.monotonic()
    last = -1
    while (count := placed(stack, order_id)) < target and time.monotonic() - started < limit_s:
        stack.check()
        if count != last and int(time.monotonic() - started) % 10 == 0:
            log(f"placed {count}/{target}")
            last = count
        time.sleep(0.5)
    return time.monotonic() - started


def run_policy(name: str, args: argparse.Namespace) -> dict:
    overrides = {"LOG_LEVEL": "WARNING", **POLICIES[name]}
    load_before = os.getloadavg()
    with live_stack(None, env_overrides=overrides) as stack:
        log(f"{name}: seeding {args.volunteers:,} volunteers")
        stack.prepare(args.volunteers, args.seed, roster=False)
        stack.start(register_phones=False)  # the benchmark texts from the phones itself
        order_id, _launched = create_and_launch(stack.runtime, DrillConfig(
            places=args.places, expected_answer_rate=1.0, over_recruit_factor=1.0, wave_interval_s=600,
            confirmation_timeout_s=3600, starts_after_s=3 * 3600))
        code, phones = wait_for_wave(stack, order_id, args.places)
        if len(phones) < args.replies:
            raise SystemExit(f"only {len(phones)} invited; raise --volunteers")
        chosen = random.Random(args.seed).sample(phones, args.replies)
        log(f"{name}: {len(phones)} invitations at the gateway; burst of {args.replies} replies over "
            f"{args.window:.0f} s")
        burst_s, refused = burst(stack, chosen, f"Y{code}", args.window)
        log(f"{name}: burst sent in {burst_s:.1f} s; waiting for the placements")
        wait_s = wait_placed(stack, order_id, args.replies - refused, args.limit)
        drained = wait_outbox_drained(stack)
        messages = gateway_log(stack)
        stack.stop()
        return measure(stack, order_id, name, messages, burst_s, refused, wait_s, drained,
                       load_before, os.getloadavg())


def wait_for_wave(stack: LiveStack, order_id: int, places: int, limit_s: float = 300) -> tuple[str, list[str]]:
    """Until the first wave is written and every invitation has reached the gateway."""
    started = time.monotonic()
    while len(invitees(stack, order_id)[1]) < places and time.monotonic() - started < 60:
        stack.check()
        time.sleep(0.5)
    if not wait_outbox_drained(stack, limit_s):
        raise SystemExit("the invitations did not all reach the gateway")
    return invitees(stack, order_id)


def measure(stack: LiveStack, order_id: int, name: str, messages: list[dict], burst_s: float, refused: int,
            wait_s: float, drained: bool, load_before, load_after) -> dict:
    from mobilize.models import InboundMessage

    inbound = parsed_inbound(stack.runtime)
    dispatches = dispatch_rows(stack.runtime, order_id)
    latencies = reply_to_dispatch(dispatches, messages, inbound)
    with stack.runtime.transaction() as session:
        violations = capacity_violations(session, order_id)
        processing = [(p - r).total_seconds() for r, p in session.execute(
            select(InboundMessage.received_at, InboundMessage.processed_at)
            .where(InboundMessage.processed_at.is_not(None)))]
    stages = stage_latencies(stack, messages)
    sids = {sid for _v, _p, _b, sid in dispatches}
    segments = [int(m["num_segments"] or 0) for m in messages if m["sid"] in sids]
    result = {"policy": name, "placed": placed(stack, order_id), "n": len(latencies), "stages": stages,
              "dispatch_segments": sum(segments) / len(segments) if segments else None,
              "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
              "max": max(latencies) if latencies else None,
              "processed_p50": percentile(processing, 50), "processed_p95": percentile(processing, 95),
              "capacity_violations": len(violations), "burst_s": burst_s, "refused": refused, "wait_s": wait_s,
              "drained": drained, "load_before": load_before, "load_after": load_after}
    log(f"{name}: {result}")
    return result


def stage_latencies(stack: LiveStack, messages: list[dict]) -> dict[str, tuple]:
    """Where the time goes, per dispatched reply (p50, p95 in s): the inbound job (webhook stored -> processed),
    matching (processed -> dispatch SMS written: debounce, hold-back, queueing, the solve) and the sender
    (written -> the gateway accepted it: the outbox queue and the cap)."""
    from mobilize.models import InboundMessage, OutboundMessage

    gateway = {m["sid"]: m["timestamp"] for m in messages if m["direction"] == "outbound-api"}
    with stack.runtime.transaction() as session:
        replies = {phone: (received, processed) for phone, received, processed in session.execute(
            select(InboundMessage.from_phone, InboundMessage.received_at, InboundMessage.processed_at)
            .where(InboundMessage.intent == "accept"))}
        dispatches = session.execute(select(OutboundMessage.to_phone, OutboundMessage.created_at,
                                            OutboundMessage.twilio_sid)
                                     .where(OutboundMessage.kind.in_(DISPATCH_KINDS))).all()
    parse, match, send = [], [], []
    for phone, written, sid in dispatches:
        if phone not in replies or sid not in gateway or replies[phone][1] is None:
            continue
        received, processed = replies[phone]
        parse.append((processed - received).total_seconds())
        match.append((written - processed).total_seconds())
        send.append(gateway[sid] - epoch_s(written))
    return {name: (percentile(values, 50), percentile(values, 95))
            for name, values in (("inbound job", parse), ("matching", match), ("sender", send))}


def section(results: list[dict], args: argparse.Namespace) -> str:
    from mobilize.wartime.dispatch import HOLD_MAX_S

    rows = [("| matching policy | replies placed | p50 (s) | p95 (s) | max (s) | stages p50 / p95 (s): inbound job; matching; sender | "
            "capacity violations | burst took (s) | load avg 1/5/15 min before -> after |"),
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        label = policy_label(r["policy"], HOLD_MAX_S)
        before = "/".join(f"{x:.1f}" for x in r["load_before"])
        after = "/".join(f"{x:.1f}" for x in r["load_after"])
        rows.append(f"| {label} | {r['placed']:,} of {args.replies:,} | **{_s(r['p50'])}** | **{_s(r['p95'])}** | "
                    f"{_s(r['max'])} | {_stages(r['stages'])} | "
                    f"{r['capacity_violations']} | {r['burst_s']:.0f} | {before} -> {after} |")
    return (
        f"## Live stack: (c) reply -> dispatch in real time\n\n"
        f"Machine: {machine_description()}; other engineers' tests and benchmarks ran on the same 2 cores "
        f"(load averages in the table). Reproduce: `{COMMAND}` (or `scripts/bench live`; options "
        f"`--replies {args.replies} --window {args.window:g} --places {args.places} --volunteers {args.volunteers}`)."
        f"\n\nThe stack of `mobilize drill --live`: `mobilize up`'s processes in a throwaway folder (embedded "
        f"Redis, migrated SQLite, the simulator, gunicorn web with 2 workers receiving signed webhooks, 2 RQ "
        f"workers, the cron scheduler), the sender at the service's default cap of 100 segments/s. One order of "
        f"{args.places:,} places, {args.volunteers:,} volunteers in the registry; its first wave invites "
        f"{args.places:,}; once every invitation has reached the gateway, {args.replies:,} of the invitees text "
        f"`Y<code>` from their simulated phones, evenly over {args.window:g} s (the simulator POSTs each one, "
        f"signed, to /twilio/sms); the other invitees stay silent. Latency per reply: the webhook storing it "
        f"(inbound received_at) -> the simulator accepting its dispatch SMS from the sender (the gateway's "
        f"timestamp). Each policy on a fresh stack.\n\n" + "\n".join(rows) + "\n\n"
        + explanation(results) + "\n")


def policy_label(name: str, hold_max_s: float) -> str:
    from mobilize.wartime.after_commit import MATCH_DEBOUNCE_S

    if name == "default":
        return f"default (hold-back up to {hold_max_s:.0f} s, debounce {MATCH_DEBOUNCE_S:g} s)"
    if name.startswith("default"):
        return f"hold-back up to {hold_max_s:.0f} s, " + ", ".join(f"{k}={v}" for k, v in POLICIES[name].items())
    return "placement at once, " + ", ".join(f"{key}={value}" for key, value in POLICIES[name].items())


def explanation(results: list[dict]) -> str:
    """What the figures mean, and whether the hold-back dominates (said from the figures, not assumed)."""
    from mobilize.wartime.after_commit import AT_ONCE_DEBOUNCE_S
    from mobilize.wartime.dispatch import HOLD_MAX_S

    segments = [r["dispatch_segments"] for r in results if r["dispatch_segments"]]
    per = f"{sum(segments) / len(segments):.1f}" if segments else "?"
    text = (f"Placement at once (`MATCH_HOLD_MAX_S=0`) is the pipeline's own speed: webhook -> inbound job (parse, "
            f"accept) -> match job (debounced {AT_ONCE_DEBOUNCE_S:g} s: one micro-batch for the answers that arrived "
            f"meanwhile) -> "
            f"dispatch SMS in the outbox -> the high-priority sender, capped at 100 segments/s (a dispatch is "
            f"{per} segments here, so 2,000 in a minute use most of the cap by themselves) -> the gateway. The "
            f"service's default policy also holds a placeable volunteer back while answers of the current wave are "
            f"pending, until enough scenarios of those answers agree on their place (what keeps the drill's total "
            f"distance near the hindsight optimum, see (a2)), for at most `dispatch.HOLD_MAX_S` ({HOLD_MAX_S:.0f} "
            f"s) after their answer{_cap_reached(results, HOLD_MAX_S)}.")
    default = [r for r in results if r["policy"] == "default" and r["p50"] is not None]
    at_once = [r for r in results if r["policy"] == "at_once" and r["p50"] is not None]
    if default and at_once:
        d50, a50 = _mid([r["p50"] for r in default]), _mid([r["p50"] for r in at_once])
        d95, a95 = _mid([r["p95"] for r in default]), _mid([r["p95"] for r in at_once])
        dominates = d50 > 2 * a50 or d95 > 2 * a95
        text += (f" Measured (medians over the runs): the hold-back {'dominates' if dominates else 'does not dominate'}"
                 f" the latency: p50 {d50:.1f} s with it vs {a50:.1f} s at once, p95 {d95:.1f} s vs {a95:.1f} s. "
                 f"The matching and sender stages wait for the same 2 workers as the inbound jobs, on the same 2 "
                 f"cores as the web app and the simulator (load averages in the table).")
    for name, other, label in (("at_once", "at_once_debounce_2s", "placing at once, the 0.5 s debounce against "
                                "the 2 s one it replaced"),
                               ("default", "default_debounce_05", "with the hold-back, the 2 s debounce against 0.5 s")):
        mine = [r["p95"] for r in results if r["policy"] == name and r["p95"] is not None]
        theirs = [r["p95"] for r in results if r["policy"] == other and r["p95"] is not None]
        if mine and theirs:
            text += f" {label.capitalize()}: p95 {_mid(mine):.1f} s vs {_mid(theirs):.1f} s (medians over the runs)."
    at_once_p95 = [r["p95"] for r in at_once]
    if at_once_p95:
        met = max(at_once_p95) <= 2.0
        text += (f" Issue 15's target, 2,000 replies in a minute placed at once with a reply-to-dispatch p95 of at "
                 f"most 2 s: **{'met' if met else 'not met'}** (worst run {max(at_once_p95):.1f} s).")
    no_debounce = [r for r in results if r["policy"] == "at_once_no_debounce" and r["p95"] is not None]
    if no_debounce:
        text += (f" Without the match debounce (`MATCH_DEBOUNCE_S=0`: a match job as soon as an answer is "
                 f"processed; the answers that arrive while it runs make the next one's batch): p95 "
                 f"{_mid([r['p95'] for r in no_debounce]):.1f} s (median over its runs).")
    return text


def _cap_reached(results: list[dict], hold_max_s: float) -> str:
    """Whether the default policy's slowest reply came near the hold-back's cap, said from the figures."""
    longest = max((r["max"] for r in results if r["policy"] == "default" and r["max"] is not None), default=None)
    if longest is None:
        return ""
    if longest < hold_max_s:
        return f"; its slowest reply here took {longest:.1f} s, within the cap"
    return (f"; its slowest reply here took {longest:.1f} s: held up to the cap, then behind the matching and "
            f"sender queues")


def _mid(values: list[float]) -> float:
    return statistics.median(values)


def _stages(stages: dict[str, tuple]) -> str:
    return "; ".join(f"{_s(p50)} / {_s(p95)}" for p50, p95 in stages.values())


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds the replies are spread over")
    parser.add_argument("--places", type=int, default=2400, help="places of the order (= invitations)")
    parser.add_argument("--volunteers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--limit", type=float, default=900.0, help="longest wait for the placements (s)")
    parser.add_argument("--policy", choices=sorted(POLICIES), action="append",
                        help="only this matching policy (repeatable); default: all")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each policy, alternating (the machine is shared: show the spread)")
    args = parser.parse_args(argv)
    results = [run_policy(name, args) for _ in range(args.repeat) for name in (args.policy or list(POLICIES))]
    path = write_section("live", section(results, args))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
