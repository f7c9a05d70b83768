"""`mobilize drill --live`: a small drill on the live stack (Redis, simulator, web, RQ workers, scheduler as
`mobilize up` runs them), end to end through the CLI, and no process left behind after it or after Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("places", "filled", "time_to_fill_s", "sms_sent", "segments_sent", "standby", "backfills",
        "capacity_violations", "per_street")


def _env() -> dict[str, str]:
    # the suite's own Redis and database are not the drill's: it starts a throwaway stack of its own
    return {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "PUBLIC_BASE_URL")}


def _processes_of(folder: Path) -> list[int]:
    """Processes whose environment or command line names the drill's folder (its children and Redis)."""
    needle = str(folder).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            seen = Path(f"/proc/{entry}/environ").read_bytes() + Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if needle in seen:
            found.append(int(entry))
    return found


def _drill(folder: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mobilize", "drill", "--live", "--volunteers", "300",
                             "--places", "20", "--compress", "60", "--time-limit", "240", "--workdir", str(folder),
                             *extra], cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.slow
def test_a_small_live_drill_fills_without_violations_and_one_dispatch_per_assignment(tmp_path):
    drill = _drill(tmp_path, "--json")
    out, err = drill.communicate(timeout=280)
    assert drill.returncode == 0, err[-3000:]
    report = json.loads(out)
    for key in KEYS:
        assert key in report
    assert report["mode"] == "live" and report["time_unit"] == "real seconds"
    assert report["filled"] == report["places"] == 20
    assert report["capacity_violations"] == 0
    assert report["time_to_fill_s"] is not None and report["time_to_fill_s"] > 0
    check = report["dispatch_sms"]
    assert check["assignments"] >= 20  # a drop-out or timeout may add a backfill
    assert check["at_gateway"] == check["dispatch_rows"] == check["assignments"]
    assert check["missing"] == check["duplicated"] == check["volunteers_not_exactly_one_per_assignment"] == 0
    assert report["outbox_drained"]
    # the gateway's log and the outbox agree on what was handed over
    assert report["sms_sent"] == report["outbox_handed"] and report["segments_sent"] >= report["sms_sent"]
    assert report["replies"].get("accept", 0) >= 20
    assert report["reply_to_dispatch_s"]["n"] >= 20
    assert sum(s["places"] for s in report["per_street"].values()) == 20
    assert "launched" in err  # progress on stderr
    assert _processes_of(tmp_path) == []


@pytest.mark.slow
def test_ctrl_c_stops_every_process_of_the_live_drill(tmp_path):
    drill = _drill(tmp_path)
    seen = ""
    deadline = time.monotonic() + 120
    while "launched" not in seen:  # the whole stack is up and the order is out
        line = drill.stderr.readline()
        assert line or drill.poll() is None, seen[-3000:]
        seen += line
        assert time.monotonic() < deadline, seen[-3000:]
    assert _processes_of(tmp_path)  # the stack's children are running
    drill.send_signal(signal.SIGINT)
    drill.communicate(timeout=60)
    assert drill.returncode != 0
    assert _processes_of(tmp_path) == []
