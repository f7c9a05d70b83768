"""Exports a Chinese office opens directly (issue 17, item 4): an order's dispatches and arrivals, the certified
hours per volunteer over a period, a street's roster for a week, as CSV and as .xlsx. Each is read back the way
a spreadsheet would (openpyxl for .xlsx, the csv module for CSV): headers in the page's language, names of
statuses, roles and streets instead of codes, times in the district's zone (Asia/Shanghai, UTC+8) as real
datetimes, formulas stored as text, phone numbers masked for viewers, officers held to their street, and bad
parameters refused with a page that says why."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from mobilize.domain.phones import mask_phone
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Post,
    ServiceKind,
    ServiceRecord,
    ServiceStatus,
    Shift,
    ShiftSignup,
    ShiftStatus,
    SignupStatus,
    Site,
    Street,
    Volunteer,
)
from tests.web.test_csv_exports import HOSTILE
from tests.web.test_order_pages import _assign, _create, _post

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# 00:30 UTC is 08:30 in Qingdao: a time shown in UTC, or with the wrong day, fails the checks below
DISPATCHED = datetime(2025, 5, 6, 0, 30, tzinfo=UTC)
CONFIRMED = datetime(2025, 5, 6, 0, 41, tzinfo=UTC)
ARRIVED = datetime(2025, 5, 6, 1, 5, tzinfo=UTC)

ZH_ORDER_HEADERS = ["编号", "志愿者", "号码", "街道", "站点", "岗位", "状态", "距离（米）", "补位", "分配时间",
                    "派遣时间", "确认时间", "到岗时间", "完成时间", "结束时间", "结束原因", "时长（小时）"]
EN_ORDER_HEADERS = ["No.", "Volunteer", "Phone", "Street", "Site", "Role", "Status", "Distance (m)", "Backfill",
                    "Assigned at", "Dispatched at", "Confirmed at", "Arrived at", "Completed at", "Ended at",
                    "Why it ended", "Hours"]


def read_xlsx(response) -> list[dict]:
    """The first sheet as dicts keyed by the header row (the file is checked to be a real .xlsx)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == XLSX and response.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return [dict(zip(header, row)) for row in rows]


def headers_of(response) -> list[str]:
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    return [cell.value for cell in sheet[1]]


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with its BOM
    return list(csv.DictReader(io.StringIO(text[1:])))


def sheet_xml(response) -> str:
    """Every XML part of the workbook, as text: what any program reading the file sees."""
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        return "".join(archive.read(name).decode("utf-8") for name in archive.namelist()
                       if name.endswith(".xml"))


def english(client):
    client.set_cookie("mobilize_lang", "en")
    return client


# --- an order's dispatches and arrivals ---------------------------------------------------------------------


@pytest.fixture
def order_with_people(clients, registry, web_runtime) -> dict:
    """A launched order: one confirmed and arrived volunteer in street A, one released by timeout in B."""
    commander = clients["commander"]
    order_id = _create(commander, registry)
    assert _post(commander, f"/command/orders/{order_id}/launch").status_code == 303
    (a1, name_a1, phone_a1), (b0, name_b0, phone_b0) = registry.volunteers_a[1], registry.volunteers_b[0]
    arrived = _assign(web_runtime, order_id, registry.site_a, a1)
    released = _assign(web_runtime, order_id, registry.site_b, b0)
    with web_runtime.transaction() as session:
        first = session.get(Assignment, arrived)
        first.status, first.created_at, first.notified_at = AssignmentStatus.arrived, DISPATCHED, DISPATCHED
        first.confirmed_at, first.arrived_at, first.distance_m = CONFIRMED, ARRIVED, 812.4
        second = session.get(Assignment, released)
        second.status, second.ended_at, second.end_reason = AssignmentStatus.released, ARRIVED, "confirm_timeout"
        second.backfill = True
    return {"order_id": order_id, "arrived": arrived, "released": released, "name_a": name_a1,
            "phone_a": phone_a1, "name_b": name_b0, "phone_b": phone_b0}


