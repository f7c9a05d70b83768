"""Benchmark of the SMS channel's sending on a live stack of real processes, every figure beside its baseline
from the same run. (The inbound webhook has its own: benchmarks/bench_webhook.py.)

    python -m benchmarks.bench_sms [--parts pipeline,cap] [--count N] [--rounds R] [--no-write]

All on this machine, over loopback: embedded Redis (`mobilize.embedded_redis`) and a migrated SQLite file in a
temporary folder, `mobilize simulator` (gunicorn), the web app under gunicorn as `mobilize up` runs it, and
`mobilize up`'s number of `mobilize worker` processes. Every process it starts is in its own process group and
is stopped at the end, also on an error, Ctrl-C, SIGTERM or the time limit (--time-limit, 15 minutes).

1. pipeline: the clock starts at the commander's action: N messages written to the outbox in one transaction
   (`outbox.queue_many`, each with its dedupe key, as a wave writes its invitations), whose commit kicks the
   sender; the rate is N / (time from the start of those writes until all N rows have a Twilio SID), with the
   simulator's status callbacks flowing back into the app meanwhile; also the time until all N are
   `delivered`. Baseline, the ceiling: the same twilio client (`make_twilio_client`, one per thread as the
   sender has) sending the same N messages with as many requests in flight as one sender job keeps
   (`workers.sms.SEND_THREADS`), against the same simulator, no status callback; run before the first
   pipeline run and after each, the ratio to the mean of the two around it.
2. cap: a short code capped at 100 segments/s (some messages of two segments) and a long code at 1/s, with the
   rate read from the simulator's own message timestamps: the sustained rate, and the most segments in any
   one-second window (any start, [t, t+1)).
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.procs import (BenchmarkError, Children, cpu_snapshot, group_cpu_seconds,
                              install_signal_handlers, self_cpu_seconds)
from benchmarks.sms_stack import ROOT, SENDER, SmsStack

BODY = "【应急志愿】八大关街道#27：明早8点太平角检测点需要10人，回复Y27参加，N27不参加"  # 1 UCS-2 segment
LONG_BODY = BODY + "。集合地点：太平角一路与正阳关路交叉口东北角，请携带身份证、志愿者证、口罩和饮用水，着装整齐，提前十分钟到达。"
TARGET_PIPELINE_RATIO = 0.8
CAP_TOLERANCE = 0.05


def phone(n: int) -> str:
    return f"+86139{n:08d}"


def load_average() -> str:
    """The 1-minute load average: other sessions share this machine."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ==============================================================================================================
# 1. the send pipeline against a bare loop of twilio client calls


def _child_bare(url: str, sid: str, token: str, count: int, threads: int) -> None:
    """The baseline, in its own process: the twilio client's create with `threads` requests in flight, each
    thread with its own client (as the sender's threads have: workers.sms._thread_gateway), taking the next
    message from a shared counter until `count` are sent."""
    import itertools
    from concurrent.futures import ThreadPoolExecutor

    from mobilize.sms.twilio_client import make_twilio_client

    clients = [make_twilio_client(sid, token, url) for _ in range(threads)]
    for index, client in enumerate(clients):  # warm-up: the connections, the client's lazy imports
        client.messages.create(to=phone(900_000 + index), from_=SENDER, body=BODY)
    numbers = itertools.count()

    def sender(client) -> None:
        while (n := next(numbers)) < count:
            client.messages.create(to=phone(n), from_=SENDER, body=BODY)

    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        cpu = self_cpu_seconds()
        for future in [pool.submit(sender, client) for client in clients]:
            future.result()
        elapsed, cpu = time.perf_counter() - started, self_cpu_seconds() - cpu
    print(json.dumps({"elapsed": elapsed, "cpu": cpu}))


def sender_threads() -> int:
    """As many requests in flight as one sender job keeps without a cap to hold it back (workers.sms)."""
    from workers.sms import SEND_THREADS

    return SEND_THREADS


