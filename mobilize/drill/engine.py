"""The drill: the district's historical recruitment order, end to end, on a simulated clock.

A throwaway instance (a temporary folder with its own SQLite database, migrated to head; never the user's), the
demo district with N volunteers, one order over the 11 streets' testing sites (registration and queue keeping),
and simulated phones answering through `drill_responder`. The service's own functions run every step, as the RQ
jobs call them: `waves.send_wave` (job send_wave), `dispatch.run_matching` (job match_order, debounced as
there), `workers.sms.process_inbound` (the inbound job, on a message stored as the webhook stores it),
`timers.sweep_order` (the periodic sweep, every `SWEEP_S`), `board.officer_no_show` (the officer). The
follow-ups the service asks for after a commit (`wartime.followups`) are turned into events here instead of RQ
jobs. The outbox is drained by a model of the sender capped at `segments_per_second` (in simulated seconds:
the cap is a property of the carrier in the real world, so it must hold in simulated time, whatever the
compression), and every message reaches its phone when the sender hands it over.

Time: a discrete-event clock (`clock.SimClock`) in simulated seconds; `time_scale` > 0 paces it (simulated
seconds per real second, at most), 0 runs as fast as the machine allows.
"""
from __future__ import annotations

import heapq
import itertools
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, func, select, update

from mobilize.drill.clock import SimClock, simulated
from mobilize.drill.responder import MODEL, AnswerModel, drill_responder
from mobilize.sms.simulator.phones import Phone, PhoneProfile

SWEEP_S = 10.0  # the production sweep's period
START = datetime(2026, 3, 15, 0, 0, tzinfo=UTC)  # 08:00 in Qingdao: the order goes out in the morning
DRILL_FROM = "+8610690000"


@dataclass
class DrillConfig:
    volunteers: int = 100_000
    places: int = 435
    seed: int = 2022
    time_scale: float = 0.0  # simulated seconds per real second at most; 0: as fast as possible
    segments_per_second: float = 100.0  # the sender's cap (a short code)
    hold_max_s: float | None = None  # None: the service's default (dispatch.HOLD_MAX_S); 0: no hold-back
    match_debounce_s: float | None = None  # None: the service's default (workers.orders.MATCH_DEBOUNCE_S)
    strategy: str = "waves"  # "waves" (the service) or "all_at_once" (one wave to every eligible volunteer)
    expected_answer_rate: float = 0.4
    over_recruit_factor: float = 1.2
    wave_interval_s: int = 600
    confirmation_timeout_s: int = 1800
    starts_after_s: float = 5400  # the order's window starts this long after launch
    no_show_after_s: float = 1800  # officers mark no-shows this long after the start (and again an hour later)
    run_after_start_s: float = 5400  # the drill ends this long after the start
    stop_at_fill: float | None = None  # end as soon as this share of places is filled (benchmarks)
    model: AnswerModel = MODEL
    workdir: Path | None = None  # default: a fresh temporary folder, removed afterwards
    progress: Callable[[str], None] | None = None
    quiet_logs: bool = True


@dataclass
class Trace:
    """What the drill saw go by (the report's figures come from the database; these are the timeline)."""

    fill_times: list[tuple[float, int]] = field(default_factory=list)  # (t, filled) when it changed
    handed: list[tuple[float, str, int]] = field(default_factory=list)  # (t, kind, segments) to the gateway
    replies: Counter = field(default_factory=Counter)  # meant intent -> count
    misread: Counter = field(default_factory=Counter)  # (meant, parsed) -> count
    reply_to_dispatch: list[float] = field(default_factory=list)  # accept at service -> dispatch handed (s)
    waves: int = 0
    matches: int = 0
    sweeps: int = 0
    no_shows: int = 0
    real_s: float = 0.0
    first_fill_s: float | None = None


