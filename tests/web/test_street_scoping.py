"""A street officer reads only their street, sub-resources included (issue 13): the decisions, one by one.

Street A is 八大关 (the officer's), B is 湛山. The route walk (`test_routes_roles.py`) checks every route for
leaks of street B; these tests pin what an officer is shown instead:
- a holiday list: the district's holidays, their street's and their street's posts', never another street's;
- an order with no place in their street: 403 on the order and on each of its sub-resources (progress,
  assignments), like every other object of another street; a missing order is 404 for everyone;
- an order spanning both streets: its street-A part only, on the order, its progress and its assignments (the
  people sent to street A's sites, wherever they live: the officer receives them);
- a stored gap report: street A's part, and street A's backfill invitations, not the district's.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mobilize.models import Assignment, AssignmentStatus, Demand, GapReport, Order, OrderState, Site
from mobilize.models._types import utcnow
from tests.web.conftest import Registry


def _bearer(registry: Registry, role: str) -> dict:
    return {"Authorization": f"Bearer {registry.tokens[role]}"}


def _get(app, registry: Registry, role: str, path: str):
    return app.test_client().get(path, headers=_bearer(registry, role))


def _order(app, registry: Registry, title: str, places: list[tuple[int, str]]) -> int:
    starts = utcnow() + timedelta(days=1)
    ends = starts + timedelta(hours=4)
    body = {"title": title, "starts_at": starts.isoformat(), "ends_at": ends.isoformat(),
            "demands": [{"site_id": site_id, "role": role, "capacity": 3} for site_id, role in places]}
    created = app.test_client().post("/api/v1/orders", json=body, headers=_bearer(registry, "commander"))
    assert created.status_code == 201, created.get_data(as_text=True)
    return created.json["id"]


def _recruiting_with(runtime, order_id: int, placed: list[tuple[int, int]]) -> None:
    """The order open, with each (site, volunteer) placed and confirmed, as matching would leave them."""
    with runtime.transaction() as session:
        session.execute(update(Order).where(Order.id == order_id).values(state=OrderState.open,
                                                                         launched_at=utcnow()))
        for site_id, volunteer_id in placed:
            demand = session.scalar(select(Demand).where(Demand.order_id == order_id,
                                                         Demand.site_id == site_id))
            demand.filled += 1
            session.add(Assignment(order_id=order_id, demand_id=demand.id, volunteer_id=volunteer_id,
                                   status=AssignmentStatus.confirmed, notified_at=utcnow(),
                                   confirmed_at=utcnow()))


@pytest.fixture
def orders(app, registry, web_runtime) -> dict[str, int]:
    """An order with places only in street B, and one in both streets; in the latter a volunteer of street B
    is sent to street A's site, beside one of A's, and one of B's to street B's site."""
    only_b = _order(app, registry, "湛山专属招募令", [(registry.site_b, "queue_keeping")])
    both = _order(app, registry, "全区联合招募令", [(registry.site_a, "registration"),
                                                 (registry.site_b, "queue_keeping")])
    _recruiting_with(web_runtime, only_b, [(registry.site_b, registry.volunteers_b[0][0])])
    _recruiting_with(web_runtime, both, [(registry.site_a, registry.volunteers_a[0][0]),
                                         (registry.site_a, registry.volunteers_b[1][0]),
                                         (registry.site_b, registry.volunteers_b[2][0])])
    return {"only_b": only_b, "both": both}


# --- holidays -----------------------------------------------------------------------------------------------


def test_an_officer_lists_the_districts_holidays_their_streets_and_their_posts_only(app, registry):
    day = (utcnow() + timedelta(days=40)).date().isoformat()
    post_b = _post(app, registry, registry.site_b)
    post_a = _post(app, registry, registry.site_a)
    reasons = {"district": "全区防汛演练", "A": "八大关马拉松", "B": "湛山自行车赛", "post A": "太平角岗检修",
               "post B": "湛山岗检修"}
    for where, reason in ((None, reasons["district"]), ({"street": "八大关"}, reasons["A"]),
                          ({"street": "湛山"}, reasons["B"]), ({"post_id": post_a}, reasons["post A"]),
                          ({"post_id": post_b}, reasons["post B"])):
        created = app.test_client().post("/api/v1/holidays", headers=_bearer(registry, "commander"),
                                         json={"date": day, "reason": reason, **(where or {})})
        assert created.status_code == 201, created.get_data(as_text=True)

    officer = {h["reason"] for h in _get(app, registry, "officer", "/api/v1/holidays").json["items"]}
    commander = {h["reason"] for h in _get(app, registry, "commander", "/api/v1/holidays").json["items"]}
    assert officer == {reasons["district"], reasons["A"], reasons["post A"]}
    assert commander == set(reasons.values())


def _post(app, registry: Registry, site_id: int) -> int:
    created = app.test_client().post("/api/v1/posts", headers=_bearer(registry, "commander"),
                                     json={"site_id": site_id, "role": "patrol", "slots": 2})
    assert created.status_code == 201, created.get_data(as_text=True)
    return created.json["id"]


# --- orders: another street's, and one spanning both --------------------------------------------------------


@pytest.mark.parametrize("sub_resource", ["", "/progress", "/assignments", "/assignments?status=confirmed",
                                          "/progress?street=八大关"])
def test_an_order_without_places_in_the_officers_street_is_403_with_all_it_holds(app, registry, orders,
                                                                                  sub_resource):
    response = _get(app, registry, "officer", f"/api/v1/orders/{orders['only_b']}{sub_resource}")
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.json["error"]["code"] == "other_street"
    assert "湛山" not in response.get_data(as_text=True)
    commander = _get(app, registry, "commander", f"/api/v1/orders/{orders['only_b']}{sub_resource}")
    assert commander.status_code == 200


@pytest.mark.parametrize("sub_resource", ["", "/progress", "/assignments"])
def test_a_missing_order_is_404_for_officers_too(app, registry, orders, sub_resource):
    assert _get(app, registry, "officer", f"/api/v1/orders/999999{sub_resource}").status_code == 404


def test_an_officer_sees_the_street_a_part_of_an_order_spanning_both_streets(app, registry, orders):
    path = f"/api/v1/orders/{orders['both']}"
    order = _get(app, registry, "officer", path).json
    assert [d["site_id"] for d in order["demands"]] == [registry.site_a]
    assert (order["capacity"], order["filled"]) == (3, 2)

    progress = _get(app, registry, "officer", f"{path}/progress").json
    assert [s["site_id"] for s in progress["sites"]] == [registry.site_a]
    assert progress["totals"]["capacity"] == 3 and progress["totals"]["assigned"] == 2
    assert registry.site_b_name not in str(progress)

    people = _get(app, registry, "officer", f"{path}/assignments").json["items"]
    # Sent to street A's site: the officer's to receive, the one who lives in street B too (name and phone).
    assert sorted(a["volunteer"]["id"] for a in people) == sorted([registry.volunteers_a[0][0],
                                                                   registry.volunteers_b[1][0]])
    assert {a["site_id"] for a in people} == {registry.site_a}
    assert registry.volunteers_b[2][1] not in str(people)  # placed at street B's site
    assert _get(app, registry, "officer", f"{path}/assignments?site_id={registry.site_b}").json["items"] == []

    everything = _get(app, registry, "commander", f"{path}/assignments").json["items"]
    assert len(everything) == 3 and _get(app, registry, "commander", path).json["capacity"] == 6


def test_an_officers_order_list_leaves_out_orders_without_places_in_their_street(app, registry, orders):
    listed = {o["id"] for o in _get(app, registry, "officer", "/api/v1/orders").json["items"]}
    assert listed == {orders["both"]}
    assert {orders["both"], orders["only_b"]} <= {o["id"] for o in _get(app, registry, "commander",
                                                                          "/api/v1/orders").json["items"]}


def test_an_officers_board_shows_their_streets_part_of_an_order_spanning_both(registry, orders, clients):
    for path in ("/board/badaguan/orders", "/board/badaguan"):
        board = clients["officer"].get(path).get_data(as_text=True)
        assert "全区联合招募令" in board and registry.volunteers_a[0][1] in board
        assert registry.volunteers_b[1][1] in board  # lives in street B, sent to street A's site
        assert registry.site_b_name not in board and registry.volunteers_b[2][1] not in board
        assert "湛山专属招募令" not in board


# --- gap reports --------------------------------------------------------------------------------------------


def test_an_officer_reads_their_streets_part_of_a_gap_report_and_its_invitations(app, registry, web_runtime):
    with web_runtime.transaction() as session:
        street_a, street_b = (session.scalar(select(Site.street_id).where(Site.id == site_id))
                              for site_id in (registry.site_a, registry.site_b))
        session.add(GapReport(report_date=utcnow().date(), created_at=utcnow(), shifts=3, open_places=4,
                              invitations=9, streets=[_gap(street_a, 1, 1, invited=2),
                                                      _gap(street_b, 2, 3, invited=7)]))
    [officer] = _get(app, registry, "officer", "/api/v1/roster/gap-reports").json["items"]
    [commander] = _get(app, registry, "commander", "/api/v1/roster/gap-reports").json["items"]
    assert [s["street_id"] for s in officer["streets"]] == [street_a]
    assert (officer["shifts"], officer["open_places"], officer["invitations"]) == (1, 1, 2)
    assert (commander["shifts"], commander["open_places"], commander["invitations"]) == (3, 4, 9)


def _gap(street_id: int, shifts: int, open_places: int, invited: int) -> dict:
    item = {"shift_id": 1, "code": "S1", "post_id": 1, "post": "岗", "site": "点", "role": "patrol",
            "protected": False, "starts_at": utcnow().isoformat(), "ends_at": utcnow().isoformat(),
            "capacity": 2, "filled": 0, "open": open_places, "invited": invited}
    return {"street_id": street_id, "street": str(street_id), "shifts": shifts, "open_places": open_places,
            "items": [item]}
