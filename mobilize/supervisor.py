"""`mobilize up`: every part of the service on the embedded defaults, started in order and stopped cleanly.

Redis first (embedded unless REDIS_URL is set), then the database migrations, the SMS simulator (when
SMS_BACKEND=simulator), the web server (gunicorn), the RQ workers and the periodic scheduler. A child that dies
is restarted a few times; Ctrl-C or SIGTERM stops all children, then Redis, and leaves no process behind.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from config import Settings

log = structlog.get_logger(__name__)

MAX_RESTARTS = 3
STOP_TIMEOUT_S = 10.0
# gunicorn gthread threads per web worker. Each open live-update stream (SSE, mobilize/web/events.py) holds a
# thread; a worker serves at most EVENT_STREAMS_PER_PROCESS (24) of them, which leaves 8 for pages and the API.
WEB_THREADS = 32
# The simulated volunteers of `mobilize up` answer ten times faster than people (minutes become tens of seconds),
# so that a demo order fills while someone watches; the order's own timers run in real time.
SIMULATOR_TIME_SCALE = 0.1
SIMULATED_VOLUNTEER = "mobilize.drill.responder:drill_responder"


def web_server_command(bind: str, processes: int, threads: int, app: str = "mobilize.app:create_app()") -> list[str]:
    """gunicorn as `mobilize up` runs it (the benchmarks serve their baselines the same way): gthread, its hooks in
    mobilize.web.gunicorn_conf."""
    return [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(processes), "--threads", str(threads),
            "--graceful-timeout", "5", "--no-control-socket", "--config", "python:mobilize.web.gunicorn_conf", app]


class StackError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    restarts: int = 0

    def start(self, env: dict[str, str], log_dir: Path) -> None:
        log_file = open(log_dir / f"{self.name}.log", "ab")
        self.process = subprocess.Popen(self.command, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log_file.close()
        log.info("stack.started", part=self.name, pid=self.process.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill_group(self) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def signal(self, signum: int) -> None:
        if self.alive():
            try:
                os.killpg(self.process.pid, signum)  # the whole group: gunicorn's and RQ's own children too
            except ProcessLookupError:
                pass


@dataclass
class Stack:
    settings: Settings
    host: str = "127.0.0.1"
    port: int = 5000
    worker_count: int = 2
    web_workers: int = 2
    simulator_time_scale: float = SIMULATOR_TIME_SCALE  # the simulated phones' pace (0.1: ten times faster)
    env_overrides: dict[str, str] = field(default_factory=dict)  # set last in every child's environment
    children: list[Child] = field(default_factory=list)
    _stopping: bool = False

    def run(self) -> None:
        _require_free_port(self.host, self.port)
        redis = None
        if self.settings.uses_embedded_redis:
            from mobilize.embedded_redis import EmbeddedRedis, EmbeddedRedisError

            try:
                redis = EmbeddedRedis(self.settings.instance_path).start()
            except EmbeddedRedisError as error:
                raise StackError(str(error)) from None
        redis_url = self.settings.redis_url or redis.url
        try:
            self.migrate()
            env = self.start_children(redis_url)
            log_dir = self.settings.instance_path / "logs"
            phones = self._register_simulated_phones(env)
            # before the announcement says so: a Ctrl-C right after it stops the stack cleanly (exit 0), not
            # as a KeyboardInterrupt in the middle of the start ("Aborted!", exit 1)
            self._stop_on_signals()
            self._announce(env, log_dir, phones)
            self._supervise(env, log_dir)
        finally:
            self.stop()
            if redis is not None:
                redis.stop()

    def migrate(self) -> None:
        """The database migrated to the newest schema."""
        from mobilize.migrate import upgrade

        upgrade(self.settings.database_url)

    def start_children(self, redis_url: str) -> dict[str, str]:
        """Every child started in order on `redis_url` (logs in the instance's logs folder), until the web server
        listens; returns the children's environment."""
        env = self._child_env(redis_url)
        self.children = self._plan(env)
        log_dir = self.settings.instance_path / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        for child in self.children:
            child.start(env, log_dir)
        self._wait_for_web()
        return env

    def _child_env(self, redis_url: str) -> dict[str, str]:
        env = dict(os.environ)
        base_url = os.environ.get("PUBLIC_BASE_URL") or f"http://{self.host}:{self.port}"
        env.update(REDIS_URL=redis_url, PUBLIC_BASE_URL=base_url,
                   MOBILIZE_INSTANCE_PATH=str(self.settings.instance_path),
                   DATABASE_URL=self.settings.database_url, PYTHONUNBUFFERED="1")
        if self.settings.sms_backend == "simulator":
            sim_port = free_port(self.host)
            env.setdefault("TWILIO_ACCOUNT_SID", "AC" + secrets.token_hex(16))
            env.setdefault("TWILIO_AUTH_TOKEN", secrets.token_hex(16))
            env.setdefault("TWILIO_FROM", "+8610690000")
            env["SIMULATOR_URL"] = f"http://{self.host}:{sim_port}"
        env.update(self.env_overrides)
        return env

    def _plan(self, env: dict[str, str]) -> list[Child]:
        mobilize = [sys.executable, "-m", "mobilize"]
        children = []
        if self.settings.sms_backend == "simulator":
            sim_port = env["SIMULATOR_URL"].rsplit(":", 1)[1]
            children.append(Child("simulator", mobilize + ["simulator", "--host", self.host, "--port", sim_port,
                                                           "--time-scale", str(self.simulator_time_scale)]))
        children.append(Child("web", web_server_command(f"{self.host}:{self.port}", self.web_workers, WEB_THREADS)))
        for number in range(self.worker_count):
            # no --with-scheduler: `mobilize scheduler` moves the delayed jobs too, under its lease, and a worker's
            # forked RQ scheduler is one more process that could outlive its worker
            children.append(Child(f"worker-{number + 1}", mobilize + ["worker"]))
        children.append(Child("scheduler", mobilize + ["scheduler"]))
        return children

    def _wait_for_web(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        web = next(child for child in self.children if child.name == "web")
        while time.monotonic() < deadline:
            if not web.alive():
                raise StackError(f"the web server exited at start; see {self.settings.instance_path}/logs/web.log")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise StackError(f"the web server did not listen on {self.host}:{self.port} within {timeout:.0f}s")

    def _register_simulated_phones(self, env: dict[str, str], timeout: float = 20.0) -> int:
        """In simulator mode, every volunteer's phone answers like people do (the drill's answer model: minutes
        of delay, declines, confirmations, drop-outs, a few STOPs), so an order fills while you watch."""
        if "SIMULATOR_URL" not in env:
            return 0
        from sqlalchemy import select

        from mobilize.models import Volunteer
        from mobilize.runtime import Runtime
        from mobilize.sms.simulator.control import SimulatorControl

        runtime = Runtime(self.settings)
        try:
            with runtime.transaction() as session:
                phones = session.execute(select(Volunteer.phone, Volunteer.language)
                                         .where(Volunteer.opted_out_at.is_(None))).all()
        finally:
            runtime.close()
        control = SimulatorControl(env["SIMULATOR_URL"])
        deadline = time.monotonic() + timeout
        while True:
            try:
                control.health()
                break
            except Exception:  # not listening yet
                if time.monotonic() > deadline:
                    log.warning("stack.simulator_unreachable", url=env["SIMULATOR_URL"])
                    return 0
                time.sleep(0.2)
        for start in range(0, len(phones), 5000):
            control.register_phones([{"number": phone, "profile": {"language": language}}
                                     for phone, language in phones[start:start + 5000]],
                                    responder=SIMULATED_VOLUNTEER)
        return len(phones)

    def _announce(self, env: dict[str, str], log_dir: Path, phones: int = 0) -> None:
        base = f"http://{self.host}:{self.port}"
        lines = [
            "", "mobilize is up:",
            f"  command center   {base}/command  (street boards: {base}/board/<street>)",
            f"  API              {base}/api/v1  (OpenAPI: {base}/api/v1/openapi.json)",
            f"  health           {base}/healthz",
        ]
        if "SIMULATOR_URL" in env:
            lines.append(f"  simulated phones {base}/phones  (simulator at {env['SIMULATOR_URL']}; {phones:,} "
                         f"volunteers' phones answer like people, {self.simulator_time_scale:g}x their real delays)")
        credentials = self.settings.instance_path / "demo-credentials.txt"
        if credentials.exists():
            lines += ["", "demo logins (demo mode only):"] + [
                "  " + line for line in credentials.read_text().splitlines() if line.strip()]
        lines += ["", f"logs in {log_dir}; Ctrl-C stops everything.", ""]
        print("\n".join(lines), flush=True)

    def _stop_on_signals(self) -> None:
        def request_stop(_signum, _frame):
            self._stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    def _supervise(self, env: dict[str, str], log_dir: Path) -> None:
        while not self._stopping:
            time.sleep(0.5)
            for child in self.children:
                if self._stopping or child.alive():
                    continue
                if child.restarts >= MAX_RESTARTS:
                    raise StackError(f"{child.name} keeps exiting; see {log_dir}/{child.name}.log")
                child.restarts += 1
                log.warning("stack.restarting", part=child.name, exit_code=child.process.returncode,
                            restarts=child.restarts)
                child.kill_group()  # what it forked (gunicorn's or RQ's children) dies with it, no orphan left
                child.start(env, log_dir)

    def stop(self) -> None:
        """SIGTERM to every child's process group, then SIGKILL to whatever is left after the timeout."""
        for child in reversed(self.children):
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.signal(signal.SIGKILL)
                child.process.wait()
            child.kill_group()  # grandchildren left in the group, if any
        if self.children:
            log.info("stack.stopped")
        self.children = []


def _require_free_port(host: str, port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise StackError(f"port {port} on {host} is in use; pick another with --port") from None


def free_port(host: str) -> int:
    """A TCP port free on `host` right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
