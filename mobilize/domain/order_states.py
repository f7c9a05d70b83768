"""The life of a wartime order as a state machine: which action may move an order from which state, and why not.

    draft --launch--> open --(every demand full)--> filled --(a place frees / top up)--> open
    open, filled --stop_recruiting--> staffed          (no more invitations or placements; those dispatched serve)
    open, filled, staffed --finish--> closed           (at or after the window's start: hours certified)
    draft, open, filled, staffed --cancel--> cancelled (everyone who said yes or was dispatched is told it is off)

`staffed` is "recruiting stopped": the command center has the people it will have. Its dispatched volunteers
still confirm, drop out, arrive and check out, and officers still act on their assignments, but nobody is
invited or placed any more (a freed place stays free). Three sets of states say who does what; the workers
read them instead of naming states:

- RECRUITING_STATES (= RUNNING_STATES): waves invite, matching places standby, the sweep runs.
- UNDERWAY_STATES: the order's volunteers may still answer about their assignments (replies, check-in by SMS).
- LIVE_STATES: the reply code names this order and no other (volunteers may still text it).

Pure: no database. The service layer applies a transition with a conditional UPDATE on the state it read, so two
concurrent commands cannot both win.
"""
from __future__ import annotations

import enum


class OrderState(str, enum.Enum):
    """Where an order is (stored as its name in `orders.state`; `mobilize.models` re-exports it)."""

    draft = "draft"
    open = "open"
    filled = "filled"
    staffed = "staffed"  # recruiting stopped: nobody more is invited or placed; those dispatched serve
    closed = "closed"  # finished: hours certified
    cancelled = "cancelled"


class OrderAction(str, enum.Enum):
    update = "update"  # edit the draft
    launch = "launch"
    fill = "fill"  # automatic: every demand is full
    reopen = "reopen"  # automatic: a place freed up, or a top up
    top_up = "top_up"
    stop_recruiting = "stop_recruiting"
    finish = "finish"
    cancel = "cancel"


# action -> (states it is allowed from, state it leads to; None: the state does not change)
TRANSITIONS: dict[OrderAction, tuple[frozenset[OrderState], OrderState | None]] = {
    OrderAction.update: (frozenset({OrderState.draft}), None),
    OrderAction.launch: (frozenset({OrderState.draft}), OrderState.open),
    OrderAction.fill: (frozenset({OrderState.open}), OrderState.filled),
    OrderAction.reopen: (frozenset({OrderState.filled}), OrderState.open),
    OrderAction.top_up: (frozenset({OrderState.open, OrderState.filled}), None),
    OrderAction.stop_recruiting: (frozenset({OrderState.open, OrderState.filled}), OrderState.staffed),
    OrderAction.finish: (frozenset({OrderState.open, OrderState.filled, OrderState.staffed}), OrderState.closed),
    OrderAction.cancel: (frozenset({OrderState.draft, OrderState.open, OrderState.filled, OrderState.staffed}),
                         OrderState.cancelled),
}

# volunteers are being invited and placed (waves, matching, the sweep's timeouts and backfills)
RECRUITING_STATES = frozenset({OrderState.open, OrderState.filled})
RUNNING_STATES = RECRUITING_STATES  # the older name, read by the workers
# the order's volunteers still answer about their assignments: confirm, drop out, arrive, check out
UNDERWAY_STATES = frozenset({OrderState.open, OrderState.filled, OrderState.staffed})
# reply codes are unique among live orders
LIVE_STATES = frozenset({OrderState.draft, OrderState.open, OrderState.filled, OrderState.staffed})
ENDED_STATES = frozenset({OrderState.closed, OrderState.cancelled})

# Why an action is refused in a state, in words a commander understands.
_WHY = {
    OrderState.draft: "it is still a draft (launch it first)",
    OrderState.open: "it is open (volunteers are being invited and dispatched)",
    OrderState.filled: "it is filled",
    OrderState.staffed: "it is staffed (recruiting has stopped; those dispatched still serve: finish or cancel it)",
    OrderState.closed: "it is closed (finished)",
    OrderState.cancelled: "it is cancelled",
}
_HINT = {
    OrderAction.update: "only a draft can be edited; use top up to add places to a launched order",
    OrderAction.top_up: "top up adds places to an open or filled order; edit a draft instead",
}
_VERB = {OrderAction.stop_recruiting: "stop recruiting for"}


class IllegalTransition(Exception):
    """The action is not allowed in the order's current state; the message says why."""

    def __init__(self, action: OrderAction, state: OrderState):
        self.action, self.state = action, state
        verb = _VERB.get(action, action.value.replace('_', ' '))
        message = f"cannot {verb} order: {_WHY[state]}"
        if action in _HINT:
            message += f"; {_HINT[action]}"
        super().__init__(message)


def allowed_from(action: OrderAction) -> frozenset[OrderState]:
    return TRANSITIONS[action][0]


def next_state(state: OrderState, action: OrderAction) -> OrderState:
    """The state after `action`, or IllegalTransition naming why it cannot happen now."""
    sources, target = TRANSITIONS[action]
    if state not in sources:
        raise IllegalTransition(action, state)
    return target if target is not None else state
