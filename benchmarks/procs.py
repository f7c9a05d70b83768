"""Child processes for benchmarks that run a live stack: each child in its own process group, every group
stopped on the way out (normal end, an exception, Ctrl-C, SIGTERM, or the benchmark's own time limit).

    with Children(log_dir) as children:
        web = children.start("web", [...], env)
        children.wait_port(port, web)
        ...
    # every group got SIGTERM, then SIGKILL after a grace period
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class BenchmarkError(RuntimeError):
    pass


class TimeLimit(BaseException):
    """The benchmark ran past its own time limit (raised from SIGALRM; a BaseException so that nothing
    swallows it on the way to the cleanup)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def install_signal_handlers(time_limit_s: float | None) -> None:
    """SIGTERM behaves like Ctrl-C (so `finally` blocks run); SIGALRM after `time_limit_s` aborts the run."""

    def on_term(_signum, _frame):
        raise KeyboardInterrupt

    def on_alarm(_signum, _frame):
        raise TimeLimit(f"the benchmark ran past its time limit of {time_limit_s:.0f} s")

    signal.signal(signal.SIGTERM, on_term)
    if time_limit_s:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(int(time_limit_s))


class Child:
    def __init__(self, name: str, process: subprocess.Popen, log_path: Path):
        self.name = name
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


class Children:
    """The processes a benchmark started; `stop()` (or leaving the `with`) ends every one of them."""

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []

    def start(self, name: str, command: list[str], env: dict[str, str], cwd: Path | None = None) -> Child:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log_file,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def wait_port(self, port: int, child: Child, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.alive():
                raise BenchmarkError(f"{child.name} exited at start (exit {child.process.returncode}):\n"
                                     f"{child.log_tail()}")
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise BenchmarkError(f"{child.name} did not listen on {host}:{port} within {timeout:.0f} s:\n"
                             f"{child.log_tail()}")

    def check_alive(self, *children: Child) -> None:
        for child in children or self.children:
            if not child.alive():
                raise BenchmarkError(f"{child.name} died (exit {child.process.returncode}):\n{child.log_tail()}")

    def stop(self, *children: Child, grace: float = 5.0) -> None:
        """SIGTERM to each group, SIGKILL to what is left after `grace` seconds; reaps every process."""
        targets = list(children) if children else list(self.children)
        for child in targets:
            if child.alive():
                child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in targets:
            try:
                child.process.wait(max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.signal_group(signal.SIGKILL)
                child.process.wait()
            child.signal_group(signal.SIGKILL)  # grandchildren left in the group (gunicorn's workers), if any
            if child in self.children:
                self.children.remove(child)

    def __enter__(self) -> "Children":
        return self

    def __exit__(self, *_exc) -> None:
        # Ctrl-C pressed again while stopping must not leave processes behind
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.stop()
        finally:
            signal.signal(signal.SIGINT, previous)


class StealMeter:
    """The share of the machine's CPU time the hypervisor gave to other guests meanwhile (steal, /proc/stat):
    on a shared virtual machine it comes and goes, and a run during which it was high ran on less machine."""

    def __init__(self) -> None:
        self.start = _cpu_ticks()

    def percent(self) -> float:
        (total, steal), (total_before, steal_before) = _cpu_ticks(), self.start
        return 100 * (steal - steal_before) / max(1, total - total_before)


def _cpu_ticks() -> tuple[int, int]:
    """(all CPU ticks, steal ticks) since boot, of every core: /proc/stat's first line (man 5 proc)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    return sum(ticks[:8]), ticks[7]  # user nice system idle iowait irq softirq steal (guest time is in user)


def group_cpu_seconds(pgid: int) -> float:
    """user + system CPU seconds of the live processes in a process group (from /proc; 0 where unreadable)."""
    ticks = os.sysconf("SC_CLK_TCK")
    # fields [11], [12] are utime, stime (man 5 proc, counted from the state field)
    return sum((int(fields[11]) + int(fields[12])) / ticks for _pid, fields in _group_members(pgid))


def _group_members(pgid: int):
    """(pid, /proc/PID/stat fields) of each live process in the process group (fields[2] is the group)."""
    for entry in os.listdir("/proc"):
        fields = _stat_fields(entry) if entry.isdigit() else None
        if fields and int(fields[2]) == pgid:
            yield entry, fields


def _stat_fields(pid: str) -> list[str] | None:
    """/proc/PID/stat's fields from the state on (the command's name, in brackets, can hold spaces)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone meanwhile
        return None
    return stat[stat.rindex(")") + 2:].split()


def cpu_snapshot(children: "Children") -> dict[str, float]:
    return {child.name: group_cpu_seconds(child.pid) for child in children.children if child.alive()}


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def established_by_process(port: int, pgid: int) -> list[int]:
    """How many established TCP connections to local `port` each process of the group `pgid` holds, most first
    (a pre-forked server's processes, each with the connections it accepted); from /proc, no tools needed."""
    inodes = _established_inodes(port)
    counts = []
    for pid, _fields in _group_members(pgid):
        held = sum(target[8:-1] in inodes for target in _fd_targets(pid) if target.startswith("socket:["))
        if held:
            counts.append(held)
    return sorted(counts, reverse=True)


def _fd_targets(pid: str) -> list[str]:
    """What the process's open file descriptors point at (one closed meanwhile is left out)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # gone, or not ours to read
        return []
    targets = []
    for fd in fds:
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return targets


def _established_inodes(port: int) -> set[str]:
    """Socket inodes of the established TCP connections whose local port is `port` (/proc/net/tcp and tcp6:
    the local address's port in hex after the colon, state 01 is ESTABLISHED, the inode is the tenth field)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes
