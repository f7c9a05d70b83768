"""Peacetime refusals (`PeacetimeError`: not found, full, busy, too late...) as the API's error body."""
from __future__ import annotations

from mobilize.peacetime.errors import PeacetimeError
from mobilize.web.api import api
from mobilize.web.errors import error_body


@api.errorhandler(PeacetimeError)
def _peacetime_error(error: PeacetimeError) -> tuple[dict, int]:
    return error_body(error.status, error.message, error.code, error.details), error.status
