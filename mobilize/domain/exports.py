"""Tables for people's spreadsheets: rows and column definitions in, a CSV or an Excel (.xlsx) file out.

Pure: no Flask, database or Redis. The views build a `Table` (headers already in the reader's language, names
instead of codes) and hand it here; this module owns what makes the file open well in a Chinese office's
Excel or WPS:

- CSV: UTF-8 with a BOM (without it Excel reads UTF-8 as GBK and shows mojibake), every text cell through
  `text_safety.spreadsheet_cell` (a leading quote on anything a spreadsheet would run as a formula), times as
  "2025-05-06 08:30" in the district's zone.
- .xlsx (openpyxl, write-only: a year of the district's hours is 100,000 rows): the header row bold and
  frozen, column widths from the content (a Chinese character is two Latin ones wide), times as real Excel
  datetimes in the district's zone without tzinfo (Excel has no time zones: an aware datetime would be
  refused, a UTC one would show the wrong hour), numbers as numbers. Text is always a text cell: openpyxl
  would store a text starting with "=" as a formula, so every text cell is typed as a string, and one that looks like a formula
  also gets Excel's quote-prefix flag (editing it keeps it text). Characters XML cannot hold (controls) are
  dropped rather than failing half-way through the file.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from mobilize.domain.text_safety import spreadsheet_cell

Kind = Literal["text", "integer", "number", "datetime", "date", "time"]
FORMATS = ("csv", "xlsx")
CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Excel's number formats; CSV's text forms of the same
EXCEL_FORMATS = {"datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd", "time": "hh:mm", "number": "0.00",
                 "integer": "0"}
TEXT_FORMATS = {"datetime": "%Y-%m-%d %H:%M", "date": "%Y-%m-%d", "time": "%H:%M"}
MIN_WIDTH, MAX_WIDTH = 6, 60
WIDTH_SAMPLE = 2000  # rows measured for the widths: enough to see the long names, cheap on 100,000 rows
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SHEET_TITLE_ILLEGAL = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Column:
    """A column: `header` is what the reader sees (already in their language); `kind`: how cells are
    written."""

    key: str
    header: str
    kind: Kind = "text"


@dataclass(frozen=True)
class Table:
    """What an export holds. `rows` are sequences in the order of `columns`; datetimes are aware (any zone)
    and written in `zone`; None is an empty cell."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    zone: str

    def __post_init__(self) -> None:
        width = len(self.columns)
        for number, row in enumerate(self.rows, start=1):
            if len(row) != width:
                raise ValueError(f"row {number} has {len(row)} cells, the table {width} columns")


def render(table: Table, file_format: str) -> bytes:
    """The whole file, built in memory before anything is sent: a bad row fails here, never half a
    download."""
    if file_format == "csv":
        return to_csv(table).encode("utf-8")
    if file_format == "xlsx":
        return to_xlsx(table)
    raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {file_format!r}")


def mimetype(file_format: str) -> str:
    return XLSX_MIMETYPE if file_format == "xlsx" else CSV_MIMETYPE


# --- values -------------------------------------------------------------------------------------------------


def local_naive(value: datetime, zone: str) -> datetime:
    """An aware datetime as the district's wall-clock time, without tzinfo (a naive one is taken as UTC), to the
    second (a reader who widens the format sees 20:02:14, not a float's rounding of microseconds)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None, microsecond=0)


def _cell_value(value: Any, kind: Kind, zone: str) -> Any:
    """The value as the file should hold it: local naive datetimes, numbers as numbers, text as text."""
    if value is None or value == "":
        return None
    if kind == "datetime" and isinstance(value, datetime):
        return local_naive(value, zone)
    if kind in ("integer", "number") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if kind in ("date", "time") and isinstance(value, (date, time)):
        return value
    return str(value)


# --- CSV ----------------------------------------------------------------------------------------------------


def to_csv(table: Table) -> str:
    """UTF-8 text with a BOM, formulas neutralised, local times."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_cell(column.header) for column in table.columns])
    for row in table.rows:
        writer.writerow([_csv_cell(_cell_value(value, column.kind, table.zone), column.kind)
                         for value, column in zip(row, table.columns)])
    return "\ufeff" + buffer.getvalue()


def _csv_cell(value: Any, kind: Kind) -> Any:
    if value is None:
        return ""
    if isinstance(value, (datetime, date, time)):
        return value.strftime(TEXT_FORMATS[_temporal_kind(value)])
    if kind == "number" and isinstance(value, float):
        return f"{value:.2f}"
    return spreadsheet_cell(value)  # a name could be a formula that Excel or WPS would run


# --- xlsx ---------------------------------------------------------------------------------------------------


def to_xlsx(table: Table) -> bytes:
    """An Excel workbook of one sheet: bold frozen header, fitted widths, typed cells."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title(table.title))
    values = [[_cell_value(value, column.kind, table.zone) for value, column in zip(row, table.columns)]
              for row in table.rows]
    for index, width in enumerate(column_widths(table.columns, values), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in table.columns:
        cell = _text_cell(sheet, column.header)
        cell.font, cell.alignment = bold, Alignment(vertical="center")
        header.append(cell)
    sheet.append(header)
    for row in values:
        sheet.append([_xlsx_cell(sheet, value, column.kind) for value, column in zip(row, table.columns)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet, value: Any, kind: Kind) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return _text_cell(sheet, value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, (datetime, date, time)):
        cell.number_format = EXCEL_FORMATS[_temporal_kind(value)]
    else:
        cell.number_format = EXCEL_FORMATS["integer" if isinstance(value, int) else "number"]
    return cell


def _temporal_kind(value: datetime | date | time) -> str:
    return "datetime" if isinstance(value, datetime) else "date" if isinstance(value, date) else "time"


def _text_cell(sheet, text: str) -> WriteOnlyCell:
    """A text cell, never a formula: openpyxl reads a leading "=" as one, so the type is set after the
    value."""
    text = _XML_ILLEGAL.sub("", text)
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    if spreadsheet_cell(text) != text:
        cell.quotePrefix = True  # Excel's "typed with a leading apostrophe": stays text when edited
    return cell


def sheet_title(title: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, not blank."""
    cleaned = re.sub(r"\s+", " ", _SHEET_TITLE_ILLEGAL.sub(" ", _XML_ILLEGAL.sub("", title)))
    cleaned = cleaned.strip(" '")[:31].strip()
    return cleaned or "Sheet1"


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: East Asian wide and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(character) in ("W", "F") else 1 for character in text)


def column_widths(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> list[float]:
    """A width per column that shows the header and the sampled cells whole, within bounds."""
    widths = [display_width(column.header) for column in columns]
    for number, row in enumerate(rows):
        if number >= WIDTH_SAMPLE:
            break
        for index, value in enumerate(row):
            widths[index] = max(widths[index], _shown_width(value, columns[index].kind))
    return [float(min(max(width + 2, MIN_WIDTH), MAX_WIDTH)) for width in widths]


def _shown_width(value: Any, kind: Kind) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16  # yyyy-mm-dd hh:mm
    if isinstance(value, date):
        return 10
    if isinstance(value, time):
        return 5
    if isinstance(value, float):
        return len(f"{value:.2f}")
    return display_width(str(value))
