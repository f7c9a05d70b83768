"""The import page says the importer's reasons in the page's language (issue 16): every reason the real importer
writes (a row's field, a row's shape, a duplicate, the whole file) is matched by `import_reasons` and said in
Chinese; English keeps the importer's text. A new English reason without a translation fails here."""
from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select, update

from mobilize.models import Street
from mobilize.registry.csv_contract import ImportFileError
from mobilize.registry.csv_header import parse_header
from mobilize.registry.csv_rows import validate_csv
from mobilize.registry.csv_fields import RowRules
from mobilize.registry.importer import import_volunteers
from mobilize.registry.upload import read_upload
from mobilize.web.ui.import_reasons import match, translate_reason
from tests.web.conftest import csrf_token

HEADER = "name,phone,street,community,lat,lon,skills,teams,language"
ROWS = [
    ",13905328001,八大关,,36.05,120.35,,,zh",  # name missing
    "\u200e\u202e,13905328002,八大关,,36.05,120.35,,,zh",  # nothing visible once cleaned
    "甲" * 41 + ",13905328003,八大关,,36.05,120.35,,,zh",  # name too long
    "乙,999,八大关,,36.05,120.35,,,zh",  # not a valid phone number
    "丙,abc,八大关,,36.05,120.35,,,zh",  # not a phone number
    "丁,,八大关,,36.05,120.35,,,zh",  # phone missing
    "戊,13905328004,火星,,36.05,120.35,,,zh",  # unknown street
    "己,13905328005,,,36.05,120.35,,,zh",  # street missing
    "庚,13905328006,八大关," + "社" * 41 + ",36.05,120.35,,,zh",  # community too long
    "辛,13905328007,八大关,,,120.35,,,zh",  # lat missing, lon given
    "壬,13905328008,八大关,,36.05,,,,zh",  # lon missing, lat given
    "癸,13905328009,八大关,,北纬,120.35,,,zh",  # not a number
    "子,13905328010,八大关,,120.35,36.05,,,zh",  # out of range: swapped
    "丑,13905328011,八大关,,36.05,200,,,zh",  # out of range
    "寅,13905328012,八大关,,,,,,zh",  # no location, no address column
    "卯,13905328013,八大关,,36.05,120.35,flying,,zh",  # unknown skill
    "辰,13905328014,八大关,,36.05,120.35,," + "队" * 41 + ",zh",  # team name too long
    "巳,13905328015,八大关,,36.05,120.35,,,fr",  # language
    "午,13905328016,八大关,,36.05,120.35,,,zh",
    "未,13905328016,八大关,,36.05,120.35,,,zh",  # duplicate
    "申,13905328017,八大关,,36.05,120.35,,,zh,extra",  # too many fields
    "酉,13905328018,八大关",  # too few fields
    "戌\u200b,13905328019,八大关,,36.05,120.35,,,zh",  # a note: a hidden character removed
    "亥,13905328020,湛山,,36.05,120.35,,,zh",  # a street of the district missing from this database
]
WITH_ADDRESS = HEADER + ",address\n" + "\n".join([
    "甲,13905328101,八大关,,,,,,zh,",  # no location: give lat and lon, or an address
    "乙,13905328102,八大关,,36.05,120.35,,,zh," + "路" * 201,  # address too long
]) + "\n"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _row_reasons(runtime) -> list[str]:
    """What the importer says of every row above, as the import page's report holds it."""
    with runtime.transaction() as session:  # 湛山 known to the district's list, not to this database
        session.execute(update(Street).where(Street.short_name == "湛山").values(name="湛山街道（旧名）"))
    reasons = []
    for text in (HEADER + "\n" + "\n".join(ROWS) + "\n", WITH_ADDRESS):
        report = import_volunteers(runtime.sessions, io.StringIO(text), dry_run=True)
        reasons += [error.reason for error in report.errors] + [note.change for note in report.notes]
        reasons += report.warnings
    report = import_volunteers(runtime.sessions, io.StringIO(HEADER + ",colour\n丙,13905328201,八大关,,36.05,"
                                                             "120.35,,,zh,red\n"), dry_run=True)
    return reasons + report.warnings


def _file_reasons() -> list[str]:
    """What the upload, the header and the whole file are refused for."""
    workbook = openpyxl.Workbook()
    empty = io.BytesIO()
    workbook.save(empty)
    attempts = [
        lambda: read_upload("a.csv", b"", 1000),
        lambda: read_upload("a.csv", b"x" * 2000, 1000),
        lambda: read_upload("a.xlsx", b"not a zip", 10**6),
        lambda: read_upload("a.xls", b"\xd0\xcf\x11\xe0rest", 10**6),
        lambda: read_upload("a.pdf", b"%PDF-1.4", 10**6),
        lambda: read_upload("a.gz", b"\x1f\x8brest", 10**6),
        lambda: read_upload("a.csv", b"\xff\xfen\x00a\x00", 10**6),
        lambda: read_upload("a.csv", b"name,phone\n\x00\x01", 10**6),
        lambda: read_upload("a.csv", b"name,phone\n\x80\x80\xff", 10**6),
        lambda: read_upload("a.xlsx", b"PK\x03\x04broken", 10**6),
        lambda: read_upload("a.xlsx", empty.getvalue(), 10**6),
        lambda: parse_header(["name;phone;street"]),
        lambda: parse_header(["name\tphone\tstreet"]),
        lambda: parse_header(["name|phone|street"]),
        lambda: parse_header(["a", "b"]),
        lambda: parse_header(["name", "name", "phone", "street", "lat", "lon"]),
        lambda: parse_header(["name", "phone", "lat", "lon"]),
        lambda: parse_header(["name", "phone", "street"]),
        lambda: parse_header(["name", "phone", "street", "address", "lat"]),
        lambda: validate_csv(io.StringIO(""), RowRules.from_skills([])),
        lambda: validate_csv(io.StringIO(HEADER + "\n"), RowRules.from_skills([])),
        lambda: validate_csv(io.StringIO(HEADER + "\n" + "甲" * 140_000 + ",1\n"), RowRules.from_skills([])),
        lambda: validate_csv(io.StringIO(HEADER + "\n甲\x00,1\n"), RowRules.from_skills([])),
    ]
    reasons, accepted = [], []
    for number, attempt in enumerate(attempts):
        try:
            attempt()
        except ImportFileError as refused:
            reasons.append(str(refused))
        else:
            accepted.append(number)
    assert accepted == [], "these files were not refused"
    return reasons + ["the file has no header line and no rows",  # the page's own check (imports.py)
                      "the database refused the import, nothing was changed (was another import of the same "
                      "volunteers running?): UNIQUE constraint failed: volunteers.phone",  # importer.ImportFailed
                      "OperationalError: the import stopped, nothing was written"]  # workers/imports.py


