"""`mobilize up` as a user runs it: everything starts, /healthz is green, the API reads, Ctrl-C leaves nothing."""
from __future__ import annotations

import json
import re
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> set[int]:
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent and int(entry.name) not in found:
                found.add(int(entry.name))
                frontier.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def get_json(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def up_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "PUBLIC_BASE_URL")}
    env.update(MOBILIZE_INSTANCE_PATH=str(tmp_path / "instance"), PYTHONUNBUFFERED="1")
    return env


def test_up_serves_health_and_api_and_stops_cleanly_on_ctrl_c(up_env, tmp_path):
    mobilize = [sys.executable, "-m", "mobilize"]
    subprocess.run(mobilize + ["seed", "demo", "--volunteers", "60"], env=up_env, check=True, capture_output=True)
    subprocess.run(mobilize + ["users", "create", "--username", "cmd", "--password", "password-1",
                               "--role", "commander"], env=up_env, check=True, capture_output=True)
    token = subprocess.run(mobilize + ["users", "token", "--username", "cmd"], env=up_env, check=True,
                           capture_output=True, text=True).stdout.strip()
    port = free_port()
    up = subprocess.Popen(mobilize + ["up", "--port", str(port), "--workers", "1", "--web-workers", "1"],
                          env=up_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        status, body = 0, {}
        while time.monotonic() < deadline:
            try:
                status, body = get_json(base + "/healthz")
                if status == 200 and body.get("status") == "ok":  # degraded (200) until the workers register
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert status == 200 and body["status"] == "ok", body
        status, streets = get_json(base + "/api/v1/streets", token)
        assert status == 200 and streets["pagination"]["total"] == 11
        children = descendants(up.pid)
        assert len(children) >= 4  # redis, web (+ its workers), worker, scheduler
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output
    assert "mobilize is up" in output and f"{base}/api/v1" in output
    # the demo's volunteers (less the opted out) answer as simulated phones
    assert re.search(r"simulator at http://127\.0\.0\.1:\d+; \d\d volunteers' phones answer like people", output)
    time.sleep(0.5)
    assert [pid for pid in children if alive(pid)] == [], output
    # the web process and the worker froze what they had built (mobilize.heap): full garbage collections walked it
    for log_name, event in (("web.log", "web.heap_frozen"), ("worker-1.log", "worker.heap_frozen")):
        logged = (tmp_path / "instance" / "logs" / log_name).read_text()
        frozen = re.findall(re.escape(event) + r"\s+objects=(\d+)", logged)
        assert len(frozen) == 1 and int(frozen[0]) > 50_000, (log_name, frozen)


def test_a_demo_start_prints_what_a_person_needs_and_logs_the_rest(up_env, tmp_path):
    """`scripts/run`'s start (`mobilize up --demo`): the addresses, the demo logins, how to stop and where the log
    is, a screen's worth; migrations, the demo's details and each part starting go to logs/up.log."""
    port = free_port()
    up = subprocess.Popen([sys.executable, "-m", "mobilize", "up", "--demo", "--demo-volunteers", "40", "--port",
                           str(port), "--workers", "1", "--web-workers", "1"],
                          env=up_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        for line in up.stdout:
            lines.append(line.rstrip("\n"))
            if "Ctrl-C" in line:
                break
    finally:
        up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=30)
    assert up.returncode == 0, "\n".join(lines) + rest
    shown = "\n".join(lines)
    log_file = tmp_path / "instance" / "logs" / "up.log"
    assert f"its log: {log_file}" in shown
    assert f"http://127.0.0.1:{port}/command" in shown
    assert re.search(r"^  admin / \S+  \(admin\)$", shown, re.MULTILINE)  # the demo logins, once
    assert shown.count("admin / ") == 1
    assert "demo district: 11 streets" in shown
    assert len([line for line in lines if line.strip()]) <= 20, shown
    assert "alembic" not in shown and "stack.started" not in shown and "roster.generated" not in shown
    logged = log_file.read_text()
    assert "Running upgrade" in logged and "stack.started" in logged and "demo.seeded" in logged


def test_up_refuses_a_busy_port_in_one_line(up_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "mobilize", "up", "--port", str(port)], env=up_env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
