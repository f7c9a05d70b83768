"""The admin pages in a real browser, as a new admin would use them: create a street officer, give them an API
token (copied with the button, shown once), use it against the API, revoke it, read who did what in the audit
trail and export it; on the system page, retry a job that failed in a real RQ worker. Part of it by keyboard
only, and the pages on a 390 px phone.
"""
from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request

from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry

from tests.browser.test_pages_in_chromium import PHONE, fits_the_screen, log_in

OFFICER = "officer-zhanshan-2"


def api_get(live, path: str, token: str) -> tuple[int, dict | None]:
    request = urllib.request.Request(live.public_url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def test_an_admin_creates_an_officer_with_a_token_and_reads_the_audit_trail(browser, live, screenshot):
    context, page = log_in(browser, live, "admin")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.public_url)
    page.click("nav.links >> text=管理")
    page.wait_for_url("**/admin/users")
    assert page.locator("h1").inner_text() == "用户与角色"
    screenshot(page, "admin-users")

    # a refused form first: an officer without a street; nothing is created, the problem is named
    page.fill("input[name=username]", OFFICER)
    page.fill("input[name=password]", "zhanshan-pass-1")
    page.select_option("select[name=role]", "officer")
    page.click("text=创建用户")
    assert "街道负责人必须指定街道" in page.locator("[role=alert]").first.inner_text()
    assert page.locator(f"tr[data-user='{OFFICER}']").count() == 0

    # then by keyboard only: the fields, the street chosen with the arrow keys, Enter to submit
    page.focus("input[name=username]")
    page.keyboard.press("Control+A")
    page.keyboard.type(OFFICER)
    page.keyboard.press("Tab")  # the help text is not focusable: the password is next
    assert page.evaluate("document.activeElement.name") == "password"
    page.keyboard.type("zhanshan-pass-1")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "role"
    page.focus("select[name=street]")
    page.select_option("select[name=street]", label="湛山街道")  # (arrow keys on a closed select differ per OS)
    page.focus("input[name=username]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/users/*")
    assert OFFICER in page.locator("h1").inner_text() and "湛山街道" in page.locator("h1").inner_text()

    page.fill("input[name=name]", "湛山平板")
    page.keyboard.press("Enter")
    page.wait_for_selector("#new-token")
    token = page.input_value("#new-token")
    assert token.startswith("mob_")
    page.click("button[data-copy]")
    page.wait_for_selector("button[data-copy][data-state=copied]")
    assert page.evaluate("navigator.clipboard.readText()") == token
    screenshot(page, "admin-token-shown-once")

    status, sites = api_get(live, "/api/v1/sites", token)
    assert status == 200 and sites["items"]
    assert {site["street"] for site in sites["items"]} == {"湛山街道"}  # the officer's street only
    assert api_get(live, "/api/v1/sites?street=badaguan", token)[0] == 403

    page.goto("/admin/tokens")
    assert token not in page.content()  # never shown again
    row = page.locator("tr", has_text="湛山平板")
    assert "从未使用" not in row.inner_text()  # its use is recorded
    screenshot(page, "admin-tokens")
    row.locator("button", has_text="吊销").click()
    page.wait_for_selector("text=已吊销")
    assert api_get(live, "/api/v1/sites", token)[0] == 401  # at once

    page.goto("/admin/audit?actor=admin")
    actions = page.locator("tr[data-action]").evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert actions[:3] == ["token.revoked", "token.issued", "user.created"]
    assert OFFICER in page.locator("tr[data-action='user.created']").first.inner_text()
    screenshot(page, "admin-audit")
    page.select_option("select[name=action]", "user.created")
    page.click("text=筛选")
    page.wait_for_url("**action=user.created**")
    assert page.locator("tr[data-action]").count() == 1
    with page.expect_download() as download:
        page.click("text=导出 CSV")
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    assert rows[0][:3] == ["time", "actor", "action"] and len(rows) == 2 and rows[1][1:3] == ["admin", "user.created"]
    context.close()


def test_the_system_page_retries_a_failed_job_and_refreshes_itself(browser, live, screenshot):
    redis = live.runtime.redis
    queue = Queue("default", connection=redis)
    job = queue.enqueue("builtins.int", "not a number")
    SimpleWorker([queue], connection=redis).work(burst=True, logging_level="WARNING")
    assert job.id in FailedJobRegistry("default", connection=redis).get_job_ids()

    context, page = log_in(browser, live, "admin")
    page.goto("/admin/system")
    failed = page.locator(f"tr[data-job-id='{job.id}']")
    assert "ValueError" in failed.inner_text()
    assert page.locator("tr[data-queue=default] td.num.bad").inner_text() == "1"
    screenshot(page, "admin-system-failed-job")
    page.wait_for_selector("#system-status[data-refreshed]", timeout=15000)  # it reloaded its status part

    failed.locator("button").focus()  # by keyboard: the refresh waits while focus is on the button
    page.keyboard.press("Enter")
    page.wait_for_selector("text=已重新排队")
    assert page.locator(f"tr[data-job-id='{job.id}']").count() == 0
    assert job.id in queue.job_ids
    assert job.id not in FailedJobRegistry("default", connection=redis).get_job_ids()
    screenshot(page, "admin-system-retried")
    page.goto("/admin/audit?action=job.retried")
    assert job.id in page.locator("tr[data-action='job.retried']").inner_text()
    queue.empty()
    context.close()


def test_the_admin_pages_fit_a_phone(browser, live, screenshot):
    context, page = log_in(browser, live, "admin", **PHONE)
    for path, name in (("/admin/users", "admin-users-phone"), ("/admin/tokens", "admin-tokens-phone"),
                       ("/admin/audit", "admin-audit-phone"), ("/admin/system", "admin-system-phone")):
        page.goto(path)
        assert fits_the_screen(page), path
        screenshot(page, name)
    page.click("button[value=en]")
    page.wait_for_selector("h1:text('System')")
    assert fits_the_screen(page)
    screenshot(page, "admin-system-phone-en")
    context.close()
