"""DESIGN's error format for the API: {"error": {"code", "message", "details"}} with a 4xx status."""
from __future__ import annotations

from http import HTTPStatus

import structlog
from apiflask import APIFlask, HTTPError
from flask import request
from werkzeug.exceptions import HTTPException

log = structlog.get_logger(__name__)

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
    429: "too_many_requests", 500: "internal_error", 503: "unavailable",
}


class ApiError(HTTPError):
    """Raise from API views: ApiError(409, "order is closed", code="illegal_transition", details={...})."""

    def __init__(self, status_code: int, message: str, code: str | None = None, details=None):
        super().__init__(status_code, message, detail=details or {}, extra_data={"code": code} if code else {})


def error_body(status: int, message: str, code: str | None = None, details=None) -> dict:
    return {"error": {"code": code or CODES.get(status, "error"), "message": message, "details": details or {}}}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def register(app: APIFlask) -> None:
    @app.error_processor
    def api_error(error: HTTPError):
        code = error.extra_data.get("code") if error.extra_data else None
        details = error.detail
        message = error.message
        if error.status_code == 422 and isinstance(details, dict):
            message = "invalid input: " + _describe_validation(details)
        return error_body(error.status_code, message, code, details), error.status_code, error.headers

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not is_api_request():
            return error
        status = error.code or 500
        return error_body(status, error.description or HTTPStatus(status).phrase), status

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        log.exception("request.failed", path=request.path, method=request.method)
        if is_api_request():
            return error_body(500, "internal error; it has been logged"), 500
        return "Internal error; it has been logged.", 500


def _describe_validation(details: dict) -> str:
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
