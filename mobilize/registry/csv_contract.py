"""The volunteer CSV file's contract (DESIGN section 5: the columns are a contract) and what reading it gives:

    name,phone,street,community,lat,lon,skills,teams,language[,address]

the columns and field limits, a valid row (`VolunteerRow`), a row's problem (`RowError`), a value changed on
the way in (`RowNote`) and a problem of the file as a whole (`ImportFileError`)."""
from __future__ import annotations

from dataclasses import dataclass

REQUIRED_COLUMNS = ("name", "phone", "street")
COORDINATE_COLUMNS = ("lat", "lon")
OPTIONAL_COLUMNS = ("community", "skills", "teams", "language", "address")
CONTRACT_COLUMNS = ("name", "phone", "street", "community", "lat", "lon", "skills", "teams", "language")
KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + COORDINATE_COLUMNS + OPTIONAL_COLUMNS)
LANGUAGES = ("zh", "en")
MAX_NAME, MAX_COMMUNITY, MAX_TEAM, MAX_ADDRESS = 60, 60, 80, 200


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (not CSV, not UTF-8, no header, empty); nothing changed."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.reason}"


@dataclass(frozen=True, slots=True)
class RowNote:
    """A value of a row that was changed on the way in (e.g. control or direction characters removed from a
    name); the row itself is good. Shown to whoever imports, beside the errors."""

    line: int
    column: str
    change: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.change}"


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
    notes: tuple[RowNote, ...] = ()  # values changed on the way in

    @property
    def needs_geocoding(self) -> bool:
        return self.lat is None
