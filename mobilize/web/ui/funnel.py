"""An order's delivery and response funnel on its page (issue 17, item 2): the fragment the page reloads on
`order` and `message` events, with the chart's numbers in a data attribute for static/funnel.js (the page's
Content-Security-Policy allows no inline script) and the same numbers in tables for keyboards, screen readers
and pages without scripts."""
from __future__ import annotations

import json

from flask import abort, render_template
from flask_babel import lazy_gettext as _l

from mobilize.web import db
from mobilize.web.ui import i18n, order_queries
from mobilize.web.ui.access import COMMAND_CENTER_ROLES, roles_required
from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.funnel_queries import SITE_STAGES, STAGES, funnel

STAGE_LABELS = {
    "invited": _l("invited"), "delivered": _l("delivered"), "failed": _l("not delivered"),
    "answered": _l("answered"), "accepted": _l("said yes"), "declined": _l("said no"),
    "placed": _l("placed"), "confirmed": _l("confirmed"), "arrived": _l("arrived"),
    "capacity": _l("capacity"), "in_flight": _l("on the way"), "withdrawn": _l("withdrawn"),
}


@blueprint.app_template_filter("stage")
def stage_label(stage: str) -> str:
    return str(STAGE_LABELS.get(stage, stage))


def funnel_context(session, order) -> dict:
    data = funnel(session, order)
    chart = data.chart_data()
    chart["labels"] = [stage_label(stage) for stage in STAGES]
    chart["streets"] = [{**street, "name": i18n.localized(_StreetName(street))} for street in chart["streets"]]
    return {"funnel": data, "stages": STAGES, "site_stages": SITE_STAGES,
            "funnel_json": json.dumps(chart, ensure_ascii=False, separators=(",", ":"))}


class _StreetName:
    """A street's names for `i18n.localized` (the funnel carries them as plain values)."""

    def __init__(self, street: dict) -> None:
        self.name, self.name_en = street["name"], street["name_en"] or street["name"]


@blueprint.get("/command/orders/<int:order_id>/funnel")
@roles_required(*COMMAND_CENTER_ROLES)
def order_funnel(order_id: int):
    """The funnel alone (reloaded on `order` and `message` events)."""
    order = order_queries.load_order(db(), order_id)
    if order is None:
        abort(404)
    return render_template("_order_funnel.html", order=order, **funnel_context(db(), order))
