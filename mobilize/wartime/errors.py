"""Domain errors of wartime orders. The API turns them into DESIGN's error format with the status given here."""
from __future__ import annotations


from mobilize.domain.errors import DomainError

from mobilize.domain.order_states import IllegalTransition, OrderAction
from mobilize.models import OrderState


class WartimeError(DomainError):
    """Base of this package's errors (see mobilize.domain.errors)."""


class InvalidOrder(WartimeError):
    """Input that cannot make a valid order (unknown site or role, empty window...); nothing was written."""

    status = 422
    code = "invalid_order"


class NotFound(WartimeError):
    status = 404
    code = "not_found"


class Conflict(WartimeError):
    """The request is valid but the order's (or assignment's) state does not allow it now."""

    status = 409
    code = "conflict"


class IllegalOrderTransition(Conflict):
    code = "illegal_transition"

    def __init__(self, order_id: int, action: OrderAction, state: OrderState):
        reason = str(IllegalTransition(action, state))
        super().__init__(f"order {order_id}: {reason}",
                         details={"order_id": order_id, "action": action.value, "state": state.value})


def require_transition(order_id: int, state: OrderState, action: OrderAction) -> OrderState:
    """The state after `action`, or IllegalOrderTransition (409) saying why not."""
    from mobilize.domain.order_states import next_state

    try:
        return next_state(state, action)
    except IllegalTransition:
        raise IllegalOrderTransition(order_id, action, state) from None
