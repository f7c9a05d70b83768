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
   `delivered`. Two baselines, each the same twilio client (`make_twilio_client`, one per thread as the
   sender has) sending the same N messages with as many requests in flight as one sender job keeps
   (`workers.sms.SEND_THREADS`), against the same simulator, timed until every create() returned:
   - "same requests", the target's: each create also asks for status callbacks (StatusCallback, as the
     sender's requests do) at a bare receiver (`bare_status_app`: served as the web app is, it checks the
     signature and answers 204, nothing else), so the simulator signs and posts two callbacks per message
     during the clock as it does for the pipeline; the receiver counts its answers (checked after each run);
   - "no callbacks": no StatusCallback, the simulator only answers; the ceiling for a sender that asks for
     no delivery receipts.
   Both run before the first pipeline run and after each (no callbacks, same requests, pipeline, ...); each
   pipeline run's ratio to each is to the mean of that baseline's two runs around it.
2. cap: a short code capped at 100 segments/s (some messages of two segments) and a long code at 1/s, with the
   rate read from the simulator's own message timestamps: the sustained rate, and the most segments in any
   one-second window (any start, [t, t+1)).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procs import (BenchmarkError, Child, Children, cpu_snapshot, group_cpu_seconds,
                              install_signal_handlers, self_cpu_seconds)
from benchmarks.report import median_spread
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


def _child_bare(url: str, sid: str, token: str, count: int, threads: int, callback_url: str = "") -> None:
    """A baseline, in its own process: the twilio client's create with `threads` requests in flight, each
    thread with its own client (as the sender's threads have: workers.sms._thread_gateway), taking the next
    message from a shared counter until `count` are sent. With `callback_url`, each create also asks for its
    status callbacks there, as the sender asks (StatusCallback `callback_url?mid=n`, passed as gateway.send
    passes it), and the callbacks the simulator had answered while the clock ran are counted (from its stats,
    read before and after the clock)."""
    import itertools
    from concurrent.futures import ThreadPoolExecutor

    from mobilize.sms.twilio_client import make_twilio_client

    def receipts(n: int) -> dict[str, str]:
        return {"status_callback": f"{callback_url}?mid={n}"} if callback_url else {}

    clients = [make_twilio_client(sid, token, url) for _ in range(threads)]
    for index, client in enumerate(clients):  # warm-up: the connections, the client's lazy imports
        client.messages.create(to=phone(900_000 + index), from_=SENDER, body=BODY, **receipts(900_000 + index))
    numbers = itertools.count()

    def sender(client) -> None:
        while (n := next(numbers)) < count:
            client.messages.create(to=phone(n), from_=SENDER, body=BODY, **receipts(n))

    answered = _callbacks_answered(url) if callback_url else 0
    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        cpu = self_cpu_seconds()
        for future in [pool.submit(sender, client) for client in clients]:
            future.result()
        elapsed, cpu = time.perf_counter() - started, self_cpu_seconds() - cpu
    on_clock = _callbacks_answered(url) - answered if callback_url else None
    print(json.dumps({"elapsed": elapsed, "cpu": cpu, "callbacks_on_clock": on_clock}))


def _callbacks_answered(simulator_url: str) -> int:
    """Webhooks the simulator has posted and got a 2xx for since its last reset (its dispatcher's count)."""
    from mobilize.sms.simulator.control import SimulatorControl

    return SimulatorControl(simulator_url).stats()["dispatcher"]["webhooks_sent"]


def sender_threads() -> int:
    """As many requests in flight as one sender job keeps without a cap to hold it back (workers.sms)."""
    from workers.sms import SEND_THREADS

    return SEND_THREADS


