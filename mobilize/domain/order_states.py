"""The life of a wartime order as a state machine: which action may move an order from which state, and why not.

    draft --launch--> open --(every demand full)--> filled --(a place frees / top up)--> open
    open, filled --close--> closed          draft, open, filled --cancel--> cancelled

Pure: no database. The service layer applies a transition with a conditional UPDATE on the state it read, so two
concurrent commands cannot both win.
"""
from __future__ import annotations

import enum

from mobilize.models.orders import OrderState


class OrderAction(str, enum.Enum):
    update = "update"  # edit the draft
    launch = "launch"
    fill = "fill"  # automatic: every demand is full
    reopen = "reopen"  # automatic: a place freed up, or a top up
    top_up = "top_up"
    close = "close"
    cancel = "cancel"


# action -> (states it is allowed from, state it leads to; None: the state does not change)
TRANSITIONS: dict[OrderAction, tuple[frozenset[OrderState], OrderState | None]] = {
    OrderAction.update: (frozenset({OrderState.draft}), None),
    OrderAction.launch: (frozenset({OrderState.draft}), OrderState.open),
    OrderAction.fill: (frozenset({OrderState.open}), OrderState.filled),
    OrderAction.reopen: (frozenset({OrderState.filled}), OrderState.open),
    OrderAction.top_up: (frozenset({OrderState.open, OrderState.filled}), None),
    OrderAction.close: (frozenset({OrderState.open, OrderState.filled}), OrderState.closed),
    OrderAction.cancel: (frozenset({OrderState.draft, OrderState.open, OrderState.filled}), OrderState.cancelled),
}

# reply codes are unique among live orders
LIVE_STATES = frozenset({OrderState.draft, OrderState.open, OrderState.filled})
RUNNING_STATES = frozenset({OrderState.open, OrderState.filled})  # volunteers are being invited and dispatched

# Why an action is refused in a state, in words a commander understands.
_WHY = {
    OrderState.draft: "it is still a draft (launch it first)",
    OrderState.open: "it is open (volunteers are being invited and dispatched)",
    OrderState.filled: "it is filled",
    OrderState.closed: "it is closed",
    OrderState.cancelled: "it is cancelled",
}
_HINT = {
    OrderAction.update: "only a draft can be edited; use top up to add places to a launched order",
    OrderAction.top_up: "top up adds places to an open or filled order; edit a draft instead",
}


class IllegalTransition(Exception):
    """The action is not allowed in the order's current state; the message says why."""

    def __init__(self, action: OrderAction, state: OrderState):
        self.action, self.state = action, state
        message = f"cannot {action.value.replace('_', ' ')} order: {_WHY[state]}"
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
