"""Reading and validating the registry's CSV file (DESIGN section 5: the columns are a contract), without a
database: it needs only the skills lookup (`RowRules`).

    name,phone,street,community,lat,lon,skills,teams,language[,address]

`validate_csv` streams the whole file and writes nothing. File-level problems (not CSV, not UTF-8, binary junk,
missing columns, empty) raise `ImportFileError`; row problems become `RowError(line, column, reason)` and the row
is rejected. `mobilize.registry.importer` places and writes the good rows.
"""
from __future__ import annotations

import csv
import functools
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Mapping, Sequence, Union

import phonenumbers

from mobilize.domain.district import find_street
from mobilize.domain.phones import PhoneError, normalise_phone

REQUIRED_COLUMNS = ("name", "phone", "street")
COORDINATE_COLUMNS = ("lat", "lon")
OPTIONAL_COLUMNS = ("community", "skills", "teams", "language", "address")
CONTRACT_COLUMNS = ("name", "phone", "street", "community", "lat", "lon", "skills", "teams", "language")
KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + COORDINATE_COLUMNS + OPTIONAL_COLUMNS)
LANGUAGES = ("zh", "en")
MAX_NAME, MAX_COMMUNITY, MAX_TEAM, MAX_ADDRESS = 60, 60, 80, 200
LIST_SEPARATOR = re.compile(r"[;；]")
READ_CHUNK = 1 << 20

Source = Union[str, os.PathLike, IO[bytes], IO[str]]
# progress(phase, done, total): phase "read" counts bytes (total 0 if unknown); "geocode", "write" count rows
ProgressCallback = Callable[[str, int, int], None]


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (not CSV, not UTF-8, no header, empty); nothing changed."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.reason}"


@dataclass(slots=True)
class VolunteerRow:
    """One valid row. None means "column not in the file" (keep what is stored) for community, skills, teams
    and language; community "" means no community."""

    line: int
    name: str
    phone: str
    street: str  # the street's full Chinese name, e.g. 八大关街道
    community: str | None
    lat: float | None
    lon: float | None
    address: str | None
    skills: tuple[str, ...] | None  # skill codes
    teams: tuple[str, ...] | None  # team names
    language: str | None
    approximate: bool = False

    @property
    def needs_geocoding(self) -> bool:
        return self.lat is None


# ----------------------------------------------------------------------------------------------------------
# Row validation (no database)


@dataclass(frozen=True)
class RowRules:
    """What a row is checked against: the skills (lookup key -> code) and the phone region."""

    skills: Mapping[str, str]
    default_region: str = "CN"

    @classmethod
    def from_skills(cls, skills: Iterable[tuple[str, str]], default_region: str = "CN") -> "RowRules":
        """`skills` as (code, Chinese name) pairs; a skill is matched by code (any case) or Chinese name."""
        lookup: dict[str, str] = {}
        for code, name_zh in skills:
            lookup[code.lower()] = code
            lookup[name_zh] = code
        return cls(lookup, default_region)

    @classmethod
    def reference(cls, default_region: str = "CN") -> "RowRules":
        """The skills loaded by the migrations (for tests and tools that have no database)."""
        from mobilize.domain.district import SKILLS

        return cls.from_skills(((code, zh) for code, zh, _en in SKILLS), default_region)

    def skill_code(self, raw: str) -> str | None:
        return self.skills.get(raw) or self.skills.get(raw.lower())


_street_cache: dict[str, str | None] = {}


def _street_name(raw: str) -> str | None:
    try:
        return _street_cache[raw]
    except KeyError:
        info = find_street(raw) if raw else None
        if len(_street_cache) < 10_000:
            _street_cache[raw] = info.name if info else None
        return info.name if info else None


def _split_list(raw: str) -> list[str]:
    seen: dict[str, None] = {}
    for part in LIST_SEPARATOR.split(raw):
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return list(seen)


def _coordinate(raw: str, column: str, low: float, high: float, errors: list, line: int) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        errors.append(RowError(line, column, f"not a number: {raw!r}"))
        return None
    if not math.isfinite(value) or not low <= value <= high:
        errors.append(RowError(line, column, f"{raw} is out of range {low:g}..{high:g}"))
        return None
    return value


RowResult = tuple[VolunteerRow | None, list[RowError]]


