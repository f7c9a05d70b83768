"""Importing volunteers in the browser (issue 16): an upload in GBK, UTF-8 (with BOM) or .xlsx goes through the
CLI's importer as a dry run job (nothing written, a per-row report), then an apply job that writes what the dry
run said; bad uploads (empty, too large, a wrong encoding, a fake .xlsx, a wrong header) are refused with a
clear message and nothing written. The jobs run on a real Redis with RQ's SimpleWorker."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from rq import SimpleWorker
from sqlalchemy import func, select

from mobilize.jobs import all_queues
from mobilize.models import Volunteer
from mobilize.registry import import_runs
from tests.web.conftest import csrf_token

HEADER = "name,phone,street,community,lat,lon,skills,teams,language\n"
ROWS = ("赵丽华,13905321001,八大关街道,太平角社区,36.0531,120.3512,医护;驾驶,八大关巡逻队,zh\n"
        "钱志强,13905321002,八大关,香港西路社区,36.0540,120.3530,,八大关巡逻队,\n"
        "孙悦,12345,八大关,,36.05,120.35,,,zh\n"  # a bad phone: rejected
        "李娜,13905321003,不存在街道,,36.05,120.35,,,zh\n")  # an unknown street: rejected


def run_jobs(runtime) -> None:
    redis = runtime.redis
    SimpleWorker(all_queues(redis), connection=redis).work(burst=True, logging_level="WARNING")


def volunteer_count(runtime) -> int:
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(Volunteer))


def upload(client, filename: str, data: bytes, **form):
    return client.post("/volunteers/import", data={"csrf_token": csrf_token(client),
                                                   "file": (io.BytesIO(data), filename), **form},
                       content_type="multipart/form-data")


def run_id_of(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[1]


def test_a_gbk_csv_dry_run_writes_nothing_and_apply_writes_what_it_said(app, clients, web_runtime, registry):
    client = clients["admin"]
    existing_phone = registry.volunteers_a[0][2]  # updated: moved to a community
    text = HEADER + ROWS + f"八大关志愿者0,{existing_phone},八大关,太平角社区,36.053,120.351,,,zh\n"
    before = volunteer_count(web_runtime)
    run_id = run_id_of(upload(client, "志愿者名单.csv", text.encode("gb18030")))
    page = client.get(f"/volunteers/import/{run_id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' in page  # the page follows the job until it is done

    run_jobs(web_runtime)
    assert volunteer_count(web_runtime) == before  # the dry run wrote nothing
    run = import_runs.load_run(web_runtime.redis, run_id)
    assert run["encoding"] == "GBK/GB18030" and run["state"] == "checked"
    dry = run["dry_report"]
    assert (dry["rows"], dry["created"], dry["updated"], dry["rejected"]) == (5, 2, 1, 2)
    assert [row["name"] for row in dry["to_create"]] == ["赵丽华", "钱志强"]
    assert dry["to_update"][0]["changes"] == ["community"]
    assert {(e["line"], e["column"]) for e in dry["errors"]} == {(4, "phone"), (5, "street")}
    page = client.get(f"/volunteers/import/{run_id}").get_data(as_text=True)
    for shown in ("赵丽华", "钱志强", "不是有效的手机号码", "不存在街道", 'data-count="created"'):
        assert shown in page
    assert 'http-equiv="refresh"' not in page

    applied = client.post(f"/volunteers/import/{run_id}/apply", data={"csrf_token": csrf_token(client)})
    assert applied.status_code == 302
    run_jobs(web_runtime)
    run = import_runs.load_run(web_runtime.redis, run_id)
    assert run["state"] == "applied"
    done = run["apply_report"]
    assert (done["created"], done["updated"], done["rejected"]) == (dry["created"], dry["updated"], dry["rejected"])
    assert done["to_create"] == dry["to_create"] and done["to_update"] == dry["to_update"]
    assert volunteer_count(web_runtime) == before + 2
    with web_runtime.transaction() as session:
        zhao = session.scalar(select(Volunteer).where(Volunteer.phone == "+8613905321001"))
        assert zhao.name == "赵丽华" and zhao.community.name == "太平角社区"
        assert sorted(s.code for s in zhao.skills) == ["driving", "medical"]
    twice = client.post(f"/volunteers/import/{run_id}/apply", data={"csrf_token": csrf_token(client)})
    assert twice.status_code == 409  # an import is applied once


@pytest.mark.parametrize("encoding,bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf")])
def test_utf8_with_or_without_bom(clients, web_runtime, registry, encoding, bom):
    run_id = run_id_of(upload(clients["commander"], "v.csv", bom + (HEADER + ROWS).encode(encoding)))
    run_jobs(web_runtime)
    run = import_runs.load_run(web_runtime.redis, run_id)
    assert run["encoding"] == ("UTF-8 (BOM)" if bom else "UTF-8")
    assert run["dry_report"]["created"] == 2


def test_an_xlsx_workbook_with_phones_typed_as_numbers(clients, web_runtime, registry):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(["周敏", 13905321009, "湛山", "湛山社区", 36.06, 120.367, "急救", "湛山应急队", "zh"])
    sheet.append(["吴磊", 13905321010.0, "湛山街道", None, 36.061, 120.368, None, None, "en"])
    sheet.append(["郑洁", "not a phone", "湛山", None, 36.06, 120.36, None, None, None])
    stream = io.BytesIO()
    workbook.save(stream)
    client = clients["admin"]
    run_id = run_id_of(upload(client, "名单.xlsx", stream.getvalue()))
    run_jobs(web_runtime)
    run = import_runs.load_run(web_runtime.redis, run_id)
    dry = run["dry_report"]
    assert run["encoding"] == "Excel .xlsx"
    assert (dry["created"], dry["rejected"]) == (2, 1) and dry["errors"][0]["line"] == 4  # the sheet's row
    client.post(f"/volunteers/import/{run_id}/apply", data={"csrf_token": csrf_token(client)})
    run_jobs(web_runtime)
    with web_runtime.transaction() as session:
        wu = session.scalar(select(Volunteer).where(Volunteer.phone == "+8613905321010"))
        assert wu.name == "吴磊" and wu.language == "en"


@pytest.mark.parametrize("filename,data,reason", [  # the reasons in Chinese (import_reasons)
    ("empty.csv", b"", "文件为空"),
    ("fake.xlsx", (HEADER + ROWS).encode(), "但内容不是"),
    ("broken.xlsx", b"PK\x03\x04" + b"\0" * 200, "无法读取的 .xlsx"),
    ("latin.csv", (HEADER + "José,13905321001,八大关,,36.05,120.35,,,zh\n").encode("utf-8")
     .replace("é".encode(), b"\xe9,"), "既不是 UTF-8 也不是 GBK"),
    ("old.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100, "旧版 Excel .xls"),
    # its Chinese headers are read as the contract's (姓名, 街道): lat and lon are missing
    ("wrong-header.csv", "姓名,手机,街道\n张三,13905321001,八大关\n".encode("gb18030"), "缺少必填列"),
    ("semicolons.csv", b"name;phone;street;lat;lon\n", "用分号分隔"),
    ("binary.csv", b"name,phone\n\0\0\0", "NUL"),
])
def test_bad_uploads_are_refused_with_a_clear_message_and_nothing_written(clients, web_runtime, registry,
                                                                            filename, data, reason):
    before = volunteer_count(web_runtime)
    response = upload(clients["admin"], filename, data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert reason in page, page[page.find("flash"):][:600]
    assert volunteer_count(web_runtime) == before
    assert not list(web_runtime.redis.scan_iter("mobilize:import:*"))  # no run, no job


def test_too_large_an_upload_is_refused(clients, web_runtime, registry, monkeypatch):
    from mobilize.web.ui import imports

    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 100)
    response = upload(clients["admin"], "big.csv", (HEADER + ROWS).encode())
    assert response.status_code == 400 and "文件太大" in response.get_data(as_text=True)


def test_no_file_chosen(clients, registry):
    client = clients["admin"]
    response = client.post("/volunteers/import", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 400


def test_strict_dry_run_with_a_bad_row_offers_nothing_to_apply(clients, web_runtime, registry):
    client = clients["admin"]
    run_id = run_id_of(upload(client, "v.csv", (HEADER + ROWS).encode(), strict="1"))
    run_jobs(web_runtime)
    run = import_runs.load_run(web_runtime.redis, run_id)
    assert run["dry_report"]["rejected"] == 2 and run["dry_report"]["created"] == 0
    assert client.post(f"/volunteers/import/{run_id}/apply",
                       data={"csrf_token": csrf_token(client)}).status_code == 409


def test_only_admins_and_commanders_import(clients, registry):
    for role in ("officer", "viewer"):
        assert clients[role].get("/volunteers/import").status_code == 403
        assert upload(clients[role], "v.csv", (HEADER + ROWS).encode()).status_code == 403
    assert clients["admin"].get("/volunteers/import/not-a-run").status_code == 404