class Drill:
    def __init__(self, config: DrillConfig, runtime, order_id: int, clock: SimClock) -> None:
        self.config, self.runtime, self.order_id, self.clock = config, runtime, order_id, clock
        self.events: list = []
        self.seq = itertools.count()
        self.trace = Trace()
        self.phones: dict[str, Phone] = {}
        self.profile = PhoneProfile(seed=config.seed)
        self.match_pending = False
        self.wave_pending = False
        self.sender_free = {"high": 0.0, "bulk": 0.0}
        self.sender_t = 0.0
        self.accepted_at: dict[int, float] = {}  # volunteer id -> when their accept reached the service
        self.last_filled = -1
        self.requests: dict[str, set[int]] = {}
        self.inbound_sid = itertools.count(1)

    # --- events ---------------------------------------------------------------------------------------------

    def at(self, t: float, kind: str, *payload) -> None:
        heapq.heappush(self.events, (t, next(self.seq), kind, payload))

    def run(self, end_s: float) -> None:
        from mobilize.wartime import followups

        real_start = time.perf_counter()
        last_note = real_start
        while self.events:
            t, _seq, kind, payload = heapq.heappop(self.events)
            if t > end_s:
                break
            if self.config.time_scale > 0:
                ahead = t / self.config.time_scale - (time.perf_counter() - real_start)
                if ahead > 0:
                    time.sleep(ahead)
            self.clock.t = max(self.clock.t, t)
            getattr(self, f"on_{kind}")(*payload)
            if kind == "deliver":
                continue  # a phone reading a text changes nothing in the service
            self.follow_up(followups)
            self.drain_outbox()
            self.note_fill()
            if self.config.stop_at_fill is not None and self.trace.fill_times and \
                    self.trace.fill_times[-1][1] >= self.config.stop_at_fill * self.config.places:
                break
            if self.config.progress and time.perf_counter() - last_note > 5:
                last_note = time.perf_counter()
                filled = self.trace.fill_times[-1][1] if self.trace.fill_times else 0
                self.config.progress(f"t={self.clock.t / 60:7.1f} sim min  filled {filled}/{self.config.places}"
                                     f"  sms {len(self.trace.handed)}  waves {self.trace.waves}")
        self.trace.real_s = time.perf_counter() - real_start

    def follow_up(self, followups) -> None:
        from workers.orders import MATCH_DEBOUNCE_S

        requests, self.requests = self.requests, {}
        now = self.clock.t
        debounce = MATCH_DEBOUNCE_S if self.config.match_debounce_s is None else self.config.match_debounce_s
        if requests.get(followups.MATCH) and not self.match_pending:
            self.match_pending = True  # SET NX: one match job waiting per order
            self.at(now + debounce, "match")
        if requests.get(followups.WAVE) and not self.wave_pending:
            self.wave_pending = True
            self.at(now, "wave")

    def on_launch(self) -> None:
        from mobilize.wartime import lifecycle
        from mobilize.wartime.audit import Actor

        with self.runtime.transaction() as session:
            lifecycle.launch(session, self.order_id, Actor("drill", None), self.clock.now())

    def on_wave(self) -> None:
        from mobilize.wartime import waves

        self.wave_pending = False
        with self.runtime.transaction() as session:
            result = waves.send_wave(session, self.order_id, self.clock.now())
        if result.reason == "sent":
            self.trace.waves += 1

    def on_wave_all(self) -> None:
        """The comparison strategy: every eligible volunteer invited at once (one wave as big as the audience)."""
        from mobilize.models import Order
        from mobilize.wartime import waves

        with self.runtime.transaction() as session:
            session.execute(update(Order).where(Order.id == self.order_id)
                            .values(expected_answer_rate=0.0001, over_recruit_factor=1.0))
        with self.runtime.transaction() as session:
            result = waves.send_wave(session, self.order_id, self.clock.now())
        self.trace.waves += result.reason == "sent"

    def on_match(self) -> None:
        from mobilize.wartime import dispatch

        self.match_pending = False
        self.trace.matches += 1
        kwargs = {} if self.config.hold_max_s is None else {"hold_max_s": self.config.hold_max_s}
        with self.runtime.transaction() as session:
            dispatch.run_matching(session, self.order_id, self.clock.now(), self.runtime.settings.timezone,
                                  **kwargs)

    def on_sweep(self) -> None:
        from mobilize.wartime import timers

        self.trace.sweeps += 1
        with self.runtime.transaction() as session:
            timers.sweep_order(session, self.order_id, self.clock.now())
        # the sweep queues matching at once (no debounce): it already is the batch
        from mobilize.wartime import followups

        requests, self.requests = self.requests, {}
        if requests.get(followups.MATCH) and not self.match_pending:
            self.match_pending = True
            self.at(self.clock.t, "match")
        if requests.get(followups.WAVE) and not self.wave_pending:
            self.wave_pending = True
            self.at(self.clock.t, "wave")
        self.at(self.clock.t + SWEEP_S, "sweep")

    def on_deliver(self, number: str, body: str) -> None:
        phone = self.phones.get(number)
        if phone is None:
            phone = self.phones[number] = Phone(number)
            phone.register(self.profile)
        for reply in drill_responder(phone, body, self.config.model):
            self.at(self.clock.t + reply.delay, "inbound", number, reply.body, reply.intent)

    def on_inbound(self, number: str, body: str, meant: str | None) -> None:
        """Stored as the webhook stores it, then processed as the inbound job does."""
        from mobilize.models import InboundMessage, Volunteer
        from workers.sms import process_inbound

        with self.runtime.transaction() as session:
            inbound = InboundMessage(message_sid=f"SMDRILL{next(self.inbound_sid):026d}", from_phone=number,
                                     to_phone=DRILL_FROM, body=body, received_at=self.clock.now())
            session.add(inbound)
            session.flush()
            inbound_id = inbound.id
            volunteer_id = session.scalar(select(Volunteer.id).where(Volunteer.phone == number))
        process_inbound(inbound_id)
        with self.runtime.transaction() as session:
            parsed = session.scalar(select(InboundMessage.intent).where(InboundMessage.id == inbound_id))
        self.trace.replies[meant] += 1
        parsed_value = getattr(parsed, "value", parsed)
        if meant and parsed_value != meant and not (meant == "accept" and parsed_value == "accept"):
            self.trace.misread[meant, str(parsed_value)] += 1
        if meant == "accept" and volunteer_id is not None:
            self.accepted_at.setdefault(volunteer_id, self.clock.t)

    def on_no_shows(self) -> None:
        """The street officers mark who never came (dispatched or confirmed, not arrived, after the start)."""
        from mobilize.models import Assignment, Volunteer
        from mobilize.wartime import board
        from mobilize.wartime.audit import Actor
        from mobilize.wartime.places import NOT_YET_ARRIVED

        with self.runtime.transaction() as session:
            rows = session.execute(select(Assignment.id, Volunteer.phone).join(Volunteer).where(
                Assignment.order_id == self.order_id, Assignment.status.in_(list(NOT_YET_ARRIVED)))).all()
        for assignment_id, number in rows:
            phone = self.phones.get(number)
            if phone is None or not phone.state.get("no_show"):
                continue
            phone.state["no_show"] = False  # marked once
            with self.runtime.transaction() as session:
                assignment = session.get(Assignment, assignment_id)
                try:
                    board.officer_no_show(session, assignment, Actor("officer", None), self.clock.now())
                    self.trace.no_shows += 1
                except Exception:  # noqa: BLE001 - confirmed away or released meanwhile: nothing to mark
                    session.rollback()

    # --- the sender and the fill timeline --------------------------------------------------------------------

    def drain_outbox(self) -> None:
        """Hand pending messages to the gateway at `segments_per_second` (high priority first), in simulated time;
        each reaches its phone when handed over."""
        from mobilize.models import OutboundMessage, OutboundStatus
        from mobilize.models.messaging import Priority

        with self.runtime.transaction() as session:
            rows = session.execute(select(OutboundMessage.id, OutboundMessage.to_phone, OutboundMessage.body,
                                          OutboundMessage.kind, OutboundMessage.priority,
                                          OutboundMessage.segments, OutboundMessage.volunteer_id)
                                   .where(OutboundMessage.status == OutboundStatus.pending)
                                   .order_by(OutboundMessage.id)).all()
            if not rows:
                return
            rows.sort(key=lambda r: (r.priority is not Priority.high, r.id))
            rate = self.config.segments_per_second
            t = max(self.sender_t, self.clock.t)
            for row in rows:
                t += row.segments / rate
                self.trace.handed.append((t, row.kind, row.segments))
                if row.kind == "dispatch" and row.volunteer_id in self.accepted_at:
                    self.trace.reply_to_dispatch.append(t - self.accepted_at.pop(row.volunteer_id))
                self.at(t, "deliver", row.to_phone, row.body)
            self.sender_t = t
            ids = [row.id for row in rows]
            for start in range(0, len(ids), 500):
                session.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids[start:start + 500]))
                                .values(status=OutboundStatus.sent, sent_at=self.clock.now(), attempts=1)
                                .execution_options(synchronize_session=False))

    def note_fill(self) -> None:
        from mobilize.models import Demand

        with self.runtime.transaction() as session:
            filled = int(session.scalar(select(func.coalesce(func.sum(Demand.filled), 0))
                                        .where(Demand.order_id == self.order_id)))
        if filled != self.last_filled:
            self.last_filled = filled
            self.trace.fill_times.append((self.clock.t, filled))
            if filled >= self.config.places and self.trace.first_fill_s is None:
                self.trace.first_fill_s = self.clock.t


