"""The drill: the district's historical recruitment order, end to end, on a simulated clock.

A throwaway instance (a temporary folder with its own SQLite database, migrated to head; never the user's), the
demo district with N volunteers, one order over the 11 streets' testing sites (registration and queue keeping),
and simulated phones answering through `drill_responder`. The service's own functions run every step, as the RQ
jobs call them: `waves.send_wave` (job send_wave), `dispatch.run_matching` (job match_order, debounced as
there), `workers.sms.process_inbound` (the inbound job, on a message stored as the webhook stores it),
`timers.sweep_order` (the periodic sweep, every `SWEEP_S`), `board.officer_no_show` (the officer). The
follow-ups the service asks for after a commit (`wartime.followups`) are turned into events here instead of RQ
jobs. The outbox is drained by a model of `workers.sms`'s sender capped at `segments_per_second` (in simulated
seconds: the cap is a property of the carrier in the real world, so it must hold in simulated time, whatever the
compression): it hands messages over in slices of `SEND_SLICE_S`, high priority (replies, dispatches, standby
notices) before bulk (invitations) in every slice, so bulk yields to high at any moment as the real bulk sender
does; a message stays pending in the outbox until its slice takes it (so the service can still withdraw it), and
reaches its phone when the sender hands it over.

Fill, as a commander means it (`Trace.ready_times`): a place counts once it is taken and the volunteer knows,
i.e. confirmed when the order requires confirmation (the service itself treats an unconfirmed dispatch as
provisional: it times out and the place goes back), otherwise when the dispatch SMS has been handed to the
gateway. The database's fill (places taken, `Trace.fill_times`) is kept beside it.

Time: a discrete-event clock (`clock.SimClock`) in simulated seconds; `time_scale` > 0 paces it (simulated
seconds per real second, at most), 0 runs as fast as the machine allows.
"""
from __future__ import annotations

import heapq
import itertools
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import String, bindparam, cast, event, func, insert, select, update

from mobilize.drill import changes
from mobilize.drill.clock import SimClock, simulated
from mobilize.drill.report import deadline_s
from mobilize.drill.responder import MODEL, AnswerModel, drill_responder
from mobilize.heap import frozen_heap
from mobilize.sms.simulator.phones import Phone, PhoneProfile

SWEEP_S = 10.0  # the production sweep's period
# The sender model's slice: the real bulk sender checks every 0.05 s whether it must yield to high priority and
# claims at most 2 s of the cap at once; a quarter of a second keeps the yield prompt without an event per SMS.
SEND_SLICE_S = 0.25
# The service backfills a place freed by a no-show within a match debounce (2 s) and the volunteer confirms within
# minutes: an officers' round later than this before the drill's end would leave its freed places empty in the
# report only because the drill stopped watching (433/435 with standby left, seed 2022, when the last round fell
# on the very last second).
SETTLE_S = 1800.0
START = datetime(2026, 3, 15, 0, 0, tzinfo=UTC)  # 08:00 in Qingdao: the order goes out in the morning
DRILL_FROM = "+8610690000"
KNOWN_TO_COME = ("confirmed", "arrived", "completed")  # assignment statuses: the volunteer said they come
# The tables whose writes may change the fill timelines (`Drill.note_fill`): the active assignments, and what the
# standby and its open places are made of (`dispatch.idle_places`, the tables `changes.idle_watches` watches).
FILL_TABLES = frozenset({"assignments", "demands"})
OUTBOX_TABLES = frozenset({"outbound_messages"})
IDLE_TABLES = frozenset({"assignments", "demands", "invitations", "volunteers", "volunteer_skills", "skills",
                         "shift_signups", "shifts", "posts", "orders", "sites"})
_WRITTEN_TABLE = re.compile(r'\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)'
                            r'\s+"?(\w+)"?', re.IGNORECASE)


