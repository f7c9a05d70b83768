"""Plain pages. The simulated phones live in the simulator; /phones leads there in simulator mode."""
from __future__ import annotations

from flask import Blueprint, abort, redirect

from mobilize.web import runtime

blueprint = Blueprint("pages", __name__)


@blueprint.get("/phones")
def phones():
    settings = runtime().settings
    if settings.sms_backend != "simulator" or not settings.simulator_url:
        abort(404)
    return redirect(settings.simulator_url + "/phones")
