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
"""
from __future__ import annotations

import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import structlog
from sqlalchemy import func, select

from mobilize.drill.engine import DrillConfig, Trace, build_order
from mobilize.supervisor import Stack, StackError, _free_port

log = structlog.get_logger(__name__)

POLL_S = 0.5  # how often the driver reads the fill from the database
PROGRESS_EVERY_S = 5.0
DRAIN_TIMEOUT_S = 60.0  # after the fill: how long to wait for the last dispatches to reach the gateway
SENDER = "+8610690000"
KNOWN_TO_COME = ("confirmed", "arrived", "completed")  # assignment statuses: the volunteer said they come


@dataclass
class LiveDrillConfig:
    volunteers: int = 5000
    places: int = 435
    seed: int = 2022
    compress: float = 20.0  # simulated seconds per real second (people's delays and the order's timers)
    segments_per_second: float = 100.0  # the sender's cap, per REAL second (SMS_SEGMENTS_PER_SECOND)
    hold_max_s: float | None = None  # real s; None: the service's HOLD_MAX_S compressed; 0: place at once
    time_limit_s: float = 900.0  # real seconds from launch
    workers: int = 2  # as `mobilize up`
    web_workers: int = 2
    roster: bool = True  # the peacetime roster beside the order, as in the simulated drill
    workdir: Path | None = None  # default: a fresh temporary folder, removed afterwards
    progress: Callable[[str], None] | None = None

    def drill_config(self) -> DrillConfig:
        """The simulated drill's order, with its strategy timers in compressed seconds (the service's minimums
        kept: a wave interval of at least 10 s, a confirmation timeout of at least 60 s)."""
        base = DrillConfig()
        return DrillConfig(volunteers=self.volunteers, places=self.places, seed=self.seed,
                           time_scale=self.compress, segments_per_second=self.segments_per_second,
                           hold_max_s=self.effective_hold_max_s(),
                           wave_interval_s=max(10, round(base.wave_interval_s / self.compress)),
                           confirmation_timeout_s=max(60, round(base.confirmation_timeout_s / self.compress)),
                           starts_after_s=base.starts_after_s / self.compress)

    def effective_hold_max_s(self) -> float:
        from mobilize.wartime.dispatch import HOLD_MAX_S

        return HOLD_MAX_S / self.compress if self.hold_max_s is None else self.hold_max_s


@dataclass
class LiveClock:
    """What `report.build_report` reads of a clock: when the order was launched and how long it ran (real s)."""

    start: datetime
    t: float = 0.0


@dataclass
class LiveStack(Stack):
    """`mobilize up`'s children (supervisor.Stack's plan) in a throwaway instance, with a compressed simulator
    clock and the matching timers set through the environment. Use as a context manager: every child and the
    embedded Redis are stopped on the way out (an error, Ctrl-C, SIGTERM)."""

    time_scale: float = 1.0  # the simulator's (1/compress)
    env_overrides: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    redis: object = None
    _runtime: object = None

    @classmethod
    def in_folder(cls, folder: Path, **kwargs) -> Self:
        from config import Settings

        instance = Path(folder) / "instance"
        instance.mkdir(parents=True, exist_ok=True)
        settings = Settings(instance_path=instance, database_url=f"sqlite:///{instance / 'mobilize.db'}",
                            redis_url=None, sms_backend="simulator", secret_key="live-drill")
        return cls(settings, port=_free_port("127.0.0.1"), **kwargs)

    # --- starting ------------------------------------------------------------------------------------------------

    def prepare(self, volunteers: int, seed: int, roster: bool = True) -> None:
        """Embedded Redis, the migrated database and the demo district (before any child reads it)."""
        from mobilize.embedded_redis import EmbeddedRedis

        self.redis = EmbeddedRedis(self.settings.instance_path).start()
        self._migrate()
        seed_district(self.settings.database_url, self.settings.instance_path, volunteers, seed, roster)
        self.env = self._child_env(self.redis.url)

    def start(self, register_phones: bool = True, seed: int | None = None) -> int:
        """Every child, as `mobilize up` starts them; returns how many simulated phones answer like people."""
        log_dir = self.settings.instance_path / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.children = self._plan(self.env)
        for child in self.children:
            child.start(self.env, log_dir)
        self._wait_for_web()
        self.wait_workers()
        self._wait_simulator()
        return self.register_phones(seed) if register_phones else 0

    def register_phones(self, seed: int | None) -> int:
        """Every reachable volunteer's phone answers through the drill's answer model, as `mobilize up` registers
        them, but seeded: each phone draws from (seed, its number), so a drill's people decide alike each run."""
        from mobilize.models import Volunteer
        from mobilize.supervisor import SIMULATED_VOLUNTEER

        with self.runtime.transaction() as session:
            phones = session.execute(select(Volunteer.phone, Volunteer.language)
                                     .where(Volunteer.opted_out_at.is_(None))).all()
        control = self.control()
        for start in range(0, len(phones), 5000):
            control.register_phones([{"number": phone, "profile": {"language": language, "seed": seed}}
                                     for phone, language in phones[start:start + 5000]],
                                    responder=SIMULATED_VOLUNTEER)
        return len(phones)

    def _child_env(self, redis_url: str) -> dict[str, str]:
        env = super()._child_env(redis_url)
        # a throwaway instance: never a developer's .env, Twilio account or database
        env.update(SMS_BACKEND="simulator", TWILIO_ACCOUNT_SID="AC" + secrets.token_hex(16),
                   TWILIO_AUTH_TOKEN=secrets.token_hex(16), TWILIO_FROM=SENDER, TWILIO_MESSAGING_SERVICE_SID="",
                   PUBLIC_BASE_URL=f"http://{self.host}:{self.port}", SECRET_KEY="live-drill",
                   MOBILIZE_ENV_FILE=str(self.settings.instance_path / "no.env"), MOBILIZE_DEMO="",
                   LOG_FORMAT="json", LOG_LEVEL="WARNING")
        env.update(self.env_overrides)
        return env

    def _plan(self, env: dict[str, str]):
        children = super()._plan(env)
        for child in children:
            if child.name == "simulator":  # the drill's compression instead of `mobilize up`'s demo pace
                child.command[child.command.index("--time-scale") + 1] = repr(self.time_scale)
        return children

    def _wait_simulator(self) -> int:
        from mobilize.sms.simulator.control import SimulatorControl

        control = SimulatorControl(self.env["SIMULATOR_URL"])
        deadline = time.monotonic() + 30
        while True:
            try:
                control.health()
                return 0
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    raise StackError("the simulator did not answer within 30 s") from None
                time.sleep(0.2)

    def wait_workers(self, timeout: float = 60.0) -> None:
        """Until every RQ worker has registered, so that the launch's jobs are taken at once."""
        from rq import Worker

        deadline = time.monotonic() + timeout
        while len(Worker.all(connection=self.runtime.redis)) < self.worker_count:
            self.check()
            if time.monotonic() > deadline:
                raise StackError(f"{self.worker_count} RQ workers did not register within {timeout:.0f} s")
            time.sleep(0.2)

    # --- while it runs -------------------------------------------------------------------------------------------

    @property
    def runtime(self):
        """A runtime in this process on the children's settings (the after-commit hook queues their jobs)."""
        if self._runtime is None:
            from config import Settings
            from mobilize.runtime import Runtime
            from workers.orders import install

            self._runtime = Runtime(Settings.from_env(self.env, load_dotenv_file=False))
            install(self._runtime)
        return self._runtime

    def control(self):
        from mobilize.sms.simulator.control import SimulatorControl

        return SimulatorControl(self.env["SIMULATOR_URL"], timeout=120)

    def check(self) -> None:
        """A child that died ends the drill (unlike `mobilize up`, which restarts it): the figures would lie."""
        for child in self.children:
            if not child.alive():
                raise StackError(f"{child.name} exited (code {child.process.returncode}); see "
                                 f"{self.settings.instance_path}/logs/{child.name}.log")

    # --- stopping ------------------------------------------------------------------------------------------------

    def stop_producers(self, timeout: float = 40.0) -> None:
        """Stop what writes and sends messages (the RQ workers and the scheduler), each after its current job
        (RQ's warm shutdown on SIGTERM; a sender job ends within its budget), so the gateway's log read next
        and the outbox read after it describe the same moment. The simulator and the web keep running."""
        producers = [child for child in self.children if child.name.startswith("worker-")
                     or child.name == "scheduler"]
        for child in producers:
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in producers:
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("live_drill.producer_killed", part=child.name)
                child.signal(signal.SIGKILL)
                child.process.wait()
        self.children = [child for child in self.children if child not in producers]

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        self.stop()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc) -> None:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
        try:
            self.close()
        finally:
            signal.signal(signal.SIGINT, previous)