@dataclass
class DrillConfig:
    volunteers: int = 100_000
    places: int = 435
    seed: int = 2022
    time_scale: float = 0.0  # simulated seconds per real second at most; 0: as fast as possible
    segments_per_second: float = 100.0  # the sender's cap (a short code)
    hold_max_s: float | None = None  # None: the service's default (dispatch.HOLD_MAX_S); 0: no hold-back
    match_debounce_s: float | None = None  # None: the service's default (workers.orders.default_debounce_s)
    strategy: str = "waves"  # "waves" (the service) or "all_at_once" (one wave to every eligible volunteer)
    expected_answer_rate: float = 0.4
    over_recruit_factor: float = 1.2
    wave_interval_s: int = 600
    confirmation_required: bool = True  # as in the district's history; the commander's fill depends on it
    confirmation_timeout_s: int = 1800
    starts_after_s: float = 5400  # the order's window starts this long after launch
    no_show_after_s: float = 1800  # officers mark no-shows this long after the start (and again an hour later)
    run_after_start_s: float = 7200  # the drill ends this long after the start (at least SETTLE_S after the
    # officers' last round, see `officer_rounds`)
    stop_at_fill: float | None = None  # end as soon as this share of places is filled, as a commander means it
    needed_by_s: float | None = None  # the order's deadline, simulated s after launch; None: its start
    urgent: bool = False  # the order invites everyone eligible at once, nearest first
    # end once 95% of the places are told and the deadline has passed, this long after the later of the two
    # (short benchmark runs: what happens after that no longer decides whether the deadline was met)
    end_after_told_95_s: float | None = None
    # the district's past orders (`drill.history`): this many past invitations, answered by the drill's people,
    # for the pacing's prior; 0: no history (the prior is the commander's expected answer rate)
    history_invitations: int = 0
    end_s: float | None = None  # end this long after launch (simulated s); None: `run_after_start_s` after start
    model: AnswerModel = MODEL
    workdir: Path | None = None  # default: a fresh temporary folder, removed afterwards
    # a folder keeping the seeded district per (volunteers, seed): benchmarks running many orders on the same
    # registry copy it instead of seeding 100,000 volunteers every time (the seeding is deterministic per seed)
    seed_cache: Path | None = None
    progress: Callable[[str], None] | None = None
    quiet_logs: bool = True