def test_a_commander_exports_the_dispatches_to_excel_in_chinese_with_local_times(clients, order_with_people):
    order = order_with_people
    response = clients["commander"].get(f"/command/orders/{order['order_id']}/assignments.xlsx")
    assert headers_of(response) == ZH_ORDER_HEADERS
    rows = {row["编号"]: row for row in read_xlsx(response)}
    arrived, released = rows[order["arrived"]], rows[order["released"]]
    assert (arrived["志愿者"], arrived["号码"], arrived["街道"], arrived["站点"], arrived["岗位"], arrived["状态"]) == (
        order["name_a"], order["phone_a"], "八大关街道", "太平角检测点", "登记", "已到岗")
    # real Excel datetimes, in Qingdao's wall-clock time, without a zone
    assert arrived["派遣时间"] == datetime(2025, 5, 6, 8, 30)
    assert arrived["确认时间"] == datetime(2025, 5, 6, 8, 41)
    assert arrived["到岗时间"] == datetime(2025, 5, 6, 9, 5)
    assert arrived["距离（米）"] == 812 and arrived["结束原因"] is None and arrived["补位"] is None
    assert (released["街道"], released["岗位"], released["状态"], released["结束原因"], released["补位"]) == (
        "湛山街道", "秩序维护", "已释放", "未按时确认", "是")
    assert released["结束时间"] == datetime(2025, 5, 6, 9, 5)


def test_the_excel_file_is_laid_out_for_reading(clients, order_with_people):
    response = clients["commander"].get(f"/command/orders/{order_with_people['order_id']}/assignments.xlsx")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert sheet.freeze_panes == "A2" and all(cell.font.b for cell in sheet[1])
    assert sheet.column_dimensions["B"].width >= 10  # fitted to the Chinese names, not Excel's default 8.43
    date_cell = next(cell for cell in sheet[2] if isinstance(cell.value, datetime))
    assert date_cell.is_date and date_cell.number_format == "yyyy-mm-dd hh:mm"
    distance = sheet.cell(row=2, column=ZH_ORDER_HEADERS.index("距离（米）") + 1)
    assert distance.data_type == "n"  # a number, not text


def test_the_same_export_in_english_names_things_in_english(clients, order_with_people):
    order = order_with_people
    response = english(clients["commander"]).get(f"/command/orders/{order['order_id']}/assignments.xlsx")
    assert headers_of(response) == EN_ORDER_HEADERS
    rows = {row["No."]: row for row in read_xlsx(response)}
    assert (rows[order["arrived"]]["Street"], rows[order["arrived"]]["Role"], rows[order["arrived"]]["Status"]) == (
        "Badaguan", "Registration", "arrived")
    released = rows[order["released"]]
    assert (released["Street"], released["Role"], released["Status"], released["Why it ended"],
            released["Backfill"]) == ("Zhanshan", "Queue keeping", "released", "did not confirm in time", "yes")
    assert rows[order["arrived"]]["Arrived at"] == datetime(2025, 5, 6, 9, 5)


def test_the_csv_has_the_same_columns_words_and_local_times(clients, order_with_people):
    order = order_with_people
    rows = {row["编号"]: row for row in read_csv(
        clients["commander"].get(f"/command/orders/{order['order_id']}/assignments.csv"))}
    arrived = rows[str(order["arrived"])]
    assert list(arrived) == ZH_ORDER_HEADERS
    assert (arrived["街道"], arrived["岗位"], arrived["状态"], arrived["派遣时间"], arrived["到岗时间"]) == (
        "八大关街道", "登记", "已到岗", "2025-05-06 08:30", "2025-05-06 09:05")
    assert arrived["号码"] == "'" + order["phone_a"]  # a leading + would be read as a formula
    assert rows[str(order["released"])]["结束原因"] == "未按时确认"
    english_rows = read_csv(english(clients["commander"]).get(
        f"/command/orders/{order['order_id']}/assignments.csv"))
    assert list(english_rows[0]) == EN_ORDER_HEADERS