# --- setting up ------------------------------------------------------------------------------------------------


def demand_split(capacities: list[int], total: int) -> list[int]:
    """`total` places over the site roles in proportion to their usual capacities (largest remainder)."""
    whole = sum(capacities)
    raw = [c * total / whole for c in capacities]
    parts = [int(r) for r in raw]
    for index in sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))[: total - sum(parts)]:
        parts[index] += 1
    return parts


def build_order(runtime, config: DrillConfig, now: datetime) -> int:
    from mobilize.models import PeacetimePolicy, Role, Site, SiteKind, SiteRole
    from mobilize.wartime import drafts
    from mobilize.wartime.audit import Actor
    from mobilize.wartime.drafts import DemandSpec, OrderSpec

    with runtime.transaction() as session:
        rows = session.execute(select(Site.id, Role.code, SiteRole.capacity).join(SiteRole, SiteRole.site_id == Site.id)
                               .join(Role, Role.id == SiteRole.role_id)
                               .where(Site.kind == SiteKind.testing_site,
                                      Role.code.in_(["registration", "queue_keeping"]))
                               .order_by(Site.id, Role.code)).all()
        split = demand_split([r.capacity for r in rows], config.places)
        demands = tuple(DemandSpec(r.id, r.code, n) for r, n in zip(rows, split) if n > 0)
        starts = now + timedelta(seconds=config.starts_after_s)
        spec = OrderSpec(title="全员核酸检测志愿者招募", starts_at=starts, ends_at=starts + timedelta(hours=8),
                         demands=demands, expected_answer_rate=config.expected_answer_rate,
                         over_recruit_factor=config.over_recruit_factor, wave_interval_s=config.wave_interval_s,
                         confirmation_required=True, confirmation_timeout_s=config.confirmation_timeout_s,
                         # as in the district's history: guides on ordinary shifts are released for the order,
                         # protected posts stay staffed (DESIGN section 3)
                         peacetime_policy=PeacetimePolicy.release.value)
        return drafts.create_draft(session, spec, Actor("drill", None), now).id