@dataclass
class Trace:
    """What the drill saw go by (the report's figures come from the database; these are the timeline)."""

    fill_times: list[tuple[float, int]] = field(default_factory=list)  # (t, places taken) when it changed
    ready_times: list[tuple[float, int]] = field(default_factory=list)  # (t, places filled) as a commander means
    told_times: list[tuple[float, int]] = field(default_factory=list)  # (t, places taken and dispatch handed)
    confirmed_times: list[tuple[float, int]] = field(default_factory=list)  # (t, places taken and confirmed)
    fill_definition: str = "confirmed"  # "confirmed" or "told" (the dispatch handed to the gateway)
    handed: list[tuple[float, str, int]] = field(default_factory=list)  # (t, kind, segments) to the gateway
    replies: Counter = field(default_factory=Counter)  # meant intent -> count
    misread: Counter = field(default_factory=Counter)  # (meant, parsed) -> count
    reply_to_dispatch: list[float] = field(default_factory=list)  # accept at service -> dispatch handed (s)
    waves: int = 0
    matches: int = 0
    sweeps: int = 0
    no_shows: int = 0
    real_s: float = 0.0
    first_fill_s: float | None = None  # every place filled, as a commander means it
    first_placed_s: float | None = None  # every place taken in the database
    idle_since: dict[int, list[float]] = field(default_factory=dict)  # demand id -> since when each idle place is
    longest_idle_s: float = 0.0  # the longest a place stayed open while a qualifying yes waited unplaced


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
        self.recheck_at: float | None = None  # a match when the first hold-back ends
        self.sender_t = 0.0  # when the sender has handed over everything it took so far
        self.sending = False  # a sender slice is scheduled
        self.told: set[int] = set()  # assignments whose dispatch was handed to the gateway
        self.accepted_at: dict[int, float] = {}  # volunteer id -> when their accept reached the service
        self.last: dict[str, int] = {}  # timeline -> its last count
        self.requests: dict[str, set[int]] = {}
        self.inbound_sid = itertools.count(1)
        self.volunteer_of: dict[str, int | None] = {}  # phone number -> volunteer id
        # What the service wrote since the fill was last noted (`note_writes`): the fill timelines re-read only
        # what a write may have changed. None stands for a write whose table is unknown (re-read everything).
        self.written: set[str | None] = {None}
        self.active: dict[int, str] = {}  # active assignment id -> status, as of the last read
        self.filled = 0  # the order's places taken (demands.filled), as of the last read
        self.told_count = self.confirmed_count = 0  # of `active` (`count_told`)
        self.idle = Counter()  # `dispatch.idle_places`, as of the last read

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
            if self.config.stop_at_fill is not None and self.trace.ready_times and \
                    self.trace.ready_times[-1][1] >= self.config.stop_at_fill * self.config.places:
                break
            if self.decided():
                break
            if self.config.progress and time.perf_counter() - last_note > 5:
                last_note = time.perf_counter()
                filled = self.trace.fill_times[-1][1] if self.trace.fill_times else 0
                self.config.progress(f"t={self.clock.t / 60:7.1f} sim min  filled {filled}/{self.config.places}"
                                     f"  sms {len(self.trace.handed)}  waves {self.trace.waves}")
        self.trace.real_s = time.perf_counter() - real_start

    def decided(self) -> bool:
        """`end_after_told_95_s` has passed since 95% of the places were told and the deadline passed."""
        settle = self.config.end_after_told_95_s
        if settle is None:
            return False
        told_95 = next((t for t, count in self.trace.told_times if count >= 0.95 * self.config.places), None)
        if told_95 is None:
            return False
        return self.clock.t >= max(told_95, deadline_s(self.config)) + settle

    def follow_up(self, followups) -> None:
        from mobilize.wartime.dispatch import HOLD_MAX_S
        from workers.orders import default_debounce_s

        requests, self.requests = self.requests, {}
        now = self.clock.t
        hold = HOLD_MAX_S if self.config.hold_max_s is None else self.config.hold_max_s
        debounce = default_debounce_s(hold) if self.config.match_debounce_s is None else self.config.match_debounce_s
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
            result = waves.send_wave(session, self.order_id, self.clock.now(),
                                     segments_per_second=self.config.segments_per_second)
        if result.reason == "sent":
            self.trace.waves += 1

    def on_wave_all(self) -> None:
        """The comparison strategy: every eligible volunteer invited at once (one wave as big as the audience)."""
        from mobilize.models import Order
        from mobilize.wartime import waves

        with self.runtime.transaction() as session:
            # urgent for the paced waves; the fixed-rate sizing (the benchmark's baseline) gets there by an
            # expected answer rate so low that the wave is the whole audience
            session.execute(update(Order).where(Order.id == self.order_id)
                            .values(urgent=True, expected_answer_rate=0.0001, over_recruit_factor=1.0))
        with self.runtime.transaction() as session:
            result = waves.send_wave(session, self.order_id, self.clock.now(),
                                     segments_per_second=self.config.segments_per_second)
        self.trace.waves += result.reason == "sent"

    def on_match(self) -> None:
        """The debounced batch: its guard cleared as it starts (`workers.orders.match_order`)."""
        self.match_pending = False
        self.match()

    def on_recheck(self) -> None:
        """A hold-back's end: a match that leaves the debounced batch's guard alone (as the job does)."""
        self.recheck_at = None
        self.match()

    def match(self) -> None:
        from mobilize.wartime import dispatch

        self.trace.matches += 1
        kwargs = {} if self.config.hold_max_s is None else {"hold_max_s": self.config.hold_max_s}
        with self.runtime.transaction() as session:
            outcome = dispatch.run_matching(session, self.order_id, self.clock.now(),
                                            self.runtime.settings.timezone, **kwargs)
        if outcome.recheck_in_s is not None and self.recheck_at is None:  # as workers.orders.schedule_recheck
            self.recheck_at = self.clock.t + outcome.recheck_in_s
            self.at(self.recheck_at, "recheck")

    def on_sweep(self) -> None:
        from mobilize.wartime import timers

        self.trace.sweeps += 1
        with self.runtime.transaction() as session:
            timers.sweep_order(session, self.order_id, self.clock.now(), self.runtime.settings)
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
        from mobilize.models import Volunteer
        from workers.sms import process_inbound

        statements = _statements()
        with self.runtime.transaction() as session:
            # one INSERT, as the webhook stores it (an ORM object's flush cost more than the statement)
            inbound_id = session.scalar(statements.store_inbound, {
                "message_sid": f"SMDRILL{next(self.inbound_sid):026d}", "from_phone": number,
                "to_phone": DRILL_FROM, "body": body, "received_at": self.clock.now()})
            if number not in self.volunteer_of:  # a phone's volunteer: none is added or renumbered in a drill
                self.volunteer_of[number] = session.scalar(select(Volunteer.id).where(Volunteer.phone == number))
            volunteer_id = self.volunteer_of[number]
        process_inbound(inbound_id)
        with self.runtime.engine.connect() as connection:  # a read only: no session, no unit of work
            parsed = connection.scalar(statements.intent, {"inbound_id": inbound_id})
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
        """Wake the sender if it is idle and the outbox has something to send (as a commit kicks the senders)."""
        # the sender went idle on an empty outbox: only a write to it can give it something again (it looked after
        # every event while idle, a transaction each)
        if self.sending or not self.changed(OUTBOX_TABLES):
            return
        self.written -= OUTBOX_TABLES  # looked at now (`note_fill` forgets the rest when it has read them)
        with self.runtime.transaction() as session:
            waiting = session.scalar(_statements().any_pending)
        if waiting is not None:
            self.sending = True
            self.at(max(self.sender_t, self.clock.t), "send")

    def on_send(self) -> None:
        """One slice of the sender: hand over up to `SEND_SLICE_S` of the cap, high priority first (bulk yields to
        whatever high waits at the start of the slice), each message at the moment the cap lets it go; messages
        not taken stay pending for the next slice."""
        from mobilize.models.messaging import Priority
        from mobilize.wartime.messages import DISPATCH_KINDS

        rate = self.config.segments_per_second
        t = max(self.sender_t, self.clock.t)
        until = t + SEND_SLICE_S
        limit = int(rate * SEND_SLICE_S) + 1
        statements = _statements()
        with self.runtime.transaction() as session:
            rows = []
            for priority in (Priority.high, Priority.bulk):
                if len(rows) >= limit:
                    break
                rows += session.execute(statements.pending, {"priority": priority, "room": limit - len(rows)}).all()
            handed = []
            for row in rows:
                if handed and t + row.segments / rate > until:
                    break  # the next slice: high priority written meanwhile goes first
                t += row.segments / rate
                handed.append(row.id)
                self.trace.handed.append((t, row.kind, row.segments))
                if row.kind in DISPATCH_KINDS:
                    self.note_told(_dispatched_assignment(row.dedupe_key))
                    if row.volunteer_id in self.accepted_at:
                        self.trace.reply_to_dispatch.append(t - self.accepted_at.pop(row.volunteer_id))
                self.at(t, "deliver", row.to_phone, row.body)
            if handed:
                session.execute(statements.handed, {"handed": handed, "handed_at": self.clock.now()})
        self.sender_t = t
        self.sending = bool(handed)
        if handed:
            self.at(t, "send")

    def note_writes(self, _connection, _cursor, statement: str, *_rest) -> None:
        """The engine's after_cursor_execute hook: remember which tables the service wrote to."""
        head = statement.lstrip()[:7].upper()
        if head.startswith(("INSERT", "UPDATE", "DELETE", "REPLACE")):
            found = _WRITTEN_TABLE.match(statement)
            self.written.add(found.group(1).lower() if found else None)

    def changed(self, tables: frozenset[str]) -> bool:
        return None in self.written or not self.written.isdisjoint(tables)

    def note_fill(self) -> None:
        """The fill timelines: places taken (the database), taken and told, taken and confirmed; the commander's
        fill is one of the last two (`fill_definition`). Only what changed is read again (issue 15: re-reading
        every active assignment and re-checking the standby after every answer was a third of the drill's time
        at 100k volunteers and 5,000 places): the statement hook (`note_writes`) says whether a table that
        matters was written at all (a sender slice, the bulk of the events, writes only to the outbox), the
        triggers of `drill.changes` which assignments changed and whether the idle places may have."""
        from mobilize.models import Order
        from mobilize.wartime import dispatch

        if self.changed(FILL_TABLES | IDLE_TABLES):
            everything = None in self.written  # a write the hook could not place: read everything again
            with self.runtime.transaction() as session:
                connection = session.connection()
                if self.changed(FILL_TABLES):
                    self.filled = int(session.scalar(_statements().filled, {"order_id": self.order_id}))
                self.note_assignments(connection, everything)
                # while every place is taken nothing is idle: the mark waits for the next open place
                if self.filled < self.config.places and (changes.take_idle(connection) | everything):
                    self.idle = dispatch.idle_places(session, session.get(Order, self.order_id))
            self.written = set()  # (the reads above wrote only the drill's own logs)
        filled = self.filled
        if filled < self.config.places:
            self.note_idle(self.idle)
        elif self.trace.idle_since:
            self.note_idle(Counter())
        told, confirmed = self.told_count, self.confirmed_count
        trace = self.trace
        self._note("placed", filled, trace.fill_times)
        self._note("told", told, trace.told_times)
        self._note("confirmed", confirmed, trace.confirmed_times)
        self._note("ready", confirmed if trace.fill_definition == "confirmed" else told, trace.ready_times)
        if filled >= self.config.places and trace.first_placed_s is None:
            trace.first_placed_s = self.clock.t
        if trace.ready_times and trace.ready_times[-1][1] >= self.config.places and trace.first_fill_s is None:
            trace.first_fill_s = self.clock.t

    def note_assignments(self, connection, everything: bool) -> None:
        """`active` and its told/confirmed counts, from the assignments logged as changed (all of the order's
        active ones read again after an unknown write)."""
        from mobilize.models import ACTIVE_ASSIGNMENT, Assignment
        from mobilize.wartime.places import ACTIVE

        logged = changes.take_assignments(connection)
        if everything:
            # plain strings: no ORM rows and no enum per row
            self.active = dict(connection.execute(
                select(Assignment.id, cast(Assignment.status, String)).where(
                    Assignment.order_id == self.order_id, Assignment.status.in_(list(ACTIVE)))).all())
            self.count_told()
            return
        for assignment_id, status in logged:
            previous = self.active.pop(assignment_id, None)
            if previous is not None:
                self._count(assignment_id, previous, -1)
            if status in ACTIVE_ASSIGNMENT:
                self.active[assignment_id] = status
                self._count(assignment_id, status, +1)

    def count_told(self) -> None:
        """Active places taken and told, and taken and confirmed (told: the dispatch was handed over, or the
        volunteer said they come; a direct dispatch, to a ready standby volunteer, is confirmed when written but
        known only once handed over)."""
        self.told_count = self.confirmed_count = 0
        for assignment_id, status in self.active.items():
            self._count(assignment_id, status, +1)

    def _count(self, assignment_id: int, status: str, sign: int) -> None:
        """Add (sign +1) or take back (-1) one active assignment's share of the told and confirmed counts."""
        told, comes = assignment_id in self.told, status in KNOWN_TO_COME
        self.told_count += sign * (told or comes)
        self.confirmed_count += sign * (told and comes)

    def note_told(self, assignment_id: int) -> None:
        """A dispatch handed over (the sender writes nothing `count_told` reads: counted here, not re-read; an
        assignment not read yet is counted as told when it is)."""
        if assignment_id in self.told:
            return
        status = self.active.get(assignment_id)
        if status is not None:
            self._count(assignment_id, status, -1)
        self.told.add(assignment_id)
        if status is not None:
            self._count(assignment_id, status, +1)

    def note_idle(self, idle: Counter) -> None:
        """`longest_idle_s`: how long a place stayed open while an accepted volunteer who qualifies for it waited
        unplaced (DESIGN 7). A demand's open places are alike, so the one open longest counts as taken first."""
        now, since = self.clock.t, self.trace.idle_since
        for demand_id in set(since) | set(idle):
            starts = since.setdefault(demand_id, [])
            while len(starts) > idle[demand_id]:
                self.trace.longest_idle_s = max(self.trace.longest_idle_s, now - starts.pop(0))
            starts.extend([now] * (idle[demand_id] - len(starts)))
            if not starts:
                del since[demand_id]

    def _note(self, name: str, count: int, timeline: list[tuple[float, int]]) -> None:
        if self.last.get(name) != count:
            self.last[name] = count
            timeline.append((self.clock.t, count))


