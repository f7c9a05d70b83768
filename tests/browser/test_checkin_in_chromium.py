"""The officer in the field (issue 17), in a real browser on a 390 px phone: 30 volunteers checked in in a row
through search and the bulk bar, one check-in undone, who is missing once the order has started, a drop-out by
SMS alerted on the page (sound, and a count in the tab's title until seen); and the board's district map drawn
by the vendored ECharts under the pages' content security policy."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from mobilize.models import Assignment, AssignmentStatus, Order, OrderState, Site, Street, Volunteer
from mobilize.models._types import utcnow
from mobilize.wartime import drafts
from mobilize.wartime.audit import Actor
from mobilize.wartime.drafts import DemandSpec, OrderSpec
from mobilize.wartime.places import place
from tests.browser.test_orders_in_chromium import wait_js
from tests.browser.test_pages_in_chromium import PHONE, fits_the_screen, log_in

PEOPLE = 30


def _order_with_people(live) -> tuple[int, list[tuple[int, str, str]]]:
    """An order under way with 30 volunteers (八大关's first) dispatched to 八大关's first site, starting in an hour:
    [(assignment id, name, phone)]."""
    now = utcnow()
    with live.runtime.transaction() as session:
        street = session.scalar(select(Street).where(Street.short_name == "八大关"))
        site = session.scalar(select(Site).where(Site.street_id == street.id).order_by(Site.id))
        spec = OrderSpec(title="签到演练", starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=6),
                         demands=(DemandSpec(site.id, "registration", PEOPLE + 2),))
        order = drafts.create_draft(session, spec, Actor("test"), now)
        order.state, order.launched_at = OrderState.open, now
        session.flush()
        demand_id = order.demands[0].id
        people = []
        for volunteer in session.scalars(select(Volunteer).where(Volunteer.opted_out_at.is_(None))
                                         .order_by(Volunteer.street_id != street.id, Volunteer.id)):
            assignment = place(session, order.id, demand_id, volunteer.id, now,
                               status=AssignmentStatus.notified if len(people) % 2 else AssignmentStatus.confirmed)
            if assignment is not None:
                people.append((assignment.id, volunteer.name, volunteer.phone))
            if len(people) == PEOPLE:
                break
        assert len(people) == PEOPLE
        return order.id, people


def _statuses(live, ids) -> dict[int, AssignmentStatus]:
    with live.runtime.transaction() as session:
        return dict(session.execute(select(Assignment.id, Assignment.status).where(Assignment.id.in_(ids))).all())


def test_an_officer_checks_in_30_on_a_phone_undoes_one_and_hears_a_drop_out(browser, live, screenshot):
    order_id, people = _order_with_people(live)
    ids = [assignment_id for assignment_id, _, _ in people]
    context, page = log_in(browser, live, "officer", **PHONE)
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto("/board/badaguan/checkin")
    page.wait_for_selector("html[data-live-state=live]")
    rows = page.locator(".checkin-row")
    assert rows.count() == PEOPLE and fits_the_screen(page)
    row_height = rows.first.bounding_box()["height"]
    assert 44 <= row_height <= 64  # one line a person, a thumb's tap target
    screenshot(page, "checkin-list-zh-phone")

    # Three found by search (two by the phone's last digits, one by name), ticked one after the other.
    search = page.locator("#checkin-search")
    for _, name, phone in people[:2]:
        search.fill(phone[-4:])
        wait_js(page, "document.querySelectorAll('.checkin-row:not([hidden])').length === 1")
        page.locator(".checkin-row:not([hidden]) input[type=checkbox]").check()
    search.fill(people[2][1])
    visible = page.locator(".checkin-row:not([hidden])")
    assert people[2][1] in visible.first.inner_text()
    visible.first.locator("input[type=checkbox]").check()
    assert page.locator("[data-selected-count]").inner_text() == "3"
    screenshot(page, "checkin-search-phone")

    # Then everyone else shown, at once, from the sticky bulk bar.
    search.fill("")
    page.click("[data-select=shown]")
    assert page.locator("[data-selected-count]").inner_text() == str(PEOPLE)
    bar = page.locator(".bulk-bar").bounding_box()
    assert bar["y"] + bar["height"] <= PHONE["viewport"]["height"] + 1  # the bar stays on screen
    page.click("[data-bulk-arrive]")
    page.wait_for_selector(".undo-banner")
    assert f"{PEOPLE} 人已标记到岗" in page.locator(".undo-banner").inner_text()
    assert set(_statuses(live, ids).values()) == {AssignmentStatus.arrived}
    assert page.locator(".checkin-row").count() == 0  # nobody left to check in
    screenshot(page, "checkin-all-arrived-phone")

    # One was a mistake: undone within the minute from the arrived view.
    page.click("a[data-view=arrived]")
    mistaken = page.locator(f".checkin-row[data-assignment-id='{ids[5]}']")
    mistaken.locator("button.undo").click()
    page.wait_for_selector("p.flash.ok")
    assert "已撤销" in page.locator("p.flash.ok").inner_text()
    statuses = _statuses(live, ids)
    assert statuses[ids[5]] is AssignmentStatus.notified  # exactly what it was: dispatched, not confirmed
    assert sum(status is AssignmentStatus.arrived for status in statuses.values()) == PEOPLE - 1

    # The order starts: who is missing.
    with live.runtime.transaction() as session:
        session.execute(update(Order).where(Order.id == order_id).values(starts_at=utcnow() - timedelta(minutes=1)))
    page.goto("/board/badaguan/checkin?view=missing")
    page.wait_for_selector("html[data-live-state=live]")
    missing = page.locator(".checkin-row")
    assert missing.count() == 1 and people[5][1] in missing.first.inner_text()
    assert missing.first.locator("a[href^='tel:']").count() == 1  # to call them
    screenshot(page, "checkin-missing-phone")

    # The missing one texts that they drop out: the page beeps and counts it in its title until seen.
    title = page.title()
    page.locator("#checkin-search").click()  # the officer has touched the page: sound is allowed
    live.control.send_from_phone(people[5][2], "放弃", wait=True)
    live.run_jobs()
    wait_js(page, "document.title.indexOf('(1) ') === 0", timeout=15)
    assert page.evaluate("document.documentElement.getAttribute('data-alert-sounds')") == "1"
    alert = page.locator("#board-alerts .alert.new")
    assert people[5][1] in alert.inner_text() and "已放弃" in alert.inner_text()
    assert "需要补位" in alert.inner_text()
    screenshot(page, "checkin-drop-out-alert-phone")
    page.click("[data-alerts-seen]")
    assert page.title() == title
    assert _statuses(live, [ids[5]])[ids[5]] is AssignmentStatus.released
    assert not [text for text in problems if "Content Security Policy" in text], problems
    context.close()


def test_the_board_map_draws_the_streets_approximate_areas_and_sites(browser, live, screenshot):
    context, page = log_in(browser, live, "officer", **PHONE)
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto("/board/badaguan")
    wait_js(page, "!!document.querySelector('#district-map[data-map-ready]')"
                  " || !!document.querySelector('#district-map[data-map-error]')", timeout=15)
    box = page.locator("#district-map")
    assert box.get_attribute("data-map-error") is None
    assert box.get_attribute("data-areas") == "11"
    assert int(box.get_attribute("data-map-ready")) == page.locator("#board-sites .site-card").count()
    assert box.locator("canvas").count() >= 1
    assert "近似范围" in page.locator(".map-note").inner_text()
    assert not violations, violations
    box.scroll_into_view_if_needed()
    page.locator("#district-map").screenshot(path=str(screenshot(page, "board-map-phone").parent
                                                      / "board-map-only-phone.png"))
    context.close()
