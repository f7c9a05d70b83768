"""An order's delivery and response funnel (issue 17, item 2) against a scenario with known numbers: per street
(the volunteers' own), per site, the carrier's reasons for failed invitations in words, the chart's data for
funnel.js, and the figures counted by a fixed number of queries, however many sites the order has."""
from __future__ import annotations

import html
import json
import re
from datetime import timedelta

from sqlalchemy import event, select

from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Demand,
    Invitation,
    InvitationStatus,
    Order,
    OrderState,
    OutboundMessage,
    OutboundStatus,
    Priority,
    Role,
)
from mobilize.models._types import utcnow
from mobilize.wartime.messages import invite_key
from mobilize.web.ui.funnel_queries import funnel
from mobilize.web.ui.order_queries import load_order
from tests import factories

# (street index, invitation status, SMS status, error code, assignment status or None)
A, B = 0, 1
PEOPLE = [
    (A, InvitationStatus.accepted, OutboundStatus.delivered, None, AssignmentStatus.arrived),
    (A, InvitationStatus.accepted, OutboundStatus.delivered, None, AssignmentStatus.notified),
    (A, InvitationStatus.declined, OutboundStatus.delivered, None, None),
    (B, InvitationStatus.accepted, OutboundStatus.delivered, None, AssignmentStatus.confirmed),
    (B, InvitationStatus.invited, OutboundStatus.undelivered, 30003, None),
    (B, InvitationStatus.invited, OutboundStatus.failed, 30008, None),
    (B, InvitationStatus.invited, OutboundStatus.queued, None, None),
]


def _scenario(runtime, registry) -> int:
    now = utcnow()
    with runtime.transaction() as session:
        order = Order(title="漏斗测试招募令", reply_code="77", state=OrderState.open, starts_at=now + timedelta(hours=1),
                      ends_at=now + timedelta(hours=5), launched_at=now, last_wave_at=now, waves_sent=1)
        session.add(order)
        session.flush()
        role = session.scalar(select(Role).where(Role.code == "registration"))
        demands = {}
        for site_id, capacity in ((registry.site_a, 3), (registry.site_b, 2)):
            demands[site_id] = Demand(order_id=order.id, site_id=site_id, role_id=role.id, capacity=capacity)
            session.add(demands[site_id])
        session.flush()
        ids = [registry.volunteers_a, registry.volunteers_b]
        used = [0, 0]
        extra = factories.volunteer(session, "湛山", name="湛山志愿者9", lon=120.367)
        for street, status, sms, code, placed in PEOPLE:
            people = ids[street]
            volunteer_id = people[used[street]][0] if used[street] < len(people) else extra.id
            phone = people[used[street]][2] if used[street] < len(people) else extra.phone
            used[street] += 1
            session.add(Invitation(order_id=order.id, volunteer_id=volunteer_id, wave=1, status=status,
                                   invited_at=now,
                                   answered_at=now if status in (InvitationStatus.accepted,
                                                                 InvitationStatus.declined) else None))
            session.add(OutboundMessage(volunteer_id=volunteer_id, to_phone=phone, body="邀请", kind="invitation",
                                        priority=Priority.bulk, segments=1, status=sms, error_code=code,
                                        dedupe_key=invite_key(order.id, volunteer_id)))
            if placed is not None:
                site = registry.site_a if street == A else registry.site_b
                demands[site].filled += 1
                session.add(Assignment(order_id=order.id, demand_id=demands[site].id, volunteer_id=volunteer_id,
                                       status=placed))
        return order.id


EXPECTED_TOTAL = {"invited": 7, "delivered": 4, "failed": 2, "answered": 4, "accepted": 3, "declined": 1,
                  "placed": 3, "confirmed": 2, "arrived": 1, "in_flight": 1, "capacity": 5}


def test_the_funnel_figures(web_runtime, registry):
    order_id = _scenario(web_runtime, registry)
    with web_runtime.transaction() as session:
        order = load_order(session, order_id)  # as the page loads it: demands, sites and roles at once
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(session.get_bind(), "before_cursor_execute", listener)
        try:
            result = funnel(session, order)
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", listener)
        assert len(statements) == 4  # streets, invitations, their SMS, the places: not one per site
        for stage, count in EXPECTED_TOTAL.items():
            assert result.total.counts[stage] == count, stage
        street_a, street_b = result.streets
        assert street_a.name == "八大关街道" and street_b.name == "湛山街道"
        assert {k: street_a.counts[k] for k in ("invited", "delivered", "failed", "accepted", "declined", "placed",
                                                "confirmed", "arrived")} == \
            {"invited": 3, "delivered": 3, "failed": 0, "accepted": 2, "declined": 1, "placed": 2, "confirmed": 1,
             "arrived": 1}
        assert {k: street_b.counts[k] for k in ("invited", "delivered", "failed", "answered", "placed",
                                                "confirmed")} == \
            {"invited": 4, "delivered": 1, "failed": 2, "answered": 1, "placed": 1, "confirmed": 1}
        sites = {row.key: row.counts for row in result.sites}
        assert (sites[registry.site_a]["capacity"], sites[registry.site_a]["placed"]) == (3, 2)
        assert (sites[registry.site_b]["capacity"], sites[registry.site_b]["confirmed"]) == (2, 1)
        assert sorted((reason.code, reason.count) for reason in result.reasons) == [(30003, 1), (30008, 1)]


def test_the_funnel_fragment_in_words_with_the_charts_data(clients, registry, web_runtime):
    order_id = _scenario(web_runtime, registry)
    for path in (f"/command/orders/{order_id}/funnel", f"/command/orders/{order_id}"):
        response = clients["viewer"].get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "手机无法接通 (30003)" in page and "未知错误 (30008)" in page  # the carrier's reasons, in words
        assert re.search(r'data-stage="failed"><b>2</b>', page) and re.search(r'data-stage="arrived"><b>1</b>', page)
        data = json.loads(html.unescape(re.search(r'data-funnel="([^"]+)"', page).group(1)))
        assert data["total"] == [7, 4, 2, 4, 3, 1, 3, 2, 1]
        assert data["labels"][:3] == ["已邀请", "已送达", "未送达"]
        assert [street["name"] for street in data["streets"]] == ["八大关街道", "湛山街道"]
        for _, _, phone in registry.volunteers_a + registry.volunteers_b:
            assert phone not in page
    page = clients["commander"].get(f"/command/orders/{order_id}").get_data(as_text=True)
    assert 'src="/static/vendor/echarts/echarts.min.js"' in page and 'src="/static/funnel.js"' in page
    assert 'data-live-fragment="/command/orders/%d/funnel" data-live-on="order message"' % order_id in \
        page.replace("\n       ", " ")
    english = clients["commander"]
    english.set_cookie("mobilize_lang", "en")
    page = english.get(f"/command/orders/{order_id}/funnel").get_data(as_text=True)
    assert "unreachable handset (30003)" in page and "Badaguan" in page


def test_a_draft_has_no_funnel_and_unknown_orders_are_404(clients, registry, web_runtime):
    assert clients["commander"].get("/command/orders/999999/funnel").status_code == 404
    assert clients["officer"].get("/command/orders/999999/funnel").status_code == 403
