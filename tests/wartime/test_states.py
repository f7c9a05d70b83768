"""The order state machine: every transition, legal and illegal, in the domain and against both databases."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mobilize.domain.order_states import (
    TRANSITIONS,
    IllegalTransition,
    OrderAction,
    next_state,
)
from mobilize.models import AuditEvent, Order, OrderState
from mobilize.models._types import utcnow
from mobilize.wartime import drafts, lifecycle
from mobilize.wartime.drafts import DemandSpec
from mobilize.wartime.errors import IllegalOrderTransition
from tests.wartime.conftest import (
    COMMANDER,
    active,
    draft,
    handed_to_the_gateway,
    launched,
    order_row,
    people,
    run_match,
    sites,
    text,
)

LEGAL = {
    (OrderState.draft, OrderAction.update), (OrderState.draft, OrderAction.launch),
    (OrderState.draft, OrderAction.cancel), (OrderState.open, OrderAction.fill),
    (OrderState.open, OrderAction.top_up), (OrderState.open, OrderAction.stop_recruiting),
    (OrderState.open, OrderAction.finish), (OrderState.open, OrderAction.cancel),
    (OrderState.filled, OrderAction.reopen), (OrderState.filled, OrderAction.top_up),
    (OrderState.filled, OrderAction.stop_recruiting), (OrderState.filled, OrderAction.finish),
    (OrderState.filled, OrderAction.cancel),
    (OrderState.staffed, OrderAction.finish), (OrderState.staffed, OrderAction.cancel),
}


@pytest.mark.parametrize("state", list(OrderState))
@pytest.mark.parametrize("action", list(OrderAction))
def test_the_transition_table(state, action):
    if (state, action) in LEGAL:
        target = next_state(state, action)
        assert target == (TRANSITIONS[action][1] or state)
    else:
        with pytest.raises(IllegalTransition) as error:
            next_state(state, action)
        assert f"it is {state.value}" in str(error.value) or "draft" in str(error.value)


COMMANDS = {
    "update": lambda s, order_id, site_id: drafts.update_draft(s, order_id, {"title": "改"}, COMMANDER, utcnow()),
    "launch": lambda s, order_id, site_id: lifecycle.launch(s, order_id, COMMANDER, utcnow()),
    "top_up": lambda s, order_id, site_id: lifecycle.top_up(s, order_id, [DemandSpec(site_id, "registration", 1)],
                                                            COMMANDER, utcnow()),
    "stop_recruiting": lambda s, order_id, site_id: lifecycle.stop_recruiting(s, order_id, COMMANDER, utcnow()),
    # (the window started an hour ago: see orders_in_every_state)
    "finish": lambda s, order_id, site_id: lifecycle.finish(s, order_id, COMMANDER, utcnow()),
    "cancel": lambda s, order_id, site_id: lifecycle.cancel(s, order_id, COMMANDER, utcnow()),
}
RESULT = {"launch": OrderState.open, "stop_recruiting": OrderState.staffed, "finish": OrderState.closed,
          "cancel": OrderState.cancelled}


def orders_in_every_state(rt) -> tuple[dict[OrderState, int], int]:
    with rt.transaction() as session:
        site, _ = sites(session)
        volunteer = people(session, 1)[0]
    demands = [(site.id, "registration", 1)]
    window = {"starts_at": utcnow() - timedelta(hours=1), "ends_at": utcnow() + timedelta(hours=4)}  # finishable
    orders = {OrderState.draft: draft(rt, demands, **window),
              OrderState.open: launched(rt, demands, wave=False, **window)}
    orders[OrderState.filled] = launched(rt, demands, expected_answer_rate=1.0, **window)
    text(rt, volunteer, "Y")
    run_match(rt, orders[OrderState.filled])
    for state, command in ((OrderState.staffed, "stop_recruiting"), (OrderState.closed, "finish"),
                           (OrderState.cancelled, "cancel")):
        orders[state] = launched(rt, demands, wave=False, **window)
        with rt.transaction() as session:
            COMMANDS[command](session, orders[state], site.id)
    for state, order_id in orders.items():
        assert order_row(rt, order_id).state is state
    return orders, site.id


def test_every_command_in_every_state(rt):
    orders, site_id = orders_in_every_state(rt)
    action_of = {"update": OrderAction.update, "launch": OrderAction.launch, "top_up": OrderAction.top_up,
                 "stop_recruiting": OrderAction.stop_recruiting, "finish": OrderAction.finish,
                 "cancel": OrderAction.cancel}
    for state, order_id in orders.items():
        for name, command in COMMANDS.items():
            session = rt.sessions()
            try:
                if (state, action_of[name]) in LEGAL:
                    command(session, order_id, site_id)
                    session.flush()
                    expected = RESULT.get(name, OrderState.open if name == "top_up" else state)
                    assert order_row_in(session, order_id) is expected, (state, name)
                else:
                    with pytest.raises(IllegalOrderTransition) as error:
                        command(session, order_id, site_id)
                    assert error.value.status == 409
                    assert state.value in error.value.message, error.value.message
            finally:
                session.rollback()
                session.close()
    for state, order_id in orders.items():  # nothing stuck: every attempt was rolled back
        assert order_row(rt, order_id).state is state


def order_row_in(session, order_id):
    return session.get(Order, order_id).state


def test_filled_and_reopened_automatically_and_audited(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 2)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.5)
    handed_to_the_gateway(rt)  # (else crowd[1]'s invitation, still in the outbox, is withdrawn on fill)
    text(rt, crowd[0], "Y")
    run_match(rt, order_id)
    assert order_row(rt, order_id).state is OrderState.filled
    text(rt, crowd[0], "0")  # drop out: a place is free again
    assert order_row(rt, order_id).state is OrderState.open
    with rt.transaction() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "order",
                                                                      AuditEvent.subject_id == order_id)
                                       .order_by(AuditEvent.id)))
    assert actions == ["order.created", "order.launched", "order.wave", "order.filled", "order.open"]


def test_top_up_reopens_a_filled_order(rt):
    with rt.transaction() as session:
        site, other = sites(session)
        crowd = people(session, 3)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.5)
    text(rt, crowd[0], "Y")
    text(rt, crowd[1], "Y")
    run_match(rt, order_id)
    assert order_row(rt, order_id).state is OrderState.filled
    with rt.transaction() as session:
        lifecycle.top_up(session, order_id, [DemandSpec(site.id, "registration", 1),
                                             DemandSpec(other.id, "queue_keeping", 2)], COMMANDER, utcnow())
    order = order_row(rt, order_id)
    assert order.state is OrderState.open
    with rt.transaction() as session:
        capacities = sorted((d.site_id, d.capacity) for d in session.get(Order, order_id).demands)
    assert capacities == sorted([(site.id, 2), (other.id, 2)])
    run_match(rt, order_id)  # the volunteer on standby takes one of the new places
    assert len(active(rt, order_id)) == 2 and order_row(rt, order_id).state is OrderState.open