def seed_district(database_url: str, instance: Path, volunteers: int, seed: int, roster: bool) -> None:
    from config import Settings
    from mobilize.peacetime.demo import seed_roster
    from mobilize.registry.demo import seed_demo
    from mobilize.runtime import Runtime

    runtime = Runtime(Settings(instance_path=instance, database_url=database_url, redis_url=None,
                               sms_backend="simulator", secret_key="live-drill"))
    try:
        with runtime.transaction() as session:
            seed_demo(session, volunteers=volunteers, seed=seed)
            if roster:
                seed_roster(session, seed=seed)
    finally:
        runtime.close()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the drill like Ctrl-C (the `finally` blocks stop the children); restored afterwards."""

    def on_term(_signum, _frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def live_stack(config_workdir: Path | None, **kwargs) -> Iterator[LiveStack]:
    """A LiveStack in `config_workdir` or a temporary folder (removed afterwards), stopped on the way out."""
    with terminate_as_interrupt():
        if config_workdir is not None:
            with LiveStack.in_folder(config_workdir, **kwargs) as stack:
                yield stack
            return
        with tempfile.TemporaryDirectory(prefix="mobilize-live-drill-") as folder, \
                LiveStack.in_folder(Path(folder), **kwargs) as stack:
            yield stack


# --- the order ---------------------------------------------------------------------------------------------------


def create_and_launch(runtime, drill: DrillConfig) -> tuple[int, datetime]:
    """The historical order (engine.build_order), launched now: the wave request becomes an RQ job on commit."""
    from mobilize.models._types import utcnow
    from mobilize.wartime import lifecycle
    from mobilize.wartime.audit import Actor

    order_id = build_order(runtime, drill, utcnow())
    launched = utcnow()
    with runtime.transaction() as session:
        lifecycle.launch(session, order_id, Actor("drill", None), launched)
    return order_id, launched


def fill_counts(runtime, order_id: int) -> dict[str, int]:
    """The order's fill from the database, as the simulated drill counts it: places taken (`placed`), taken and
    the dispatch handed to the gateway (`told`), taken and confirmed (`confirmed`); and the waves sent."""
    from mobilize.models import (
        Assignment,
        Demand,
        Order,
        OutboundMessage,
        OutboundStatus,
    )
    from mobilize.wartime.messages import DISPATCH_KINDS, dispatch_key
    from mobilize.wartime.places import ACTIVE

    with runtime.transaction() as session:
        placed = session.scalar(select(func.coalesce(func.sum(Demand.filled), 0)).where(Demand.order_id == order_id))
        waves = session.scalar(select(Order.waves_sent).where(Order.id == order_id))
        active = session.execute(select(Assignment.id, Assignment.status).where(
            Assignment.order_id == order_id, Assignment.status.in_(list(ACTIVE)))).all()
        handed = set(session.scalars(select(OutboundMessage.dedupe_key).where(
            OutboundMessage.kind.in_(DISPATCH_KINDS), OutboundMessage.status.not_in(
                [OutboundStatus.pending, OutboundStatus.sending, OutboundStatus.cancelled]))))
    # a direct dispatch (a ready standby volunteer) is confirmed when written, but known only once handed over
    confirmed = sum(_value(status) in KNOWN_TO_COME and dispatch_key(aid) in handed for aid, status in active)
    told = sum(dispatch_key(aid) in handed or _value(status) in KNOWN_TO_COME for aid, status in active)
    return {"placed": int(placed), "told": told, "confirmed": confirmed, "waves": int(waves or 0)}


def _value(status) -> str:
    return getattr(status, "value", status)


def fill_definition(runtime, order_id: int) -> str:
    """"confirmed" when the order requires confirmation, else "told": a place is filled, as a commander means
    it, once its volunteer said they come (or, without confirmation, once the dispatch reached the gateway)."""
    from mobilize.models import Order

    with runtime.transaction() as session:
        return "confirmed" if session.get(Order, order_id).confirmation_required else "told"


def pending_outbound(runtime) -> int:
    """Messages in the outbox not yet handed to the gateway (pending or claimed by a sender)."""
    from mobilize.models import OutboundMessage, OutboundStatus

    with runtime.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.status.in_([OutboundStatus.pending, OutboundStatus.sending]))))


def wait_outbox_drained(stack: LiveStack, timeout: float = DRAIN_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while pending_outbound(stack.runtime):
        stack.check()
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def gateway_log(stack: LiveStack) -> list[dict]:
    """Every message the simulator (the gateway) holds, oldest first: outbound ones with `timestamp`, when it
    accepted them from the sender; inbound ones with the sender's intent (what the simulated person meant)."""
    rows = stack.control().messages(limit=100_000)
    return sorted(rows, key=lambda row: row["seq"])


