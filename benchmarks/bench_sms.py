"""Benchmark of the SMS channel on a live stack of real processes, every figure beside its baseline from the same
run.

    python -m benchmarks.bench_sms [--parts pipeline,cap,webhook] [--count N] [--workers 1,2,4]
                                   [--duration S] [--postgres URL | --no-postgres] [--no-write]

All on this machine, over loopback: embedded Redis (`mobilize.embedded_redis`) and a migrated SQLite file in a
temporary folder, `mobilize simulator` (gunicorn), the web app under gunicorn as `mobilize up` runs it, and
`mobilize worker` processes. Every process it starts is in its own process group and is stopped at the end,
also on an error, Ctrl-C, SIGTERM or the time limit (--time-limit, 15 minutes by default).

1. pipeline: N messages queued through the outbox in one transaction, whose commit kicks the sender; the rate
   is N / (time from that commit until all N rows have a Twilio SID), with the simulator's status callbacks
   flowing back into the app meanwhile; also the time until all N are `delivered`. Baseline: a bare loop of
   `make_twilio_client(...).messages.create` (one thread, no status callback) against the same simulator, run
   before and after each pipeline run; the ratio is to the mean of those two.
2. cap: a short code capped at 100 segments/s (some messages of two segments) and a long code at 1/s, with the
   rate read from the simulator's own message timestamps: the sustained rate, and the most segments in any
   one-second window (any start, [t, t+1)).
3. webhook: `wrk` against POST /twilio/sms, every request validly signed with a unique MessageSid (pre-signed
   bodies cycled by a Lua script), against mobilize's app and a bare Flask handler (signature check, INSERT,
   Redis push; `bare_webhook_app` below) served the same way, on SQLite and, when reachable, PostgreSQL (a
   private database created for the run and dropped after). Needs wrk: `apt-get install wrk`.
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
import time
from pathlib import Path

from benchmarks.procs import (BenchmarkError, Children, cpu_snapshot, free_port, group_cpu_seconds,
                              install_signal_handlers, self_cpu_seconds)
from benchmarks.sms_stack import ROOT, SENDER, SmsStack

BODY = "【应急志愿】八大关街道#27：明早8点太平角检测点需要10人，回复Y27参加，N27不参加"  # 1 UCS-2 segment
LONG_BODY = BODY + "。集合地点：太平角一路与正阳关路交叉口东北角，请携带身份证、志愿者证、口罩和饮用水，着装整齐，提前十分钟到达。"
PUBLIC_URL = "https://mobilize.example.org"  # what the webhook benchmark's requests are signed for
WEBHOOK_WORKERS = 3
WEBHOOK_THREADS = 4
WRK_THREADS = 2
WRK_CONNECTIONS = 12
TARGET_PIPELINE_RATIO = 0.7
TARGET_WEBHOOK_RATIO = 0.5
TARGET_WEBHOOK_P99_MS = 50.0
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


def _child_bare(url: str, sid: str, token: str, count: int) -> None:
    """The baseline, in its own process: the twilio client's create, in a loop, one thread."""
    from mobilize.sms.twilio_client import make_twilio_client

    client = make_twilio_client(sid, token, url)
    for n in range(20):  # warm-up: the connection, the client's lazy imports
        client.messages.create(to=phone(900_000 + n), from_=SENDER, body=BODY)
    started = time.perf_counter()
    cpu = self_cpu_seconds()
    for n in range(count):
        client.messages.create(to=phone(n), from_=SENDER, body=BODY)
    print(json.dumps({"elapsed": time.perf_counter() - started, "cpu": self_cpu_seconds() - cpu}))