@lru_cache(maxsize=1)
def _statements() -> SimpleNamespace:
    """The drill's own statements, run at every answer, sender slice and fill check (tens of thousands at 100k
    volunteers and 5,000 places), built once with bound parameters: building one (its cache key included) cost
    as much as running it (issue 15)."""
    from mobilize.models import Demand, InboundMessage, OutboundMessage, OutboundStatus

    return SimpleNamespace(
        store_inbound=insert(InboundMessage).returning(InboundMessage.id),
        intent=select(InboundMessage.intent).where(InboundMessage.id == bindparam("inbound_id")),
        any_pending=select(OutboundMessage.id).where(OutboundMessage.status == OutboundStatus.pending).limit(1),
        pending=select(OutboundMessage.id, OutboundMessage.to_phone, OutboundMessage.body, OutboundMessage.kind,
                       OutboundMessage.segments, OutboundMessage.volunteer_id, OutboundMessage.dedupe_key)
        .where(OutboundMessage.status == OutboundStatus.pending, OutboundMessage.priority == bindparam("priority"))
        .order_by(OutboundMessage.id).limit(bindparam("room")),
        handed=update(OutboundMessage).where(OutboundMessage.id.in_(bindparam("handed", expanding=True)))
        .values(status=OutboundStatus.sent, sent_at=bindparam("handed_at"), attempts=1)
        .execution_options(synchronize_session=False),
        filled=select(func.coalesce(func.sum(Demand.filled), 0)).where(Demand.order_id == bindparam("order_id")),
    )