def test_every_reason_of_the_importer_is_said_in_chinese(app, web_runtime, registry):
    reasons = _row_reasons(web_runtime) + _file_reasons()
    assert len(set(reasons)) >= 45, sorted(set(reasons))
    with app.test_request_context("/"):  # Chinese first
        untranslated = [reason for reason in set(reasons) if match(reason) is None]
        assert untranslated == [], "add these to mobilize/web/ui/import_reasons.py: " + repr(untranslated)
        for reason in set(reasons):
            said = translate_reason(reason)
            assert said != reason and CHINESE.search(said), (reason, said)
            # the parts (a value, a library's detail) may be English, the words around them not
            template = re.sub(r"%\(\w+\)s", "", str(match(reason)[1]))
            assert not re.search(r"\b(missing|longer than|not a|unknown|duplicate|must be|line)\b", template), said
        assert translate_reason("duplicate: +8613905328016 is already on line 20") == \
            "重复：+8613905328016 已在第 20 行出现"
        assert translate_reason("missing: the row has 3 fields but the header has 9 (no community, lat)") == \
            "缺少：该行只有 3 个字段，表头有 9 个（缺少 社区、纬度）"
        assert translate_reason("unknown street '火星'") == "未知街道 '火星'"


def test_english_keeps_the_importers_text(clients):
    client = clients["admin"]
    form = {"file": (io.BytesIO(b""), "empty.csv"), "csrf_token": csrf_token(client)}
    page = client.post("/volunteers/import", data=form, content_type="multipart/form-data").get_data(as_text=True)
    assert "文件为空（0 字节）" in page
    client.post("/language", data={"lang": "en", "next": "/volunteers/import", "csrf_token": csrf_token(client)})
    form = {"file": (io.BytesIO(b""), "empty.csv"), "csrf_token": csrf_token(client)}
    page = client.post("/volunteers/import", data=form, content_type="multipart/form-data").get_data(as_text=True)
    assert "the file is empty (0 bytes)" in page


def test_the_table_knows_the_reasons_the_importer_can_write():
    """A new place in the importer that writes a reason changes these counts: give it a pattern and a row above
    that triggers it, then the new count."""
    root = Path(__file__).resolve().parents[2] / "mobilize" / "registry"
    sites = {name: len(re.findall(r"\b(?:RowError|RowNote|ImportFileError|PhoneError|ImportFailed)\(",
                                  (root / name).read_text(encoding="utf-8")))
             for name in ("csv_fields.py", "csv_rows.py", "csv_phones.py", "csv_header.py", "upload.py",
                          "importer.py")}
    assert sites == {"csv_fields.py": 21, "csv_rows.py": 7, "csv_phones.py": 1, "csv_header.py": 4,
                     "upload.py": 10, "importer.py": 4}, sites


def test_the_edit_forms_own_reasons_are_said_in_chinese(app, web_runtime, registry):
    """The volunteer edit form shows the importer's reasons and a few of its own: those too."""
    from mobilize.models._types import utcnow
    from mobilize.registry import volunteers as volunteer_registry
    from mobilize.wartime.audit import Actor

    volunteer_id, _, _ = registry.volunteers_a[0]
    other_phone = registry.volunteers_a[1][2]
    with web_runtime.sessions() as session:
        values = volunteer_registry.form_values(volunteer_registry.load(session, volunteer_id))
    reasons = []
    for changed, street_allowed in (({"lat": "", "lon": ""}, None), ({"phone": other_phone}, None),
                                    ({"street": "湛山"}, "八大关")):
        with web_runtime.sessions() as session:
            allowed = None
            if street_allowed:
                allowed = session.scalar(select(Street.id).where(Street.short_name == street_allowed))
            with pytest.raises(volunteer_registry.VolunteerError) as refused:
                volunteer_registry.edit_volunteer(session, volunteer_id, {**values, **changed},
                                                  actor=Actor.user("admin", None), now=utcnow(),
                                                  street_id_allowed=allowed)
            session.rollback()
        reasons += [error.reason for error in refused.value.errors]
    assert len(reasons) == 3, reasons
    with app.test_request_context("/"):
        for reason in reasons:
            assert match(reason) is not None, reason
            assert CHINESE.search(translate_reason(reason)), reason