def test_formulas_are_stored_as_text_in_the_excel_file(clients, registry, web_runtime):
    commander = clients["commander"]
    order_id = _create(commander, registry)
    _post(commander, f"/command/orders/{order_id}/launch")
    people = registry.volunteers_a[:2] + registry.volunteers_b[:1]  # the order's places: 2 in A, 1 in B
    with web_runtime.transaction() as session:
        for (volunteer_id, _name, _phone), typed in zip(people, (HOSTILE[0], HOSTILE[2], HOSTILE[6])):
            session.get(Volunteer, volunteer_id).name = typed
        session.get(Site, registry.site_a).name = HOSTILE[3]
        stored = {volunteer_id: session.get(Volunteer, volunteer_id).name for volunteer_id, _, _ in people}
        stored_site = session.get(Site, registry.site_a).name
    for volunteer_id, _name, _phone in people[:2]:
        _assign(web_runtime, order_id, registry.site_a, volunteer_id)
    _assign(web_runtime, order_id, registry.site_b, people[2][0])

    response = commander.get(f"/command/orders/{order_id}/assignments.xlsx")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    names, sites = {}, set()
    for row in sheet.iter_rows(min_row=2):
        assert all(cell.data_type != "f" for cell in row)
        names[row[1].value] = row[1]
        sites.add((row[4].value, row[4].data_type, row[4].quotePrefix))
    assert set(names) == set(stored.values())  # exactly what was stored: no quote added to the text itself
    for text, cell in names.items():
        assert cell.data_type == "s"
        assert cell.quotePrefix == text.lstrip(" ").startswith(("=", "+", "-", "@", "＝"))
    assert (stored_site, "s", True) in sites
    assert "<f>" not in sheet_xml(response)  # no formula anywhere in the file


def test_a_viewer_gets_the_numbers_masked(clients, order_with_people):
    order = order_with_people
    for path in ("assignments.xlsx", "assignments.csv"):
        response = clients["viewer"].get(f"/command/orders/{order['order_id']}/{path}")
        assert response.status_code == 200
        shown = sheet_xml(response) if path.endswith("xlsx") else response.get_data(as_text=True)
        for phone in (order["phone_a"], order["phone_b"]):
            assert phone not in shown and phone[3:] not in shown and mask_phone(phone) in shown


def test_an_unknown_order_is_a_404_and_officers_may_not_export(clients):
    assert clients["commander"].get("/command/orders/987654/assignments.xlsx").status_code == 404
    assert clients["officer"].get("/command/orders/987654/assignments.xlsx").status_code == 403


# --- certified hours per volunteer ------------------------------------------------------------------------


def _record(session, volunteer_id: int, street: str, hours: float, started: datetime | None,
            status: ServiceStatus = ServiceStatus.certified, assignment_id: int | None = None) -> None:
    street_id = session.scalar(select(Street.id).where(Street.short_name == street))
    kind = ServiceKind.wartime if assignment_id else ServiceKind.imported
    session.add(ServiceRecord(volunteer_id=volunteer_id, kind=kind, assignment_id=assignment_id,
                              street_id=street_id, description="历史服务", hours=hours, started_at=started,
                              ended_at=started + timedelta(hours=hours) if started else None,
                              certified_hours=hours if status is ServiceStatus.certified else None,
                              status=status, certified_at=started, certified_by="officer-a"))


@pytest.fixture
def hours(clients, registry, web_runtime) -> dict:
    """Certified hours in May 2025 (local) in both streets, one of them a wartime order's, and records that
    must not count."""
    (a0, name_a0, phone_a0), (a1, _, _) = registry.volunteers_a[:2]
    (b0, name_b0, phone_b0) = registry.volunteers_b[0]
    order_id = _create(clients["commander"], registry)
    served = _assign(web_runtime, order_id, registry.site_b, a0, AssignmentStatus.completed)
    with web_runtime.transaction() as session:
        _record(session, a0, "八大关", 3.5, datetime(2025, 5, 3, 1, 0, tzinfo=UTC))
        _record(session, a0, "八大关", 2.25, datetime(2025, 5, 20, 6, 0, tzinfo=UTC))
        _record(session, a0, "湛山", 4.0, datetime(2025, 5, 21, 6, 0, tzinfo=UTC), assignment_id=served)
        _record(session, b0, "湛山", 6.0, datetime(2025, 5, 10, 2, 0, tzinfo=UTC))
        # 2025-05-31 17:00 UTC is June 1st, 01:00 in Qingdao: not May's
        _record(session, a1, "八大关", 9.0, datetime(2025, 5, 31, 17, 0, tzinfo=UTC))
        # 2025-04-30 16:30 UTC is May 1st, 00:30 in Qingdao: May's
        _record(session, b0, "湛山", 1.0, datetime(2025, 4, 30, 16, 30, tzinfo=UTC))
        _record(session, a1, "八大关", 5.0, datetime(2025, 5, 12, 2, 0, tzinfo=UTC),
                status=ServiceStatus.pending)  # not certified: not counted
    return {"a0": (a0, name_a0, phone_a0), "a1": a1, "b0": (b0, name_b0, phone_b0)}


