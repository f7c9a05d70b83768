"""The pages' blueprint ("ui"), on which `pages`, `orders` and `order_confirm` register their views.

Its own module, below the views, so that they share it without importing each other. Every view on it needs a
login: the blueprint refuses anonymous visitors before any view runs, whatever its decorators say.
"""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from mobilize.web.ui.access import current_principal

blueprint = Blueprint("ui", __name__)
# APIFlask's spec generator reads this on every blueprint with before_request functions; pages are not API.
blueprint.enable_openapi = False


@blueprint.before_request
def _deny_anonymous():
    # Default deny: a view that forgot its decorator still needs a login.
    if current_principal() is None:
        return redirect(url_for("auth.login_form", next=request.full_path.rstrip("?")))
    return None
