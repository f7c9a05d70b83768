"""A live stack for end-to-end tests: the real app on a real socket, the SMS simulator calling it back, a Runtime
on a real database and Redis, and helpers to run the RQ jobs in-process or in worker processes."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rq import SimpleWorker
from werkzeug.serving import WSGIRequestHandler, make_server

from config import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, Settings
from mobilize.app import create_app
from mobilize.runtime import Runtime
from mobilize.sms.simulator import SimulatorConfig
from mobilize.sms.simulator.control import SimulatorControl
from mobilize.sms.simulator.server import SimulatorServer
from workers.context import set_runtime
from workers.queues import all_queues


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


class _AppSlot:
    """A WSGI callable whose target is set after the socket (and so the public URL) exists."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@dataclass
class LiveStack:
    runtime: Runtime
    simulator: SimulatorServer
    control: SimulatorControl
    public_url: str
    _server: object = field(repr=False, default=None)
    _workers: list = field(default_factory=list, repr=False)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def run_jobs(self) -> None:
        """Run every queued job in this process until the queues are empty (RQ's SimpleWorker, burst)."""
        redis = self.runtime.redis
        SimpleWorker(all_queues(redis), connection=redis).work(burst=True, logging_level="WARNING")

    def worker_env(self, **extra: str) -> dict[str, str]:
        settings = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_"))}
        env.update(DATABASE_URL=settings.database_url, REDIS_URL=self.runtime.redis_url, SMS_BACKEND="simulator",
                   SIMULATOR_URL=settings.simulator_url, TWILIO_ACCOUNT_SID=settings.twilio_account_sid,
                   TWILIO_AUTH_TOKEN=settings.twilio_auth_token, TWILIO_FROM=settings.twilio_from or "",
                   PUBLIC_BASE_URL=self.public_url, MOBILIZE_INSTANCE_PATH=str(settings.instance_path),
                   SMS_SEGMENTS_PER_SECOND=str(settings.sms_segments_per_second), LOG_LEVEL="WARNING")
        env.update(extra)
        return env

    def start_worker(self, *args: str, **env: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "mobilize", "worker", *args], env=self.worker_env(**env),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._workers.append(process)
        return process

    def stop_workers(self) -> None:
        for process in self._workers:
            if process.poll() is None:
                process.terminate()
        for process in self._workers:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self._workers.clear()

    def close(self) -> None:
        self.stop_workers()
        self._server.shutdown()
        self._server.server_close()
        self.simulator.stop()
        set_runtime(None)
        self.runtime.close()


def start_stack(instance: Path, database_url: str, redis_url: str, *, time_scale: float = 0.001,
                segments_per_second: float = 10_000, **simulator_options) -> LiveStack:
    slot = _AppSlot()
    server = make_server("127.0.0.1", 0, slot, threaded=True, request_handler=_Quiet)
    server.daemon_threads = True
    public_url = f"http://127.0.0.1:{server.server_port}"
    simulator = SimulatorServer(SimulatorConfig(
        account_sid=SIMULATOR_ACCOUNT_SID, auth_token=SIMULATOR_AUTH_TOKEN, webhook_url=public_url + "/twilio/sms",
        sender_number="+8610690000", time_scale=time_scale, **simulator_options)).start()
    settings = Settings(instance_path=instance, database_url=database_url, redis_url=redis_url,
                        sms_backend="simulator", simulator_url=simulator.url,
                        twilio_account_sid=SIMULATOR_ACCOUNT_SID, twilio_auth_token=SIMULATOR_AUTH_TOKEN,
                        twilio_from="+8610690000", public_base_url=public_url, secret_key="test",
                        sms_segments_per_second=segments_per_second, testing=True)
    runtime = Runtime(settings)
    set_runtime(runtime)
    slot.app = create_app(runtime=runtime)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return LiveStack(runtime, simulator, SimulatorControl(simulator.url), public_url, server)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
