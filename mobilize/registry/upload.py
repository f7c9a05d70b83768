"""A volunteer file uploaded in the browser, turned into the text the CSV importer reads.

The CLI takes UTF-8 CSV only (`mobilize.registry.csv_text`); people in the browser bring what their office
software writes: Excel in China saves "CSV" as GBK (GB18030 is its superset), "CSV UTF-8" with a BOM, or a
.xlsx workbook. So an upload is:

- refused when it is empty, too large, an old .xls, a PDF, an archive, UTF-16 or binary junk (the same
  checks as the CLI's, by the file's first bytes, not its name);
- a .xlsx workbook (by its bytes: a zip that openpyxl opens) -> its first sheet as CSV text, one line per
  spreadsheet row so that the report's line numbers are the sheet's row numbers;
- otherwise text: UTF-8 (BOM or not) when it decodes as UTF-8, else GB18030 when it decodes as that, else an
  error naming the byte that is neither.

Nothing here touches the database: the result goes to `import_volunteers` unchanged, so the browser's import
makes the CLI's decisions.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

from mobilize.registry.csv_contract import ImportFileError
from mobilize.registry.csv_text import _MAGIC

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # ~200,000 volunteers as CSV; the district has ~100,000
MAX_SHEET_ROWS = 300_000
ZIP_MAGIC = b"PK\x03\x04"
XLSX_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class UploadedText:
    text: str  # CSV text, header line first
    kind: str  # "csv" or "xlsx"
    encoding: str  # "utf-8", "utf-8-sig", "gb18030"; "xlsx" for a workbook

    @property
    def label(self) -> str:
        """The encoding as people know it: GBK/GB18030 is what Chinese Excel calls ANSI."""
        return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)", "gb18030": "GBK/GB18030",
                "xlsx": "Excel .xlsx"}[self.encoding]


def read_upload(filename: str, data: bytes, limit: int = MAX_UPLOAD_BYTES) -> UploadedText:
    """The upload as CSV text; raises ImportFileError naming the problem (then nothing is written)."""
    if not data:
        raise ImportFileError("the file is empty (0 bytes)")
    if len(data) > limit:
        raise ImportFileError(f"the file is too large: {len(data) / 1048576:.1f} MB, the limit is "
                              f"{limit / 1048576:.0f} MB; split it into smaller files")
    named_xlsx = filename.lower().endswith(XLSX_SUFFIXES)
    if data.startswith(ZIP_MAGIC):
        return UploadedText(workbook_to_csv(data), "xlsx", "xlsx")
    if named_xlsx:
        raise ImportFileError(f"{filename} is named like an Excel workbook but is not one (a .xlsx file is a "
                              "zip archive); open it in Excel and save it again as .xlsx or as CSV")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise ImportFileError(f"not a CSV file: this is {what.split(':')[0]}; upload a .xlsx workbook or "
                                  "a CSV file (UTF-8 or GBK)")
    text, encoding = decode_text(data)
    return UploadedText(text, "csv", encoding)


def decode_text(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) if the bytes are UTF-8, else GB18030 (GBK's superset), else an error.

    UTF-8 first: valid UTF-8 with Chinese in it is very unlikely to be meant as GBK, while GBK bytes of Chinese
    text are almost never valid UTF-8 (the two rarely both decode)."""
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ImportFileError(f"not a CSV text file: binary data (NUL byte) at byte offset {nul} (line {line}); "
                              "upload a .xlsx workbook or export the sheet as CSV")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as error:
            raise _neither(data, error.start + 3) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise _neither(data, utf8_error.start) from None


def _neither(data: bytes, position: int) -> ImportFileError:
    line = data.count(b"\n", 0, position) + 1
    byte = data[position:position + 1].hex().upper()
    return ImportFileError(f"the text is neither UTF-8 nor GBK/GB18030: invalid byte 0x{byte} at byte offset "
                           f"{position} (line {line}); save the file again as \"CSV UTF-8\" or as .xlsx")


def workbook_to_csv(data: bytes, max_rows: int = MAX_SHEET_ROWS) -> str:
    """The first sheet of a .xlsx workbook as CSV text, one line per sheet row (cells' line breaks become
    spaces, so that line numbers stay row numbers)."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        raise ImportFileError(f"not a readable .xlsx workbook ({type(error).__name__}: {error}); open it in "
                              "Excel and save it again as .xlsx or as CSV") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise ImportFileError("the workbook has no sheet")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > max_rows:
                raise ImportFileError(f"the sheet has more than {max_rows} rows; split it into smaller files")
            writer.writerow([_cell_text(value) for value in row])
    finally:
        workbook.close()
    text = out.getvalue()
    if not text.strip():
        raise ImportFileError("the workbook's first sheet is empty")
    return text


def _cell_text(value) -> str:
    """A cell as the CSV importer reads it. Phone numbers typed into Excel are numbers: 13800000000 (or
    1.38e10 as a float) is written back as its digits, never in exponent notation."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