# --- the drill ---------------------------------------------------------------------------------------------------


def run_live_drill(config: LiveDrillConfig) -> dict:
    """Run the drill on a throwaway live stack and return its report (times in real seconds)."""
    say = config.progress or (lambda _message: None)
    drill = config.drill_config()
    started = time.perf_counter()
    overrides = {"SMS_SEGMENTS_PER_SECOND": str(config.segments_per_second),
                 "MATCH_HOLD_MAX_S": str(config.effective_hold_max_s())}
    with live_stack(config.workdir, time_scale=1.0 / config.compress, env_overrides=overrides,
                    worker_count=config.workers, web_workers=config.web_workers) as stack:
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


def watch(stack: LiveStack, order_id: int, config: LiveDrillConfig, say: Callable[[str], None]) -> Trace:
    """Poll the fill until every place is filled as a commander means it (see `fill_definition`) or the time
    limit passes; the timelines in real seconds from launch."""
    trace = Trace()
    definition = fill_definition(stack.runtime, order_id)
    _set(trace, "fill_definition", definition)
    start = time.monotonic()
    last: dict[str, int] = {}
    last_note = start
    while True:
        stack.check()
        now = time.monotonic() - start
        counts = fill_counts(stack.runtime, order_id)
        counts["ready"] = counts[definition]
        trace.waves = counts["waves"]
        for name, timeline in (("placed", "fill_times"), ("told", "told_times"), ("confirmed", "confirmed_times"),
                               ("ready", "ready_times")):
            if last.get(name) != counts[name] and hasattr(trace, timeline):
                last[name] = counts[name]
                getattr(trace, timeline).append((now, counts[name]))
        if counts["placed"] >= config.places and getattr(trace, "first_placed_s", 0) is None:
            trace.first_placed_s = now
        if counts["ready"] >= config.places:
            trace.first_fill_s = now
            break
        if now > config.time_limit_s:
            say(f"time limit of {config.time_limit_s:.0f} s reached at {counts['ready']}/{config.places} {definition}")
            break
        if time.monotonic() - last_note >= PROGRESS_EVERY_S:
            last_note = time.monotonic()
            say(f"t={now:6.0f} s  placed {counts['placed']}/{config.places}  told {counts['told']}  confirmed "
                f"{counts['confirmed']}  waves {counts['waves']}")
        time.sleep(POLL_S)
    trace.real_s = time.monotonic() - start
    return trace


