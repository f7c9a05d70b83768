"""Trial results aggregated per fault into the table of docs/reliability.md and the JSON of `--json` (pure)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

COUNTS = ("duplicate_sms", "duplicate_sid", "lost_replies", "wrongful_timeouts", "overfills")
LIMIT_S = 30.0  # the bound for stalls and recoveries


@dataclass
class TrialResult:
    """One trial: the fault injected and what the checks found after it."""

    trial: int
    fault: str
    order_id: int = 0
    injected_at_s: float = 0.0  # from the launch
    fault_s: float = 0.0  # how long the fault lasted (kill: until restarted; storms: until cleared)
    moment: str = ""  # what the stack was doing when it was hit (sending, inbound, matching, ...)
    duplicate_sms: int = 0  # gateway copies of (phone, text) beyond the outbox's rows for it
    duplicate_sid: int = 0  # gateway messages whose SID no outbox row recorded, or seen twice
    lost_replies: int = 0  # inbound never processed and not dead (or never stored)
    dead_letters: int = 0
    wrongful_timeouts: int = 0
    overfills: int = 0
    stall_s: float = 0.0  # longest stretch after the fault with open places, placeable standby, no placement
    recovery_s: float | None = 0.0  # fault end -> first placement or send after it; None: not recovered
    settled: bool = True
    placed: int = 0
    places: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _max(values: Iterable[float | None]) -> float | None:
    values = list(values)
    if any(v is None for v in values):
        return None
    return round(max(values), 1) if values else 0.0


def aggregate(results: list[TrialResult]) -> dict:
    """Totals and per-fault rows; an unrecovered trial makes max_recovery_s None (never recovered)."""
    faults: dict[str, dict] = {}
    for result in results:
        row = faults.setdefault(result.fault, {"trials": 0, **{name: 0 for name in COUNTS}, "dead_letters": 0,
                                               "max_stall_s": 0.0, "max_recovery_s": 0.0, "unsettled": 0})
        row["trials"] += 1
        for name in (*COUNTS, "dead_letters"):
            row[name] += getattr(result, name)
        row["unsettled"] += not result.settled
        row["max_stall_s"] = _max([row["max_stall_s"], result.stall_s])
        row["max_recovery_s"] = (None if row["max_recovery_s"] is None or result.recovery_s is None
                                 else _max([row["max_recovery_s"], result.recovery_s]))
    summary = {"trials": len(results), **{name: sum(getattr(r, name) for r in results) for name in COUNTS},
               "dead_letters": sum(r.dead_letters for r in results),
               "max_stall_s": _max([r.stall_s for r in results]) if results else 0.0,
               "max_recovery_s": _max([r.recovery_s for r in results]) if results else 0.0,
               "unsettled": sum(not r.settled for r in results)}
    summary["passed"] = (summary["trials"] > 0 and all(summary[name] == 0 for name in COUNTS)
                         and summary["max_stall_s"] is not None and summary["max_stall_s"] <= LIMIT_S
                         and summary["max_recovery_s"] is not None and summary["max_recovery_s"] <= LIMIT_S)
    summary["faults"] = faults
    summary["results"] = [r.to_dict() for r in results]
    return summary


def _cell(value: float | None) -> str:
    if value is None:
        return "not recovered"
    return f"{value:g}" if isinstance(value, float) else str(value)


def table(summary: dict) -> str:
    """The markdown table: one row per fault and a total."""
    head = ("| fault | trials | duplicate SMS (phone+text) | duplicate/unrecorded SID | lost replies | "
            "wrongful timeouts | overfills | dead letters | max stall s | max recovery s |")
    lines = [head, "|" + "---|" * 10]
    rows = sorted(summary["faults"].items()) + [("**all**", summary)]
    for name, row in rows:
        lines.append(f"| {name} | {row['trials']} | {row['duplicate_sms']} | {row['duplicate_sid']} | "
                     f"{row['lost_replies']} | {row['wrongful_timeouts']} | {row['overfills']} | "
                     f"{row['dead_letters']} | {_cell(row['max_stall_s'])} | {_cell(row['max_recovery_s'])} |")
    return "\n".join(lines)


def trials_table(summary: dict) -> str:
    """Every trial on one line: when it was hit, what it was doing, what the checks found."""
    head = ("| # | fault | moment | hit at s | fault s | placed | dup | dup SID | lost | wrongful | overfill | "
            "stall s | recovery s | notes |")
    lines = [head, "|" + "---|" * 14]
    for r in summary["results"]:
        lines.append(f"| {r['trial']} | {r['fault']} | {r['moment']} | {r['injected_at_s']:g} | {r['fault_s']:g} | "
                     f"{r['placed']}/{r['places']} | {r['duplicate_sms']} | {r['duplicate_sid']} | "
                     f"{r['lost_replies']} | {r['wrongful_timeouts']} | {r['overfills']} | {r['stall_s']:g} | "
                     f"{_cell(r['recovery_s'])} | {'; '.join(r['notes'])} |")
    return "\n".join(lines)