MAY = "from=2025-05-01&to=2025-05-31"


def test_the_command_center_exports_every_streets_hours(clients, hours):
    rows = read_xlsx(clients["commander"].get(f"/exports/hours.xlsx?{MAY}"))
    (a0, name_a0, phone_a0), (b0, name_b0, _) = hours["a0"], hours["b0"]
    assert [(row["志愿者编号"], row["志愿者"], row["认证时长（小时）"], row["记录数"]) for row in rows] == [
        (a0, name_a0, 9.75, 3), (b0, name_b0, 7.0, 2)]  # most hours first; June's and pending ones left out
    assert rows[0]["号码"] == phone_a0 and rows[0]["所属街道"] == "八大关街道"
    assert (rows[0]["历史时长（小时）"], rows[0]["战时招募（小时）"], rows[0]["平时值班（小时）"]) == (5.75, 4.0, 0)
    assert rows[0]["首次服务"] == datetime(2025, 5, 3, 9, 0) and rows[0]["最近服务"] == datetime(2025, 5, 21, 14, 0)
    assert rows[1]["首次服务"] == datetime(2025, 5, 1, 0, 30)
    june = read_xlsx(clients["commander"].get("/exports/hours.xlsx?from=2025-06-01&to=2025-06-30"))
    assert [(row["志愿者编号"], row["认证时长（小时）"]) for row in june] == [(hours["a1"], 9.0)]


def test_one_streets_hours_and_the_english_headers(clients, hours):
    rows = read_xlsx(english(clients["admin"]).get(f"/exports/hours.xlsx?{MAY}&street=zhanshan"))
    assert [(row["Volunteer no."], row["Certified hours"], row["Home street"]) for row in rows] == [
        (hours["b0"][0], 7.0, "Zhanshan"), (hours["a0"][0], 4.0, "Badaguan")]
    csv_rows = read_csv(clients["commander"].get(f"/exports/hours.csv?{MAY}&street=湛山"))
    assert [(row["志愿者编号"], row["认证时长（小时）"], row["首次服务"]) for row in csv_rows] == [
        (str(hours["b0"][0]), "7.00", "2025-05-01 00:30"), (str(hours["a0"][0]), "4.00", "2025-05-21 14:00")]


def test_an_officer_exports_only_the_hours_served_in_their_street(clients, hours):
    officer = clients["officer"]
    for path in (f"/exports/hours.xlsx?{MAY}", f"/exports/hours.xlsx?{MAY}&street=badaguan"):
        rows = read_xlsx(officer.get(path))
        assert [(row["志愿者编号"], row["认证时长（小时）"]) for row in rows] == [(hours["a0"][0], 5.75)]
    assert officer.get(f"/exports/hours.xlsx?{MAY}&street=zhanshan").status_code == 403
    assert officer.get(f"/exports/hours.csv?{MAY}&street=湛山").status_code == 403


def test_a_viewer_reads_the_hours_with_masked_numbers(clients, hours):
    response = clients["viewer"].get(f"/exports/hours.xlsx?{MAY}")
    shown = sheet_xml(response)
    for _id, _name, phone in (hours["a0"], hours["b0"]):
        assert phone not in shown and phone[3:] not in shown and mask_phone(phone) in shown