def _import_service() -> None:
    """Everything whose `utcnow` the clock must replace, imported before it does."""
    import mobilize.conversation
    import mobilize.sms.outbox
    import mobilize.wartime.board
    import mobilize.wartime.dispatch
    import mobilize.wartime.lifecycle
    import mobilize.wartime.replies
    import mobilize.wartime.timers
    import mobilize.wartime.waves  # noqa: F401
    import workers.orders
    import workers.sms  # noqa: F401


def run_drill(config: DrillConfig) -> dict:
    """Run the drill in a throwaway instance and return its report (see `mobilize.drill.report`)."""
    if config.workdir is None:
        with tempfile.TemporaryDirectory(prefix="mobilize-drill-") as folder:
            return _run(config, Path(folder))
    return _run(config, Path(config.workdir))


def _run(config: DrillConfig, folder: Path) -> dict:
    from config import Settings
    from mobilize import migrate
    from mobilize.drill.report import build_report
    from mobilize.peacetime.demo import seed_roster
    from mobilize.registry.demo import seed_demo
    from mobilize.runtime import Runtime
    from mobilize.wartime import followups
    from workers import context
    from workers.context import set_runtime

    say = config.progress or (lambda _message: None)
    if config.quiet_logs:
        from mobilize.logging import configure_logging

        configure_logging("ERROR")  # INFO per job, and a "no Redis" warning per commit: thousands of lines
    started = time.perf_counter()
    instance = folder / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{instance / 'drill.db'}"
    migrate.upgrade(database_url)
    settings = Settings(instance_path=instance, database_url=database_url, redis_url=None, sms_backend="simulator",
                        secret_key="drill", testing=True, sms_segments_per_second=config.segments_per_second)
    runtime = Runtime(settings)
    previous = context._runtime  # the jobs' runtime, put back afterwards
    set_runtime(runtime)
    try:
        say(f"seeding the demo district with {config.volunteers:,} volunteers")
        with runtime.transaction() as session:
            seed_demo(session, volunteers=config.volunteers, seed=config.seed)
            seed_roster(session, now=START, seed=config.seed)  # the peacetime roster keeps running beside it
        _import_service()
        clock = SimClock(START)
        with simulated(clock):
            order_id = build_order(runtime, config, clock.now())
            drill = Drill(config, runtime, order_id, clock)

            def collect(session) -> None:  # the after-commit hook of workers.orders.install, as events
                for key, ids in followups.take(session).items():
                    if order_id in ids:
                        drill.requests.setdefault(key, set()).add(order_id)

            event.listen(runtime.sessions, "after_commit", collect)
            say(f"order {order_id}: {config.places} places; launching ({config.strategy})")
            drill.on_launch()
            drill.requests.clear()
            drill.at(0.0, "wave_all" if config.strategy == "all_at_once" else "wave")
            drill.wave_pending = config.strategy != "all_at_once"
            drill.at(SWEEP_S, "sweep")
            start = config.starts_after_s
            drill.at(start + config.no_show_after_s, "no_shows")
            drill.at(start + config.no_show_after_s + 3600, "no_shows")
            drill.run(start + config.run_after_start_s)
            report = build_report(runtime, order_id, config, drill.trace, clock)
        report["real_seconds"] = round(time.perf_counter() - started, 1)
        return report
    finally:
        set_runtime(previous)
        runtime.close()
