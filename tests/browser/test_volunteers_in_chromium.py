"""The volunteer pages and the browser import in a real chromium (issue 16): a commander finds a volunteer by
keyboard and opens their page; an officer on a 390 px phone sees only their street, edits and deactivates; a
viewer sees masked numbers and cannot search by phone; an admin uploads a GBK CSV (as Chinese Excel saves it),
reads the dry run's per-row report, applies it, and finds the new volunteer; and an .xlsx workbook."""
from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import select

from mobilize.domain.phones import mask_phone
from mobilize.models import Street, Volunteer
from tests.browser.test_pages_in_chromium import DESKTOP, PHONE, fits_the_screen, log_in

HEADER = "name,phone,street,community,lat,lon,skills,teams,language\n"


def a_volunteer(live, street: str = "八大关") -> tuple[int, str, str]:
    with live.runtime.transaction() as session:
        row = session.execute(select(Volunteer.id, Volunteer.name, Volunteer.phone)
                              .join(Street, Street.id == Volunteer.street_id)
                              .where(Street.short_name == street, Volunteer.deactivated_at.is_(None))
                              .order_by(Volunteer.id)).first()
    return tuple(row)


def test_a_commander_finds_a_volunteer_by_keyboard_and_opens_their_page(browser, live, screenshot):
    volunteer_id, name, phone = a_volunteer(live)
    context, page = log_in(browser, live, "commander", **DESKTOP)
    page.click("nav.links a[href='/volunteers']")
    page.wait_for_url("**/volunteers")
    page.keyboard.type(phone[-8:])  # the search box has the focus
    page.keyboard.press("Enter")
    page.wait_for_url("**/volunteers?q=*")
    link = page.locator(f"table.volunteers a[href='/volunteers/{volunteer_id}']")
    assert link.inner_text() == name and page.locator("table.volunteers tbody tr").count() == 1
    screenshot(page, "volunteers-search-commander")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/volunteers/{volunteer_id}")
    assert page.locator("h1").inner_text().startswith(name)
    for heading in ("登记信息", "服务", "战时派遣", "平时班次", "与该志愿者的短信"):
        assert page.locator("h2", has_text=heading).count() == 1
    assert phone in page.locator("dl.facts").inner_text()
    screenshot(page, "volunteer-page-commander")
    context.close()


def test_an_officer_on_a_phone_edits_and_deactivates_their_streets_volunteer(browser, live, screenshot):
    volunteer_id, name, _ = a_volunteer(live)
    other_id, _, _ = a_volunteer(live, "湛山")
    context, page = log_in(browser, live, "officer", **PHONE)
    page.goto("/volunteers")
    streets = set(page.locator("table.volunteers td[data-label='街道']").all_inner_texts())
    assert streets == {"八大关"}
    assert fits_the_screen(page)
    screenshot(page, "volunteers-officer-phone")
    assert page.goto(f"/volunteers/{other_id}").status == 403

    page.goto(f"/volunteers/{volunteer_id}/edit")
    page.fill("input[name=community]", "太平角一路社区")
    page.fill("input[name=phone]", "12345")
    page.click("button[type=submit].primary")
    assert "不是有效的手机号码：'12345'" in page.locator(".flash.error").inner_text()  # the importer's rule, in Chinese
    screenshot(page, "volunteer-edit-refused-phone")
    page.goto(f"/volunteers/{volunteer_id}/edit")
    page.fill("input[name=community]", "太平角一路社区")
    page.click("button[type=submit].primary")
    page.wait_for_url(f"**/volunteers/{volunteer_id}")
    assert "已保存" in page.locator(".flash.ok").inner_text()
    assert "太平角一路社区" in page.locator("dl.facts").inner_text()

    page.fill("input[name=reason]", "已搬离本街道")
    page.click("form.deactivate button.danger")
    page.wait_for_selector("li[data-state=deactivated]")
    assert fits_the_screen(page)
    screenshot(page, "volunteer-deactivated-officer-phone")
    page.click("text=恢复")
    page.wait_for_selector("li[data-state=active]")
    context.close()


