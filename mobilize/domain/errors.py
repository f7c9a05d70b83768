"""The base of the services' domain errors; the API turns them into DESIGN's error format."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A message for people, a stable code for programs, details naming the culprit, and the HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details or {}
