"""The command center in a real browser (issue 17, items 1, 2, 5): a commander fills every usual capacity in one
click, filters to the testing sites, sees the running total, the expected invitations and the SMS preview in
both languages, launches a big order; the order's funnel chart (the vendored ECharts, under the pages' CSP)
renders and follows the answers live; the message log is filtered by status and street, on a phone too."""
from __future__ import annotations

import time

from sqlalchemy import func, select

from mobilize.models import Site, SiteKind, SiteRole, Street
from tests.browser.test_orders_in_chromium import QUICK_YES, _street_phones, wait_js
from tests.browser.test_pages_in_chromium import DESKTOP, PHONE, fits_the_screen, log_in


def _usual(live, kind: SiteKind | None = None, street: str | None = None) -> int:
    with live.runtime.transaction() as session:
        statement = select(func.coalesce(func.sum(SiteRole.capacity), 0)).join(Site, Site.id == SiteRole.site_id)
        if kind is not None:
            statement = statement.where(Site.kind == kind)
        if street is not None:
            statement = statement.where(Site.street.has(Street.slug == street))
        return int(session.scalar(statement))


def _total(page) -> int:
    return int(page.locator("[data-total=places]").inner_text())


def _csp_watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_fill_filter_estimate_launch_and_follow_the_funnel(browser, live, screenshot):
    live.runtime.settings.extra["match_debounce_s"] = 0
    live.control.register_phones(_street_phones(live, "八大关") + _street_phones(live, "湛山"), profile=QUICK_YES)
    context, page = log_in(browser, live, "commander", **DESKTOP)
    csp_problems = _csp_watch(page)
    page.goto("/command/orders/new")
    started = time.monotonic()
    page.fill("input[name=title]", "浏览器大规模招募令")

    # One click: every site's usual capacity; the running total is their sum.
    page.click("button[data-fill=shown]")
    assert _total(page) == _usual(live)
    # Filter to the testing sites: clear, fill those shown; the total is the testing sites' usual capacity.
    page.click("button[data-clear=shown]")
    assert _total(page) == 0
    page.select_option("select[data-filter=kind]", "testing_site")
    assert page.locator("tr[data-kind=intersection]:visible").count() == 0
    page.click("button[data-fill=shown]")
    testing = _usual(live, SiteKind.testing_site)
    assert _total(page) == testing > 0
    # One street by its own buttons (all its sites, once the type filter is off).
    page.select_option("select[data-filter=kind]", "")
    page.click("details[data-street=zhanshan] button[data-fill=street]")
    assert _total(page) == testing - _usual(live, SiteKind.testing_site, "zhanshan") + _usual(live, None, "zhanshan")
    page.click("details[data-street=zhanshan] button[data-clear=street]")
    assert _total(page) == testing - _usual(live, SiteKind.testing_site, "zhanshan")
    page.select_option("select[data-filter=street]", "zhanshan")
    page.select_option("select[data-filter=kind]", "testing_site")
    page.click("button[data-fill=shown]")
    page.select_option("select[data-filter=street]", "")
    assert _total(page) == testing

    # The estimate: the invitations the launch is expected to send, and the SMS in each language.
    wait_js(page, "document.querySelector('#order-estimate [data-estimate-places=\"%d\"]') !== null" % testing,
            timeout=20)
    invitations = int(page.locator("[data-total=invitations]").inner_text())
    assert 0 < invitations <= 400  # the pacing's plan, bounded by the 400 volunteers of this small district
    for language in ("zh", "en"):
        preview = page.locator(f"figure.sms-preview[data-language={language}]")
        assert int(preview.get_attribute("data-segments")) >= 1
        assert "浏览器大规模招募令" in preview.locator("blockquote").inner_text()
    assert "中文" in page.locator("#order-estimate").inner_text()
    screenshot(page, "command-order-form-filled-zh")

    page.click("button.primary[type=submit]")
    page.wait_for_url("**/command/orders/*")
    page.click("a[data-step=launch]")
    page.locator("dialog#confirm-dialog[open] [data-confirm-step=launch]").wait_for()
    page.click("dialog#confirm-dialog [data-confirm-submit]")
    page.wait_for_selector("p.flash.ok")
    clicking = time.monotonic() - started  # reported by the lead's demo run; not asserted (no timed tests)
    print(f"order of {testing} places created and launched in {clicking:.1f} s of browser work")

    # The funnel: drawn by ECharts under the CSP, then following the answers without a reload.
    page.evaluate("window.__notReloaded = true")
    page.wait_for_selector("html[data-live-state=live]")
    wait_js(page, "document.querySelector('#order-funnel .funnel-chart[data-rendered] canvas') !== null",
            timeout=15)
    first_values = page.locator(".funnel-chart").get_attribute("data-values")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        live.run_jobs()
        accepted = int(page.locator("#order-funnel [data-stage=accepted] b").inner_text())
        if accepted > 0:
            break
        time.sleep(0.5)
    wait_js(page, "Number(document.querySelector('#order-funnel [data-stage=accepted] b').textContent) > 0",
            timeout=20)
    wait_js(page, "document.querySelector('.funnel-chart').getAttribute('data-values') !== %r" % first_values,
            timeout=20)
    assert page.evaluate("window.__notReloaded === true")
    # a live redraw shows the bars at their length at once (growing them from zero on every update, several a
    # second while answers come in, left them stubs)
    assert page.evaluate("echarts.getInstanceByDom(document.querySelector('.funnel-chart')).getOption().animation"
                         ) is False
    assert int(page.locator("#order-funnel [data-stage=invited] b").inner_text()) > 0
    assert csp_problems == []
    screenshot(page, "command-order-funnel-zh")
    context.close()


def test_the_message_log_filtered_by_status_and_street_on_a_phone(browser, live, screenshot):
    context, page = log_in(browser, live, "commander", **PHONE)
    page.goto("/command/log")
    page.select_option("select[name=status]", "delivered")
    page.select_option("select[name=street]", "badaguan")
    page.click("form.log-filters button[type=submit]")
    page.wait_for_url("**/command/log?*status=delivered*")
    assert "street=badaguan" in page.url
    rows = page.locator("#message-log tbody tr")
    assert rows.count() > 0
    assert set(page.eval_on_selector_all("#message-log tbody tr", "rows => rows.map(r => r.dataset.state)")) == \
        {"delivered"}
    streets = page.eval_on_selector_all("#message-log tbody td[data-street]", "cells => cells.map(c => c.dataset.street)")
    assert set(streets) == {"badaguan"}
    text = page.locator("#message-log").inner_text()
    assert "invitation" not in text and "邀请" in text  # templates by their names
    assert fits_the_screen(page)
    screenshot(page, "command-message-log-filtered-phone")
    context.close()