def test_a_viewer_sees_masked_numbers_and_cannot_search_by_phone(browser, live, screenshot):
    volunteer_id, name, phone = a_volunteer(live)
    context, page = log_in(browser, live, "viewer", **PHONE)
    page.goto(f"/volunteers?q={phone[-8:]}")
    assert "观察员不能按手机号搜索" in page.locator("main").inner_text()
    assert page.locator("table.volunteers").count() == 0
    page.goto(f"/volunteers?q={name}")
    assert mask_phone(phone) in page.locator("table.volunteers").inner_text() and phone not in page.content()
    screenshot(page, "volunteers-viewer-phone")
    context.close()


def test_an_admin_imports_a_gbk_csv_dry_run_then_apply(browser, live, screenshot):
    _, existing_name, existing_phone = a_volunteer(live, "湛山")
    text = (HEADER
            + "欧阳晓明,13905329001,八大关街道,太平角社区,36.0531,120.3512,医护;驾驶,八大关应急队,zh\n"
            + "司马兰,13905329002,湛山,,36.0610,120.3670,,,\n"
            + "错号码,12345,八大关,,36.05,120.35,,,zh\n"
            + f"{existing_name},{existing_phone},湛山,新湛山社区,36.0605,120.3671,,,zh\n")
    context, page = log_in(browser, live, "admin", **DESKTOP)
    page.goto("/volunteers")
    page.click("text=导入志愿者")
    page.set_input_files("input[name=file]", files=[{"name": "志愿者名单-GBK.csv", "mimeType": "text/csv",
                                                      "buffer": text.encode("gb18030")}])
    page.click("button.primary:text('检查文件（试运行）')")
    page.wait_for_url("**/volunteers/import/*")
    live.run_jobs()  # the dry run job (the page refreshes itself until it is done)
    page.wait_for_selector("main[data-import-state=checked]", timeout=10000)
    counts = {item.get_attribute("data-count"): item.locator("b").inner_text()
              for item in page.locator(".import-counts li").all()}
    assert counts == {"rows": "4", "created": "2", "updated": "1", "unchanged": "0", "rejected": "1"}
    assert "GBK/GB18030" in page.locator("main").inner_text()
    assert "不是有效的手机号码" in page.locator("table.import-errors").inner_text()  # the reason in the page's language
    assert "欧阳晓明" in page.locator("details[data-kind=create]").inner_text()
    with live.runtime.transaction() as session:  # the dry run wrote nothing
        assert session.scalar(select(Volunteer.id).where(Volunteer.phone == "+8613905329001")) is None
    screenshot(page, "import-gbk-dry-run")

    page.click("text=确认导入：新建 2，更新 1")
    live.run_jobs()
    page.wait_for_selector("main[data-import-state=applied]", timeout=10000)
    assert "新建 2，更新 1" in page.locator("section.applied").inner_text()
    screenshot(page, "import-gbk-applied")
    page.goto("/volunteers?q=欧阳")
    page.locator("table.volunteers a", has_text="欧阳晓明").click()
    assert "八大关应急队" in page.locator("dl.facts").inner_text()
    context.close()


def test_an_admin_uploads_an_xlsx_and_a_wrong_file(browser, live, screenshot):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(["上官云", 13905329101, "湛山", "湛山社区", 36.06, 120.367, "急救", None, "zh"])
    stream = io.BytesIO()
    workbook.save(stream)
    context, page = log_in(browser, live, "admin", **PHONE)
    page.goto("/volunteers/import")
    page.set_input_files("input[name=file]", files=[{"name": "名单.xlsx", "buffer": stream.getvalue(),
                                                      "mimeType": "application/octet-stream"}])
    page.click("button.primary")
    live.run_jobs()
    page.wait_for_selector("main[data-import-state=checked]", timeout=10000)
    assert "Excel .xlsx" in page.locator("main").inner_text()
    assert page.locator(".import-counts li[data-count=created] b").inner_text() == "1"
    assert fits_the_screen(page)
    screenshot(page, "import-xlsx-dry-run-phone")

    page.goto("/volunteers/import")
    page.set_input_files("input[name=file]", files=[{"name": "假的.xlsx", "buffer": HEADER.encode(),
                                                      "mimeType": "application/octet-stream"}])
    page.click("button.primary")
    assert "的文件名像 Excel 工作簿，但内容不是" in page.locator(".flash.error").inner_text()
    assert "未写入任何数据" in page.locator(".flash.error").inner_text()
    screenshot(page, "import-refused-fake-xlsx-phone")
    context.close()
