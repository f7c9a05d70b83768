"""Fields of the API's request schemas: JSON bodies are typed strictly, and every number that reaches a
query fits the database.

The OpenAPI document is generated from the same schemas, so what it says (boolean, integer, number, a range)
is what the API enforces:
- marshmallow's Boolean takes 1, 0, "yes", "off"... and Integer and Float take numeric strings ("12"). In a
  JSON body, where the document says boolean or integer, those are refused with a 422 naming the field.
- Query strings are text: their fields keep marshmallow's parsing ("true", "12").
- Ids and counters are bounded by the databases' 64-bit integers: a larger number is a 422 naming the field,
  never an OverflowError (a 500) in the database driver.
- Dates and times are within the years EARLIEST_YEAR to LATEST_YEAR: at year 1 or 9999 the local-time
  arithmetic (a day's bounds in Asia/Shanghai, the day after) leaves Python's datetime range (a 500), and
  nothing the service plans or records is that far. The document says so with a pattern on the year.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from apiflask.fields import Boolean, Date, DateTime, Field, Float, Integer
from apiflask.validators import Range
from marshmallow import ValidationError

from mobilize.web.converters import DATABASE_INT_MAX, DATABASE_INT_MIN, FIRST_ID


_ZERO_FRACTION = re.compile(r"([+-]?\d+)\.0*")
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999
YEAR_PATTERN = r"^(19|2[0-9])[0-9]{2}-"  # EARLIEST_YEAR to LATEST_YEAR, as the document's pattern


class StrictBoolean(Boolean):
    """A JSON body's boolean: true or false, nothing else."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


class StrictInteger(Integer):
    """A JSON body's integer: a JSON number without a fraction, as JSON Schema counts them (12 and 12.0; not
    12.5, not "12"; marshmallow already refuses true and false)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)
        _bound_to_storable(self)

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


class StrictFloat(Float):
    """A JSON body's number: not a string of digits."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _document_exclusive_bounds(self)

    def _validated(self, value: Any) -> float:
        if isinstance(value, str):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def _document_exclusive_bounds(field: Field) -> None:
    """apispec writes a Range's bounds as minimum and maximum even when they are exclusive: add JSON Schema's
    exclusiveMinimum and exclusiveMaximum, so that the document does not call the bound itself valid."""
    for validator in field.validators:
        if not isinstance(validator, Range):
            continue
        if validator.min is not None and not validator.min_inclusive:
            field.metadata["exclusiveMinimum"] = validator.min
        if validator.max is not None and not validator.max_inclusive:
            field.metadata["exclusiveMaximum"] = validator.max


def _bound_to_storable(field: Integer) -> None:
    """Every integer the API reads fits a database column: a field without a range that says so gets the
    column's."""
    if not any(_is_storable_range(validator) for validator in field.validators):
        field.validators.append(Range(min=DATABASE_INT_MIN, max=DATABASE_INT_MAX))


def _is_storable_range(validator: Any) -> bool:
    return (isinstance(validator, Range) and validator.min is not None and validator.max is not None
            and DATABASE_INT_MIN <= validator.min and validator.max <= DATABASE_INT_MAX)


def _id_range() -> Range:
    return Range(min=FIRST_ID, max=DATABASE_INT_MAX)


class RowId(StrictInteger):
    """The id of a row named in a JSON body (a site, a volunteer, a sign-up...)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=_id_range(), **kwargs)


class QueryInteger(Integer):
    """An integer in a query string: text, read as marshmallow reads it ("12"), and also with a zero fraction
    ("12.0"), as a JSON Schema integer may be written."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _bound_to_storable(self)

    def _validated(self, value: Any) -> int:
        if isinstance(value, str) and (zero_fraction := _ZERO_FRACTION.fullmatch(value.strip())):
            value = zero_fraction.group(1)
        return super()._validated(value)


class RowIdFilter(QueryInteger):
    """The id of a row named in a query string."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=_id_range(), **kwargs)


class BoundedDate(Date):
    """A date (ISO 8601) in the years EARLIEST_YEAR to LATEST_YEAR."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _bound_years(self)


class BoundedDateTime(DateTime):
    """A date and time (ISO 8601) in the years EARLIEST_YEAR to LATEST_YEAR."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _bound_years(self)


def _bound_years(field: Field) -> None:
    field.validators.append(_in_supported_years)
    field.metadata["pattern"] = YEAR_PATTERN


def _in_supported_years(value: date) -> None:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValidationError(f"Must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}.")
