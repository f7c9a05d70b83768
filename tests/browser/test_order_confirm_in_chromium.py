"""Say it before sending it, in a real browser: a commander launches an order from the confirmation dialog (the
invitations' count, text and cost), watches the invitations go out, stops recruiting from its dialog and sees the
order change; on a phone the cancel dialog fits the screen, and "back" sends nothing; without JavaScript the same
step is a page of its own."""
from __future__ import annotations

import re
import time
from datetime import timedelta

from sqlalchemy import func, select

from mobilize.models import Order, OutboundMessage, Site, Street
from mobilize.models._types import utcnow
from mobilize.wartime import drafts
from mobilize.wartime.audit import Actor
from mobilize.wartime.drafts import DemandSpec, OrderSpec
from tests.browser.test_orders_in_chromium import QUICK_YES, _street_phones, wait_js
from tests.browser.test_pages_in_chromium import DESKTOP, PHONE, fits_the_screen, log_in

PLACES = 2


def _draft(live) -> int:
    with live.runtime.transaction() as session:
        site = session.scalar(select(Site).join(Street, Street.id == Site.street_id)
                              .where(Street.short_name == "八大关").order_by(Site.id))
        starts = utcnow() + timedelta(hours=2)
        spec = OrderSpec("确认步骤测试招募令", starts, starts + timedelta(hours=4),
                         (DemandSpec(site.id, site.roles[0].role.code, PLACES),), streets=("八大关街道",),
                         expected_answer_rate=0.5)
        return drafts.create_draft(session, spec, Actor("commander", None), utcnow()).id


def _outbox_size(live) -> int:
    with live.runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboundMessage))


def _state(live, order_id: int) -> str:
    with live.runtime.transaction() as session:
        return session.get(Order, order_id).state.value


def _numbers(dialog) -> dict[str, str]:
    return {key: dialog.locator(f"[data-confirm={key}] b").inner_text()
            for key in ("sms", "segments", "cost")}


def test_a_commander_confirms_what_each_action_sends(browser, live, screenshot):
    live.runtime.settings.extra["match_debounce_s"] = 0  # RQ's burst worker runs no delayed jobs
    live.control.register_phones(_street_phones(live, "八大关"), profile=QUICK_YES)
    order_id = _draft(live)
    commander, page = log_in(browser, live, "commander", **DESKTOP)
    page.goto(f"/command/orders/{order_id}")
    page.wait_for_selector("html[data-live-state=live]")

    # Launch: the dialog says how many invitations, in which words, at what cost; nothing is sent yet.
    before = _outbox_size(live)
    page.click("a[data-step=launch]")
    dialog = page.locator("dialog#confirm-dialog[open]")
    dialog.locator("[data-confirm-step=launch]").wait_for()
    numbers = _numbers(dialog)
    assert int(numbers["sms"]) >= PLACES and re.fullmatch(r"¥\d+\.\d\d", numbers["cost"])
    assert "邀请" in dialog.locator("table.by-template").inner_text()
    assert "回复Y" in dialog.locator("figure.sms-sample blockquote").first.inner_text()
    assert _outbox_size(live) == before and _state(live, order_id) == "draft"
    screenshot(page, "confirm-launch-dialog-zh")
    dialog.locator("[data-confirm-submit]").click()
    page.wait_for_selector("p.flash.ok")
    assert "招募中" in page.locator("#order-state").inner_text()

    # The invitations go out: the page says so, live, then the phones accept and places fill.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        live.run_jobs()
        if page.locator("#order-outgoing").count():
            break
        time.sleep(0.2)
    wait_js(page, "!!document.querySelector('#order-outgoing .outgoing-row[data-template=invitation]')",
            timeout=10)
    screenshot(page, "order-invitations-going-out-zh")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        live.run_jobs()
        if page.evaluate(f"(document.querySelector('#order-progress [data-count=assigned] b') || "
                         f"{{textContent: '0'}}).textContent.trim() === '{PLACES}'"):
            break
        time.sleep(0.3)
    wait_js(page, f"document.querySelector('#order-progress [data-count=assigned] b').textContent.trim() === "
                  f"'{PLACES}'", timeout=10)
    assert "已全部交给运营商" in page.locator("#order-outgoing").inner_text()

    # Stop recruiting: who is thanked, and that dispatched people keep their places.
    before = _outbox_size(live)
    page.click("a[data-step=stop-recruiting]")
    dialog.locator("[data-confirm-step=stop-recruiting]").wait_for()
    text = dialog.inner_text()
    assert "已派遣的志愿者保留岗位" in text and "预计费用" in text
    sms = int(_numbers(dialog)["sms"])
    if sms:
        assert "本次无需前往" in dialog.locator("table.by-template").inner_text()
    else:
        assert "没有人会收到短信" in text
    screenshot(page, "confirm-stop-recruiting-dialog-zh")
    assert _outbox_size(live) == before
    dialog.locator("[data-confirm-submit]").click()
    page.wait_for_selector("p.flash.ok")
    assert "已停止招募" in page.locator("#order-state").inner_text()
    assert _state(live, order_id) == "staffed" and _outbox_size(live) == before + sms
    assert page.locator("a[data-step=stop-recruiting]").count() == 0
    screenshot(page, "order-recruiting-stopped-zh")

    # On a phone: the cancel dialog (the dispatched people are told) fits the screen; "back" sends nothing.
    phone, small = log_in(browser, live, "commander", **PHONE)
    small.goto(f"/command/orders/{order_id}")
    small.fill("form.cancel input[name=reason]", "演练结束")
    small.click("button[data-step=cancel]")
    small_dialog = small.locator("dialog#confirm-dialog[open]")
    small_dialog.locator("[data-confirm-step=cancel]").wait_for()
    assert int(_numbers(small_dialog)["sms"]) >= PLACES
    assert "招募取消，无需前往" in small_dialog.locator("table.by-template").inner_text()
    assert small_dialog.locator("input[type=hidden][name=reason]").get_attribute("value") == "演练结束"
    assert fits_the_screen(small)
    box = small_dialog.bounding_box()
    assert box["width"] <= 390 and box["x"] >= 0
    small.screenshot(path=str(_shot_path("confirm-cancel-dialog-zh-phone")))  # the screen, as the phone shows it
    small_dialog.locator("[data-confirm-close]").click()
    assert small.locator("dialog#confirm-dialog[open]").count() == 0
    assert _state(live, order_id) == "staffed"
    phone.close()

    # Without JavaScript the same step is a page; its button cancels the order.
    plain = browser.new_context(base_url=live.public_url, locale="zh-CN", java_script_enabled=False, **DESKTOP)
    plain.add_cookies(commander.cookies())
    bare = plain.new_page()
    bare.goto(f"/command/orders/{order_id}")
    bare.click("button[data-step=cancel]")
    bare.wait_for_url(f"**/command/orders/{order_id}/confirm/cancel*")
    assert bare.locator("[data-confirm-step=cancel]").count() == 1
    screenshot(bare, "confirm-cancel-page-nojs-zh")
    bare.locator("[data-confirm-submit]").click()
    bare.wait_for_selector("p.flash.ok")
    assert _state(live, order_id) == "cancelled"
    assert "已取消" in bare.locator("#order-state").inner_text()
    plain.close()
    commander.close()


def _shot_path(name: str):
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
