"""Text that people type, made safe to store and to hand to a spreadsheet. Pure: no Flask, Redis or database.

Two jobs, one module:

- **Cleaning on input** (`clean_line`, `clean_multiline`): names and free text lose the characters a person
  cannot see but a screen or a program obeys: C0/C1 controls, format characters (zero-width spaces and
  marks, bidirectional embeddings, overrides and isolates such as U+202E, which reverses a name on the board,
  U+FEFF), lone surrogates and the Hangul fillers that render as nothing (a favourite for "blank" names).
  Whitespace (TAB, newlines in a single-line field, no-break and ideographic spaces) becomes one ASCII space;
  runs collapse; ends are stripped. Letters of every script, emoji, combining marks, variation selectors and
  private-use characters (rare Chinese name characters still live there) are kept.

  Decisions:
  * ZWJ (U+200D) is kept only where it joins two symbols, as inside an emoji sequence (👨‍👩‍👧 stays one family,
    👩🏽‍💻 one person): anywhere else it only hides something, so it goes. ZWNJ (U+200C) always goes (it
    matters in Persian, not in this registry).
  * Multi-line free text (notes, notice texts) keeps its line breaks, written as "\\n" (CR LF, CR, U+2028...
    become "\\n"), each line cleaned like a single-line field, and at most one blank line in a row.
  * No Unicode normalisation (NFC/NFKC): full-width letters and digits are what the person typed.

- **Spreadsheet cells on output** (`spreadsheet_cell`, `spreadsheet_row`): OWASP's CSV injection advice. A
  text cell whose first visible character is `=`, `+`, `-` or `@` (also in their full-width or small forms,
  which WPS and Excel may read as the same after NFKC, and also behind leading spaces), or that starts with
  TAB, CR or LF, gets a leading single quote, so that Excel, WPS and LibreOffice show it as text instead of
  running it (`=HYPERLINK(...)`, `+cmd|...`, `@SUM(...)`). Numbers stay numbers: non-text values pass as they
  are, and so does text that is exactly a decimal number such as "-1.50" (a negative number is no formula).
  Phone numbers in E.164 (`+8613800138000`) are text starting with `+`: they get the quote too. Without it a
  spreadsheet reads them as a formula and shows 8.6138E+12, losing the `+` and the digits; with it the reader
  sees every digit of the number as stored (a visible leading quote in some programs, the lesser evil).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

ZWJ = "\u200d"
# rendered as nothing, yet letters (Lo) to Unicode: a "blank" name made of them must count as blank
HANGUL_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
# may sit between an emoji and the ZWJ that joins it to the next: presentation selectors, skin tones
_EMOJI_TRAILERS = frozenset("\ufe0e\ufe0f" + "".join(chr(code) for code in range(0x1F3FB, 0x1F400)))
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_LINE_BREAK = re.compile("\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
_SPACES = re.compile(" {2,}")
_BLANK_LINES = re.compile("\n{3,}")
# what `str.isprintable` lets through yet `clean_line` changes: spaces at the ends or in runs, Hangul fillers
_FILLER_CLASS = "[" + "".join(sorted(HANGUL_FILLERS)) + "]"
_PRINTABLE_BUT_UNCLEAN = re.compile(f"^ | $|  |{_FILLER_CLASS}")
_PRINTABLE_BUT_UNCLEAN_JOINED = re.compile(f"(?:^|,) | (?:,|$)|  |{_FILLER_CLASS}")  # fields joined by ","

FORMULA_TRIGGERS = frozenset("=+-@")
_LEADING_CONTROLS = ("\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


class BlankText(ValueError):
    """A required name or text has nothing visible left once cleaned (it was empty, spaces or only hidden
    characters)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field}: nothing left once control and direction characters are removed")
        self.field = field


# --- cleaning on input --------------------------------------------------------------------------------------


def is_hidden(character: str) -> bool:
    """A character cleaning removes (or, for TAB and line breaks, turns into a space or a newline)."""
    return (unicodedata.category(character) in _HIDDEN_CATEGORIES or character in HANGUL_FILLERS
            or character in "\u2028\u2029")


def clean_line(text: str) -> str:
    """A single-line field (a name, a title, a reason): hidden characters removed, any whitespace (TAB and
    newlines included) one space, no spaces at the ends."""
    if _is_clean_line(text):
        return text  # the common case, at C speed: an import checks 100,000 rows of fields
    return _SPACES.sub(" ", _strip_hidden(text, keep_newlines=False)).strip(" ")


