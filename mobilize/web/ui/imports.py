"""Importing volunteers in the browser (issue 16): upload a CSV (UTF-8 or GBK) or .xlsx file, see the dry run's
per-row report (created, updated, rejected and why), then apply it.

Thin: the upload is turned into CSV text by `mobilize.registry.upload` (encodings, workbooks, refusals), the
dry run and the application are jobs (`imports.check_import`, `imports.apply_import` on the bulk queue) running
the CLI's importer, and their progress and reports live in `mobilize.registry.import_runs`. The run's page
refreshes itself while a job runs (a meta refresh: no script needed). For admins and commanders: an import
writes any street's volunteers.
"""
from __future__ import annotations

import csv
import io

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mobilize import jobs
from mobilize.registry import import_runs
from mobilize.registry.csv_contract import CONTRACT_COLUMNS, ImportFileError
from mobilize.registry.csv_header import parse_header
from mobilize.registry.upload import MAX_UPLOAD_BYTES, read_upload
from mobilize.web import runtime
from mobilize.web.ui.access import COMMAND_ROLES, current_principal, roles_required
from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.import_reasons import translate_reason

JOB_TIMEOUT_S = 3600


@blueprint.get("/volunteers/import")
@roles_required(*COMMAND_ROLES)
def import_form():
    return _render_form(None)


def _render_form(problem: str | None, status: int = 200):
    return render_template("import.html", problem_text=problem, columns=",".join(CONTRACT_COLUMNS),
                           limit_mb=MAX_UPLOAD_BYTES // 1048576), status


@blueprint.post("/volunteers/import")
@roles_required(*COMMAND_ROLES)
def import_upload():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render_form(_("Choose a file to upload."), 400)
    data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    try:
        uploaded = read_upload(upload.filename, data, MAX_UPLOAD_BYTES)
        _check_header(uploaded.text)
    except ImportFileError as error:
        return _render_form(_("%(file)s cannot be imported: %(reason)s. Nothing was written.",
                              file=upload.filename, reason=translate_reason(str(error))), 400)
    principal = current_principal()
    redis = runtime().redis
    run_id = import_runs.create_run(redis, text=uploaded.text, filename=upload.filename, kind=uploaded.kind,
                                    encoding=uploaded.label, size=len(data), strict=bool(request.form.get("strict")),
                                    owner_id=principal.user_id, owner=principal.username)
    jobs.enqueue(redis, "imports.check_import", run_id, queue=jobs.BULK, timeout=JOB_TIMEOUT_S)
    return redirect(url_for("ui.import_run", run_id=run_id))


def _check_header(text: str) -> None:
    """The header line at once, before any job: a wrong file is said on the form itself."""
    for fields in csv.reader(io.StringIO(text[:65536])):
        if fields and any(value.strip() for value in fields):
            parse_header(fields)
            return
    raise ImportFileError("the file has no header line and no rows")


def _run_or_404(run_id: str) -> dict:
    run = import_runs.load_run(runtime().redis, run_id)
    if run is None:
        abort(404)
    return run


@blueprint.get("/volunteers/import/<run_id>")
@roles_required(*COMMAND_ROLES)
def import_run(run_id: str):
    run = _run_or_404(run_id)
    running = run["state"] in ("checking", "applying")
    return render_template("import_run.html", run=run, running=running)


@blueprint.post("/volunteers/import/<run_id>/apply")
@roles_required(*COMMAND_ROLES)
def import_apply(run_id: str):
    run = _run_or_404(run_id)
    redis = runtime().redis
    report = run["dry_report"]
    if run["state"] != "checked" or not report or not (report["created"] or report["updated"]):
        return render_template("import_run.html", run=run, running=False,
                               problem=_("There is nothing to apply: the dry run has not finished, wrote "
                                         "nothing, or this import was already applied.")), 409
    if not import_runs.claim_apply(redis, run_id):
        return render_template("import_run.html", run=run, running=False,
                               problem=_("This import is already being applied.")), 409
    import_runs.set_state(redis, run_id, "applying", phase="queued", done=0, total=0)
    jobs.enqueue(redis, "imports.apply_import", run_id, queue=jobs.BULK, timeout=JOB_TIMEOUT_S)
    return redirect(url_for("ui.import_run", run_id=run_id))