def bare_loop(stack: SmsStack, count: int) -> dict:
    simulator_cpu = group_cpu_seconds(stack.simulator.pid)
    result = subprocess.run([sys.executable, "-m", "benchmarks.bench_sms", "--child-bare", stack.simulator_url,
                             stack.account_sid, stack.auth_token, str(count)],
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
    with runtime.transaction() as session:
        for n in range(count):
            outbox.queue_message(session, body=BODY, kind="invitation", priority=Priority.bulk, to_phone=phone(n))
        session.flush()
        cpu_before = _cpu(stack)
        kicked = time.perf_counter()  # the commit (at the end of this block) kicks the sender
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
    return {"count": count, "t_sid": t_sid, "rate": count / t_sid, "t_delivered": t_delivered,
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


def run_pipeline(workdir: Path, children: Children, count: int, worker_counts: list[int]) -> dict:
    stack = SmsStack(workdir / "pipeline", children)
    try:
        stack.start_redis()
        stack.migrate()
        stack.start_simulator(time_scale=1.0)
        stack.start_web()
        bare_loop(stack, 200)  # warm the simulator up (its first requests build its Flask app, caches...)
        bares = [bare_loop(stack, count)]
        log(f"bare loop: {bares[-1]['rate']:.0f} msg/s")
        runs = []
        for workers in worker_counts:
            stack.start_workers(workers)
            load = load_average()
            run = pipeline_run(stack, count)
            stack.stop_workers()
            stack.control().reset()
            bares.append(bare_loop(stack, count))
            baseline = (bares[-2]["rate"] + bares[-1]["rate"]) / 2
            run.update(workers=workers, baseline=baseline, ratio=run["rate"] / baseline, load=load)
            runs.append(run)
            log(f"pipeline, {workers} worker(s): {run['rate']:.0f} msg/s to SID ({run['t_sid']:.1f} s), all "
                f"delivered after {run['t_delivered']:.1f} s; bare loop {bares[-1]['rate']:.0f} msg/s; "
                f"ratio {run['ratio']:.2f}; CPU ms/msg {_fmt_cpu(run['cpu_ms'])}")
        return {"bares": bares, "runs": runs, "count": count}
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
# 3. the inbound webhook against a bare Flask handler


def bare_webhook_app():
    """The baseline: a Flask app that checks the signature, inserts the row and pushes its id to Redis, nothing
    else (gunicorn: `benchmarks.bench_sms:bare_webhook_app()`; DATABASE_URL, REDIS_URL, TWILIO_AUTH_TOKEN,
    PUBLIC_BASE_URL from the environment, like the real app)."""
    import threading
    from datetime import datetime, timezone

    from flask import Flask, Response, abort, request
    from redis import Redis
    from twilio.request_validator import RequestValidator

    database_url = os.environ["DATABASE_URL"]
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    public_url = os.environ["PUBLIC_BASE_URL"].rstrip("/")
    redis = Redis.from_url(os.environ["REDIS_URL"])
    local = threading.local()
    empty_twiml = '<?xml version="1.0" encoding="UTF-8"?><Response />'
    if database_url.startswith("sqlite"):
        import sqlite3

        path = database_url.split(":///", 1)[1]
        insert = ("INSERT INTO inbound_messages (message_sid, from_phone, to_phone, body, received_at) "
                  "VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_sid) DO NOTHING RETURNING id")

        def connect():
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)  # autocommit
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
                connection.execute(f"PRAGMA {pragma}")
            return connection
    else:
        import psycopg

        conninfo = database_url.replace("postgresql+psycopg://", "postgresql://")
        insert = ("INSERT INTO inbound_messages (message_sid, from_phone, to_phone, body, received_at) "
                  "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (message_sid) DO NOTHING RETURNING id")

        def connect():
            return psycopg.connect(conninfo, autocommit=True)

    app = Flask("bare_webhook")

    @app.post("/twilio/sms")
    def inbound():
        form = request.form
        if not validator.validate(public_url + request.path, form, request.headers.get("X-Twilio-Signature", "")):
            abort(403)
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = connect()
        row = connection.execute(insert, (form["MessageSid"], form["From"], form.get("To", ""),
                                          form.get("Body", ""), datetime.now(timezone.utc))).fetchone()
        if row is not None:
            redis.rpush("bench:inbound", row[0])
        return Response(empty_twiml, mimetype="application/xml")

    return app


WRK_SCRIPT = r"""
-- Cycles through pre-signed requests: thread k of n takes lines k, k+n, k+2n... of the file given after --.
local counter = 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local path, threads = args[1], tonumber(args[2])
  requests = {}
  local index = 0
  for line in io.lines(path) do
    if index % threads == id - 1 then
      local signature, body = line:match("^([^\t]+)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", "/twilio/sms", {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body)
    end
    index = index + 1
  end
  position = 0
end

function request()
  position = position + 1
  if position > #requests then
    position = 1  -- ran out: requests repeat (the benchmark finds that out and says so)
  end
  return requests[position]
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"mean_us": %.1f, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, ' ..
    '"timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout))
end
"""


def write_signed_bodies(path: Path, count: int, token: str) -> None:
    """`count` inbound-SMS form bodies, each with its own MessageSid, signed for PUBLIC_URL/twilio/sms."""
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    validator = RequestValidator(token)
    url = PUBLIC_URL + "/twilio/sms"
    replies = ["Y27", "N27", "是27", "好的", "1 27", "不能参加", "到", "TD"]
    with path.open("w") as stream:
        for n in range(count):
            sid = f"SM{n:032x}"
            form = {"ToCountry": "CN", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
                    "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
                    "Body": replies[n % len(replies)], "FromCountry": "CN", "To": SENDER, "ToZip": "",
                    "NumSegments": "1", "MessageSid": sid, "AccountSid": "AC" + "5" * 32, "From": phone(n),
                    "ApiVersion": "2010-04-01"}
            stream.write(validator.compute_signature(url, form) + "\t" + urlencode(form) + "\n")


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise BenchmarkError("the webhook benchmark needs wrk: install it with `apt-get install wrk` (Debian/Ubuntu) "
                             "or run the other parts with --parts pipeline,cap")
    return found


def run_wrk(port: int, script: Path, bodies: Path, duration: float) -> dict:
    command = [wrk_binary(), "-t", str(WRK_THREADS), "-c", str(WRK_CONNECTIONS), "-d", f"{duration:.0f}s",
               "--latency", "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}/twilio/sms", "--",
               str(bodies), str(WRK_THREADS)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("WRKJSON ")]
    if result.returncode or not lines:
        raise BenchmarkError(f"wrk failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    data = json.loads(lines[-1][len("WRKJSON "):])
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def warm_up(port: int, script: Path, bodies: Path, probes: int = 20) -> None:
    """Load the server in 1-s wrk probes until two in a row agree within 15%: gunicorn listens before its
    workers have imported the app (seconds on a busy machine), and the first requests of each worker connect
    to the database and Redis and fill SQLAlchemy's caches."""
    previous = None
    for _probe in range(probes):
        rate = run_wrk(port, script, bodies, 1)["rps"]
        if previous and abs(rate - previous) <= 0.15 * max(rate, previous):
            return
        previous = rate
    log(f"the server on port {port} did not settle after {probes} s of warm-up; measuring anyway")


def webhook_run(workdir: Path, children: Children, kind: str, database_url: str, redis_url: str,
                bodies: Path, script: Path, duration: float, token: str, worker_class: str) -> dict:
    """Serve one app (kind: "mobilize" or "bare") on a fresh database, load it with wrk, check the rows."""
    from sqlalchemy import create_engine, func, select, text

    from mobilize.db import normalise_url
    from mobilize.models import InboundMessage

    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TWILIO_", "SMS_", "SIMULATOR_", "MOBILIZE_"))}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TWILIO_AUTH_TOKEN=token,
               TWILIO_ACCOUNT_SID="AC" + "5" * 32, PUBLIC_BASE_URL=PUBLIC_URL, SMS_BACKEND="simulator",
               SIMULATOR_URL="http://127.0.0.1:9", MOBILIZE_INSTANCE_PATH=str(workdir / "instance"),
               SECRET_KEY="bench", LOG_LEVEL="WARNING", MOBILIZE_ENV_FILE=str(workdir / "no.env"),
               PYTHONPATH=str(ROOT))
    app = "mobilize.app:create_app()" if kind == "mobilize" else "benchmarks.bench_sms:bare_webhook_app()"
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(WEBHOOK_WORKERS),
               "--worker-class", worker_class, "--graceful-timeout", "5", "--no-control-socket",
               "--backlog", "2048", app]
    if worker_class == "gthread":
        command[-1:-1] = ["--threads", str(WEBHOOK_THREADS)]
    web = children.start(f"webhook-{kind}", command, env, cwd=ROOT)
    try:
        children.wait_port(port, web)
        warm_up(port, script, bodies)
        engine = create_engine(normalise_url(database_url))
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM inbound_messages"))
        from redis import Redis

        Redis.from_url(redis_url).flushdb()
        cpu_before = group_cpu_seconds(web.pid)
        load = load_average()
        result = run_wrk(port, script, bodies, duration)
        cpu = group_cpu_seconds(web.pid) - cpu_before
        with engine.connect() as connection:
            stored = connection.scalar(select(func.count()).select_from(InboundMessage.__table__))
        engine.dispose()
    finally:
        children.stop(web)
    result.update(kind=kind, stored=stored, load=load, cpu_ms=1000 * cpu / max(1, result["requests"]))
    return result