def _set(trace: Trace, name: str, value) -> None:
    """Only fields the drill's Trace has (it grows with the simulated drill's report)."""
    if hasattr(trace, name):
        setattr(trace, name, value)


def live_report(runtime, order_id: int, drill: DrillConfig, trace: Trace, clock: LiveClock,
                messages: list[dict]) -> dict:
    """`report.build_report` on the live run, with what only the gateway's log knows: what was sent, what the
    people meant, and when each dispatch reached the gateway."""
    from mobilize.drill.report import build_report, percentile

    inbound = parsed_inbound(runtime)
    score_replies(trace, messages, inbound)
    dispatches = dispatch_rows(runtime, order_id)
    trace.reply_to_dispatch = reply_to_dispatch(dispatches, messages, inbound)
    report = build_report(runtime, order_id, drill, trace, clock)
    outbound = [m for m in messages if m["direction"] == "outbound-api"]
    report.update(
        mode="live",
        time_unit="real seconds",
        sms_sent=len(outbound),  # what the gateway accepted (the simulator's log)
        segments_sent=sum(int(m["num_segments"] or 0) for m in outbound),
        outbox_handed=report["sms_sent"], outbox_segments=report["segments_sent"],  # the database's view
        dispatch_sms=check_dispatch_sms(runtime, order_id, dispatches, outbound),
        reply_to_dispatch_s={"p50": percentile(trace.reply_to_dispatch, 50),
                             "p95": percentile(trace.reply_to_dispatch, 95), "n": len(trace.reply_to_dispatch)},
        elapsed_s=report.pop("simulated_s"),
    )
    report["config"].update(compress=drill.time_scale, wave_interval_s=drill.wave_interval_s,
                            confirmation_timeout_s=drill.confirmation_timeout_s)
    return report


