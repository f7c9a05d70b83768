"""Checking one row of a volunteer CSV file field by field, without a database (it needs only the skills
lookup, `RowRules`): `validate_row` gives the valid row or every reason it is not; `RowValidator` adds the one
check across rows, a phone seen on an earlier line.

Every field is first cleaned as a single-line text (`mobilize.domain.text_safety.clean_line`: control and
direction characters out, whitespace collapsed): the import writes with bulk Core statements, which the
models' validators never see. A good row carries a `RowNote` per value so changed; a name with nothing left
is an error."""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from mobilize.domain.district import find_street
from mobilize.domain.phones import PhoneError
from mobilize.domain.text_safety import are_clean_lines, clean_line, has_visible_text, hidden_characters
from mobilize.registry.csv_contract import (
    LANGUAGES,
    MAX_ADDRESS,
    MAX_COMMUNITY,
    MAX_NAME,
    MAX_TEAM,
    RowError,
    RowNote,
    VolunteerRow,
)
from mobilize.registry.csv_phones import fast_normalise_phone

LIST_SEPARATOR = re.compile(r"[;；]")


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
SHOWN_CHARACTERS = 3  # in a note, name at most this many of the hidden characters found


def _cleaned_fields(line: int, record: Mapping[str, str], notes: list[RowNote]) -> dict[str, str]:
    """Every field cleaned as single-line text; a note for each field that had hidden characters."""
    if are_clean_lines(record.values()):
        return dict(record)  # nearly every row: one check for all its fields
    cleaned: dict[str, str] = {}
    for column, value in record.items():
        cleaned[column] = clean_line(value)
        if cleaned[column] is value:
            continue  # nothing to clean, nothing to note
        found = hidden_characters(value)
        if found:
            shown = ", ".join(found[:SHOWN_CHARACTERS]) + (", ..." if len(found) > SHOWN_CHARACTERS else "")
            notes.append(RowNote(line, column, f"had control or direction characters ({shown}); removed"))
    return cleaned


def _check_name(line: int, name: str, notes: list[RowNote], errors: list[RowError]) -> None:
    """A blank name is an error, also when it only looked filled (hidden characters, lone combining marks)."""
    if not has_visible_text(name):
        if any(note.column == "name" for note in notes):
            reason = "nothing visible left once control and direction characters are removed"
        else:
            reason = "missing" if not name else "no visible character"
        errors.append(RowError(line, "name", reason))
    elif len(name) > MAX_NAME:
        errors.append(RowError(line, "name", f"longer than {MAX_NAME} characters"))


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
    notes: list[RowNote] = []
    record = _cleaned_fields(line, record, notes)

    name = record.get("name", "")
    _check_name(line, name, notes, errors)

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
                        lon=lon, address=address or None, skills=skills, teams=teams, language=language,
                        notes=tuple(notes)), []


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

