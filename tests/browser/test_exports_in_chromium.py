"""Exports and the simulator's phones in a real browser (issue 17, items 4 and 5), in a browser whose own clock
is in New York, so that a time shown in the browser's zone or in UTC instead of the district's cannot pass:

- a commander launches an order in Chinese, downloads its dispatches as Excel from the order page and the file,
  opened with openpyxl, has Chinese headers, names instead of codes and Qingdao's wall-clock times;
- the command center's phones link opens the simulator's phones in Chinese, with the messages' times 24-hour in
  the district's zone; the switch shows them in English.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import select

from mobilize.models import Assignment, AssignmentStatus, Demand, Street, Volunteer
from tests.browser.test_orders_in_chromium import wait_js
from tests.browser.test_pages_in_chromium import DESKTOP, PHONE, log_in

ZONE = ZoneInfo("Asia/Shanghai")
ELSEWHERE = "America/New_York"  # the browser's own zone: never the one shown
DISPATCHED = datetime(2025, 5, 6, 0, 30, tzinfo=UTC)  # 08:30 in Qingdao, 20:30 the day before in New York
ARRIVED = datetime(2025, 5, 6, 1, 5, tzinfo=UTC)


def _place_someone(live, order_id: int) -> str:
    """A volunteer of 八大关 dispatched at 08:30 and arrived at 09:05 (Qingdao): their name."""
    with live.runtime.transaction() as session:
        demand = session.scalar(select(Demand).where(Demand.order_id == order_id))
        volunteer = session.scalar(select(Volunteer).join(Street, Street.id == Volunteer.street_id)
                                   .where(Street.short_name == "八大关").order_by(Volunteer.id.desc()))
        demand.filled += 1
        session.add(Assignment(order_id=order_id, demand_id=demand.id, volunteer_id=volunteer.id,
                               status=AssignmentStatus.arrived, created_at=DISPATCHED, notified_at=DISPATCHED,
                               confirmed_at=DISPATCHED, arrived_at=ARRIVED))
        return volunteer.name


def test_a_commander_downloads_the_dispatches_as_excel(browser, live, screenshot, tmp_path):
    context, page = log_in(browser, live, "commander", timezone_id=ELSEWHERE, accept_downloads=True, **DESKTOP)
    page.click("a[href='/command/orders/new']")
    page.fill("input[name=title]", "导出测试招募令")
    page.click("details[data-street=badaguan] summary")
    page.locator("details[data-street=badaguan] input[type=number]").first.fill("2")
    page.check("input[name=streets][value='八大关街道']")
    page.click("button.primary[type=submit]")
    page.wait_for_url("**/command/orders/*")
    order_id = int(re.search(r"/command/orders/(\d+)", page.url).group(1))
    page.click("a[data-step=launch]")
    page.locator("dialog#confirm-dialog[open] [data-confirm-step=launch]").wait_for()
    page.click("dialog#confirm-dialog [data-confirm-submit]")
    page.wait_for_selector("p.flash.ok")
    name = _place_someone(live, order_id)
    page.reload()

    link = page.locator(f"a[href='/command/orders/{order_id}/assignments.xlsx']")
    assert link.inner_text() == "导出派遣名单（Excel）"
    screenshot(page, "order-export-links-zh")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == f"order-{order_id}-assignments.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    sheet = load_workbook(saved).active
    header = [cell.value for cell in sheet[1]]
    assert header[:7] == ["编号", "志愿者", "号码", "街道", "站点", "岗位", "状态"] and "到岗时间" in header
    rows = [dict(zip(header, row)) for row in sheet.iter_rows(min_row=2, values_only=True)]
    [person] = [row for row in rows if row["志愿者"] == name]
    assert (person["街道"], person["状态"]) == ("八大关街道", "已到岗")
    assert person["岗位"] in ("登记", "秩序维护", "信息录入", "医疗保障", "文明引导", "治安巡逻")
    assert person["派遣时间"] == datetime(2025, 5, 6, 8, 30) and person["到岗时间"] == datetime(2025, 5, 6, 9, 5)
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.b
    context.close()


def test_the_simulators_phones_in_chinese_with_the_districts_time(browser, live, screenshot):
    number = "+8613800990001"
    live.control.register_phone(number, responder="silent")
    live.control.send_from_phone(number, "是 27", wait=True)  # the service's answer, if any, is in too
    messages = live.control.conversation(number)
    [texted] = [message for message in messages if message["direction"] == "inbound"]
    expected = datetime.fromtimestamp(texted["timestamp"], ZONE).strftime("%H:%M:%S")

    context, page = log_in(browser, live, "commander", timezone_id=ELSEWHERE, **PHONE)
    page.goto(f"/phones#{number}")  # the service sends its commanders to the simulator, in their language
    page.wait_for_url(re.compile(r".*/phones\?lang=zh#.*"))
    bubbles = f"document.querySelectorAll('#messages .bubble').length === {len(messages)}"
    wait_js(page, bubbles, timeout=10)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("header h1").inner_text() == "短信模拟器 · 手机"
    shown = page.locator("#messages .bubble.from-phone time").inner_text()
    assert shown == expected, f"shown {shown}, in Qingdao it was {expected}"  # today there: the time alone
    assert all(re.fullmatch(r"[0-2][0-9]:[0-5][0-9]:[0-5][0-9]", text)  # 24-hour, no AM/PM
               for text in page.locator("#messages .bubble time").all_inner_texts())
    meta = page.locator("#messages .bubble.from-phone .meta").inner_text()
    assert "手动输入" in meta and "已接收" in meta
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "simulator-phone-zh-phone")

    page.click("#switch-lang")
    page.wait_for_url(re.compile(r".*/phones\?lang=en#.*"))
    wait_js(page, bubbles, timeout=10)
    assert page.locator("header h1").inner_text() == "SMS simulator · phones"
    assert page.locator("#messages .bubble.from-phone time").inner_text() == expected
    assert "typed" in page.locator("#messages .bubble.from-phone .meta").inner_text()
    screenshot(page, "simulator-phone-en-phone")
    context.close()
