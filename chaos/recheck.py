"""Checks run again on a finished run's database (`--workdir`) and its `--json` output, after a checker was
corrected: `python -m chaos.recheck RESULT.json WORKDIR [--doc docs/reliability.md]`. Only the database checks
(wrongful timeouts, overfills) are recomputed; the gateway's log is gone with the run."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from chaos import checks
from chaos.report import TrialResult, aggregate


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.recheck")
    parser.add_argument("result", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--doc", type=Path, default=None)
    args = parser.parse_args()
    from config import Settings
    from mobilize.runtime import Runtime

    text = args.result.read_text()
    before = json.loads(text[text.index("{"):])
    instance = args.workdir / "instance"
    runtime = Runtime(Settings(instance_path=instance, database_url=f"sqlite:///{instance / 'mobilize.db'}",
                               redis_url=None, sms_backend="simulator", secret_key="chaos-recheck"))
    results = []
    try:
        for row in before["results"]:
            result = TrialResult(**row)
            wrong = checks.wrongful_timeouts(runtime, result.order_id)
            if len(wrong) != result.wrongful_timeouts:
                result.notes = [n for n in result.notes if not n.startswith("wrongful timeouts")]
                result.notes.append(f"rechecked: wrongful timeouts {result.wrongful_timeouts} -> {len(wrong)}")
                result.wrongful_timeouts = len(wrong)
            result.overfills = len(checks.overfills(runtime, result.order_id))
            results.append(result)
    finally:
        runtime.close()
    summary = aggregate(results)
    for key in ("real_seconds", "restarts", "command"):
        summary[key] = before.get(key)
    if args.doc is not None:
        from chaos.cli import write_doc

        write_doc(args.doc, summary, summary["command"], {"real_seconds": summary["real_seconds"] or 0,
                                                           "restarts": summary["restarts"] or {}},
                  requested=int(summary["command"].split("--trials")[1].split()[0]) if "--trials" in
                  summary["command"] else 30)
    print(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
