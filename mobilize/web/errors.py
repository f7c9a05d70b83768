"""DESIGN's error format for the API: {"error": {"code", "message", "details"}} with a 4xx status."""
from __future__ import annotations

from http import HTTPStatus

import structlog
from apiflask import APIFlask, HTTPError, Schema
from apiflask.fields import Dict, Nested, String
from flask import request
from werkzeug.exceptions import HTTPException

from mobilize.domain.text_safety import BlankText
from mobilize.web.converters import DATABASE_INT_MAX, FIRST_ID

log = structlog.get_logger(__name__)

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
    429: "too_many_requests", 500: "internal_error", 503: "unavailable",
}


class ErrorDetail(Schema):
    code = String(required=True, metadata={
        "description": "What went wrong, for programs: not_found, validation_error, illegal_transition..."})
    message = String(required=True, metadata={
        "description": "What went wrong, for people: it names the problem."})
    details = Dict(required=True, metadata={
        "description": "The specifics: for a 422 of the request's schema, the messages per location and "
                       "field."})


class ErrorOut(Schema):
    """Every API error's body (the OpenAPI document's error responses use it)."""

    error = Nested(ErrorDetail, required=True)


class ApiError(HTTPError):
    """Raise from API views: ApiError(409, "order is closed", code="illegal_transition", details={...})."""

    def __init__(self, status_code: int, message: str, code: str | None = None, details=None):
        super().__init__(status_code, message, detail=details or {}, extra_data={"code": code} if code else {})


def error_body(status: int, message: str, code: str | None = None, details=None) -> dict:
    return {"error": {"code": code or CODES.get(status, "error"), "message": message, "details": details or {}}}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def passed_on_headers(error: HTTPException) -> dict[str, str]:
    """The headers an HTTP error carries besides its own HTML's content type: `Allow` on a 405 (RFC 9110
    requires it), `WWW-Authenticate`, `Retry-After`..."""
    return {name: value for name, value in error.get_headers() if name.lower() != "content-type"}


def api_http_error(error: HTTPException) -> tuple[dict, int, dict[str, str]]:
    """A werkzeug HTTP error (no route, wrong method, a body that is not JSON...) in the API's error
    format."""
    status = error.code or 500
    message, details = _http_error_text(error, status)
    return error_body(status, message, details=details), status, passed_on_headers(error)


def _http_error_text(error: HTTPException, status: int) -> tuple[str, dict]:
    parser_data = getattr(error, "data", None)  # webargs aborts with the parser's messages and its exception
    if isinstance(parser_data, dict) and isinstance(parser_data.get("messages"), dict):
        cause = getattr(error, "exc", None)
        message = "the request body is not valid JSON" + (f": {cause}" if cause else "")
        return message, parser_data["messages"]
    if status == 404 and request.url_rule is None:  # no route matched (views name the rows they miss)
        return (f"nothing at {request.path}: no such path, or an id out of range (ids run from {FIRST_ID} to "
                f"{DATABASE_INT_MAX})"), {}
    return error.description or HTTPStatus(status).phrase, {}


def register(app: APIFlask) -> None:
    app.config.update(HTTP_ERROR_SCHEMA=ErrorOut, VALIDATION_ERROR_SCHEMA=ErrorOut)

    @app.error_processor
    def api_error(error: HTTPError):
        code = error.extra_data.get("code") if error.extra_data else None
        details = error.detail
        message = error.message
        if error.status_code == 422 and isinstance(details, dict) and not isinstance(error, ApiError):
            # the request's schema refused it: say which fields and why (a view's own 422 keeps its message)
            message = "invalid input: " + describe_validation(details)
        return error_body(error.status_code, message, code, details), error.status_code, error.headers

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not is_api_request():
            return error
        return api_http_error(error)

    @app.errorhandler(BlankText)
    def blank_text(error: BlankText):
        """A required name or text with nothing visible once control and direction characters are removed
        (the models' validators raise it, whatever the entry point)."""
        if is_api_request():
            return error_body(422, str(error), "blank_text", {"field": error.field}), 422
        return str(error), 422

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        log.exception("request.failed", path=request.path, method=request.method)
        if is_api_request():
            return error_body(500, "internal error; it has been logged"), 500
        return "Internal error; it has been logged.", 500


def describe_validation(details: dict) -> str:
    """'json.capacity: Must be greater than or equal to 0.' from marshmallow's nested messages."""
    parts: list[str] = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list):
            parts.append(f"{prefix}: {' '.join(str(item) for item in value)}")
        else:
            parts.append(f"{prefix}: {value}")

    walk("", details)
    return "; ".join(parts[:5]) + (f" (and {len(parts) - 5} more)" if len(parts) > 5 else "")