def run_webhook(workdir: Path, children: Children, duration: float, postgres_url: str | None,
                worker_class: str, rounds: int) -> dict:
    from mobilize.embedded_redis import EmbeddedRedis
    from mobilize.migrate import upgrade

    wrk_binary()
    token = "bench-webhook-token-0123456789abcdef"
    script = workdir / "webhook.lua"
    script.write_text(WRK_SCRIPT)
    # enough unique requests for the fastest of the runs (5,000/s would be more than twice the target machine's)
    bodies = workdir / "webhook-bodies.txt"
    write_signed_bodies(bodies, int(5000 * (duration + 2)), token)
    redis = EmbeddedRedis(workdir / "webhook-instance").start()
    databases = {"SQLite": None}
    if postgres_url:
        databases["PostgreSQL"] = postgres_url
    results: dict[str, list] = {}
    try:
        for label, server_url in databases.items():
            private = None
            if label == "SQLite":
                url = f"sqlite:///{workdir / 'webhook.db'}"
            else:
                private, url = create_private_postgres(server_url)
            try:
                upgrade(url)
                for _round in range(rounds):
                    for kind in ("bare", "mobilize"):
                        run = webhook_run(workdir, children, kind, url, redis.url, bodies, script, duration, token,
                                          worker_class)
                        run["database"] = label
                        results.setdefault(label, []).append(run)
                        log(f"webhook {label} {kind}: {run['rps']:.0f} req/s, p50 {run['p50_us'] / 1000:.1f} ms, "
                            f"p99 {run['p99_us'] / 1000:.1f} ms, {run['stored']} rows for {run['requests']} "
                            f"requests, {run['status_errors']} non-2xx, CPU {run['cpu_ms']:.2f} ms/req")
            finally:
                if private:
                    drop_private_postgres(server_url, private)
    finally:
        redis.stop()
    return {"results": results, "worker_class": worker_class, "duration": duration}


