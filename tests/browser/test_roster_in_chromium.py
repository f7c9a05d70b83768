"""The roster pages in a real browser (issue 16), on the demo district with its demo roster: an admin opens next
week, finds a gap, backfills it from the SMS preview and confirms, fills another gap with a nearby volunteer and
prints the week (A4, Chinese); an officer on a 390 px phone adds a volunteer by keyboard, takes one off and
approves a swap; a commander creates a post and a weekly pattern. Screenshots as the suite writes them."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mobilize.models import OutboundMessage, Post, Shift, ShiftSignup, ShiftSwap, SignupStatus, Site, Street
from mobilize.models._types import utcnow
from mobilize.peacetime import swaps
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.demo import seed_roster
from mobilize.wartime.audit import Actor
from tests.browser.test_pages_in_chromium import DESKTOP, PHONE, fits_the_screen, log_in

A4_LANDSCAPE_PT = (842, 595)  # 297 x 210 mm in PDF points, rounded


@pytest.fixture(scope="module")
def roster(live):
    with live.runtime.transaction() as session:
        summary = seed_roster(session)
    assert summary.status == "created", summary
    return summary


def _count(live, model, *where) -> int:
    with live.runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _shift_id(link) -> int:
    return int(link.get_attribute("data-shift"))


def test_an_admin_fixes_a_gap_of_next_week_and_prints_the_week(browser, live, roster, screenshot):
    context, page = log_in(browser, live, "admin", **DESKTOP)
    page.click("nav.links >> text=排班")
    page.wait_for_url("**/roster")
    page.click("a[data-week=next]")
    page.wait_for_url("**/roster?week=*")
    assert page.locator("table.roster-streets tr[data-street=badaguan]").count() == 1
    screenshot(page, "roster-district-next-week-zh")
    page.click("tr[data-street=badaguan] a")
    page.wait_for_url("**/roster/badaguan?week=*")
    assert "下周" in page.locator("a[aria-current=page]").inner_text()
    gaps = page.locator("a.shift.gap")
    assert gaps.count() >= 2, "the demo roster leaves gaps next week"
    with live.runtime.transaction() as session:
        protected = session.scalar(select(func.count()).select_from(Post).join(Site).join(Street).where(
            Street.short_name == "八大关", Post.protected.is_(True), Post.active.is_(True)))
    assert page.locator("table.roster-week .chip.protected").count() == protected
    screenshot(page, "roster-street-week-zh")

    # Backfill the first gap: the preview says who gets which SMS and how many, and writes nothing.
    first = gaps.first
    shift_id = _shift_id(first)
    first.click()
    page.click("a[data-action=backfill]")
    page.wait_for_url(f"**/roster/badaguan/shifts/{shift_id}/backfill")
    sms = int(page.locator("[data-confirm=sms] b").inner_text())
    assert sms >= 1 and "班次" in page.locator("figure.sms-sample blockquote").first.inner_text()
    assert _count(live, OutboundMessage, OutboundMessage.kind == "shift_backfill") == 0
    screenshot(page, "roster-backfill-preview-zh")
    page.click("[data-confirm-submit]")
    page.wait_for_selector("p.flash.ok")
    assert str(sms) in page.locator("p.flash.ok").inner_text()
    assert _count(live, OutboundMessage, OutboundMessage.kind == "shift_backfill",
                  OutboundMessage.dedupe_key.like(f"roster:backfill:shift:{shift_id}:%")) == sms

    # Fill another gap at once with a free volunteer nearby: the cell turns full on the week.
    page.goto(f"/roster/badaguan?week={_next_monday()}")
    second = page.locator("a.shift.gap").nth(1)
    other_id = _shift_id(second)
    second.click()
    with live.runtime.transaction() as session:
        shift = session.get(Shift, other_id)
        missing = shift.capacity - shift.filled
    for _ in range(missing):
        page.locator("#nearby [data-action=add]").first.click()
        page.wait_for_selector("p.flash.ok")
    screenshot(page, "roster-shift-filled-zh")
    page.goto(f"/roster/badaguan?week={_next_monday()}")
    assert page.locator(f"a.shift[data-shift='{other_id}']").get_attribute("data-state") == "full"

    # Print the week: its own A4 landscape sheet, in Chinese, with the names and a line per open place.
    page.click("a[data-link=print]")
    page.wait_for_url("**/roster/badaguan/print?week=*")
    assert "志愿服务排班表" in page.locator("h1").inner_text()
    page.emulate_media(media="print")
    assert not page.locator(".print-toolbar").is_visible()
    screenshot(page, "roster-print-a4-zh")
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    width, height = (round(float(n)) for n in re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf).groups())
    assert (width, height) == A4_LANDSCAPE_PT
    context.close()


def _next_monday() -> str:
    from zoneinfo import ZoneInfo

    today = utcnow().astimezone(ZoneInfo(RosterConfig().zone)).date()
    return (today - timedelta(days=today.weekday()) + timedelta(days=7)).isoformat()


def _booked_pair(live) -> tuple[int, int]:
    """A booked sign-up in 八大关 two days ahead or later, and another 八大关 volunteer free then to swap with."""
    from mobilize.peacetime.conflicts import busy_volunteers
    from mobilize.models import Volunteer

    with live.runtime.transaction() as session:
        street_id = session.scalar(select(Street.id).where(Street.short_name == "八大关"))
        signups = session.scalars(select(ShiftSignup).join(Shift).join(Post).join(Site).where(
            Site.street_id == street_id, ShiftSignup.status == SignupStatus.booked,
            Shift.starts_at > utcnow() + timedelta(days=2)).order_by(Shift.starts_at)).all()
        people = session.scalars(select(Volunteer.id).where(Volunteer.street_id == street_id)).all()
        for signup in signups:
            shift = signup.shift
            busy = busy_volunteers(session, people, shift.starts_at, shift.ends_at)
            free = [vid for vid in people if vid not in busy and vid != signup.volunteer_id]
            if free:
                return signup.id, free[0]
    raise AssertionError("no booked sign-up to swap")


def test_an_officer_on_a_phone_adds_removes_and_approves_a_swap(browser, live, roster, screenshot):
    signup_id, partner = _booked_pair(live)
    with live.runtime.transaction() as session:
        swap = swaps.propose(session, signup_id, partner, actor=Actor("officer-badaguan", None), now=utcnow(),
                             cfg=RosterConfig())
        swap_id = swap.id
    context, page = log_in(browser, live, "officer", **PHONE)
    page.goto(f"/roster?week={_next_monday()}")
    page.wait_for_url("**/roster/badaguan?week=*")  # an officer's roster is their street's
    assert fits_the_screen(page)
    screenshot(page, "roster-officer-week-390px")

    # Approve the swap both told the officer they agree to: done, both texted.
    page.locator(f"[data-swap='{swap_id}'] [data-action=approve]").click()
    page.wait_for_selector("p.flash.ok")
    with live.runtime.transaction() as session:
        assert session.get(ShiftSwap, swap_id).status.value == "completed"
        texted = session.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.kind == "swap_done"))
    assert texted == 2

    # Add a volunteer to a gap by keyboard alone: search by name, Enter, Tab to the button, Enter.
    page.goto(f"/roster/badaguan?week={_next_monday()}")
    gap = page.locator("a.shift.gap").first
    shift_id = _shift_id(gap)
    gap.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/roster/badaguan/shifts/{shift_id}")
    assert fits_the_screen(page)
    candidate = page.locator("#nearby li.person").first
    name = candidate.locator(".name").inner_text()
    volunteer_id = int(candidate.get_attribute("data-volunteer"))
    page.locator("input[name=q]").focus()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    page.wait_for_selector("#found li.person")
    page.locator(f"#found li.person[data-volunteer='{volunteer_id}'] [data-action=add]").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("p.flash.ok")
    added = page.locator(f"#signed-up li.person[data-volunteer='{volunteer_id}']")
    assert added.count() == 1
    screenshot(page, "roster-officer-shift-390px")

    # Take them off again: they are told by SMS, the place is open again.
    added.locator("[data-action=remove]").click()
    page.wait_for_selector("p.flash.ok")
    assert page.locator(f"#signed-up li.person[data-volunteer='{volunteer_id}']").count() == 0
    with live.runtime.transaction() as session:
        kinds = list(session.scalars(select(OutboundMessage.kind).where(
            OutboundMessage.volunteer_id == volunteer_id).order_by(OutboundMessage.id)))
    assert kinds[-2:] == ["shift_booked", "shift_cancelled"]
    context.close()


def test_a_commander_creates_a_post_and_a_weekly_pattern(browser, live, roster, screenshot):
    context, page = log_in(browser, live, "commander", **DESKTOP)
    page.goto("/roster/badaguan")
    page.click("a[data-link=posts]")
    page.wait_for_url("**/roster/badaguan/posts")
    form = page.locator("#new-post")
    form.locator("select[name=site_id]").select_option(index=1)
    form.locator("select[name=role]").select_option("patrol")
    form.locator("input[name=name]").fill("浏览器新建夜巡岗")
    form.locator("input[name=slots]").fill("3")
    form.locator("input[name=protected]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/roster/badaguan/posts/*")
    assert "浏览器新建夜巡岗" in page.locator("h1").inner_text() and "受保护" in page.locator("h1").inner_text()
    pattern = page.locator("#new-pattern")
    for day in ("1", "3", "5"):
        pattern.locator(f"input[name=weekdays][value='{day}']").check()
    pattern.locator("input[name=start_time]").fill("20:00")
    pattern.locator("input[name=end_time]").fill("22:00")
    pattern.locator("button[type=submit]").click()
    page.wait_for_selector("p.flash.ok")
    created = int(re.search(r"(\d+)", page.locator("p.flash.ok").inner_text()).group(1))
    assert created >= 3 and page.locator("ul.patterns li.person").count() == 1
    screenshot(page, "roster-post-pattern-zh")
    page.goto(f"/roster/badaguan?week={_next_monday()}")
    row = page.locator("tr", has_text="浏览器新建夜巡岗")
    assert row.locator("a.shift").count() == 3  # Monday, Wednesday, Friday
    context.close()
