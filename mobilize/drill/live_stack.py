"""The live drill's stack: `mobilize up`'s processes (`supervisor.Stack`'s plan: the SMS simulator, gunicorn, RQ
workers, the scheduler) on embedded Redis in a throwaway instance, started, watched and stopped; the drill's
people registered in the simulator; every process stopped on the way out (an error, Ctrl-C, SIGTERM)."""
from __future__ import annotations

import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import structlog
from sqlalchemy import select

from mobilize.supervisor import SIMULATED_VOLUNTEER, Stack, StackError, free_port

log = structlog.get_logger(__name__)

SENDER = "+8610690000"
# A Ctrl-C (or SIGTERM) the drill has been asked to stop by, kept until its loop has acted on it. Python raises the
# KeyboardInterrupt at whatever bytecode runs next, and one raised inside a finaliser (a `__del__`, a weakref
# callback such as a connection pool's) is printed and dropped: in CI, under load, one Ctrl-C went unheard and
# the drill ran on for a minute. `LiveStack.check`, at every poll, raises it again.
_STOP_ASKED = threading.Event()


@dataclass
class LiveStack(Stack):
    """`mobilize up`'s children (supervisor.Stack's plan) in a throwaway instance, with a compressed simulator
    clock and the matching timers set through the environment. Use as a context manager: every child and the
    embedded Redis are stopped on the way out (an error, Ctrl-C, SIGTERM)."""

    simulator_time_scale: float = 1.0  # the drill's compression (1/compress) instead of `mobilize up`'s demo pace
    env: dict[str, str] = field(default_factory=dict)
    redis: Any = None
    _runtime: Any = None

    def __post_init__(self) -> None:
        # a throwaway instance: never a developer's .env, Twilio account or database; the caller's overrides last
        self.env_overrides = {
            "SMS_BACKEND": "simulator", "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
            "TWILIO_AUTH_TOKEN": secrets.token_hex(16), "TWILIO_FROM": SENDER, "TWILIO_MESSAGING_SERVICE_SID": "",
            "PUBLIC_BASE_URL": f"http://{self.host}:{self.port}", "SECRET_KEY": "live-drill",
            "MOBILIZE_ENV_FILE": str(self.settings.instance_path / "no.env"), "MOBILIZE_DEMO": "",
            "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING", **self.env_overrides}

    @classmethod
    def in_folder(cls, folder: Path, **kwargs: Any) -> Self:
        from config import Settings

        instance = Path(folder) / "instance"
        instance.mkdir(parents=True, exist_ok=True)
        settings = Settings(instance_path=instance, database_url=f"sqlite:///{instance / 'mobilize.db'}",
                            redis_url=None, sms_backend="simulator", secret_key="live-drill")
        return cls(settings, port=free_port("127.0.0.1"), **kwargs)

    # --- starting ------------------------------------------------------------------------------------------------

    def prepare(self, volunteers: int, seed: int, roster: bool = True) -> None:
        """Embedded Redis, the migrated database and the demo district (before any child reads it)."""
        from mobilize.embedded_redis import EmbeddedRedis

        self.redis = EmbeddedRedis(self.settings.instance_path).start()
        self.migrate()
        seed_district(self.settings.database_url, self.settings.instance_path, volunteers, seed, roster)

    def start(self, register_phones: bool = True, seed: int | None = None) -> int:
        """Every child, as `mobilize up` starts them; returns how many simulated phones answer like people."""
        self.env = self.start_children(self.redis.url)
        self.wait_workers()
        self._wait_simulator()
        return self.register_phones(seed) if register_phones else 0

    def register_phones(self, seed: int | None) -> int:
        """Every reachable volunteer's phone answers through the drill's answer model, as `mobilize up` registers
        them, but seeded: each phone draws from (seed, its number), so a drill's people decide alike each run."""
        from mobilize.models import Volunteer

        with self.runtime.transaction() as session:
            phones = session.execute(select(Volunteer.phone, Volunteer.language)
                                     .where(Volunteer.opted_out_at.is_(None))).all()
        control = self.control()
        for start in range(0, len(phones), 5000):
            control.register_phones([{"number": phone, "profile": {"language": language, "seed": seed}}
                                     for phone, language in phones[start:start + 5000]],
                                    responder=SIMULATED_VOLUNTEER)
        return len(phones)

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
    def runtime(self) -> Any:
        """A runtime in this process on the children's settings (the after-commit hook queues their jobs)."""
        if self._runtime is None:
            from config import Settings
            from mobilize.runtime import Runtime
            from workers.orders import install

            self._runtime = Runtime(Settings.from_env(self.env, load_dotenv_file=False))
            install(self._runtime)
        return self._runtime

    def control(self) -> Any:
        """The simulator's control API (its message log, phones)."""
        from mobilize.sms.simulator.control import SimulatorControl

        return SimulatorControl(self.env["SIMULATOR_URL"], timeout=120)

    def check(self) -> None:
        """A child that died ends the drill (unlike `mobilize up`, which restarts it): the figures would lie. So
        does a Ctrl-C whose KeyboardInterrupt was lost on the way (see _STOP_ASKED)."""
        if _STOP_ASKED.is_set():
            _STOP_ASKED.clear()
            raise KeyboardInterrupt
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

    def __exit__(self, *_exc: object) -> None:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
        _STOP_ASKED.clear()  # stopping now: acted on
        try:
            self.close()
        finally:
            signal.signal(signal.SIGINT, previous)


def seed_district(database_url: str, instance: Path, volunteers: int, seed: int, roster: bool) -> None:
    """The demo district (and its peacetime roster) in the instance's database."""
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
    """SIGTERM ends the drill like Ctrl-C (the `finally` blocks stop the children), and either is remembered until
    the drill's loop has acted on it (_STOP_ASKED); the handlers are restored afterwards."""

    def on_stop(_signum: int, _frame: object) -> None:
        _STOP_ASKED.set()
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    _STOP_ASKED.clear()
    previous = {signum: signal.signal(signum, on_stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def live_stack(config_workdir: Path | None, **kwargs: Any) -> Iterator[LiveStack]:
    """A LiveStack in `config_workdir` or a temporary folder (removed afterwards), stopped on the way out."""
    with terminate_as_interrupt():
        if config_workdir is not None:
            with LiveStack.in_folder(config_workdir, **kwargs) as stack:
                yield stack
            return
        with tempfile.TemporaryDirectory(prefix="mobilize-live-drill-") as folder, \
                LiveStack.in_folder(Path(folder), **kwargs) as stack:
            yield stack
