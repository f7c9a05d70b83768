"""Domain errors of the roster. The API turns them into DESIGN's error format with the status given here."""
from __future__ import annotations


from mobilize.domain.errors import DomainError


class PeacetimeError(DomainError):
    """Base of this package's errors (see mobilize.domain.errors)."""


class Invalid(PeacetimeError):
    """Input that cannot be applied (unknown site or role, bad pattern...); nothing was written."""

    status = 422
    code = "invalid_roster_input"


class NotFound(PeacetimeError):
    status = 404
    code = "not_found"


class Conflict(PeacetimeError):
    """Valid, but the current state does not allow it (full, overlapping, started, already certified...)."""

    status = 409
    code = "conflict"


class Full(Conflict):
    code = "shift_full"


class Overlap(Conflict):
    code = "overlapping_booking"
