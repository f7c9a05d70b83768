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
# The headers a Chinese office's spreadsheet uses for the same columns (a sheet typed in Excel says 姓名, not
# name): read as the contract's names. Values are read the same way whichever header named their column.
HEADER_ALIASES = {
    "姓名": "name", "名字": "name", "手机": "phone", "手机号": "phone", "手机号码": "phone", "电话": "phone",
    "联系电话": "phone", "街道": "street", "所属街道": "street", "社区": "community", "所属社区": "community",
    "纬度": "lat", "经度": "lon", "技能": "skills", "专业技能": "skills", "队伍": "teams", "所属队伍": "teams",
    "语言": "language", "地址": "address", "住址": "address", "居住地址": "address",
}
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