def _dispatched_assignment(dedupe_key: str | None) -> int:
    """The assignment a dispatch SMS is about, from its dedupe key (`messages.dispatch_key`)."""
    return int(dedupe_key.rsplit(":", 1)[1]) if dedupe_key else -1


# --- setting up ------------------------------------------------------------------------------------------------


def fill_definition(runtime, order_id: int) -> str:
    """"confirmed" when the order requires confirmation, else "told" (see the module's docstring)."""
    from mobilize.models import Order

    with runtime.transaction() as session:
        return "confirmed" if session.get(Order, order_id).confirmation_required else "told"


def drill_end(config: DrillConfig) -> float:
    """When the drill stops watching (simulated s after launch)."""
    return config.starts_after_s + config.run_after_start_s if config.end_s is None else config.end_s


def officer_rounds(config: DrillConfig) -> list[float]:
    """When the street officers mark no-shows: `no_show_after_s` after the start and an hour later, each only if
    the drill still runs `SETTLE_S` after it (so the backfills it causes are seen, not cut off)."""
    end = drill_end(config)
    rounds = [config.starts_after_s + config.no_show_after_s + k * 3600.0 for k in range(2)]
    return [t for t in rounds if t + SETTLE_S <= end]


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
                         confirmation_required=config.confirmation_required,
                         confirmation_timeout_s=config.confirmation_timeout_s,
                         needed_by=None if config.needed_by_s is None else now + timedelta(seconds=config.needed_by_s),
                         urgent=config.urgent,
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


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its WAL included), through SQLite's backup API."""
    import sqlite3

    with sqlite3.connect(source) as reader, sqlite3.connect(target) as writer:
        reader.backup(writer)
    reader.close()
    writer.close()