@pytest.mark.parametrize("query, status, message", [
    ("from=2025-13-01&to=2025-12-31", 400, "from 须为 YYYY-MM-DD 格式的日期"),
    ("from=2025-05-01&to=yesterday", 400, "to 须为 YYYY-MM-DD 格式的日期"),
    ("from=2025-05-31&to=2025-05-01", 400, "结束日期（2025-05-01）早于开始日期（2025-05-31）"),
    ("from=2024-01-01&to=2025-01-01", 400, "时间段超过一年（367 天）"),
    (f"{MAY}&street=nowhere", 404, ""),
])
def test_bad_parameters_get_a_page_that_says_why_not_a_file(clients, hours, query, status, message):
    for file_format in ("xlsx", "csv"):
        response = clients["commander"].get(f"/exports/hours.{file_format}?{query}")
        assert response.status_code == status
        assert response.mimetype == "text/html" and "attachment" not in response.headers.get(
            "Content-Disposition", "")
        assert message in response.get_data(as_text=True)


def test_a_whole_year_is_allowed_and_the_message_is_english_in_english(clients, hours):
    assert clients["commander"].get("/exports/hours.xlsx?from=2024-06-01&to=2025-05-31").status_code == 200
    response = english(clients["commander"]).get("/exports/hours.csv?from=2025-05-31&to=2025-05-01")
    assert response.status_code == 400
    assert "The period ends (2025-05-01) before it starts (2025-05-31)." in response.get_data(as_text=True)


# --- a street's roster for a week ----------------------------------------------------------------------------


@pytest.fixture
def roster(registry, web_runtime) -> dict:
    """Street A's shifts in the week of Monday 2025-05-05: one with people on it (a booking, a check-in, a
    waiting list and a cancelled sign-up), one nobody took, one the week after; and a shift in street B."""
    from mobilize.models import Role

    (a0, name_a0, phone_a0), (a1, name_a1, _), (a2, name_a2, _) = registry.volunteers_a
    with web_runtime.transaction() as session:
        role = session.scalar(select(Role).where(Role.code == "civility_guide"))
        post_a = Post(site_id=registry.site_a, role_id=role.id, name="太平角早岗", slots=2)
        post_b = Post(site_id=registry.site_b, role_id=role.id, name="湛山早岗", slots=2)
        session.add_all([post_a, post_b])
        session.flush()

        def shift(post, day: date, hour_utc: int, code: str, status=ShiftStatus.scheduled) -> Shift:
            starts = datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC)
            row = Shift(post_id=post.id, local_date=day, starts_at=starts, ends_at=starts + timedelta(hours=2),
                        capacity=2, filled=0, status=status, code=code)
            session.add(row)
            session.flush()
            return row

        # Tuesday 2025-05-06 07:00 local is 2025-05-05 23:00 UTC: the local date is what counts
        busy = Shift(post_id=post_a.id, local_date=date(2025, 5, 6), capacity=2, filled=2, code="1001",
                     starts_at=datetime(2025, 5, 5, 23, tzinfo=UTC), ends_at=datetime(2025, 5, 6, 1, tzinfo=UTC))
        session.add(busy)
        session.flush()
        empty = shift(post_a, date(2025, 5, 9), 1, "1002")
        shift(post_a, date(2025, 5, 12), 1, "1003")  # next week
        shift(post_b, date(2025, 5, 7), 1, "1004")
        shift(post_b, datetime.now(ZoneInfo("Asia/Shanghai")).date(), 1, "1005")  # this week's
        for volunteer_id, status, checked_in in ((a0, SignupStatus.checked_in, datetime(2025, 5, 5, 22, 55,
                                                                                       tzinfo=UTC)),
                                                 (a1, SignupStatus.booked, None),
                                                 (a2, SignupStatus.waitlisted, None)):
            session.add(ShiftSignup(shift_id=busy.id, volunteer_id=volunteer_id, status=status, source="api",
                                    created_by="test", checked_in_at=checked_in))
        session.add(ShiftSignup(shift_id=empty.id, volunteer_id=a0, status=SignupStatus.cancelled, source="api",
                                created_by="test"))
    return {"a0": (a0, name_a0, phone_a0), "a1": name_a1, "a2": name_a2}