def bare_loop(stack: SmsStack, count: int) -> dict:
    simulator_cpu = group_cpu_seconds(stack.simulator.pid)
    result = subprocess.run([sys.executable, "-m", "benchmarks.bench_sms", "--child-bare", stack.simulator_url,
                             stack.account_sid, stack.auth_token, str(count), str(sender_threads())],
                            cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=300)
    if result.returncode:
        raise BenchmarkError(f"the bare loop failed:\n{result.stderr[-3000:]}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    simulator_cpu = group_cpu_seconds(stack.simulator.pid) - simulator_cpu
    stack.control().reset()
    return {"rate": count / data["elapsed"], "elapsed": data["elapsed"],
            "cpu_ms": {"client": 1000 * data["cpu"] / count, "simulator": 1000 * simulator_cpu / count}}


def pipeline_run(stack: SmsStack, count: int, timeout: float = 240.0) -> dict:
    from sqlalchemy import func, select

    from mobilize.models import OutboundMessage, Priority
    from mobilize.sms import outbox

    runtime = stack.runtime
    with runtime.transaction() as session:
        first_id = (session.scalar(select(func.max(OutboundMessage.id))) or 0) + 1
    cpu_before = _cpu(stack)
    kicked = time.perf_counter()  # the commander's action: the clock runs while the outbox rows are written
    with runtime.transaction() as session:
        # as a wave writes its invitations (wartime.waves._send_invitations): each with its dedupe key, all in
        # one outbox.queue_many
        outbox.queue_many(session, [outbox.ToQueue(None, BODY, "invitation", Priority.bulk,
                                                   f"bench:{first_id}:{n}", to_phone=phone(n))
                                    for n in range(count)])
    t_written = time.perf_counter() - kicked  # the commit (at the end of the block) kicked the sender
    in_run = OutboundMessage.id >= first_id
    with_sid = delivered = 0
    t_sid = None
    deadline = kicked + timeout
    progress = _Progress(runtime.engine, first_id)
    try:
        while True:
            if t_sid is None:
                with_sid = progress.count("twilio_sid IS NOT NULL")
                if with_sid >= count:
                    t_sid = time.perf_counter() - kicked
                    cpu_at_sid = _cpu(stack)
            else:  # all delivered means all have a SID: counted once that holds
                delivered = progress.count("status = 'delivered'")
            if delivered >= count:
                t_delivered = time.perf_counter() - kicked
                break
            if time.perf_counter() > deadline:
                raise BenchmarkError(f"pipeline: after {timeout:.0f} s {with_sid}/{count} had a SID and "
                                     f"{delivered}/{count} were delivered")
            stack.children.check_alive()
            time.sleep(0.02 if t_sid is None else 0.1)
    finally:
        progress.close()
    with runtime.transaction() as session:
        statuses = dict(session.execute(select(OutboundMessage.status, func.count()).where(in_run)
                                        .group_by(OutboundMessage.status)).all())
    sent = len(stack.control().messages(direction="outbound-api", limit=100_000))
    if sent != count:
        raise BenchmarkError(f"pipeline: the simulator got {sent} messages for {count} queued")
    cpu_after = _cpu(stack)
    cpu_ms = {}
    for name, value in cpu_after.items():
        group = "worker" if name.startswith("worker-") else name
        cpu_ms[group] = cpu_ms.get(group, 0.0) + 1000 * (value - cpu_before.get(name, 0.0)) / count
    return {"count": count, "t_sid": t_sid, "rate": count / t_sid, "t_delivered": t_delivered, "t_written": t_written,
            "statuses": {status.value: number for status, number in statuses.items()}, "cpu_ms": cpu_ms,
            "cpu_to_sid_ms": {name: 1000 * (value - cpu_before.get(name, 0.0)) / count
                              for name, value in cpu_at_sid.items()}}


class _Progress:
    """Counts of this run's rows, polled 50 times a second on one raw connection of the pool, each query alone
    (SQLite: autocommit, no lock held between polls). Through a session every poll was a transaction, and on
    SQLite a transaction begins with BEGIN IMMEDIATE (mobilize.db): the benchmark took the database's write
    lock 50 times a second, holding up the very writers it times (the sender recording SIDs, the status
    callbacks)."""

    def __init__(self, engine, first_id: int) -> None:
        self.connection = engine.raw_connection()
        self.first_id = first_id
        self.placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    def count(self, condition: str) -> int:
        cursor = self.connection.cursor()
        try:
            cursor.execute(f"SELECT count(*) FROM outbound_messages WHERE id >= {self.placeholder} AND "
                           f"{condition}", (self.first_id,))
            return cursor.fetchone()[0]
        finally:
            cursor.close()
            self.connection.rollback()  # no snapshot kept between polls (a no-op in SQLite's autocommit)

    def close(self) -> None:
        self.connection.close()


def _cpu(stack: SmsStack) -> dict[str, float]:
    cpu = cpu_snapshot(stack.children)
    cpu["redis"] = group_cpu_seconds(stack.redis.process.pid)
    cpu["benchmark"] = self_cpu_seconds()
    return cpu


def mobilize_up_workers() -> int:
    """The RQ worker processes `mobilize up` (scripts/run) starts."""
    from mobilize import supervisor

    return supervisor.Stack.__dataclass_fields__["worker_count"].default


def run_pipeline(workdir: Path, children: Children, count: int, rounds: int, workers: int) -> dict:
    """Interleaved: baseline, pipeline, baseline, pipeline, ..., baseline; each pipeline run's ratio is to the
    mean of the baselines just before and after it."""
    stack = SmsStack(workdir / "pipeline", children)
    try:
        stack.start_redis()
        stack.migrate()
        stack.start_simulator(time_scale=1.0)
        stack.start_web()
        bare_loop(stack, 200)  # warm the simulator up (its first requests build its Flask app, caches...)
        bares = [bare_loop(stack, count)]
        log(f"baseline: {bares[-1]['rate']:.0f} msg/s")
        runs = []
        stack.start_workers(workers)
        for _round in range(rounds):
            load = load_average()
            run = pipeline_run(stack, count)
            stack.children.check_alive()
            stack.control().reset()
            bares.append(bare_loop(stack, count))
            baseline = (bares[-2]["rate"] + bares[-1]["rate"]) / 2
            run.update(workers=workers, baseline=baseline, ratio=run["rate"] / baseline, load=load)
            runs.append(run)
            log(f"pipeline: {run['rate']:.0f} msg/s to SID ({run['t_sid']:.2f} s, the rows written in "
                f"{run['t_written']:.2f} s), all delivered after {run['t_delivered']:.1f} s; baseline "
                f"{bares[-1]['rate']:.0f} msg/s; ratio {run['ratio']:.2f}; CPU ms/msg {_fmt_cpu(run['cpu_ms'])}")
        stack.stop_workers()
        return {"bares": bares, "runs": runs, "count": count, "threads": sender_threads(), "workers": workers}
    finally:
        stack.close()


def _fmt_cpu(cpu_ms: dict) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in cpu_ms.items() if value >= 0.005)


