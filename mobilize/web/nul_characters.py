"""NUL characters (U+0000) in what a request carries.

PostgreSQL can neither store nor compare a text holding NUL (the driver raises: a 500), and no name, code or
text a person types holds one; what the service stores is cleaned of control characters anyway
(`domain.text_safety`). So NUL never reaches a query:

- The API: a NUL in the query string or in a JSON string becomes U+FFFD (the replacement character) before
  the request is read. A lookup then finds nothing and says so with its own message ("unknown role
  'civility\ufffdguide'"), exactly as for any other name that does not exist, and the OpenAPI document stays
  true (a string is any string). In a JSON body the escape `\\u0000` is rewritten to `\\ufffd`, the same
  length, so the body's Content-Length holds; a raw NUL byte is invalid JSON already (a 400).
- The pages: a form or query with a NUL is refused with a 400 that names it (browsers never send one).
- Twilio's webhooks are left alone: a carrier's text is stored as delivered and cleaned on input.
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request

from mobilize.web.errors import is_api_request

# `\u0000` preceded by an even number of backslashes (an odd number would make it the literal text "u0000")
_JSON_NUL = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
_QUERY_NUL = re.compile(r"%00|\x00")
MAX_REWRITTEN_BODY = 16 * 1024 * 1024  # larger bodies are refused before this anyway (MAX_CONTENT_LENGTH)


def install(app: Flask) -> None:
    app.wsgi_app = ApiNulReplacer(app.wsgi_app)
    app.before_request(refuse_nul_in_pages)


class ApiNulReplacer:
    """WSGI middleware: NUL in an API request's query string and JSON strings becomes U+FFFD."""

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/api/"):
            query = environ.get("QUERY_STRING", "")
            if "%00" in query or "\x00" in query:
                environ["QUERY_STRING"] = _QUERY_NUL.sub("%EF%BF%BD", query)
            if environ.get("CONTENT_TYPE", "").startswith("application/json"):
                _replace_in_json_body(environ)
        return self.wsgi_app(environ, start_response)


def _replace_in_json_body(environ: dict[str, Any]) -> None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return  # werkzeug refuses it
    if not 0 < length <= MAX_REWRITTEN_BODY:
        return
    body = environ["wsgi.input"].read(length)
    if b"\\u0000" in body:
        body = _JSON_NUL.sub(rb"\1\\ufffd", body)
    environ["wsgi.input"] = io.BytesIO(body)  # same length: every escape keeps its six bytes


def refuse_nul_in_pages():
    if is_api_request() or request.path.startswith("/twilio/"):
        return None
    values = list(request.args.values()) + list(request.args.keys())
    if request.form:
        values += list(request.form.values())
    if any("\x00" in value for value in values):
        return "the request holds a NUL character (U+0000); remove it", 400
    return None