def validate_row(line: int, record: Mapping[str, str | None], rules: RowRules,
                 normalise: Callable[[str, str], str] | None = None) -> RowResult:
    """Check one row: `record` maps the file's columns to the row's values (None: the row is too short).

    Returns the valid row, or None and the reasons; never touches the database.
    """
    errors: list[RowError] = []
    missing = [column for column, value in record.items() if value is None]
    if missing:
        given = sum(1 for value in record.values() if value is not None)
        return None, [RowError(line, missing[0], f"missing: the row has {given} fields but the header has "
                                                 f"{len(record)} (no {', '.join(missing)})")]

    name = record.get("name", "").strip()
    if not name:
        errors.append(RowError(line, "name", "missing"))
    elif len(name) > MAX_NAME:
        errors.append(RowError(line, "name", f"longer than {MAX_NAME} characters"))

    phone = ""
    raw_phone = record.get("phone", "").strip()
    if not raw_phone:
        errors.append(RowError(line, "phone", "missing"))
    else:
        try:
            phone = (normalise or fast_normalise_phone)(raw_phone, rules.default_region)
        except PhoneError as error:
            errors.append(RowError(line, "phone", str(error)))

    raw_street = record.get("street", "").strip()
    street = _street_name(raw_street)
    if not raw_street:
        errors.append(RowError(line, "street", "missing"))
    elif street is None:
        errors.append(RowError(line, "street", f"unknown street {raw_street!r}"))

    community = record.get("community")
    if community is not None:
        community = community.strip()
        if len(community) > MAX_COMMUNITY:
            errors.append(RowError(line, "community", f"longer than {MAX_COMMUNITY} characters"))

    address = record.get("address")
    address = address.strip() if address is not None else None
    if address and len(address) > MAX_ADDRESS:
        errors.append(RowError(line, "address", f"longer than {MAX_ADDRESS} characters"))
    raw_lat = (record.get("lat") or "").strip()
    raw_lon = (record.get("lon") or "").strip()
    lat = lon = None
    if raw_lat or raw_lon:
        if not raw_lat:
            errors.append(RowError(line, "lat", "missing (lon is given)"))
        elif not raw_lon:
            errors.append(RowError(line, "lon", "missing (lat is given)"))
        else:
            lat = _coordinate(raw_lat, "lat", -90, 90, errors, line)
            lon = _coordinate(raw_lon, "lon", -180, 180, errors, line)
            if lat is None and lon is not None:
                try:
                    if -90 <= float(raw_lon) <= 90 and -180 <= float(raw_lat) <= 180:
                        errors[-1] = RowError(line, "lat", errors[-1].reason + " (are lat and lon swapped?)")
                except ValueError:
                    pass
    elif not address:
        if "address" in record:
            errors.append(RowError(line, "lat", "no location: give lat and lon, or an address"))
        else:
            errors.append(RowError(line, "lat", "missing: give lat and lon (or add an address column)"))

    skills: tuple[str, ...] | None = None
    raw_skills = record.get("skills")
    if raw_skills is not None:
        codes, unknown = [], []
        for part in _split_list(raw_skills):
            code = rules.skill_code(part)
            if code is None:
                unknown.append(part)
            elif code not in codes:
                codes.append(code)
        if unknown:
            errors.append(RowError(line, "skills", "unknown skill " + ", ".join(repr(u) for u in unknown)))
        skills = tuple(codes)

    teams: tuple[str, ...] | None = None
    raw_teams = record.get("teams")
    if raw_teams is not None:
        teams = tuple(_split_list(raw_teams))
        for team in teams:
            if len(team) > MAX_TEAM:
                errors.append(RowError(line, "teams", f"team name longer than {MAX_TEAM} characters: "
                                                      f"{team[:20]!r}..."))

    language = record.get("language")
    if language is not None:
        language = language.strip().lower() or "zh"
        if language not in LANGUAGES:
            errors.append(RowError(line, "language", f"must be zh or en, not {record['language'].strip()!r}"))

    if errors:
        return None, errors
    return VolunteerRow(line=line, name=name, phone=phone, street=street, community=community, lat=lat,
                        lon=lon, address=address or None, skills=skills, teams=teams, language=language), []


