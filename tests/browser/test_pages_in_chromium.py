"""The pages in a real browser: each role logs in and lands home, the language switches, an officer is kept
out of another street's board, the pages fit a phone, and the command center's message log updates live (SSE)
while a simulated phone texts and the workers answer.
"""
from __future__ import annotations

import pytest

from mobilize.domain.phones import mask_phone
from tests.browser.conftest import PASSWORD, USERS, volunteer_phone

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
HOMES = {"admin": "/command", "commander": "/command", "viewer": "/command", "officer": "/board/badaguan"}
ROLE_LABELS = {"admin": "管理员", "commander": "指挥员", "viewer": "观察员", "officer": "街道负责人"}


def log_in(browser, live, role: str, **context_options):
    context = browser.new_context(base_url=live.public_url, locale="zh-CN", **(context_options or DESKTOP))
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", USERS[role][0])
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"**{HOMES[role]}")
    return context, page


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_wrong_password_is_refused_on_the_login_page(browser, live, screenshot):
    context = browser.new_context(base_url=live.public_url, **PHONE)
    page = context.new_page()
    page.goto("/board/badaguan")  # anonymous: to the login page, and back after it
    page.wait_for_url("**/login?next=/board/badaguan")
    page.fill("input[name=username]", USERS["officer"][0])
    page.fill("input[name=password]", "not-the-password")
    page.click("button.primary")
    assert "用户名或密码错误" in page.locator("[role=alert]").inner_text()
    screenshot(page, "login-refused-phone")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/board/badaguan")
    context.close()


@pytest.mark.parametrize("role", ["admin", "commander", "viewer", "officer"])
def test_each_role_logs_in_and_lands_home(browser, live, screenshot, role):
    context, page = log_in(browser, live, role, **(PHONE if role == "officer" else DESKTOP))
    who = page.locator(".who")
    assert ROLE_LABELS[role] in who.inner_text()
    if role == "officer":
        assert "八大关街道" in who.inner_text() and page.locator("h1").inner_text().startswith("八大关街道")
        assert page.locator(".site-card").count() >= 2 and page.locator(".capacity-bar").count() >= 2
        assert fits_the_screen(page)
    else:
        assert page.locator("h1").inner_text() == "指挥中心"
        assert page.locator("svg.site-map circle.site").count() >= 22  # 2 to 5 sites in each of 11 streets
    page.wait_for_selector("html[data-live-state=live]")
    screenshot(page, f"home-{role}")
    context.close()


def test_the_language_switches_and_stays(browser, live, screenshot):
    context, page = log_in(browser, live, "commander")
    page.click("button[value=en]")
    page.wait_for_selector("h1:text('Command center')")
    assert "Commander" in page.locator(".who").inner_text()
    assert page.locator("table.streets").inner_text().count("Badaguan") == 1
    screenshot(page, "command-en")
    page.goto("/board/zhanshan")
    assert page.locator("h1").inner_text().startswith("Zhanshan")
    screenshot(page, "board-en")
    page.click("button[value=zh]")
    page.wait_for_selector("h1:text('湛山街道')")
    context.close()


def test_an_officer_cannot_open_another_streets_board(browser, live, screenshot):
    context, page = log_in(browser, live, "officer", **PHONE)
    response = page.goto("/board/zhanshan")
    assert response.status == 403 and "您无权访问此页面" in page.locator("main").inner_text()
    screenshot(page, "officer-other-street-403")
    assert page.goto("/command").status == 403
    assert page.goto("/board/八大关").status == 200
    context.close()


def test_the_message_log_updates_live_while_a_phone_texts(browser, live, screenshot):
    context, page = log_in(browser, live, "commander")
    page.wait_for_selector("html[data-live-state=live]")
    page.evaluate("window.__notReloaded = true")
    phone = volunteer_phone(live)
    log = page.locator("#message-log")
    live.control.send_from_phone(phone, "帮助", wait=True)  # the simulator calls the webhook
    log.locator("tr.in", has_text="帮助").wait_for(timeout=5000)
    assert phone in log.locator("tr.in", has_text="帮助").inner_text()
    live.run_jobs()  # the worker parses it, queues the help reply and sends it
    reply = log.locator("tr.out").first
    reply.wait_for(timeout=5000)
    page.locator("#message-log tr.out.state-delivered").first.wait_for(timeout=10000)  # the status callback
    assert "已送达" in log.locator("tr.out").first.inner_text()
    assert "已处理" in log.locator("tr.in", has_text="帮助").inner_text()
    assert page.evaluate("window.__notReloaded === true")  # updated in place, no reload
    screenshot(page, "command-live-message-log")
    context.close()


def test_a_viewer_sees_masked_numbers_and_a_phone_sized_command_center(browser, live, screenshot):
    context, page = log_in(browser, live, "viewer", **PHONE)
    phone = volunteer_phone(live)
    live.control.send_from_phone(phone, "1", wait=True)
    row = page.locator("#message-log tr.in").first
    row.wait_for(timeout=5000)
    assert mask_phone(phone) in row.inner_text() and phone not in page.content()
    assert fits_the_screen(page)
    screenshot(page, "command-viewer-phone")
    context.close()