def create_private_postgres(server_url: str) -> tuple[str, str]:
    import psycopg

    name = f"mobilize_bench_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = server_url.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def drop_private_postgres(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reachable(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means: skip PostgreSQL, and say so
        return False


# ==============================================================================================================
# the report


def render(pipeline: dict | None, cap: dict | None, webhook: dict | None, command: str, started: float) -> str:
    from benchmarks.report import machine_description

    parts = ["## SMS channel: send pipeline, rate cap, inbound webhook",
             "All on one machine over loopback, each process real and separate as in `mobilize up`: embedded "
             "Redis (unix socket) and a migrated SQLite file in a temporary folder, `mobilize simulator` "
             "(gunicorn, one gthread worker), the web app under gunicorn (2 workers, gthread, `mobilize up`'s "
             "thread count) receiving the simulator's signed status callbacks, and `mobilize worker` processes. "
             "Each figure is measured beside its baseline in the same run.",
             f"Machine: {machine_description()}. The machine is shared: the load average (1 min) when each "
             "figure was taken is shown beside it; figures taken under load other than ours are noisy, the "
             "ratios less so.",
             f"Reproduce: `{command}` (about {max(1, round((time.time() - started) / 60))} minutes; "
             "`python -m benchmarks.bench_sms --parts pipeline,cap,webhook` for some, `--help` for sizes; the "
             "webhook part needs wrk: `apt-get install wrk`, and uses PostgreSQL at 127.0.0.1:5432 when it "
             "answers, `--postgres URL` or `--no-postgres` otherwise)."]
    if pipeline:
        parts += _render_pipeline(pipeline)
    if cap:
        parts += _render_cap(cap)
    if webhook:
        parts += _render_webhook(webhook)
    return "\n\n".join(parts)


