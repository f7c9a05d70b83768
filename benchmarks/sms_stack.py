"""A live mobilize stack for the SMS benchmarks, assembled from real processes as `mobilize up` runs them:
embedded Redis (a temp dir), a migrated SQLite file (a temp dir), `mobilize simulator` under gunicorn, the web
app under gunicorn, and `mobilize worker` processes; for a baseline, another app served as the web app is
(`start_receiver`). Everything is started through `benchmarks.procs.Children`, so every process ends with the
benchmark."""
from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

from benchmarks.procs import BenchmarkError, Child, Children, free_port

ROOT = Path(__file__).resolve().parent.parent
SENDER = "+8610690000"
NO_CAP = 1_000_000  # SMS_SEGMENTS_PER_SECOND for "no cap"


class SmsStack:
    def __init__(self, workdir: Path, children: Children, database_url: str | None = None):
        self.workdir = Path(workdir)
        self.children = children
        self.instance = self.workdir / "instance"
        self.database_url = database_url or f"sqlite:///{self.workdir / 'mobilize.db'}"
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)
        self.redis = None
        self.redis_url = ""
        self.simulator_url = ""
        self.web_port = 0
        self.public_url = ""
        self.simulator: Child | None = None
        self.web: Child | None = None
        self.web_serving: tuple[int, int] | None = None  # gunicorn's (--workers, --threads), set by start_web
        self.workers: list[Child] = []
        self._runtime = None

    # -- parts -------------------------------------------------------------------------------------------------

    def start_redis(self) -> None:
        from mobilize.embedded_redis import EmbeddedRedis

        self.redis = EmbeddedRedis(self.instance).start()
        self.redis_url = self.redis.url

    def migrate(self) -> None:
        from mobilize.migrate import upgrade

        upgrade(self.database_url)

    def env(self, segments_per_second: float = NO_CAP, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("TWILIO_", "SMS_", "SIMULATOR_", "MOBILIZE_"))
               and key not in ("DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL")}
        env.update(
            DATABASE_URL=self.database_url, REDIS_URL=self.redis_url, SMS_BACKEND="simulator",
            SIMULATOR_URL=self.simulator_url, TWILIO_ACCOUNT_SID=self.account_sid,
            TWILIO_AUTH_TOKEN=self.auth_token, TWILIO_FROM=SENDER, PUBLIC_BASE_URL=self.public_url,
            MOBILIZE_INSTANCE_PATH=str(self.instance), SMS_SEGMENTS_PER_SECOND=str(segments_per_second),
            SECRET_KEY="bench", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
            MOBILIZE_ENV_FILE=str(self.workdir / "no.env"),  # never a developer's .env
            PYTHONPATH=str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
        )
        env.update(extra)
        return env

    def start_simulator(self, time_scale: float = 1.0) -> None:
        port = free_port()
        self.simulator_url = f"http://127.0.0.1:{port}"
        self.simulator = self.children.start("simulator", [
            sys.executable, "-m", "mobilize", "simulator", "--host", "127.0.0.1", "--port", str(port),
            "--account-sid", self.account_sid, "--auth-token", self.auth_token, "--webhook-url", "none",
            "--sender-number", SENDER, "--time-scale", str(time_scale)], self.env(), cwd=ROOT)
        self.children.wait_port(port, self.simulator)

    def start_web(self, workers: int = 2, threads: int | None = None) -> None:
        """The web app as `mobilize up` serves it (gunicorn, gthread, the same worker and thread counts)."""
        if threads is None:
            from mobilize import supervisor

            threads = getattr(supervisor, "WEB_THREADS", 4)
        self.web_serving = (workers, threads)
        self.web_port = free_port()
        self.public_url = f"http://127.0.0.1:{self.web_port}"
        self.web = self._gunicorn("web", self.web_port, "mobilize.app:create_app()", self.env())

    def start_receiver(self, name: str, app: str, **env: str) -> tuple[Child, str]:
        """Another app (gunicorn's "module:factory()") served exactly as start_web serves the web app, on its
        own port, with this stack's environment and PUBLIC_BASE_URL its own URL; (its process, that URL). For a
        baseline that must differ from the web app in its handler only."""
        if self.web_serving is None:
            raise BenchmarkError("start_web first: the receiver is served as the web app is")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        return self._gunicorn(name, port, app, self.env(PUBLIC_BASE_URL=url, **env)), url

    def _gunicorn(self, name: str, port: int, app: str, env: dict[str, str]) -> Child:
        from mobilize.supervisor import web_server_command

        workers, threads = self.web_serving
        child = self.children.start(name, web_server_command(f"127.0.0.1:{port}", workers, threads, app), env, cwd=ROOT)
        self.children.wait_port(port, child)
        return child

    def start_workers(self, count: int, segments_per_second: float = NO_CAP) -> list[Child]:
        env = self.env(segments_per_second)
        for number in range(count):
            self.workers.append(self.children.start(f"worker-{len(self.workers) + 1}",
                                                    [sys.executable, "-m", "mobilize", "worker"], env, cwd=ROOT))
        self.wait_workers_ready(count)
        return self.workers

    def wait_workers_ready(self, count: int, timeout: float = 60.0) -> None:
        """Until `count` RQ workers are registered (so the kick finds them listening)."""
        from rq import Worker

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.children.check_alive(*self.workers)
            if len(Worker.all(connection=self.runtime.redis)) >= count:
                return
            time.sleep(0.1)
        raise BenchmarkError(f"{count} workers did not register within {timeout:.0f} s")

    def stop_workers(self) -> None:
        if self.workers:
            self.children.stop(*self.workers)
            self.workers = []
        # a worker killed mid-way leaves its registration behind for a while; forget them all
        from rq import Worker

        for worker in Worker.all(connection=self.runtime.redis):
            worker.register_death()

    # -- the benchmark's own view --------------------------------------------------------------------------------

    @property
    def runtime(self):
        """A Runtime in this process on the same database and Redis (to queue messages and read rows)."""
        if self._runtime is None:
            from config import Settings
            from mobilize.runtime import Runtime

            self._runtime = Runtime(Settings(
                instance_path=self.instance, database_url=self.database_url, redis_url=self.redis_url,
                sms_backend="simulator", simulator_url=self.simulator_url, twilio_account_sid=self.account_sid,
                twilio_auth_token=self.auth_token, twilio_from=SENDER, public_base_url=self.public_url,
                secret_key="bench", log_level="WARNING"))
        return self._runtime

    def control(self):
        from mobilize.sms.simulator.control import SimulatorControl

        return SimulatorControl(self.simulator_url, timeout=120)

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        self.children.stop()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
