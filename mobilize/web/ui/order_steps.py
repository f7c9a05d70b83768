"""The actions a commander confirms on an order's page (launch, top up, stop recruiting, finish, cancel,
discard), which of them the order's state offers now, and their buttons' names.

Shared by the order page (`orders`: its buttons) and the confirmation step (`order_confirm`), below both.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from mobilize.domain.order_states import OrderAction, OrderState, allowed_from
from mobilize.models import Order


@dataclass(frozen=True)
class Step:
    """One action a commander confirms: its URL name, the preview's name for it, the route that performs it,
    the OrderAction whose states allow it, and whether it sends SMS at all."""

    slug: str
    preview: str | None  # the action's name for previews.preview_action (None: sends nothing)
    endpoint: str
    order_action: str  # an OrderAction member's name (the state machine decides where it is offered)
    danger: bool = False


STEPS = {step.slug: step for step in (
    Step("launch", "launch", "ui.order_launch", "launch"),
    Step("top-up", "top_up", "ui.order_top_up", "top_up"),
    Step("stop-recruiting", "stop_recruiting", "ui.order_stop_recruiting", "stop_recruiting"),
    Step("finish", "finish", "ui.order_finish", "finish"),
    Step("cancel", "cancel", "ui.order_cancel", "cancel", danger=True),
    Step("discard", None, "ui.order_discard", "update", danger=True),
)}


def available_steps(order: Order) -> list[str]:
    """The steps the order's state allows now, in the order the page offers them."""
    result = []
    for slug, step in STEPS.items():
        if order.state in allowed_from(OrderAction(step.order_action)):
            result.append(slug)
    if order.state is OrderState.draft and "discard" in result:  # a draft is discarded, not "cancelled"
        result = [slug for slug in result if slug != "cancel"]
    return result


def step_titles() -> dict[str, str]:
    """The buttons' names, honest about what each does."""
    return {"launch": _("Launch"), "top-up": _("Add places"), "stop-recruiting": _("Stop recruiting"),
            "finish": _("Finish (certify hours)"), "cancel": _("Cancel order"), "discard": _("Discard draft")}