def bare_loop(stack: SmsStack, count: int, receiver: BareReceiver | None = None) -> dict:
    """A baseline run: without a receiver, no status callbacks ("no callbacks"); with one, the same requests
    as the sender's, each asking for its status callbacks at the receiver ("same requests"). Timed alike,
    until every create returned; with callbacks, the simulator's and the receiver's CPU is counted on until
    the simulator answered its last callback, as the pipeline's is until all are delivered."""
    load = load_average()
    simulator_cpu = group_cpu_seconds(stack.simulator.pid)
    receiver_cpu = group_cpu_seconds(receiver.child.pid) if receiver else 0.0
    answers = receiver_answers(receiver.counts) if receiver else {}
    command = [sys.executable, "-m", "benchmarks.bench_sms", "--child-bare", stack.simulator_url,
               stack.account_sid, stack.auth_token, str(count), str(sender_threads())]
    if receiver:
        command.append(receiver.url + "/twilio/status")
    result = subprocess.run(command, cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=300)
    if result.returncode:
        raise BenchmarkError(f"the bare loop failed:\n{result.stderr[-3000:]}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    run = {"rate": count / data["elapsed"], "elapsed": data["elapsed"], "load": load,
           "cpu_ms": {"client": 1000 * data["cpu"] / count}}
    if receiver:
        # one `sent` and one `delivered` callback per message, the warm-up's included
        run["callbacks"] = _drain_callbacks(stack, receiver, answers, 2 * (count + sender_threads()),
                                            data["callbacks_on_clock"])
        run["cpu_ms"]["receiver"] = 1000 * (group_cpu_seconds(receiver.child.pid) - receiver_cpu) / count
    run["cpu_ms"]["simulator"] = 1000 * (group_cpu_seconds(stack.simulator.pid) - simulator_cpu) / count
    stack.control().reset()
    return run


# ==============================================================================================================
# the bare receiver: the status callbacks' own cost, without the app's work

RECEIVER_APP = "benchmarks.bench_sms:bare_status_app()"
COUNTS_ENV = "BENCH_RECEIVER_COUNTS"  # the folder where each receiver process writes its answers' counts
COUNTS_FLUSH_S = 0.2


@dataclass
class BareReceiver:
    child: Child
    url: str  # its public URL, as the simulator posts to it and signs it
    counts: Path


def start_bare_receiver(stack: SmsStack, counts: Path) -> BareReceiver:
    counts.mkdir(parents=True, exist_ok=True)
    child, url = stack.start_receiver("receiver", RECEIVER_APP, **{COUNTS_ENV: str(counts)})
    return BareReceiver(child, url, counts)


def bare_status_app():
    """The status callbacks' receiver at its barest: Flask, `/twilio/status` checking the signature as mobilize
    checks it (twilio's RequestValidator over the public URL with the path and the query string as sent, the
    form and the header: one HMAC first, `validate` only if that fails) and answering 204 with no body;
    nothing read, stored or queued. As `benchmarks.bench_webhook.bare_webhook_app` does for the inbound
    webhook (gunicorn: RECEIVER_APP; TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL from the environment). Every answer
    is counted by its status code (_Tally), so that the benchmark can check that the callbacks came and passed."""
    import hmac

    from flask import Flask, Response, request
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    public_url = os.environ["PUBLIC_BASE_URL"].rstrip("/")
    tally = _Tally(Path(os.environ[COUNTS_ENV]) / f"{os.getpid()}.json")  # the app is made in each worker
    app = Flask("bare_status")

    @app.post("/twilio/status")
    def status():
        query = request.query_string.decode()
        url = public_url + request.path + (f"?{query}" if query else "")
        signature = request.headers.get("X-Twilio-Signature", "")
        valid = (hmac.compare_digest(validator.compute_signature(url, request.form).encode(), signature.encode())
                 or validator.validate(url, request.form, signature))
        response = Response(status=204 if valid else 403)
        del response.headers["Content-Type"]  # as the app answers: no body, no type
        return response

    @app.after_request
    def count(response):  # every answer, errors (404, 500) included
        tally.add(response.status_code)
        return response

    return app


class _Tally:
    """One receiver process's answers by status code, written to `path` (a temporary file, then renamed) by a
    daemon thread every COUNTS_FLUSH_S while they change: a request only adds one under a lock, so the
    counting costs the receiver nothing worth measuring, and the benchmark reads every process's file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.counts: dict[int, int] = {}
        threading.Thread(target=self._flush, name="tally", daemon=True).start()

    def add(self, status: int) -> None:
        with self.lock:
            self.counts[status] = self.counts.get(status, 0) + 1

    def _flush(self) -> None:
        written: dict[int, int] = {}
        while True:
            time.sleep(COUNTS_FLUSH_S)
            with self.lock:
                counts = dict(self.counts)
            if counts != written:
                temporary = self.path.with_suffix(".tmp")
                temporary.write_text(json.dumps(counts))
                temporary.replace(self.path)
                written = counts


def receiver_answers(counts: Path) -> dict[str, int]:
    """The receiver's answers so far by status code, its processes added up."""
    total: dict[str, int] = {}
    for path in counts.glob("*.json"):
        for status, number in json.loads(path.read_text()).items():
            total[status] = total.get(status, 0) + number
    return total