def _drill_runtime(settings):
    """The service's runtime on the drill's settings, without Redis (see `WithoutRedis`)."""
    from mobilize.runtime import RedisUnavailable, Runtime

    class WithoutRedis(Runtime):
        """The drill's runtime: no Redis by design (what the service asks of it after a commit, the drill turns
        into events). Asked for Redis, it says so at once, as the service expects of a Redis it cannot reach,
        instead of looking for an embedded server's socket on disk at every commit that queues SMS and every
        live update."""

        @property
        def redis(self):
            raise RedisUnavailable("the drill runs without Redis")

    return WithoutRedis(settings)


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
    cached = None if config.seed_cache is None else \
        Path(config.seed_cache) / f"district-{config.volunteers}-{config.seed}.db"
    if cached is not None and cached.exists():
        _copy_database(cached, instance / "drill.db")  # migrated below if the schema moved on since
    migrate.upgrade(database_url)
    settings = Settings(instance_path=instance, database_url=database_url, redis_url=None, sms_backend="simulator",
                        secret_key="drill", testing=True, sms_segments_per_second=config.segments_per_second)
    runtime = _drill_runtime(settings)
    previous = context._runtime  # the jobs' runtime, put back afterwards
    set_runtime(runtime)
    try:
        say(f"seeding the demo district with {config.volunteers:,} volunteers")
        with runtime.transaction() as session:
            seed_demo(session, volunteers=config.volunteers, seed=config.seed)  # nothing written when cached
            seed_roster(session, now=START, seed=config.seed)  # the peacetime roster keeps running beside it
        if cached is not None and not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.part")  # parallel runs: the first one to finish wins
            _copy_database(instance / "drill.db", partial)
            partial.replace(cached)
        _import_service()
        clock = SimClock(START)
        # the district's 100,000 volunteers and every module are built by now: Python's full collections walked
        # them all, 75 times at 100k/5,000 (10.9 s of about 235; frozen, 5.4 s: docs/benchmarks.md)
        with simulated(clock), frozen_heap():
            if config.history_invitations:
                from mobilize.drill.history import seed_history

                seed_history(runtime, build_order, config, clock.now(), config.history_invitations, config.model)
            order_id = build_order(runtime, config, clock.now())
            with runtime.transaction() as session:  # after the seed cache was copied: never in it
                changes.install(session.connection(), order_id)
            drill = Drill(config, runtime, order_id, clock)
            drill.trace.fill_definition = fill_definition(runtime, order_id)

            def collect(session) -> None:  # the after-commit hook of workers.orders.install, as events
                for key, ids in followups.take(session).items():
                    if order_id in ids:
                        drill.requests.setdefault(key, set()).add(order_id)

            event.listen(runtime.sessions, "after_commit", collect)
            event.listen(runtime.engine, "after_cursor_execute", drill.note_writes)
            say(f"order {order_id}: {config.places} places; launching ({config.strategy})")
            drill.on_launch()
            drill.requests.clear()
            everyone = config.strategy == "all_at_once"  # an urgent order is the service's own: order.urgent
            drill.at(0.0, "wave_all" if everyone else "wave")
            drill.wave_pending = not everyone
            drill.at(SWEEP_S, "sweep")
            end = drill_end(config)
            for t in officer_rounds(config):
                drill.at(t, "no_shows")
            drill.run(end)
            report = build_report(runtime, order_id, config, drill.trace, clock)
        # real time in all (seeding, the order, the report) and of the simulated order alone: simulated_s over
        # either is the drill's speed (issue 15: at least 50 simulated seconds per real second at 100k/5,000)
        report["real_seconds"] = round(time.perf_counter() - started, 1)
        report["run_real_seconds"] = round(drill.trace.real_s, 1)
        return report
    finally:
        set_runtime(previous)
        runtime.close()
