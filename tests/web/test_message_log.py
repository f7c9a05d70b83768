"""The message log page (issue 17, item 2): filters by order, direction, template, status, street and phone as GET
parameters, pages, 400 naming a filter value that names nothing, no phone search for viewers, and every code
shown by its name (templates, intents, outcomes, statuses, the carrier's reasons)."""
from __future__ import annotations

import re

import pytest

from mobilize.models import InboundMessage, OutboundMessage, OutboundStatus, Priority, Response
from tests.web.test_funnel import _scenario


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr class="(?:in|out) state-[a-z_]+"', page)


@pytest.fixture
def order_id(web_runtime, registry) -> int:
    order_id = _scenario(web_runtime, registry)
    volunteer_id, _name, phone = registry.volunteers_a[0]
    with web_runtime.transaction() as session:
        inbound = InboundMessage(message_sid="SM" + "7" * 32, from_phone=phone, to_phone="+8610690000", body="Y77",
                                 volunteer_id=volunteer_id, intent="accept", outcome="accepted")
        session.add(inbound)
        session.flush()
        session.add(Response(order_id=order_id, volunteer_id=volunteer_id, inbound_message_id=inbound.id,
                             intent="accept", outcome="accepted"))
        session.add(OutboundMessage(volunteer_id=volunteer_id, to_phone=phone, body="明天上午班次提醒",
                                    kind="shift_reminder_day", priority=Priority.bulk, segments=1,
                                    status=OutboundStatus.delivered))
    return order_id


def test_filters(clients, registry, order_id):
    commander = clients["commander"]
    page = commander.get("/command/log").get_data(as_text=True)
    assert len(_rows(page)) == 7 + 1 + 1 + 2  # the order's invitations, its answer, a reminder, the fixtures' two
    assert "班次提醒（前一天）" in page and "shift_reminder_day" not in page.split("<main")[1].split(
        'name="template"')[0]
    assert "识别为: 同意" in page and "已记录同意" in page  # the inbound's intent and outcome in words
    order_page = commander.get(f"/command/log?order={order_id}").get_data(as_text=True)
    assert len(_rows(order_page)) == 8 and "班次提醒" not in order_page.split('id="message-log"')[1]
    out = commander.get(f"/command/log?order={order_id}&direction=out").get_data(as_text=True)
    assert len(_rows(out)) == 7
    incoming = commander.get(f"/command/log?order={order_id}&direction=in").get_data(as_text=True)
    assert len(_rows(incoming)) == 1
    undelivered = commander.get("/command/log?status=undelivered").get_data(as_text=True)
    assert len(_rows(undelivered)) == 1 and "手机无法接通 (30003)" in undelivered
    zhanshan = commander.get("/command/log?street=zhanshan&template=invitation").get_data(as_text=True)
    assert len(_rows(zhanshan)) == 4 and 'data-street="zhanshan"' in zhanshan and 'data-street="badaguan"' not in \
        zhanshan.split('id="message-log"')[1]
    _id, _name, phone = registry.volunteers_a[0]
    by_phone = commander.get(f"/command/log?phone={phone[-6:]}").get_data(as_text=True)
    assert len(_rows(by_phone)) == 4  # its invitation, its answer, the reminder, the fixtures' inbound "Y27"
    processed = commander.get("/command/log?status=received&direction=in").get_data(as_text=True)
    assert all('class="in ' in row for row in _rows(processed))
    # the live fragment keeps the filters
    assert f'data-live-fragment="/command/messages?view=log&amp;order={order_id}&amp;direction=out"' in out


def test_pages(clients, registry, order_id, monkeypatch):
    from mobilize.web.ui import message_log

    monkeypatch.setattr(message_log, "PAGE_SIZE", 4)
    commander = clients["commander"]
    first = commander.get("/command/log?template=invitation").get_data(as_text=True)
    assert len(_rows(first)) == 4 and 'rel="next" href="/command/log?template=invitation&amp;page=2"' in first
    second = commander.get("/command/log?template=invitation&page=2").get_data(as_text=True)
    assert len(_rows(second)) == 3 and 'rel="prev"' in second and 'rel="next"' not in second
    assert "共 7 条短信 · 第 2 / 2 页" in second


@pytest.mark.parametrize("query, field", [
    ("order=abc", "order"), ("order=0", "order"), ("order=999999", "order"), ("direction=sideways", "direction"),
    ("template=nope", "template"), ("status=lost", "status"), ("street=atlantis", "street"),
    ("phone=12", "phone"), ("phone=abc123", "phone"), ("page=0", "page"), ("page=x", "page"),
    ("page=99999999", "page"),
])
def test_bad_filter_values_are_400_naming_them(clients, registry, query, field):
    for path in ("/command/log", "/command/messages"):
        response = clients["commander"].get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        assert field in response.get_data(as_text=True)


def test_viewers_see_no_phones_and_cannot_search_by_one(clients, registry, order_id):
    viewer = clients["viewer"]
    page = viewer.get("/command/log").get_data(as_text=True)
    assert 'name="phone"' not in page
    for _, _, phone in registry.volunteers_a + registry.volunteers_b:
        assert phone not in page
    _id, _name, phone = registry.volunteers_a[0]
    assert viewer.get(f"/command/log?phone={phone[-6:]}").status_code == 403
    assert viewer.get(f"/command/messages?view=log&phone={phone[-6:]}").status_code == 403
    assert viewer.get("/command/log?street=badaguan&status=delivered").status_code == 200
    assert clients["officer"].get("/command/log").status_code == 403


def test_the_command_center_shows_the_latest_few_and_links_to_the_log(clients, registry, order_id):
    page = clients["commander"].get("/command").get_data(as_text=True)
    log = page.split('id="message-log"')[1]
    assert len(_rows(log)) == 10 and 'href="/command/log"' in page and 'rel="next"' not in log