def _drain_callbacks(stack: SmsStack, receiver: BareReceiver, before: dict[str, int], expected: int,
                     on_clock: int) -> dict:
    """After a same-requests run: until the simulator has nothing pending (its last callback answered), then
    until the receiver's counts show them (written every COUNTS_FLUSH_S); the run's callbacks, checked."""
    control = stack.control()
    if not control.wait_idle(timeout=120):
        raise BenchmarkError("the bare loop's status callbacks were still pending after 120 s")
    dispatcher = control.stats()["dispatcher"]
    deadline = time.monotonic() + 10 * COUNTS_FLUSH_S
    while True:
        answers = {status: number - before.get(status, 0)
                   for status, number in receiver_answers(receiver.counts).items()}
        if sum(answers.values()) >= expected or time.monotonic() > deadline:
            break
        time.sleep(COUNTS_FLUSH_S / 2)
    callbacks = {"expected": expected, "on_clock": on_clock, "answered": answers.get("204", 0),
                 "other": {status: number for status, number in answers.items() if status != "204" and number},
                 "failed": dispatcher["webhooks_failed"], "retries": dispatcher["webhook_retries"]}
    if callbacks["answered"] != expected or callbacks["other"] or callbacks["failed"] or callbacks["retries"]:
        log(f"WARNING: the bare receiver answered 204 to {callbacks['answered']} of {expected} callbacks; "
            f"other answers {callbacks['other']}, the simulator's failed {callbacks['failed']}, retried "
            f"{callbacks['retries']} (receiver log: {receiver.child.log_path})")
    return callbacks


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
                    on_clock = _callbacks_answered(stack.simulator_url)  # since the reset before the run
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
    stack.control().wait_idle(timeout=30)  # the last callback's answer counted (the row changed before it)
    dispatcher = stack.control().stats()["dispatcher"]
    callbacks = {"expected": 2 * count, "on_clock": on_clock, "answered": dispatcher["webhooks_sent"],
                 "failed": dispatcher["webhooks_failed"], "retries": dispatcher["webhook_retries"]}
    cpu_after = _cpu(stack)
    cpu_ms = {}
    for name, value in cpu_after.items():
        group = "worker" if name.startswith("worker-") else name
        cpu_ms[group] = cpu_ms.get(group, 0.0) + 1000 * (value - cpu_before.get(name, 0.0)) / count
    return {"count": count, "t_sid": t_sid, "rate": count / t_sid, "t_delivered": t_delivered, "t_written": t_written,
            "statuses": {status.value: number for status, number in statuses.items()}, "cpu_ms": cpu_ms,
            "callbacks": callbacks,
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
    """Interleaved: the two baselines (no callbacks, then the same requests), pipeline, the two baselines,
    pipeline, ..., the two baselines; each pipeline run's ratio to each kind of baseline is to the mean of that
    kind's runs just before and after it."""
    stack = SmsStack(workdir / "pipeline", children)
    try:
        stack.start_redis()
        stack.migrate()
        stack.start_simulator(time_scale=1.0)
        stack.start_web()
        receiver = start_bare_receiver(stack, workdir / "pipeline" / "receiver-counts")
        bare_loop(stack, 200)  # warm the simulator up (its first requests build its Flask app, caches...)
        bare_loop(stack, 200, receiver)  # and the receiver (gunicorn listens before its workers load the app)
        bares, sames = _baselines(stack, count, receiver, [], [])
        runs = []
        stack.start_workers(workers)
        for _round in range(rounds):
            load = load_average()
            run = pipeline_run(stack, count)
            stack.children.check_alive()
            stack.control().reset()
            _baselines(stack, count, receiver, bares, sames)
            baseline = (bares[-2]["rate"] + bares[-1]["rate"]) / 2
            same = (sames[-2]["rate"] + sames[-1]["rate"]) / 2
            run.update(workers=workers, baseline=baseline, ratio=run["rate"] / baseline, baseline_same=same,
                       ratio_same=run["rate"] / same, load=load)
            runs.append(run)
            log(f"pipeline: {run['rate']:.0f} msg/s to SID ({run['t_sid']:.2f} s, the rows written in "
                f"{run['t_written']:.2f} s), all delivered after {run['t_delivered']:.1f} s; ratio "
                f"{run['ratio_same']:.2f} to the same requests, {run['ratio']:.2f} to no callbacks; CPU ms/msg "
                f"{_fmt_cpu(run['cpu_ms'])}")
        stack.stop_workers()
        return {"bares": bares, "bares_same": sames, "runs": runs, "count": count, "threads": sender_threads(),
                "workers": workers}
    finally:
        stack.close()


def _baselines(stack: SmsStack, count: int, receiver: BareReceiver, bares: list[dict],
               sames: list[dict]) -> tuple[list[dict], list[dict]]:
    """One run of each baseline, appended to its list."""
    bares.append(bare_loop(stack, count))
    sames.append(bare_loop(stack, count, receiver))
    callbacks = sames[-1]["callbacks"]
    log(f"baselines: no callbacks {bares[-1]['rate']:.0f} msg/s; same requests {sames[-1]['rate']:.0f} msg/s "
        f"({callbacks['on_clock']} callbacks answered on the clock, {callbacks['answered']}/"
        f"{callbacks['expected']} in all; CPU ms/msg {_fmt_cpu(sames[-1]['cpu_ms'])})")
    return bares, sames


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
             "threads) receiving the simulator's signed status callbacks, a bare receiver of those callbacks "
             "served the same way (for a baseline), and `mobilize up`'s number of `mobilize worker` processes. "
             "Each figure is measured beside its baseline in the same run. The inbound webhook is measured in the "
             "next section (`scripts/bench webhook`).",
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
    rows = ["| run | load | messages/s to SID | vs. same requests | vs. no callbacks | rows written | all SIDs | "
            "all delivered | callbacks answered: on the clock / in all / not 2xx | CPU ms per message (sim / web "
            "or receiver / workers or client / Redis / bench) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for index, (bare, same) in enumerate(zip(data["bares"], data["bares_same"])):
        rows.append(f"| baseline #{index + 1}, no callbacks | {bare['load']} | {bare['rate']:.0f} | | | | "
                    f"{bare['elapsed']:.2f} s | | – | {bare['cpu_ms']['simulator']:.2f} / – / client "
                    f"{bare['cpu_ms']['client']:.2f} / – / – |")
        cpu = same["cpu_ms"]
        rows.append(f"| baseline #{index + 1}, same requests | {same['load']} | {same['rate']:.0f} | | | | "
                    f"{same['elapsed']:.2f} s | | {_fmt_callbacks(same['callbacks'])} | {cpu['simulator']:.2f} / "
                    f"receiver {cpu['receiver']:.2f} / client {cpu['client']:.2f} / – / – |")
        if index < len(runs):
            run, cpu = runs[index], runs[index]["cpu_ms"]
            rows.append(f"| pipeline #{index + 1} | {run['load']} | {run['rate']:.0f} | **{run['ratio_same']:.2f}** "
                        f"| {run['ratio']:.2f} | {run['t_written']:.2f} s | {run['t_sid']:.2f} s | "
                        f"{run['t_delivered']:.1f} s | {_fmt_callbacks(run['callbacks'])} | "
                        f"{cpu.get('simulator', 0):.2f} / {cpu.get('web', 0):.2f} / {cpu.get('worker', 0):.2f} / "
                        f"{cpu.get('redis', 0):.2f} / {cpu.get('benchmark', 0):.2f} |")
    ratios_same = [run["ratio_same"] for run in runs]
    met = statistics.median(ratios_same) >= TARGET_PIPELINE_RATIO
    # what the callbacks alone cost the sending: each same-requests run against the no-callback run just before
    callbacks_cost = [same["rate"] / bare["rate"] for bare, same in zip(data["bares"], data["bares_same"])]
    total_bare = statistics.mean(sum(bare["cpu_ms"].values()) for bare in data["bares"])
    total_same = statistics.mean(sum(same["cpu_ms"].values()) for same in data["bares_same"])
    receiver_and_sim = statistics.mean(same["cpu_ms"]["simulator"] + same["cpu_ms"]["receiver"]
                                       for same in data["bares_same"])
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
        f"Two baselines, each the same twilio client (`make_twilio_client`, one per thread as the sender's "
        f"threads have) sending the same {count:,} messages with {threads} requests in flight, as many as one "
        "sender job keeps (`workers.sms.SEND_THREADS`, read by the benchmark), against the same simulator, timed "
        "as the pipeline is, until every `create` returned (its SID). **Same requests**, the target's baseline: "
        "each `create` also asks for its delivery receipts as the sender's do (a `StatusCallback` URL with the "
        "message's id), at a bare receiver served exactly as the web app is (gunicorn, gthread, the same "
        "processes and threads) whose `/twilio/status` only checks the signature with twilio's "
        "`RequestValidator` and answers 204 (`bare_status_app` in `benchmarks/bench_sms.py`): the simulator "
        "signs and posts the same two callbacks per message while the clock runs, on the same two cores, and "
        "what is left between this baseline and the pipeline is the service's own work. **No callbacks**: the "
        "same messages without a `StatusCallback`, so the simulator only answers; the ceiling for a sender that "
        "asks for no delivery receipts. Interleaved: both baselines before the first pipeline run and after "
        "each, each ratio to the mean of that baseline's two runs around its pipeline run. Callbacks answered "
        "are counted by the simulator (with a 2xx, while the clock ran and in all; a baseline's include its "
        f"warm-up's {2 * threads}), and by the bare receiver by status; \"not 2xx\" adds up the receiver's other "
        "answers and the simulator's failed and retried posts. The same-requests baseline's simulator and "
        "receiver CPU is counted until its last callback was answered, as the pipeline's until all are "
        "delivered.",
        "\n".join(rows),
        f"Target: at least {TARGET_PIPELINE_RATIO} of the same-requests baseline. "
        f"**{'Met' if met else 'Missed'}**: median {median_spread(ratios_same, 2)} over {len(runs)} runs. "
        "Against the no-callback baseline, the ceiling for a sender that asks for no delivery receipts: median "
        f"{median_spread([run['ratio'] for run in runs], 2)}. What the callbacks alone cost the sending: the same "
        f"requests ran at a median {median_spread(callbacks_cost, 2)} of the no-callback rate (each run against "
        "the no-callback run just before it).",
        f"Where the CPU goes: the no-callback baseline costs about {total_bare:.1f} ms of CPU per message (client "
        f"and simulator), the same-requests baseline about {total_same:.1f} ms (client, simulator and bare "
        f"receiver, {receiver_and_sim:.1f} ms of it the simulator and the receiver), the pipeline about "
        f"{total_pipe:.1f} ms, of which {web_and_sim:.1f} ms are the simulator and the web app (the simulator "
        "signing and posting two status callbacks per message, the app checking them and moving each row "
        "forward with one autocommit UPDATE); on two cores those callbacks run at the same time as the sending "
        "and take CPU from it, while the no-callback baseline's simulator only answers. The "
        "benchmark's own share is mostly the outbox writes (in its process, on the clock). The web app's share "
        "is mostly its server's: sampled with py-spy in this benchmark (the threads holding the GIL, December "
        "2026, load 7), gunicorn's own Python was about 60% of the web's CPU (its main thread, which hands each "
        "request of a kept-alive connection to a worker thread and takes the connection back, a third), Flask, "
        "werkzeug's form parsing and the signature check about 30%, the handler and its UPDATE about 10% "
        "(SQLite's own work runs without the GIL, so it is under-counted there); called "
        "in-process, a callback costs 0.175 ms, of which a minimal Flask handler checking the signature is 0.09 "
        "and the UPDATE 0.04 (see the webhook section for the rest).",
    ]


def _fmt_callbacks(callbacks: dict) -> str:
    """on the clock / in all / not 2xx (the receiver's other answers, the simulator's failed and retried)."""
    bad = sum(callbacks.get("other", {}).values()) + callbacks["failed"] + callbacks["retries"]
    answered = f"{callbacks['answered']:,}" + ("" if callbacks["answered"] == callbacks["expected"]
                                               else f" of {callbacks['expected']:,}")
    return f"{callbacks['on_clock']:,} / {answered} / {bad}" + (" ⚠" if bad else "")


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
        return _child_bare(argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]), *argv[6:7])
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
