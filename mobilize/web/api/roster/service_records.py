"""Service records over HTTP (shifts and wartime assignments): list them, certify their hours."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mobilize.models import ServiceRecord
from mobilize.models._types import utcnow
from mobilize.peacetime import service
from mobilize.peacetime.errors import NotFound
from mobilize.web import db
from mobilize.web.api import api
from mobilize.web.api.auth import check_street, token_auth
from mobilize.web.api.pagination import paginate
from mobilize.web.api.roster.access import by_street, require_writer
from mobilize.web.api.roster.context import actor, commit
from mobilize.web.api.roster.views import record_view
from mobilize.web.api.roster_schemas import (
    CertifyIn,
    ServiceRecordFilter,
    ServiceRecordOut,
    ServiceRecordPage,
)


@api.get("/service-records")
@api.auth_required(token_auth)
@api.input(ServiceRecordFilter, location="query")
@api.output(ServiceRecordPage)
@api.doc(responses={403: "An officer asked about another street."})
def list_service_records(query_data):
    """Service records (shifts and wartime assignments), e.g. `status=pending` for what awaits certification."""
    statement = select(ServiceRecord).options(selectinload(ServiceRecord.volunteer)).order_by(ServiceRecord.id)
    statement = by_street(statement, ServiceRecord.street_id, query_data["street"])
    for key in ("volunteer_id", "status", "kind"):
        if query_data[key] is not None:
            statement = statement.where(getattr(ServiceRecord, key) == query_data[key])
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": [record_view(r) for r in items], "pagination": pagination}


@api.post("/service-records/<int:record_id>/certify")
@api.auth_required(token_auth)
@api.input(CertifyIn)
@api.output(ServiceRecordOut)
@api.doc(responses={403: "Viewers may not; officers only in their street."})
def certify_record(record_id: int, json_data):
    """Certify the recorded hours, or other hours with a reason (audited)."""
    require_writer()
    record = db().get(ServiceRecord, record_id)
    if record is None:
        raise NotFound(f"no service record {record_id}")
    check_street(record.street_id)
    service.certify(db(), record_id, actor=actor(), now=utcnow(), hours=json_data["hours"],
                    reason=json_data["reason"])
    commit()
    return record_view(db().get(ServiceRecord, record_id))