def _render_pipeline(data: dict) -> list[str]:
    from workers.sms import SEND_THREADS

    count = data["count"]
    bare = [run["rate"] for run in data["bares"]]
    rows = ["| run | load | messages/s to SID | vs. bare loop | all SIDs | all delivered | CPU ms per message "
            "(sim / web / workers / Redis / bench) |", "|---|---:|---:|---:|---:|---:|---|"]
    for index, run in enumerate(data["bares"]):
        rows.append(f"| bare loop #{index + 1} (baseline) | | {run['rate']:.0f} | | {run['elapsed']:.1f} s | | "
                    f"{run['cpu_ms']['simulator']:.2f} / – / client {run['cpu_ms']['client']:.2f} / – / – |")
    for run in data["runs"]:
        cpu = run["cpu_ms"]
        rows.append(f"| pipeline, {run['workers']} worker process{'es' if run['workers'] > 1 else ''} | "
                    f"{run['load']} | {run['rate']:.0f} | **{run['ratio']:.2f}** | {run['t_sid']:.1f} s | "
                    f"{run['t_delivered']:.1f} s | {cpu.get('simulator', 0):.2f} / {cpu.get('web', 0):.2f} / "
                    f"{cpu.get('worker', 0):.2f} / {cpu.get('redis', 0):.2f} / {cpu.get('benchmark', 0):.2f} |")
    best = max(data["runs"], key=lambda run: run["ratio"])
    worst = min(data["runs"], key=lambda run: run["ratio"])
    met = worst["ratio"] >= TARGET_PIPELINE_RATIO
    total_bare = statistics.mean(run["cpu_ms"]["simulator"] + run["cpu_ms"]["client"] for run in data["bares"])
    total_pipe = statistics.mean(sum(run["cpu_ms"].values()) for run in data["runs"])
    return [
        "### 1. Send pipeline, no cap",
        f"{count:,} one-segment messages (UCS-2) to distinct numbers, queued with `outbox.queue_message` in one "
        "transaction whose commit kicks the sender (`SMS_SEGMENTS_PER_SECOND=1000000`, priority bulk). Rate = "
        f"{count:,} / time from that commit until all {count:,} rows have a Twilio SID. Meanwhile the simulator "
        "(time scale 1: `sent` 0.5 s after acceptance, `delivered` 2 s later) posts two signed status callbacks "
        "per message to `/twilio/status`, which update the rows; \"all delivered\" is when the last row reached "
        "`delivered`. Baseline: a bare loop of `make_twilio_client(...).messages.create(to, from_, body)` in one "
        f"thread (no status callback), {count:,} calls, run before and after every pipeline run; each ratio is "
        f"to the mean of those two (bare loop: {min(bare):.0f} to {max(bare):.0f} msg/s in this run).",
        "\n".join(rows),
        f"Target: at least {TARGET_PIPELINE_RATIO} of the bare loop. **{'Met' if met else 'Missed'}**: "
        f"{worst['ratio']:.2f} to {best['ratio']:.2f} across the worker counts (their order is also the order "
        f"of the runs, so a change of the machine's load shows). One sender job keeps up to {SEND_THREADS} "
        "requests in flight (threads, `SEND_THREADS` in `workers/sms.py`), and there is one sender job per "
        "priority, so "
        "more worker processes do not send faster: they stay free for inbound replies and the other queues.",
        f"Where the CPU goes: the bare loop costs about {total_bare:.1f} ms of CPU per message (client and "
        f"simulator), the pipeline about {total_pipe:.1f} ms, most of the difference the two status callbacks per "
        "message on both ends (the simulator signs them and posts them on kept-alive `http.client` connections; "
        "the app checks the signature, moves the row forward with one autocommit UPDATE and adds the message "
        "to the command center's coalesced live event, at most one per 200 ms per process). The sender claims "
        "its next batch before the current one runs dry (waiting for a batch's last requests left most of its "
        "threads idle for a round trip every 100 messages), records SIDs with one executemany UPDATE per 25 "
        "and, with no cap to speak of, reserves rate-limit segments 32 at a time (`BlockLimiter`). On two "
        "cores the CPU sets the ceiling, and the callbacks trail the sending: the `delivered` callbacks of the "
        "last seconds' messages land after the last SID. The benchmark reads its progress on a raw connection "
        "outside any transaction (through a session each of its 50 polls a second took SQLite's write lock).",
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


def _render_webhook(data: dict) -> list[str]:
    rows = ["| database | handler | load | requests/s | vs. bare | p50 | p99 | max | rows stored / requests | "
            "non-2xx | server CPU ms/request |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    verdicts = []
    for label, runs in data["results"].items():
        bare = statistics.median(run["rps"] for run in runs if run["kind"] == "bare")
        bare_p99 = statistics.median(run["p99_us"] for run in runs if run["kind"] == "bare")
        for run in runs:
            name = "bare Flask handler (baseline)" if run["kind"] == "bare" else "mobilize `/twilio/sms`"
            rows.append(f"| {label} | {name} | {run['load']} | {run['rps']:.0f} | {run['rps'] / bare:.2f} | "
                        f"{run['p50_us'] / 1000:.1f} ms | {run['p99_us'] / 1000:.1f} ms | "
                        f"{run['max_us'] / 1000:.0f} ms | {run['stored']} / {run['requests']} | "
                        f"{run['status_errors']} | {run['cpu_ms']:.2f} |")
        ours = [run for run in runs if run["kind"] == "mobilize"]
        rps = statistics.median(run["rps"] for run in ours)
        p99 = statistics.median(run["p99_us"] for run in ours) / 1000
        ratio = rps / bare
        met = ratio >= TARGET_WEBHOOK_RATIO and p99 < TARGET_WEBHOOK_P99_MS
        tail = (" — the bare handler's p99 is over the target too: the tail is the machine's load here"
                if bare_p99 / 1000 >= TARGET_WEBHOOK_P99_MS else "")
        verdicts.append(f"{label}: **{'met' if met else 'missed'}**, {ratio:.2f} of the bare handler's "
                        f"{bare:.0f} req/s (medians), p99 {p99:.1f} ms (bare {bare_p99 / 1000:.1f} ms{tail})")
    # wrk counts the answers it read; requests still in flight when it stopped are stored but not counted
    dropped = [run for runs in data["results"].values() for run in runs
               if not run["requests"] <= run["stored"] <= run["requests"] + WRK_CONNECTIONS or run["status_errors"]]
    worker_class = data["worker_class"]
    why = ("gthread (3 processes x 4 threads): it keeps connections alive, as Twilio's webhook client does, "
           "and its threads overlap the handler's waits on the database and Redis; sync workers close the "
           "connection after every response and served about half as many requests a second, for both apps, "
           "in a trial run (`--worker-class sync`)"
           if worker_class == "gthread" else "sync (3 processes): one request at a time per process")
    return [
        "### 3. Inbound webhook `POST /twilio/sms`",
        f"gunicorn, {WEBHOOK_WORKERS} workers, {why}; the same settings for both apps. Load: wrk "
        f"({WRK_THREADS} threads, {WRK_CONNECTIONS} keep-alive connections, {data['duration']:.0f} s a run, after "
        "a warm-up until the rate settles), a Lua script cycling through pre-signed form bodies shaped like "
        "Twilio's, each with its "
        "own MessageSid, signed for `PUBLIC_BASE_URL` + path. Every run starts on an empty table and an empty "
        "Redis; no RQ worker runs (the webhook must answer while every worker is down), so the queued jobs "
        "pile up. Baseline (`bare_webhook_app` in the benchmark file): Flask, twilio's `RequestValidator`, "
        "one `INSERT ... ON CONFLICT DO NOTHING RETURNING id` on a per-thread connection (same pragmas / "
        "driver), `RPUSH` of the id. mobilize's handler also checks the form, takes its connection from "
        "SQLAlchemy's pool (one autocommit statement on SQLite and PostgreSQL alike; PostgreSQL's pool pings "
        "the connection at checkout), enqueues an RQ job (a job hash and a queue entry, one pipelined round "
        "trip) and adds the message to the command center's live event (coalesced: at most one per 200 ms per "
        "process).",
        "\n".join(rows),
        f"Targets: at least {TARGET_WEBHOOK_RATIO} of the bare handler's rate, p99 under "
        f"{TARGET_WEBHOOK_P99_MS:.0f} ms. " + "; ".join(verdicts) + "."
        + (" Every request was answered 2xx and stored once." if not dropped else
           f" **{len(dropped)} run(s) lost or refused requests** (fewer rows than answers, or non-2xx)."),
    ]


# ==============================================================================================================


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child-bare":
        return _child_bare(argv[1], argv[2], argv[3], int(argv[4]))
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sms", description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="pipeline,cap,webhook")
    parser.add_argument("--count", type=int, default=3000, help="messages per pipeline run [3000]")
    parser.add_argument("--workers", default="1,2,4", help="worker processes to try [1,2,4]")
    parser.add_argument("--short-messages", type=int, default=800, help="messages under the 100/s cap [800]")
    parser.add_argument("--long-messages", type=int, default=8, help="messages under the 1/s cap [8]")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run [10]")
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs per app and database [2]")
    parser.add_argument("--worker-class", choices=["gthread", "sync"], default="gthread")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"),
                        help="a PostgreSQL server (a private database is created there and dropped after)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--time-limit", type=float, default=900, help="abort after this many seconds [900]")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing it")
    options = parser.parse_args(argv)
    parts = {part.strip() for part in options.parts.split(",") if part.strip()}
    unknown = parts - {"pipeline", "cap", "webhook"}
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if "webhook" in parts:
        wrk_binary()  # fail before starting anything
    postgres = None
    if "webhook" in parts and not options.no_postgres:
        postgres = options.postgres if postgres_reachable(options.postgres) else None
        if postgres is None:
            log(f"PostgreSQL at {options.postgres} not reachable: the webhook runs on SQLite only")
    install_signal_handlers(options.time_limit)
    started = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="bench-sms-"))
    pipeline = cap = webhook = None
    try:
        with Children(workdir / "logs") as children:
            if "pipeline" in parts:
                pipeline = run_pipeline(workdir, children, options.count,
                                        [int(n) for n in options.workers.split(",")])
            if "cap" in parts:
                cap = run_cap(workdir, children, options.short_messages, options.long_messages)
            if "webhook" in parts:
                webhook = run_webhook(workdir, children, options.duration, postgres, options.worker_class,
                                      options.rounds)
    except BaseException:
        for item in workdir.iterdir():  # keep the processes' logs only
            if item.name != "logs":
                shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)
        log(f"the processes' logs are kept in {workdir / 'logs'}")
        raise
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    command = "scripts/bench sms" if parts == {"pipeline", "cap", "webhook"} else \
        f"python -m benchmarks.bench_sms --parts {','.join(sorted(parts))}"
    markdown = render(pipeline, cap, webhook, command, started)
    if options.no_write:
        print(markdown)
    else:
        from benchmarks.report import write_section

        log(f"wrote {write_section('sms', markdown)}")


if __name__ == "__main__":
    main()