# ==============================================================================================================
# 2. the rate cap, read from the simulator's timestamps


def cap_run(stack: SmsStack, cap: float, messages: list[str], workers: int) -> dict:
    """Queue `messages`, let `workers` send them under SMS_SEGMENTS_PER_SECOND=cap, read what arrived."""
    from mobilize.models import Priority
    from mobilize.sms import outbox

    stack.start_workers(workers, segments_per_second=cap)
    try:
        control = stack.control()
        control.reset()
        load = load_average()
        with stack.runtime.transaction() as session:
            for n, body in enumerate(messages):
                outbox.queue_message(session, body=body, kind="invitation", priority=Priority.bulk,
                                     to_phone=phone(n))
        total_segments = None
        deadline = time.monotonic() + 30 + 2 * len(messages) / cap
        while time.monotonic() < deadline:
            sent = control.messages(direction="outbound-api", limit=100_000)
            if len(sent) >= len(messages):
                break
            stack.children.check_alive()
            time.sleep(0.5)
        else:
            raise BenchmarkError(f"cap {cap}/s: {len(sent)}/{len(messages)} sent in time")
    finally:
        stack.stop_workers()
    arrivals = sorted((message["timestamp"], int(message["num_segments"])) for message in sent)
    total_segments = sum(segments for _at, segments in arrivals)
    return dict(cap=cap, workers=workers, load=load, messages=len(arrivals), segments=total_segments,
                **window_stats(arrivals, cap))


