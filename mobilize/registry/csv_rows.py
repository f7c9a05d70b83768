"""Reading and validating the registry's CSV file (DESIGN section 5: the columns are a contract), without a
database: it needs only the skills lookup (`RowRules`).

    name,phone,street,community,lat,lon,skills,teams,language[,address]

`validate_csv` streams the whole file and writes nothing. File-level problems (not CSV, not UTF-8, binary junk,
missing columns, empty) raise `ImportFileError`; row problems become `RowError(line, column, reason)` and the row
is rejected. `mobilize.registry.importer` places and writes the good rows.

The pieces: `csv_contract` (columns, `VolunteerRow`, `RowError`, `ImportFileError`), `csv_text` (bytes to
lines, encoding checks), `csv_header` (the header line), `csv_fields` (one row, field by field; `RowRules`)
and `csv_phones` (the phone fast path); this module opens the source and assembles the rows.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mobilize.registry.csv_contract import CONTRACT_COLUMNS, ImportFileError, RowError, RowNote, VolunteerRow
from mobilize.registry.csv_fields import RowRules, RowValidator
from mobilize.registry.csv_header import Header, parse_header
from mobilize.registry.csv_text import ProgressCallback, Source, decoded_lines, raw_chunks, text_lines


@dataclass
class ValidatedFile:
    header: Header
    rows: list[VolunteerRow]
    errors: list[RowError]
    rows_read: int
    rejected: int

    @property
    def notes(self) -> list[RowNote]:
        """Values of the good rows changed on the way in, in line order."""
        return [note for row in self.rows for note in row.notes]


def validate_csv(source: Source, rules: RowRules, progress: ProgressCallback | None = None) -> ValidatedFile:
    """Read and check a whole volunteer CSV file without touching the database.

    `source` is a path, a binary stream (checked for UTF-8 with byte offsets) or a text stream. Raises
    ImportFileError for problems of the file as a whole.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            raise ImportFileError(f"{path} is a folder, not a CSV file")
        try:
            stream = path.open("rb")
        except OSError as error:
            raise ImportFileError(f"cannot read {path}: {error.strerror or error}") from None
        with stream:
            total = path.stat().st_size
            return _validate_lines(decoded_lines(raw_chunks(stream), progress, total), rules)
    if isinstance(source, io.TextIOBase):
        return _validate_lines(text_lines(source, progress), rules)
    return _validate_lines(decoded_lines(raw_chunks(source), progress, 0), rules)


def _validate_lines(lines: Iterator[str], rules: RowRules) -> ValidatedFile:
    reader = csv.reader(lines, strict=False)
    header: Header | None = None
    validator = RowValidator(rules)
    rows: list[VolunteerRow] = []
    errors: list[RowError] = []
    rows_read = rejected = 0
    previous_line = 0
    interned: dict[str, str] = {}
    try:
        for fields in reader:
            line = previous_line + 1
            previous_line = reader.line_num
            if not fields or not any(value.strip() for value in fields):
                continue
            if header is None:
                header = parse_header(fields)
                columns = header.columns
                width = len(columns)
                continue
            rows_read += 1
            if len(fields) > width and any(value.strip() for value in fields[width:]):
                rejected += 1
                errors.append(RowError(line, "row", f"has {len(fields)} fields but the header has {width} "
                                                    "(a comma inside a value must be quoted)"))
                validator.remember_phone(line, dict(zip(columns, fields)))
                continue
            if len(fields) >= width:
                record = dict(zip(columns, fields))
            else:
                record = dict(zip(columns, fields + [None] * (width - len(fields))))
            for ignored in header.ignored:
                record.pop(ignored, None)
            row, row_errors = validator.validate(line, record)
            if row is None:
                rejected += 1
                errors.extend(row_errors)
                continue
            # many rows share a community name: keep one copy of each
            if row.community:
                row.community = interned.setdefault(row.community, row.community)
            rows.append(row)
    except csv.Error as error:
        raise ImportFileError(f"line {reader.line_num}: not valid CSV ({error}); check the quotes, or save "
                              "the file again as CSV UTF-8") from None
    if header is None:
        raise ImportFileError("the file is empty: expected a header line "
                              f"{','.join(CONTRACT_COLUMNS)} and one volunteer a line")
    if rows_read == 0:
        raise ImportFileError("no volunteers in the file: it has a header line but no rows")
    return ValidatedFile(header, rows, errors, rows_read, rejected)
