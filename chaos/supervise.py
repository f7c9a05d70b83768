"""The harness as production's process manager: a child that died is started again (its group killed first)."""
from __future__ import annotations

from collections.abc import Callable

RESTARTS: dict[str, int] = {}


def revive(stack, say: Callable[[str], None]) -> int:
    """Start again every child that exited (as systemd's Restart=on-failure would); returns how many."""
    revived = 0
    for child in stack.children:
        if child.alive():
            continue
        code = child.process.returncode if child.process else None
        child.kill_group()
        child.start(stack.env, stack.settings.instance_path / "logs")
        RESTARTS[child.name] = RESTARTS.get(child.name, 0) + 1
        revived += 1
        say(f"  restarted {child.name} (exit {code})")
    return revived