def window_stats(arrivals: list[tuple[float, int]], cap: float) -> dict:
    """The most segments in any window [t, t+1) (the worst window starts at an arrival), and the sustained rate:
    segments arriving in the whole seconds [t0, t0 + k) from the first arrival, over k. A sender held at the cap
    sends `cap` in each such second whether it paces evenly or in bursts."""
    times = [at for at, _segments in arrivals]
    worst, end, in_window = 0, 0, 0
    for start, (at, _segments) in enumerate(arrivals):
        while end < len(arrivals) and arrivals[end][0] < at + 1.0:
            in_window += arrivals[end][1]
            end += 1
        worst = max(worst, in_window)
        in_window -= arrivals[start][1]
    span = times[-1] - times[0]
    whole = max(1, math.floor(span))
    sustained = sum(segments for at, segments in arrivals if at < times[0] + whole) / whole
    per_second = [0] * (whole + 1)
    for at, segments in arrivals:
        per_second[min(whole, int(at - times[0]))] += segments
    return {"worst_window": worst, "sustained": sustained, "span": span, "seconds": whole,
            "per_second": per_second[:whole]}


def run_cap(workdir: Path, children: Children, short_messages: int, long_messages: int) -> dict:
    stack = SmsStack(workdir / "cap", children)
    try:
        stack.start_redis()
        stack.migrate()
        stack.start_simulator(time_scale=1.0)
        stack.start_web()
        bare_loop(stack, 100)  # warm-up
        # a short code: mostly one segment, every fifth message two (LONG_BODY is 100 UCS-2 characters)
        bodies = [LONG_BODY if n % 5 == 4 else BODY for n in range(short_messages)]
        short = cap_run(stack, 100, bodies, workers=2)
        log(f"cap 100/s: sustained {short['sustained']:.1f}/s, worst 1-s window {short['worst_window']}")
        long = cap_run(stack, 1, [BODY] * long_messages, workers=1)
        log(f"cap 1/s: sustained {long['sustained']:.2f}/s, worst 1-s window {long['worst_window']}")
        return {"short": short, "long": long}
    finally:
        stack.close()


# ==============================================================================================================
# the report


def render(pipeline: dict | None, cap: dict | None, command: str, started: float) -> str:
    from benchmarks.report import machine_description

    parts = ["## SMS channel: send pipeline, rate cap",
             "All on one machine over loopback, each process real and separate as in `mobilize up`: embedded "
             "Redis (unix socket) and a migrated SQLite file in a temporary folder, `mobilize simulator` "
             "(gunicorn, one gthread worker), the web app under gunicorn (`mobilize up`'s processes and "
             "threads) receiving the simulator's signed status callbacks, and `mobilize up`'s number of "
             "`mobilize worker` processes. Each figure is measured beside its baseline in the same run. The "
             "inbound webhook is measured in the next section (`scripts/bench webhook`).",
             f"Machine: {machine_description()}. The machine was shared with other work while this ran: the load "
             "average (1 min) when each figure was taken is shown beside it; figures taken under load other than "
             "ours are noisy, the ratios less so.",
             f"Reproduce: `{command}` (about {max(1, round((time.time() - started) / 60))} minutes; "
             "`python -m benchmarks.bench_sms --parts pipeline` or `--parts cap` for one part, `--help` for "
             "sizes)."]
    if pipeline:
        parts += _render_pipeline(pipeline)
    if cap:
        parts += _render_cap(cap)
    return "\n\n".join(parts)


