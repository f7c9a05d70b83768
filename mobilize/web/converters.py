"""URL converters: every `<int:...>` of the app's routes is a row id the databases can hold.

Row ids are 64-bit signed integers in PostgreSQL (BIGINT) and SQLite (INTEGER), and start at 1. Werkzeug's
default `int` converter takes any number of digits, and a path such as /api/v1/volunteers/99999999999999999999
then reaches a query that the database driver refuses with an OverflowError: a 500 for bad
input.

Here the range is in the converter's regular expression, so that an id out of range matches no route at all:
a 404, as for any other unknown id. (A range checked only in `to_python`, werkzeug's `min`/`max`, is not
enough: werkzeug's matcher compares the method before it converts, so PATCH /posts/0 would be a 405 that
advertises the GET of a /posts/<id> that does not exist either.)
"""
from __future__ import annotations

import re

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

# The range of a signed 64-bit integer: PostgreSQL's BIGINT, SQLite's INTEGER.
DATABASE_INT_MIN, DATABASE_INT_MAX = -(2**63), 2**63 - 1
# Ids start at 1 in both databases; 0 is never a row.
FIRST_ID = 1


def decimal_up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 1..limit written without leading zeros."""
    text = str(limit)
    alternatives = [rf"[1-9]\d{{0,{len(text) - 2}}}"] if len(text) > 1 else []  # fewer digits than the limit
    for position, digit in enumerate(text):  # as many digits: the limit's prefix, then a smaller digit
        lowest = 1 if position == 0 else 0
        if int(digit) - 1 >= lowest:
            rest = len(text) - position - 1
            tail = rf"\d{{{rest}}}" if rest else ""
            alternatives.append(f"{text[:position]}[{lowest}-{int(digit) - 1}]{tail}")
    alternatives.append(text)
    return "(?:" + "|".join(alternatives) + ")"


ROW_ID = re.compile(decimal_up_to(DATABASE_INT_MAX))


def is_row_id(text: str) -> bool:
    """Whether a form's text is an id the databases can hold (what `<int:...>` matches)."""
    return ROW_ID.fullmatch(text) is not None


class RowIdConverter(IntegerConverter):
    """`<int:name>`: a number from FIRST_ID to DATABASE_INT_MAX, digits only, no leading zero."""

    regex = ROW_ID.pattern

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=FIRST_ID, max=DATABASE_INT_MAX)


def install(app: Flask) -> None:
    """Make RowIdConverter the app's `int` converter. Call before any route is added: a rule takes its
    converters when it is added to the map."""
    app.url_map.converters["int"] = RowIdConverter
