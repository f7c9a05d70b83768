"""An order from launch to arrival in a real browser: a commander (in Chinese) creates an order in the command
center, checks the audience and SMS cost, launches it; an officer (in English, on a phone-sized screen) watches
the street's board fill live while simulated phones accept, then marks an arrival with one click."""
from __future__ import annotations

import time

from sqlalchemy import select

from mobilize.models import Street, Volunteer
from tests.browser.test_pages_in_chromium import DESKTOP, PHONE, fits_the_screen, log_in

QUICK_YES = {"answer_rate": 1.0, "decline_rate": 0.0, "stop_rate": 0.0, "typo_rate": 0.0, "delay_median": 1.0,
             "delay_sigma": 0.0}
PLACES = 3


def _street_phones(live, short_name: str) -> list[str]:
    with live.runtime.transaction() as session:
        return list(session.scalars(select(Volunteer.phone).join(Street, Street.id == Volunteer.street_id)
                                    .where(Street.short_name == short_name, Volunteer.opted_out_at.is_(None))))


def wait_js(page, expression: str, timeout: float = 5.0) -> float:
    """Poll a JS expression until it is true (wait_for_function evaluates strings, which the pages' CSP
    forbids); returns the seconds it took."""
    started = time.monotonic()
    while not page.evaluate(expression):
        assert time.monotonic() - started < timeout, f"timed out waiting for {expression}"
        time.sleep(0.05)
    return time.monotonic() - started


def test_launch_an_order_and_watch_a_board_fill_live(browser, live, screenshot):
    live.runtime.settings.extra["match_debounce_s"] = 0  # match at once: RQ's burst worker runs no delayed jobs
    live.control.register_phones(_street_phones(live, "八大关"), profile=QUICK_YES)

    # The commander drafts the order in Chinese.
    commander, page = log_in(browser, live, "commander", **DESKTOP)
    page.click("a[href='/command/orders/new']")
    page.fill("input[name=title]", "浏览器测试招募令")
    page.click("details[data-street=badaguan] summary")
    page.locator("details[data-street=badaguan] input[type=number]").first.fill(str(PLACES))
    page.check("input[name=streets][value='八大关街道']")
    screenshot(page, "order-new-zh")
    page.click("button.primary[type=submit]")
    page.wait_for_url("**/command/orders/*")
    preview = page.locator("section.preview")
    assert "发布前：邀请对象与短信费用" in preview.inner_text()
    eligible = int(preview.locator("[data-preview=eligible] b").inner_text())
    assert eligible >= PLACES and int(preview.locator("[data-preview=open_places] b").inner_text()) == PLACES
    screenshot(page, "order-preview-zh")
    page.click("a[data-step=launch]")  # the confirmation step first: what the launch sends, then its button
    page.locator("dialog#confirm-dialog[open] [data-confirm-step=launch]").wait_for()
    page.click("dialog#confirm-dialog [data-confirm-submit]")
    page.wait_for_selector("p.flash.ok")
    assert "招募中" in page.locator("#order-state").inner_text()

    # The officer opens the street's board in English on a phone.
    officer, board = log_in(browser, live, "officer", **PHONE)
    board.click("button[value=en]")
    board.wait_for_selector("h1:has-text('Badaguan')")
    board.wait_for_selector("html[data-live-state=live]")
    board.evaluate("window.__notReloaded = true")
    assert board.locator("#board-orders .order-block").count() == 1
    assert board.locator("#board-orders li.person").count() == 0

    # The simulated phones get the invitations and accept; the board fills without a reload.
    deadline = time.monotonic() + 30
    people = board.locator("#board-orders li.person")
    while people.count() < PLACES and time.monotonic() < deadline:
        live.run_jobs()
        time.sleep(0.3)
    # the board catches up on its own, without a reload (how fast is measured outside the tests)
    wait_js(board, f"document.querySelectorAll('#board-orders li.person').length >= {PLACES}", timeout=15)
    assert board.evaluate("window.__notReloaded === true")
    assert f"{PLACES}/{PLACES}" in board.locator("#board-orders .capacity").first.inner_text()
    assert fits_the_screen(board)
    screenshot(board, "board-filled-en-phone")

    # The command center's progress followed too.
    wait_js(page, f"document.querySelector('#order-progress [data-count=assigned] b').textContent.trim() === "
                  f"'{PLACES}'")
    screenshot(page, "order-progress-zh")

    # One click: the first person arrived.
    first = people.first
    name = first.locator(".name").inner_text()
    first.locator("button[data-action=arrive]").click()
    board.wait_for_selector("p.flash.ok")
    assert f"{name} marked as arrived." in board.locator("p.flash.ok").inner_text()
    arrived = board.locator("#board-orders li.person.status-arrived")
    assert arrived.count() == 1 and "arrived" in arrived.inner_text()
    screenshot(board, "board-arrival-en-phone")

    # The command center shows the arrival live, and then the page in English.
    wait_js(page, "document.querySelector('#order-progress [data-count=arrived] b').textContent.trim() === '1'")
    page.click("button[value=en]")
    page.wait_for_selector("h2:has-text('Progress')")
    screenshot(page, "order-progress-en")
    page.goto("/command")
    row = page.locator("#orders-list tr.order").first
    assert "浏览器测试招募令" in row.inner_text() and f"{PLACES} / {PLACES}" in row.inner_text()
    screenshot(page, "command-orders-en")
    officer.close()
    commander.close()