def _render_pipeline(data: dict) -> list[str]:
    count, threads, runs = data["count"], data["threads"], data["runs"]
    rows = ["| run | load | messages/s to SID | vs. baseline | rows written | all SIDs | all delivered | CPU ms "
            "per message (sim / web / workers / Redis / bench) |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for index, bare in enumerate(data["bares"]):
        rows.append(f"| baseline #{index + 1} | | {bare['rate']:.0f} | | | {bare['elapsed']:.2f} s | | "
                    f"{bare['cpu_ms']['simulator']:.2f} / – / client {bare['cpu_ms']['client']:.2f} / – / – |")
        if index < len(runs):
            run, cpu = runs[index], runs[index]["cpu_ms"]
            rows.append(f"| pipeline #{index + 1} | {run['load']} | {run['rate']:.0f} | **{run['ratio']:.2f}** | "
                        f"{run['t_written']:.2f} s | {run['t_sid']:.2f} s | {run['t_delivered']:.1f} s | "
                        f"{cpu.get('simulator', 0):.2f} / {cpu.get('web', 0):.2f} / {cpu.get('worker', 0):.2f} / "
                        f"{cpu.get('redis', 0):.2f} / {cpu.get('benchmark', 0):.2f} |")
    ratios = [run["ratio"] for run in runs]
    median = statistics.median(ratios)
    met = median >= TARGET_PIPELINE_RATIO
    total_bare = statistics.mean(bare["cpu_ms"]["simulator"] + bare["cpu_ms"]["client"] for bare in data["bares"])
    total_pipe = statistics.mean(sum(run["cpu_ms"].values()) for run in runs)
    web_and_sim = statistics.mean(run["cpu_ms"].get("web", 0) + run["cpu_ms"].get("simulator", 0) for run in runs)
    return [
        "### 1. Send pipeline, no cap",
        f"The clock starts at the commander's action: {count:,} one-segment messages (UCS-2) to distinct numbers "
        "written to the outbox in one transaction with their dedupe keys by `outbox.queue_many`, as a wave "
        "writes its invitations (`wartime.waves._send_invitations`: the keys looked up a few hundred per query, "
        "the rows written by one flush), whose commit kicks the sender (`SMS_SEGMENTS_PER_SECOND=1000000`, priority "
        f"bulk, {data['workers']} worker processes as `mobilize up` starts). Rate = {count:,} / time from the "
        f"start of those writes until all {count:,} rows have a Twilio SID (\"rows written\": when the commit "
        "returned). Meanwhile the simulator (time scale 1: `sent` 0.5 s after acceptance, `delivered` 2 s later) "
        "posts two signed status callbacks per message to `/twilio/status`, which update the rows; \"all "
        "delivered\" is when the last row reached `delivered`. (A real launch also chooses the audience and "
        "writes the invitations before these rows: `scripts/bench live` times that.)",
        f"Baseline, the ceiling: the same twilio client (`make_twilio_client`, one per thread as the sender's "
        f"threads have) sending the same {count:,} messages with {threads} requests in flight, as many as one "
        "sender job keeps (`workers.sms.SEND_THREADS`, read by the benchmark), against the same simulator, "
        "without status callbacks; run before the first pipeline run and after each, interleaved, each ratio "
        "to the mean of the two baselines around its run.",
        "\n".join(rows),
        f"Target: at least {TARGET_PIPELINE_RATIO} of the baseline. **{'Met' if met else 'Missed'}**: median "
        f"{median:.2f} over {len(runs)} runs ({min(ratios):.2f}–{max(ratios):.2f}).",
        f"Where the CPU goes: the baseline costs about {total_bare:.1f} ms of CPU per message (client and "
        f"simulator), the pipeline about {total_pipe:.1f} ms, of which {web_and_sim:.1f} ms are the simulator and "
        "the web app (the simulator signing and posting two status callbacks per message, the app checking "
        "them and moving each row forward with one autocommit UPDATE); on two cores those callbacks run at the "
        "same time as the sending and take CPU from it, while the baseline's simulator only answers. The "
        "benchmark's own share is mostly the outbox writes (in its process, on the clock). The web app's share "
        "is mostly its server's: sampled with py-spy in this benchmark (the threads holding the GIL, December "
        "2026, load 7), gunicorn's own Python was about 60% of the web's CPU (its main thread, which hands each "
        "request of a kept-alive connection to a worker thread and takes the connection back, a third), Flask, "
        "werkzeug's form parsing and the signature check about 30%, the handler and its UPDATE about 10% "
        "(SQLite's own work runs without the GIL, so it is under-counted there); called "
        "in-process, a callback costs 0.175 ms, of which a minimal Flask handler checking the signature is 0.09 "
        "and the UPDATE 0.04 (see the webhook section for the rest).",
    ]


def _render_cap(data: dict) -> list[str]:
    rows = ["| sender | cap (segments/s) | load | messages / segments | sustained rate | vs. cap | most "
            "segments in any 1-s window | per second (whole seconds) |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    verdicts = []
    for label, run in (("short code, 2 workers", data["short"]), ("long code, 1 worker", data["long"])):
        ratio = run["sustained"] / run["cap"]
        seconds = run["per_second"]
        shown = ", ".join(str(n) for n in seconds[:12]) + (", ..." if len(seconds) > 12 else "")
        rows.append(f"| {label} | {run['cap']:g} | {run['load']} | {run['messages']} / {run['segments']} | "
                    f"{run['sustained']:.2f}/s | {ratio:.3f} | {run['worst_window']} | {shown} |")
        held = abs(1 - ratio) <= CAP_TOLERANCE and run["worst_window"] <= run["cap"]
        verdicts.append(f"{label}: **{'met' if held else 'missed'}** ({ratio:.1%} of the cap, at most "
                        f"{run['worst_window']} in a second)")
    return [
        "### 2. Rate cap",
        "`SMS_SEGMENTS_PER_SECOND` set for the worker processes, the rest as above; read from the simulator's "
        "timestamp of each message it accepted (its `num_segments` counted). Short code: every fifth message "
        "has two segments. Sustained rate = segments arriving in the whole seconds from the first arrival, over "
        "those seconds; the worst window is over every window [t, t+1), t any arrival. A segment holds its place "
        "in the limiter's window from the moment it is let go until a second after its request was answered "
        "(`mobilize/sms/ratelimit.py`), so the cap holds at the carrier whatever the network's jitter; a slot "
        "frees a request's duration later than a second, which is what the sustained rate gives up.",
        "\n".join(rows),
        f"Target: within {CAP_TOLERANCE:.0%} of the cap and never above it in any one-second window. "
        + "; ".join(verdicts) + ".",
    ]


# ==============================================================================================================


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child-bare":
        return _child_bare(argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]))
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sms", description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="pipeline,cap")
    parser.add_argument("--count", type=int, default=3000, help="messages per pipeline run [3000]")
    parser.add_argument("--rounds", type=int, default=4, help="pipeline runs, each between two baselines [4]")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes [mobilize up's: supervisor.Stack.worker_count]")
    parser.add_argument("--short-messages", type=int, default=800, help="messages under the 100/s cap [800]")
    parser.add_argument("--long-messages", type=int, default=8, help="messages under the 1/s cap [8]")
    parser.add_argument("--time-limit", type=float, default=900, help="abort after this many seconds [900]")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing it")
    options = parser.parse_args(argv)
    parts = {part.strip() for part in options.parts.split(",") if part.strip()}
    unknown = parts - {"pipeline", "cap"}
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))} (the webhook: python -m benchmarks.bench_webhook)")
    install_signal_handlers(options.time_limit)
    started = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="bench-sms-"))
    pipeline = cap = None
    try:
        with Children(workdir / "logs") as children:
            if "pipeline" in parts:
                pipeline = run_pipeline(workdir, children, options.count, options.rounds,
                                        options.workers or mobilize_up_workers())
            if "cap" in parts:
                cap = run_cap(workdir, children, options.short_messages, options.long_messages)
    except BaseException:
        for item in workdir.iterdir():  # keep the processes' logs only
            if item.name != "logs":
                shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)
        log(f"the processes' logs are kept in {workdir / 'logs'}")
        raise
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    command = "scripts/bench sms" if not argv or argv == ["--no-write"] else \
        "python -m benchmarks.bench_sms " + " ".join(arg for arg in argv if arg != "--no-write")
    markdown = render(pipeline, cap, command, started)
    if options.no_write:
        print(markdown)
    else:
        from benchmarks.report import write_section

        log(f"wrote {write_section('sms', markdown)}")


if __name__ == "__main__":
    main()
