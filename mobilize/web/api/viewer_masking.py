"""Viewers never read a phone number in clear from the API, in any field.

Views mask the fields that are phone numbers (`volunteer.phone`, a preview's `phone`...), but numbers also
hide in text people wrote: a notice ("有事请联系 13800138000"), an order's title, a holiday's reason, a post's
notes, a service record's description, the texts of a preview. Listing every such field in every view would
miss the next one, so the rule is applied once, here, to every API response a viewer gets: each string of a
JSON body, and the whole of a text body (the CSV and HTML certificates), goes through `redact_phone_numbers`,
the rule the pages' `redact` filter applies. Other roles call people and read the numbers in clear, as on the
pages.
"""
from __future__ import annotations

from typing import Any

from flask import Response, current_app

from mobilize.domain.phones import redact_phone_numbers
from mobilize.web.api.auth import token_auth

TEXT_BODIES = ("text/csv", "text/html", "text/plain")


def mask_for_viewers(response: Response) -> Response:
    """An `after_request` of the API blueprint: a viewer's response with every phone number in it masked."""
    principal = token_auth.current_user
    if principal is None or principal.sees_phone_numbers:
        return response
    if response.direct_passthrough or response.is_streamed:  # not read into memory (the API sends none today)
        return response
    if response.is_json:
        body = response.get_json(silent=True)
        masked = _masked(body)
        if masked != body:
            response.set_data(current_app.json.dumps(masked))
    elif response.mimetype in TEXT_BODIES:
        text = response.get_data(as_text=True)
        masked_text = redact_phone_numbers(text)
        if masked_text != text:
            response.set_data(masked_text)
    return response


def _masked(value: Any) -> Any:
    """The JSON value with every string masked (keys are the API's own names, never a person's text)."""
    if isinstance(value, str):
        return redact_phone_numbers(value)
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    return value