def clean_multiline(text: str) -> str:
    """Free text that may span lines (notes, notice texts): line breaks kept as "\\n", each line cleaned as by
    `clean_line`, at most one blank line in a row, no blank lines at the ends."""
    lines = [_SPACES.sub(" ", line).strip(" ")
             for line in _strip_hidden(_LINE_BREAK.sub("\n", text), keep_newlines=True).split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def are_clean_lines(texts: Iterable[str]) -> bool:
    """True when `clean_line` would change none of `texts` (one check for a whole CSV row; False may also
    mean "look at each": a "," followed by a space inside a text is taken for a field's edge)."""
    joined = ",".join(texts)
    return joined.isprintable() and _PRINTABLE_BUT_UNCLEAN_JOINED.search(joined) is None


def hidden_characters(text: str, keep_newlines: bool = False) -> list[str]:
    """The distinct hidden characters cleaning removes or replaces, in order of appearance, as
    "U+202E RIGHT-TO-LEFT OVERRIDE" (for reports). ZWJs kept inside emoji sequences are not listed; with
    `keep_newlines`, neither are line breaks."""
    if _is_clean_line(text):
        return []
    if keep_newlines:
        text = _LINE_BREAK.sub("\n", text)
    kept_joiners = _kept_joiner_positions(text, keep_newlines)
    found: dict[str, None] = {}
    for position, character in enumerate(text):
        if keep_newlines and character == "\n":
            continue
        if is_hidden(character) and position not in kept_joiners:
            found.setdefault(character, None)
    return [describe(character) for character in found]


def describe(character: str) -> str:
    """"U+202E RIGHT-TO-LEFT OVERRIDE"; control characters have no name: "U+0009"."""
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X}" + (f" {name}" if name else "")


def require_line(text: str, field: str) -> str:
    """`clean_line`, refusing a value with nothing visible left (raises BlankText naming `field`)."""
    cleaned = clean_line(text)
    if not has_visible_text(cleaned):
        raise BlankText(field)
    return cleaned


def has_visible_text(text: str) -> bool:
    """Something a reader sees: a character that is not whitespace, not hidden, not a lone combining mark."""
    return any(not character.isspace() and not is_hidden(character)
               and not unicodedata.category(character).startswith("M") for character in text)


def _is_clean_line(text: str) -> bool:
    """Nothing for `clean_line` to do. `str.isprintable` is False for every control, format, surrogate,
    separator (but the ASCII space), private-use and unassigned character: a cheap superset of the hidden
    ones."""
    return text.isprintable() and _PRINTABLE_BUT_UNCLEAN.search(text) is None


def _strip_hidden(text: str, keep_newlines: bool) -> str:
    """Whitespace (but "\\n" with `keep_newlines`) to a space, hidden characters out, joining ZWJs kept."""
    kept_joiners = _kept_joiner_positions(text, keep_newlines)
    out: list[str] = []
    for position, character in enumerate(text):
        if keep_newlines and character == "\n":
            out.append(character)
        elif character.isspace():
            out.append(" ")
        elif not is_hidden(character) or position in kept_joiners:
            out.append(character)
    return "".join(out)


def _kept_joiner_positions(text: str, keep_newlines: bool) -> set[int]:
    """Positions of the ZWJs that join two symbols (an emoji sequence), judged on the text without its other
    hidden characters, so that cleaning twice keeps the same ones."""
    if ZWJ not in text:
        return set()
    visible = [(position, character) for position, character in enumerate(text)
               if character == ZWJ or character.isspace() or not is_hidden(character)]
    kept: set[int] = set()
    for index, (position, character) in enumerate(visible):
        if character != ZWJ or index + 1 >= len(visible):
            continue
        before = index - 1
        while before >= 0 and visible[before][1] in _EMOJI_TRAILERS:
            before -= 1
        if before >= 0 and _is_symbol(visible[before][1]) and _is_symbol(visible[index + 1][1]):
            kept.add(position)
    return kept


def _is_symbol(character: str) -> bool:
    return unicodedata.category(character) == "So"


# --- spreadsheet cells on output ----------------------------------------------------------------------------


def spreadsheet_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text instead of running it (see the module's docstring)."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_LEADING_CONTROLS) or _starts_like_formula(value):
        return "'" + value
    return value


def spreadsheet_row(values: Iterable[Any]) -> list[Any]:
    """`spreadsheet_cell` of every value of a row, for `csv.writer.writerow`."""
    return [spreadsheet_cell(value) for value in values]


def _starts_like_formula(value: str) -> bool:
    if _PLAIN_NUMBER.fullmatch(value):
        return False
    for character in value:
        if character.isspace() or is_hidden(character):
            continue  # spreadsheets may skip them before reading a formula
        return unicodedata.normalize("NFKC", character)[:1] in FORMULA_TRIGGERS
    return False