class RowValidator:
    """`validate_row` plus what needs the rows before: a phone seen twice is an error on the later line."""

    def __init__(self, rules: RowRules, normalise: Callable[[str, str], str] | None = None) -> None:
        self.rules = rules
        self.normalise = normalise or fast_normalise_phone
        self.first_line_of: dict[str, int] = {}

    def validate(self, line: int, record: Mapping[str, str | None]) -> RowResult:
        row, errors = validate_row(line, record, self.rules, self.normalise)
        phone = row.phone if row is not None else self._phone_of(record)
        if phone:
            first = self.first_line_of.setdefault(phone, line)
            if first != line:
                error = RowError(line, "phone", f"duplicate: {phone} is already on line {first}")
                return None, errors + [error]
        return row, errors

    def remember_phone(self, line: int, record: Mapping[str, str | None]) -> None:
        """Note the phone of a row rejected for its shape, so that a later copy of it is still a duplicate."""
        phone = self._phone_of(record)
        if phone:
            self.first_line_of.setdefault(phone, line)

    def _phone_of(self, record: Mapping[str, str | None]) -> str | None:
        raw = (record.get("phone") or "").strip()
        if not raw:
            return None
        try:
            return self.normalise(raw, self.rules.default_region)
        except PhoneError:
            return None


@functools.cache
def _cn_prefix_patterns() -> tuple[re.Pattern, ...]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    return tuple(re.compile(pattern) for pattern in (metadata.international_prefix,
                                                     metadata.national_prefix_for_parsing) if pattern)


_ELEVEN_DIGITS_FROM_1 = re.compile(r"1\d{10}")


def fast_normalise_phone(raw: str, default_region: str = "CN") -> str:
    """`normalise_phone`, with a shortcut for the common case: a bare 11-digit mainland mobile in region CN.

    phonenumbers' parse() is the slow part (it looks for international and carrier prefixes, extensions,
    letters, a country code...). For exactly 11 ASCII digits starting with 1, in region CN, and not starting
    with one of CN's international-dialling or carrier prefixes (phonenumbers' own metadata: 00, 1[12]xx00,
    179xx...), parse() returns country code 86 and the digits as the national number; so we build that number
    directly. Validity is still decided by phonenumbers' metadata, and the result is the same as
    `normalise_phone`'s (tests compare the two).
    """
    if (default_region == "CN" and len(raw) == 11 and raw.isascii() and _ELEVEN_DIGITS_FROM_1.fullmatch(raw)
            and not any(pattern.match(raw) for pattern in _cn_prefix_patterns())):
        number = phonenumbers.PhoneNumber(country_code=86, national_number=int(raw))
        if not phonenumbers.is_valid_number(number):
            raise PhoneError(f"not a valid phone number: {raw!r}")
        return "+86" + raw
    return normalise_phone(raw, default_region)


# ----------------------------------------------------------------------------------------------------------
# Reading the file (no database)


@dataclass(frozen=True)
class Header:
    columns: tuple[str, ...]
    ignored: tuple[str, ...]

    @property
    def has_address(self) -> bool:
        return "address" in self.columns


@dataclass
class ValidatedFile:
    header: Header
    rows: list[VolunteerRow]
    errors: list[RowError]
    rows_read: int
    rejected: int


_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook?): save it as \"CSV UTF-8\" first"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook: save it as \"CSV UTF-8\" first"),
    (b"%PDF", "a PDF document, not a CSV file"),
    (b"\x1f\x8b", "a gzip archive, not a CSV file"),
    (b"\xff\xfe", "UTF-16 text: save it again as UTF-8 (\"CSV UTF-8\" in Excel)"),
    (b"\xfe\xff", "UTF-16 text: save it again as UTF-8 (\"CSV UTF-8\" in Excel)"),
)


def _utf8_error(data: bytes, error: UnicodeDecodeError, offset: int, lines_before: int) -> ImportFileError:
    position = offset + error.start
    line = lines_before + data.count(b"\n", 0, error.start) + 1
    byte = data[error.start:error.start + 1]
    hint = "save the file again as UTF-8 (\"CSV UTF-8\" in Excel, or iconv -f GBK -t UTF-8)"
    sample = data[max(0, error.start - 200):error.start + 200]
    try:
        decoded = sample.decode("gb18030")
    except UnicodeDecodeError:
        decoded = ""
    if decoded and re.search(r"[\u4e00-\u9fff]", decoded):
        hint = ("it looks like GBK/GB18030, the usual encoding of Chinese Excel and Windows: " + hint)
    return ImportFileError(f"not UTF-8: invalid byte 0x{byte.hex().upper()} at byte offset {position} "
                           f"(line {line}); {hint}")


