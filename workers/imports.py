"""The browser's volunteer import (issue 16): the dry run, then the application, of an uploaded file, each a
job on the bulk queue. Thin: the file, the progress and the reports live in `mobilize.registry.import_runs`;
the import itself is the CLI's (`mobilize.registry.importer.import_volunteers`), on the same text both times.
"""
from __future__ import annotations

import io

import structlog

from mobilize.registry import import_runs
from mobilize.registry.geocoding import make_geocoder
from mobilize.registry.importer import ImportFailed, ImportFileError, import_volunteers
from workers.context import get_runtime

log = structlog.get_logger(__name__)


def check_import(run_id: str) -> str:
    """The dry run: what the import would create, update and reject, and why. Writes nothing."""
    return _run(run_id, dry_run=True)


def apply_import(run_id: str) -> str:
    """The application: the same importer on the same text, writing this time."""
    return _run(run_id, dry_run=False)


def _run(run_id: str, *, dry_run: bool) -> str:
    runtime = get_runtime()
    redis = runtime.redis
    run, text = import_runs.load_run(redis, run_id), import_runs.load_text(redis, run_id)
    if run is None or text is None:
        log.warning("import.run_expired", run_id=run_id)
        return "expired"
    report_field, done_state = ("dry_report", "checked") if dry_run else ("apply_report", "applied")
    settings = runtime.settings
    try:
        report = import_volunteers(
            runtime.sessions, io.StringIO(text), default_region=settings.default_region,
            geocoder=None if dry_run else make_geocoder(settings), strict=run["strict"], dry_run=dry_run,
            progress=import_runs.ProgressWriter(redis, run_id), record_rows=True)
    except ImportFileError as error:
        import_runs.set_state(redis, run_id, "refused", error=str(error))
        log.info("import.refused", run_id=run_id, error=str(error))
        return "refused"
    except (ImportFailed, ValueError) as error:  # ValueError: a GEOCODER setting that names no geocoder
        import_runs.set_state(redis, run_id, "failed", error=str(error))
        log.warning("import.failed", run_id=run_id, error=str(error))
        return "failed"
    except Exception as error:  # the page must not wait forever on a job RQ has marked failed
        import_runs.set_state(redis, run_id, "failed", error=f"{type(error).__name__}: the import stopped, "
                                                             "nothing was written")
        raise
    import_runs.set_state(redis, run_id, done_state, **{report_field: import_runs.report_json(report)})
    log.info("import.done", run_id=run_id, dry_run=dry_run, rows=report.rows, created=report.created,
             updated=report.updated, rejected=report.rejected, owner=run["owner"])
    return done_state