def parsed_inbound(runtime) -> dict[str, tuple]:
    """message sid -> (phone, parsed intent, received_at) of every inbound row the webhook stored."""
    from mobilize.models import InboundMessage

    with runtime.transaction() as session:
        rows = session.execute(select(InboundMessage.message_sid, InboundMessage.from_phone, InboundMessage.intent,
                                      InboundMessage.received_at)).all()
    return {sid: (phone, intent, received) for sid, phone, intent, received in rows}


def score_replies(trace: Trace, messages: list[dict], inbound: dict[str, tuple]) -> None:
    """What the simulated people meant (the simulator's intent) vs what the service's parser read."""
    for message in messages:
        if message["direction"] != "inbound" or message.get("origin") != "phone":
            continue
        meant = message.get("intent")
        trace.replies[meant] += 1
        parsed = inbound.get(message["sid"], (None, "not stored", None))[1]
        if meant and parsed != meant:
            trace.misread[meant, str(parsed)] += 1


def dispatch_rows(runtime, order_id: int) -> list[tuple]:
    """(volunteer id, phone, body, gateway sid) of every dispatch SMS the order wrote."""
    from mobilize.models import Assignment, OutboundMessage
    from mobilize.wartime.messages import DISPATCH_KINDS

    with runtime.transaction() as session:
        volunteers = set(session.scalars(select(Assignment.volunteer_id).where(Assignment.order_id == order_id)))
        rows = session.execute(select(OutboundMessage.volunteer_id, OutboundMessage.to_phone, OutboundMessage.body,
                                      OutboundMessage.twilio_sid)
                               .where(OutboundMessage.kind.in_(DISPATCH_KINDS))).all()
    return [tuple(row) for row in rows if row[0] in volunteers]


def reply_to_dispatch(dispatches: list[tuple], messages: list[dict], inbound: dict[str, tuple]) -> list[float]:
    """For each dispatch the gateway accepted: seconds from the volunteer's last accepting reply stored by the
    webhook before it (inbound received_at) to the gateway's timestamp of the dispatch."""
    accepted_at = {sid: m["timestamp"] for m in messages if m["direction"] == "outbound-api"
                   for sid in [m["sid"]]}
    accepts: dict[str, list[float]] = {}
    for phone, intent, received in inbound.values():
        if intent == "accept":
            accepts.setdefault(phone, []).append(epoch_s(received))
    latencies = []
    for _volunteer, phone, _body, sid in dispatches:
        handed = accepted_at.get(sid)
        before = [t for t in accepts.get(phone, []) if handed is not None and t <= handed]
        if before:
            latencies.append(handed - max(before))
    return latencies


def check_dispatch_sms(runtime, order_id: int, dispatches: list[tuple], outbound: list[dict]) -> dict:
    """Every assignment has exactly one dispatch SMS at the gateway: each dispatch row's gateway sid is in the
    simulator's log, the gateway holds as many copies of each (phone, text) as the outbox has rows (a volunteer
    dispatched twice to the same place gets the same text twice), and each volunteer has as many dispatch rows
    at the gateway as assignments."""
    from mobilize.models import Assignment

    with runtime.transaction() as session:
        assignments = Counter(session.scalars(select(Assignment.volunteer_id)
                                              .where(Assignment.order_id == order_id)))
    sids = {m["sid"] for m in outbound}
    copies = Counter((m["to"], m["body"]) for m in outbound)
    rows = Counter((phone, body) for _v, phone, body, _sid in dispatches)
    sent = Counter(volunteer for volunteer, _p, _b, sid in dispatches if sid in sids)
    wrong = sorted(v for v in set(assignments) | set(sent) if assignments[v] != sent[v])
    return {"assignments": sum(assignments.values()), "volunteers": len(assignments),
            "dispatch_rows": len(dispatches), "at_gateway": sum(sent.values()),
            "missing": sum(max(0, n - copies[key]) for key, n in rows.items()),
            "duplicated": sum(max(0, copies[key] - n) for key, n in rows.items()),
            "volunteers_not_exactly_one_per_assignment": len(wrong), "examples": wrong[:5]}


def epoch_s(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()