def _decoded_lines(chunks: Iterable[bytes], progress: ProgressCallback | None, total: int) -> Iterator[str]:
    """Lines of UTF-8 text (ends kept, BOM dropped) from raw chunks; NUL bytes and invalid UTF-8 raise."""
    offset = 0  # bytes before `pending`
    lines_before = 0
    pending = b""
    tail = ""
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        data = pending + chunk if pending else chunk
        if first:
            for magic, what in _MAGIC:
                if data.startswith(magic):
                    raise ImportFileError(f"not a CSV file: this is {what}")
        nul = data.find(b"\0")
        if nul >= 0:
            head = data[:40]
            if first and head.count(b"\0") * 3 >= len(head) and head.replace(b"\0", b"").isascii():
                raise ImportFileError("not UTF-8: this looks like UTF-16 text; save it again as UTF-8 "
                                      "(\"CSV UTF-8\" in Excel)")
            line = lines_before + data.count(b"\n", 0, nul) + 1
            raise ImportFileError(f"not a CSV text file: binary data (NUL byte) at byte offset "
                                  f"{offset + nul} (line {line}); export the sheet as \"CSV UTF-8\"")
        try:
            text = data.decode("utf-8")
            pending = b""
        except UnicodeDecodeError as error:
            if error.reason == "unexpected end of data" and error.end == len(data):
                text = data[:error.start].decode("utf-8")
                pending = data[error.start:]
            else:
                raise _utf8_error(data, error, offset, lines_before) from None
        consumed = len(data) - len(pending)
        lines_before += data.count(b"\n", 0, consumed)
        offset += consumed
        if first:
            if text.startswith("\ufeff"):
                text = text[1:]
            first = False
        if progress is not None:
            progress("read", offset, total)
        text = tail + text if tail else text
        parts = text.split("\n")
        tail = parts.pop()
        for part in parts:
            yield part + "\n"
    if pending:
        try:
            pending.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _utf8_error(pending, error, offset, lines_before) from None
    if tail:
        yield tail


def _raw_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            return
        yield chunk


def _text_lines(stream: IO[str], progress: ProgressCallback | None) -> Iterator[str]:
    done = 0
    first = True
    for line in stream:
        if first:
            line = line.lstrip("\ufeff")
            first = False
        if "\0" in line:
            raise ImportFileError("not a CSV text file: binary data (NUL character); export the sheet as "
                                  "\"CSV UTF-8\"")
        done += len(line)
        if progress is not None and done % 65536 < len(line):
            progress("read", done, 0)
        yield line


def parse_header(fields: Sequence[str]) -> Header:
    columns = [name.strip().lstrip("\ufeff").lower() for name in fields]
    if len(columns) == 1:
        for separator, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if separator in columns[0] and {"name", "phone"} <= set(part.strip() for part in
                                                                   columns[0].split(separator)):
                raise ImportFileError(f"the columns are separated by {label}, not commas: save the file as "
                                      "CSV (comma-delimited) UTF-8")
    known = [name for name in columns if name in KNOWN_COLUMNS]
    if not known:
        shown = ",".join(fields)[:120]
        raise ImportFileError("not a volunteer CSV file: the first line should be the header "
                              f"{','.join(CONTRACT_COLUMNS)} but is {shown!r}")
    duplicates = sorted({name for name in known if known.count(name) > 1})
    if duplicates:
        raise ImportFileError(f"column {', '.join(duplicates)} appears more than once in the header")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if "address" not in columns:
        missing += [name for name in COORDINATE_COLUMNS if name not in columns]
    elif ("lat" in columns) != ("lon" in columns):
        missing += [name for name in COORDINATE_COLUMNS if name not in columns]
    if missing:
        extra = ("" if "address" in columns or not set(missing) & set(COORDINATE_COLUMNS)
                 else " (lat and lon may be left out when an address column is given)")
        plural = "s" if len(missing) > 1 else ""
        raise ImportFileError(f"missing required column{plural}: {', '.join(missing)}{extra}; "
                              f"the header is {','.join(fields)!r}")
    ignored = tuple(name for name in columns if name not in KNOWN_COLUMNS)
    return Header(tuple(columns), ignored)


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
            return _validate_lines(_decoded_lines(_raw_chunks(stream), progress, total), rules)
    if isinstance(source, io.TextIOBase):
        return _validate_lines(_text_lines(source, progress), rules)
    return _validate_lines(_decoded_lines(_raw_chunks(source), progress, 0), rules)


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
