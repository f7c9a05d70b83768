"""The header line of a volunteer CSV file: which contract columns it names, which it ignores, and why it
cannot be read (another separator, not the header, a column twice or missing)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mobilize.registry.csv_contract import (
    CONTRACT_COLUMNS,
    COORDINATE_COLUMNS,
    HEADER_ALIASES,
    KNOWN_COLUMNS,
    REQUIRED_COLUMNS,
    ImportFileError,
)


@dataclass(frozen=True)
class Header:
    columns: tuple[str, ...]
    ignored: tuple[str, ...]

    @property
    def has_address(self) -> bool:
        return "address" in self.columns


def parse_header(fields: Sequence[str]) -> Header:
    columns = [_contract_name(name) for name in fields]
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



def _contract_name(field: str) -> str:
    """A header cell as the contract names its column: trimmed, lower case, a Chinese header translated."""
    name = field.strip().lstrip("\ufeff").strip().lower()
    return HEADER_ALIASES.get(name, name)