def test_a_streets_roster_for_a_week(clients, roster):
    rows = read_xlsx(clients["officer"].get("/board/badaguan/roster.xlsx?week=2025-05-08"))
    _, name_a0, phone_a0 = roster["a0"]
    assert [(row["日期"], row["星期"], row["志愿者"], row["报名状态"]) for row in rows] == [
        (datetime(2025, 5, 6), "星期二", name_a0, "已签到"),
        (datetime(2025, 5, 6), "星期二", roster["a1"], "已报名"),
        (datetime(2025, 5, 6), "星期二", roster["a2"], "候补中"),
        (datetime(2025, 5, 9), "星期五", None, None),  # nobody on it (a cancelled sign-up is not on the roster)
    ]
    first = rows[0]
    assert (first["开始时间"], first["结束时间"], first["签到时间"]) == (
        datetime(2025, 5, 6, 7, 0), datetime(2025, 5, 6, 9, 0), datetime(2025, 5, 6, 6, 55))
    assert (first["站点"], first["岗点"], first["岗位"], first["班次状态"], first["名额"], first["已占名额"],
            first["号码"]) == ("太平角检测点", "太平角早岗", "文明引导", "已排班", 2, 2, phone_a0)


def test_the_roster_in_english_and_as_csv(clients, roster):
    rows = read_csv(english(clients["commander"]).get("/board/badaguan/roster.csv?week=2025-05-05"))
    assert [(row["Date"], row["Weekday"], row["Starts"], row["Role"], row["Sign-up status"]) for row in rows][:2] == [
        ("2025-05-06", "Tuesday", "2025-05-06 07:00", "Civility guide", "checked in"),
        ("2025-05-06", "Tuesday", "2025-05-06 07:00", "Civility guide", "booked")]
    assert [row["Date"] for row in rows] == ["2025-05-06"] * 3 + ["2025-05-09"]


def test_roster_scoping_masking_and_bad_parameters(clients, roster):
    officer, viewer = clients["officer"], clients["viewer"]
    assert officer.get("/board/zhanshan/roster.xlsx?week=2025-05-05").status_code == 403
    assert officer.get("/board/nowhere/roster.xlsx").status_code == 404
    response = officer.get("/board/badaguan/roster.csv?week=2025-02-30")
    assert response.status_code == 400 and "week 须为 YYYY-MM-DD 格式的日期" in response.get_data(as_text=True)
    shown = sheet_xml(viewer.get("/board/badaguan/roster.xlsx?week=2025-05-05"))
    phone = roster["a0"][2]
    assert phone not in shown and phone[3:] not in shown and mask_phone(phone) in shown
    this_week = read_xlsx(clients["commander"].get("/board/zhanshan/roster.xlsx"))  # default: this week
    assert [(row["日期"].date(), row["岗点"]) for row in this_week] == [
        (datetime.now(ZoneInfo("Asia/Shanghai")).date(), "湛山早岗")]


# --- the links on the pages -----------------------------------------------------------------------------------


def test_the_pages_link_the_downloads(clients, order_with_people):
    order_page = clients["commander"].get(f"/command/orders/{order_with_people['order_id']}").get_data(
        as_text=True)
    assert f"/command/orders/{order_with_people['order_id']}/assignments.xlsx" in order_page
    assert "导出派遣名单（Excel）" in order_page
    assert "/exports/hours.xlsx" in clients["commander"].get("/command").get_data(as_text=True)
    board = clients["officer"].get("/board/badaguan").get_data(as_text=True)
    assert "/board/badaguan/roster.xlsx" in board and "/exports/hours.xlsx?street=badaguan" in board


# --- street names in the page's language --------------------------------------------------------------------


def test_street_names_are_in_the_pages_language_in_every_table(clients, order_with_people, web_runtime):
    """In English, no table names a street in Chinese beside another's romanisation (issue 17): the order's
    progress by street, and the exports, name them through the same helper."""
    order_id = order_with_people["order_id"]

    def by_street(client, heading: str) -> str:
        page = client.get(f"/command/orders/{order_id}").get_data(as_text=True)
        table = page[page.index(heading):]
        return table[:table.index("</table>")]

    chinese = by_street(clients["commander"], "按街道")
    assert "八大关街道" in chinese and "湛山街道" in chinese and "Badaguan" not in chinese
    shown = by_street(english(clients["commander"]), "By street")
    assert "Badaguan" in shown and "Zhanshan" in shown and "八大关" not in shown and "湛山" not in shown
