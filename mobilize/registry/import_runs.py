"""An import started in the browser: the uploaded file (as CSV text), its dry run, then its application, each
run as a background job (`workers.imports`) that writes its progress and report here, in Redis, for the page
to show.

One run is a Redis hash `mobilize:import:<id>` (who uploaded it, the file's name and encoding, the state, the
progress, the reports as JSON) and the text beside it, compressed; both expire after RUN_TTL_S. The states:

    checking -> checked -> applying -> applied
         \\-> refused (the file cannot be imported)   \\-> failed (the database refused; nothing written)

The dry run and the application call the same importer (`import_volunteers`) on the same text, so the
application does what the dry run said unless the registry changed in between (the application's own report
says what it did). Applying twice is refused: a run is applied once (`SET NX`).
"""
from __future__ import annotations

import json
import secrets
import time
import zlib
from dataclasses import asdict
from typing import Any

from redis import Redis

from mobilize.registry.importer import ImportReport

RUN_TTL_S = 6 * 3600
PROGRESS_EVERY_S = 0.25
SHOWN_ROWS = 500  # per kind (created, updated, rejected...): the counts are always complete
_KEY = "mobilize:import:{id}"
STATES = ("checking", "checked", "applying", "applied", "refused", "failed")


def _key(run_id: str, suffix: str = "") -> str:
    return _KEY.format(id=run_id) + suffix


def is_run_id(value: str) -> bool:
    return len(value) == 22 and all(c.isalnum() or c in "-_" for c in value)


def create_run(redis: Redis, *, text: str, filename: str, kind: str, encoding: str, size: int, strict: bool,
               owner_id: int, owner: str) -> str:
    run_id = secrets.token_urlsafe(16)
    with redis.pipeline() as pipe:
        pipe.set(_key(run_id, ":text"), zlib.compress(text.encode("utf-8"), 6), ex=RUN_TTL_S)
        pipe.hset(_key(run_id), mapping={
            "filename": filename[:200], "kind": kind, "encoding": encoding, "size": size, "strict": int(strict),
            "owner_id": owner_id, "owner": owner, "state": "checking", "phase": "queued", "done": 0, "total": 0,
            "created_at": time.time()})
        pipe.expire(_key(run_id), RUN_TTL_S)
        pipe.execute()
    return run_id


def load_run(redis: Redis, run_id: str) -> dict[str, Any] | None:
    raw = redis.hgetall(_key(run_id)) if is_run_id(run_id) else {}
    if not raw:
        return None
    run = {key.decode(): value.decode() for key, value in raw.items()}
    for name in ("dry_report", "apply_report"):
        run[name] = json.loads(run[name]) if run.get(name) else None
    for name in ("done", "total", "size", "owner_id"):
        run[name] = int(float(run.get(name) or 0))
    run["strict"] = run.get("strict") == "1"
    run["id"] = run_id
    return run


def load_text(redis: Redis, run_id: str) -> str | None:
    data = redis.get(_key(run_id, ":text"))
    return zlib.decompress(data).decode("utf-8") if data is not None else None


def set_state(redis: Redis, run_id: str, state: str, **fields: Any) -> None:
    assert state in STATES, state
    values = {"state": state, **{k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
                                 for k, v in fields.items()}}
    redis.hset(_key(run_id), mapping=values)


def claim_apply(redis: Redis, run_id: str) -> bool:
    """True once per run: whoever gets it applies the run."""
    return bool(redis.set(_key(run_id, ":apply"), "1", nx=True, ex=RUN_TTL_S))


class ProgressWriter:
    """The importer's progress callback, writing to the run's hash at most every PROGRESS_EVERY_S (and the last
    step of each phase), so that a 100,000-row file costs a few hundred Redis writes, not 100,000."""

    def __init__(self, redis: Redis, run_id: str) -> None:
        self.redis, self.run_id, self.last = redis, run_id, 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S and not (total and done >= total):
            return
        self.last = now
        self.redis.hset(_key(self.run_id), mapping={"phase": phase, "done": done, "total": total})


def report_json(report: ImportReport, shown: int = SHOWN_ROWS) -> dict[str, Any]:
    """The report as the page shows it: every count, and up to `shown` rows of each kind."""
    decisions = {"create": [], "update": [], "unchanged": 0}
    for decision in report.decisions:
        if decision.action == "unchanged":
            decisions["unchanged"] += 1
        elif len(decisions[decision.action]) < shown:
            decisions[decision.action].append(asdict(decision))
    return {
        "rows": report.rows, "accepted": report.accepted, "created": report.created, "updated": report.updated,
        "unchanged": report.unchanged, "rejected": report.rejected, "geocoded": report.geocoded,
        "approximate": report.approximate, "new_communities": report.new_communities,
        "new_teams": report.new_teams, "opted_out": report.opted_out, "strict": report.strict,
        "dry_run": report.dry_run, "committed": report.committed, "warnings": list(report.warnings),
        "errors": [asdict(error) for error in report.errors[:shown]], "errors_total": len(report.errors),
        "notes": [asdict(note) for note in report.notes[:shown]], "notes_total": len(report.notes),
        "to_create": decisions["create"], "to_update": decisions["update"],
    }
