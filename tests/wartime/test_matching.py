"""Matching within capacity: the optimal placement, the database's guards, standby told once."""
from __future__ import annotations

from sqlalchemy import select

from mobilize.models import Assignment, Demand
from mobilize.models._types import utcnow
from mobilize.wartime import lifecycle
from mobilize.wartime.places import place, reserve_place
from tests.wartime.conftest import (
    COMMANDER,
    ZHANSHAN,
    active,
    check_capacity_invariants,
    launched,
    order_row,
    people,
    run_match,
    sent,
    sites,
    text,
)


def test_never_past_capacity_and_the_rest_on_standby_told_once(rt):
    with rt.transaction() as session:
        site, other = sites(session)
        crowd = people(session, 12)
    order_id = launched(rt, [(site.id, "registration", 3), (other.id, "queue_keeping", 2)],
                        expected_answer_rate=5 / 12)
    for volunteer in crowd:
        assert text(rt, volunteer, "Y") == "accepted"
    outcome = run_match(rt, order_id)
    assert outcome.placed == 5 and outcome.standby_told == 7 and outcome.open_places == 0
    run_match(rt, order_id)  # nothing new: no second dispatch, no second standby message
    check_capacity_invariants(rt, order_id)
    assert len(sent(rt, "dispatch")) == 5 and len(sent(rt, "standby")) == 7
    keys = {m.dedupe_key for m in sent(rt, "dispatch")}
    assert keys == {f"dispatch:assignment:{a.id}" for a in active(rt, order_id)}
    order = order_row(rt, order_id)
    assert order.state.value == "filled" and order.filled_at is not None


def test_the_standby_are_told_in_the_order_they_said_yes(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 5)  # 100 m, 200 m... from the site: the first is placed whenever they answer
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1 / 5)
    answer_order = [crowd[3], crowd[1], crowd[4], crowd[0], crowd[2]]
    for volunteer in answer_order:
        assert text(rt, volunteer, "Y") == "accepted"
    assert run_match(rt, order_id).standby_told == 4
    told = [message.volunteer_id for message in sent(rt, "standby")]
    assert told == [volunteer.id for volunteer in answer_order if volunteer is not crowd[0]]


def test_the_nearest_are_placed_and_own_street_is_preferred(rt):
    with rt.transaction() as session:
        site, other = sites(session)
        near_a = people(session, 2)  # 八大关, 100 and 200 m from site A
        zhanshan = people(session, 2, "湛山", near=ZHANSHAN, step_m=300)  # 300, 600 m from site B (湛山)
        far = people(session, 2, step_m=5000)  # 八大关, 5 and 10 km
    order_id = launched(rt, [(site.id, "registration", 2), (other.id, "registration", 2)],
                        expected_answer_rate=4 / 6)
    for volunteer in near_a + zhanshan + far:
        text(rt, volunteer, "Y")
    run_match(rt, order_id)
    with rt.transaction() as session:
        placed = dict(session.execute(select(Assignment.volunteer_id, Demand.site_id)
                                      .join(Demand, Demand.id == Assignment.demand_id)
                                      .where(Assignment.order_id == order_id)).all())
    assert placed == {near_a[0].id: site.id, near_a[1].id: site.id, zhanshan[0].id: other.id,
                      zhanshan[1].id: other.id}


def test_skills_and_provisional_volunteers_are_respected(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        plain = people(session, 2)
        provisional = people(session, 1, step_m=10)[0]
        provisional.provisional = True
        medic = people(session, 1, step_m=3000, skills=("medical",))[0]
    order_id = launched(rt, [(site.id, "medical_support", 1), (site.id, "registration", 1)],
                        expected_answer_rate=0.5, over_recruit_factor=2.0)
    for volunteer in plain + [provisional, medic]:
        text(rt, volunteer, "Y")
    run_match(rt, order_id)
    with rt.transaction() as session:
        roles = {a.volunteer_id: session.get(Demand, a.demand_id).role.code for a in active(rt, order_id)}
    # the provisional volunteer is nearest but registration does not accept provisional volunteers
    assert roles == {medic.id: "medical_support", plain[0].id: "registration"}


def test_the_database_refuses_a_place_past_capacity_or_a_second_place(rt):
    """The guards behind the order lock: a conditional UPDATE for capacity, a partial unique index per person."""
    with rt.transaction() as session:
        site, other = sites(session)
        a, b = people(session, 2)
    order_id = launched(rt, [(site.id, "registration", 1), (other.id, "registration", 1)], wave=False)
    with rt.transaction() as session:
        first, second = session.scalars(select(Demand.id).where(Demand.order_id == order_id).order_by(Demand.id))
        assert place(session, order_id, first, a.id, utcnow()) is not None
        assert not reserve_place(session, first)  # full: rowcount 0
        assert place(session, order_id, first, b.id, utcnow()) is None
        assert place(session, order_id, second, a.id, utcnow()) is None  # already placed: the index says no
        assert place(session, order_id, second, b.id, utcnow()) is not None
    check_capacity_invariants(rt, order_id)
    assert len(active(rt, order_id)) == 2


def test_a_cancelled_order_matches_nobody(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 2)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.5)
    text(rt, crowd[0], "Y")
    with rt.transaction() as session:
        lifecycle.cancel(session, order_id, COMMANDER, utcnow())
    assert run_match(rt, order_id).placed == 0
    assert order_row(rt, order_id).state.value == "cancelled"


def test_nobody_is_sent_to_two_overlapping_orders(rt):
    with rt.transaction() as session:
        site, other = sites(session)
        volunteer = people(session, 1)[0]
    first = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1.0)
    second = launched(rt, [(other.id, "registration", 1)], expected_answer_rate=1.0)
    codes = [order_row(rt, order_id).reply_code for order_id in (first, second)]
    for code in codes:
        assert text(rt, volunteer, f"Y{code}") == "accepted"
    assert run_match(rt, first).placed == 1
    outcome = run_match(rt, second)
    assert outcome.placed == 0 and outcome.standby_told == 1  # waits on standby in the second order
