"""Names and free text cleaned wherever they enter through the ORM: API, pages, SMS dialogues, CLI.

`cleaned_text(...)` builds a SQLAlchemy `@validates` hook for a model's text columns, using
`mobilize.domain.text_safety`: single-line columns (names, titles, reasons) and multi-line ones (notes) lose
control and direction characters when set. A required column whose value has nothing visible left raises
`BlankText` (a ValueError naming the column) instead of storing a blank name.

Bulk Core statements (`insert(table)`, `update(table).values(...)`) bypass ORM validators: the volunteer
import cleans its rows itself (`mobilize.registry.csv_fields`); other Core writers call the domain functions.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import validates

from mobilize.domain.text_safety import (
    BlankText,
    clean_line,
    clean_multiline,
    has_visible_text,
    require_line,
)


def cleaned_text(*, lines: Iterable[str] = (), multiline: Iterable[str] = (),
                 required: Iterable[str] = ()) -> Callable[[Any, str, Any], Any]:
    """A validator for the given columns; put it in the model's class body: `_text = cleaned_text(...)`.

    `required` names single-line columns that may not be blank once cleaned. None passes through (nullable
    columns)."""
    line_keys, multiline_keys, required_keys = tuple(lines), tuple(multiline), frozenset(required)

    @validates(*line_keys, *multiline_keys)
    def _clean(self: Any, key: str, value: Any) -> Any:
        if value is None:
            return None
        if key in multiline_keys:
            return clean_multiline(value)
        if key in required_keys:
            return require_line(value, f"{type(self).__name__}.{key}")
        return clean_line(value)

    return _clean


def cleaned_texts(column: str) -> Callable[[Any, str, Any], Any]:
    """A validator for a JSON column holding {language: text} (a notice's texts, SMS that may span lines):
    every text cleaned, languages whose text is blank once cleaned dropped, BlankText when none is left."""

    @validates(column)
    def _clean(self: Any, key: str, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # the service refuses anything else with a clear message
        texts = {language: clean_multiline(text) if isinstance(text, str) else text
                 for language, text in value.items()}
        texts = {language: text for language, text in texts.items()
                 if not isinstance(text, str) or has_visible_text(text)}
        if value and not texts:
            raise BlankText(f"{type(self).__name__}.{key}")
        return texts

    return _clean
