"""The audit trail in the pages (/admin/audit): who did what to which object, when; filtered by actor, action,
object and time, paginated, and exported as CSV with the same filters.

Admins only. The filters live in the URL (a GET form), so a filtered view can be bookmarked or sent to a
colleague, and the export link carries them. Times are shown and exported in the service's time zone (the
pages' `BABEL_DEFAULT_TIMEZONE`), and the filter's times are read in it too.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, render_template, request, stream_with_context
from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from mobilize.domain.text_safety import spreadsheet_row
from mobilize.models import AuditEvent, UserRole
from mobilize.web import db, runtime
from mobilize.web.converters import is_row_id
from mobilize.web.ui.access import roles_required
from mobilize.web.ui.blueprint import blueprint

PER_PAGE = 50
EXPORT_BATCH = 1000
FILTERS = ("actor", "action", "subject_type", "subject_id", "since", "until")
CSV_COLUMNS = ("time", "actor", "action", "object", "object_id", "details")
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""  # part of the actor's name ("admin", "sms:", "cli")
    action: str = ""
    subject_type: str = ""
    subject_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, statement: Select) -> Select:
        if self.actor:
            escaped = self.actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            statement = statement.where(AuditEvent.actor.ilike(f"%{escaped}%", escape="\\"))
        if self.action:
            statement = statement.where(AuditEvent.action == self.action)
        if self.subject_type:
            statement = statement.where(AuditEvent.subject_type == self.subject_type)
        if self.subject_id is not None:
            statement = statement.where(AuditEvent.subject_id == self.subject_id)
        if self.since is not None:
            statement = statement.where(AuditEvent.at >= self.since)
        if self.until is not None:
            statement = statement.where(AuditEvent.at < self.until)
        return statement


def _zone() -> ZoneInfo:
    return ZoneInfo(runtime().settings.timezone)


def read_filter(args) -> tuple[AuditFilter, dict[str, str]]:
    """The filter in the URL's query, and a message per field that could not be read."""
    problems: dict[str, str] = {}

    def moment(name: str) -> datetime | None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return datetime.strptime(raw, LOCAL_FORMAT).replace(tzinfo=_zone())
        except ValueError:
            problems[name] = _("Give a date and a time.")
            return None

    raw_id = (args.get("subject_id") or "").strip()
    if raw_id and not is_row_id(raw_id):
        problems["subject_id"] = _("Give the object's number (a whole number from 1).")
    found = AuditFilter(actor=(args.get("actor") or "").strip()[:80], action=(args.get("action") or "").strip()[:60],
                        subject_type=(args.get("subject_type") or "").strip()[:40],
                        subject_id=int(raw_id) if raw_id and "subject_id" not in problems else None,
                        since=moment("since"), until=moment("until"))
    if found.since and found.until and found.until <= found.since:
        problems["until"] = _("The end must be after the start.")
    return found, problems


def _page_number(args) -> int:
    raw = (args.get("page") or "1").strip()
    return min(int(raw), 10**6) if raw.isdecimal() and raw.isascii() and int(raw) >= 1 else 1


def _query_args(args) -> dict[str, str]:
    """The filters as they are in the URL (for the pages' links and the export link)."""
    return {name: args.get(name, "") for name in FILTERS if args.get(name)}


@blueprint.get("/admin/audit")
@roles_required(UserRole.admin)
def admin_audit():
    session = db()
    found, problems = read_filter(request.args)
    page = _page_number(request.args)
    total = session.scalar(found.apply(select(func.count()).select_from(AuditEvent)))
    events = session.scalars(found.apply(select(AuditEvent)).order_by(AuditEvent.id.desc())
                             .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    pages = max(1, -(-total // PER_PAGE))
    return render_template(
        "admin_audit.html", events=events, total=total, page=page, pages=pages, problems=problems,
        filters=_query_args(request.args), details=details_text,
        actions=_distinct(AuditEvent.action), subject_types=_distinct(AuditEvent.subject_type),
    ), 400 if problems else 200


def _distinct(column) -> list[str]:
    return list(db().scalars(select(column).distinct().order_by(column)))


def details_text(details: dict | None) -> str:
    """An event's details as one line of JSON, its Chinese readable (not \\u escapes)."""
    return json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str)


@blueprint.get("/admin/audit.csv")
@roles_required(UserRole.admin)
def admin_audit_csv():
    """Every event the filters select (all pages), oldest first, local times; each cell neutralised for
    spreadsheets (an actor or a detail could be a formula that Excel or WPS would run)."""
    found, problems = read_filter(request.args)
    if problems:
        text = "; ".join(f"{name}: {message}" for name, message in problems.items())
        return Response(text + "\n", 400, mimetype="text/plain")
    response = Response(stream_with_context(_csv_lines(found)), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=audit.csv"
    return response


def _csv_lines(found: AuditFilter) -> Iterator[str]:
    zone = _zone()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + _drain(buffer)  # BOM: spreadsheets then read UTF-8
    statement = found.apply(select(AuditEvent)).order_by(AuditEvent.id).execution_options(yield_per=EXPORT_BATCH)
    for count, event in enumerate(db().scalars(statement), start=1):
        writer.writerow(spreadsheet_row((event.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), event.actor,
                                         event.action, event.subject_type, event.subject_id,
                                         details_text(event.details))))
        if count % EXPORT_BATCH == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
