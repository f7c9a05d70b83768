"""The importer's reasons in the page's language (issue 16): why a row, or the whole file, was refused.

The importer (`mobilize.registry`) writes its reasons in English, and the CLI and the API keep them so; the
import page reads them in Chinese first. Each English reason is matched, whole, by a pattern of this table, and
said again from a translated template with the pattern's named parts (the value quoted, a line, a limit...).
Parts named `column`/`columns` are column names (`name` -> 姓名). A reason no pattern matches is shown as it is:
tests/web/test_import_reasons.py runs the real importer on rows that trigger every reason, so a new English
reason without a translation fails there.
"""
from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.i18n import current_language
from mobilize.web.ui.volunteers import FIELD_LABELS

_QUOTED = r"(?P<value>'.*'|\".*\")"

# (pattern of the English reason, its translation). Row reasons first, then the file's.
REASONS: tuple[tuple[re.Pattern[str], object], ...] = tuple((re.compile(pattern), template) for pattern, template in (
    # one field of a row (csv_fields, csv_phones, domain.phones)
    (r"missing", _l("missing")),
    (r"no visible character", _l("no visible character")),
    (r"nothing visible left once control and direction characters are removed",
     _l("nothing visible left once control and direction characters are removed")),
    (r"longer than (?P<limit>\d+) characters", _l("longer than %(limit)s characters")),
    (r"team name longer than (?P<limit>\d+) characters: (?P<value>.*)",
     _l("team name longer than %(limit)s characters: %(value)s")),
    (r"missing: the row has (?P<given>\d+) fields but the header has (?P<width>\d+) \(no (?P<columns>.+)\)",
     _l("missing: the row has %(given)s fields but the header has %(width)s (no %(columns)s)")),
    (r"not a valid phone number: " + _QUOTED, _l("not a valid phone number: %(value)s")),
    (r"not a phone number: " + _QUOTED + r" \((?P<detail>.*)\)", _l("not a phone number: %(value)s (%(detail)s)")),
    (r"phone number is empty", _l("phone number is empty")),
    (r"unknown street " + _QUOTED, _l("unknown street %(value)s")),
    (r"street " + _QUOTED + r" is not in the database", _l("street %(value)s is not in the database")),
    (r"missing \(lon is given\)", _l("missing (lon is given)")),
    (r"missing \(lat is given\)", _l("missing (lat is given)")),
    (r"not a number: " + _QUOTED, _l("not a number: %(value)s")),
    (r"(?P<value>\S+) is out of range (?P<low>[-\d.]+)\.\.(?P<high>[-\d.]+) \(are lat and lon swapped\?\)",
     _l("%(value)s is out of range %(low)s..%(high)s (are lat and lon swapped?)")),
    (r"(?P<value>\S+) is out of range (?P<low>[-\d.]+)\.\.(?P<high>[-\d.]+)",
     _l("%(value)s is out of range %(low)s..%(high)s")),
    (r"no location: give lat and lon, or an address", _l("no location: give lat and lon, or an address")),
    (r"missing: give lat and lon \(or add an address column\)",
     _l("missing: give lat and lon (or add an address column)")),
    (r"unknown skill (?P<value>.+)", _l("unknown skill %(value)s")),
    (r"must be zh or en, not " + _QUOTED, _l("must be zh or en, not %(value)s")),
    (r"duplicate: (?P<phone>\S+) is already on line (?P<line>\d+)",
     _l("duplicate: %(phone)s is already on line %(line)s")),
    (r"has (?P<given>\d+) fields but the header has (?P<width>\d+) \(a comma inside a value must be quoted\)",
     _l("has %(given)s fields but the header has %(width)s (a comma inside a value must be quoted)")),
    # the volunteer edit form's own checks (registry.volunteers.edit_volunteer), on top of the importer's
    (r"officers keep volunteers in their own street", _l("officers keep volunteers in their own street")),
    (r"(?P<phone>\S+) belongs to another volunteer \(#(?P<number>\d+)\)",
     _l("%(phone)s belongs to another volunteer (#%(number)s)")),
    # a value cleaned on the way in (a note, not a refusal)
    (r"had control or direction characters \((?P<value>.*)\); removed",
     _l("had control or direction characters (%(value)s); removed")),
    # a warning of the report
    (r"ignored unknown columns? (?P<value>.+)", _l("ignored unknown columns: %(value)s")),
    # the whole file (upload, csv_header, csv_rows, csv_text, importer, the import job, the page)
    (r"the file is empty \(0 bytes\)", _l("the file is empty (0 bytes)")),
    (r"the file is too large: (?P<size>[\d.]+) MB, the limit is (?P<limit>\d+) MB; split it into smaller files",
     _l("the file is too large: %(size)s MB, the limit is %(limit)s MB; split it into smaller files")),
    (r"(?P<value>.+) is named like an Excel workbook but is not one \(a \.xlsx file is a zip archive\); open it "
     r"in Excel and save it again as \.xlsx or as CSV",
     _l("%(value)s is named like an Excel workbook but is not one (a .xlsx file is a zip archive); open it in "
        "Excel and save it again as .xlsx or as CSV")),
    (r"not a CSV file: this is an old Excel \.xls workbook; upload a \.xlsx workbook or a CSV file \(UTF-8 or "
     r"GBK\)", _l("not a CSV file: this is an old Excel .xls workbook; upload a .xlsx workbook or a CSV file "
                  "(UTF-8 or GBK)")),
    (r"not a CSV file: this is a PDF document, not a CSV file; upload a \.xlsx workbook or a CSV file \(UTF-8 or "
     r"GBK\)", _l("not a CSV file: this is a PDF document; upload a .xlsx workbook or a CSV file (UTF-8 or GBK)")),
    (r"not a CSV file: this is a gzip archive, not a CSV file; upload a \.xlsx workbook or a CSV file \(UTF-8 or "
     r"GBK\)", _l("not a CSV file: this is a gzip archive; upload a .xlsx workbook or a CSV file (UTF-8 or GBK)")),
    (r"not a CSV file: this is (?P<value>.+); upload a \.xlsx workbook or a CSV file \(UTF-8 or GBK\)",
     _l("not a CSV file: this is %(value)s; upload a .xlsx workbook or a CSV file (UTF-8 or GBK)")),
    (r"not a CSV text file: binary data \(NUL byte\) at byte offset (?P<offset>\d+) \(line (?P<line>\d+)\); "
     r"upload a \.xlsx workbook or export the sheet as CSV",
     _l("not a CSV text file: binary data (NUL byte) at byte offset %(offset)s (line %(line)s); upload a .xlsx "
        "workbook or export the sheet as CSV")),
    (r"not a CSV text file: binary data \(NUL character\); export the sheet as \"CSV UTF-8\"",
     _l("not a CSV text file: binary data (NUL character); export the sheet as \"CSV UTF-8\"")),
    (r"the text is neither UTF-8 nor GBK/GB18030: invalid byte 0x(?P<byte>[0-9A-F]*) at byte offset "
     r"(?P<offset>\d+) \(line (?P<line>\d+)\); save the file again as \"CSV UTF-8\" or as \.xlsx",
     _l("the text is neither UTF-8 nor GBK/GB18030: invalid byte 0x%(byte)s at byte offset %(offset)s (line "
        "%(line)s); save the file again as \"CSV UTF-8\" or as .xlsx")),
    (r"not a readable \.xlsx workbook \((?P<detail>.*)\); open it in Excel and save it again as \.xlsx or as CSV",
     _l("not a readable .xlsx workbook (%(detail)s); open it in Excel and save it again as .xlsx or as CSV")),
    (r"the workbook has no sheet", _l("the workbook has no sheet")),
    (r"the sheet has more than (?P<limit>\d+) rows; split it into smaller files",
     _l("the sheet has more than %(limit)s rows; split it into smaller files")),
    (r"the workbook's first sheet is empty", _l("the workbook's first sheet is empty")),
    (r"the columns are separated by semicolons, not commas: save the file as CSV \(comma-delimited\) UTF-8",
     _l("the columns are separated by semicolons, not commas: save the file as CSV (comma-delimited) UTF-8")),
    (r"the columns are separated by tabs, not commas: save the file as CSV \(comma-delimited\) UTF-8",
     _l("the columns are separated by tabs, not commas: save the file as CSV (comma-delimited) UTF-8")),
    (r"the columns are separated by bars, not commas: save the file as CSV \(comma-delimited\) UTF-8",
     _l("the columns are separated by bars, not commas: save the file as CSV (comma-delimited) UTF-8")),
    (r"not a volunteer CSV file: the first line should be the header (?P<header>\S+) but is (?P<value>.*)",
     _l("not a volunteer CSV file: the first line should be the header %(header)s but is %(value)s")),
    (r"column (?P<columns>.+) appears more than once in the header",
     _l("column %(columns)s appears more than once in the header")),
    (r"missing required columns?: (?P<columns>[a-z, ]+) \(lat and lon may be left out when an address column is "
     r"given\); the header is (?P<value>.*)",
     _l("missing required columns: %(columns)s (lat and lon may be left out when an address column is given); "
        "the header is %(value)s")),
    (r"missing required columns?: (?P<columns>[a-z, ]+); the header is (?P<value>.*)",
     _l("missing required columns: %(columns)s; the header is %(value)s")),
    (r"line (?P<line>\d+): not valid CSV \((?P<detail>.*)\); check the quotes, or save the file again as CSV UTF-8",
     _l("line %(line)s: not valid CSV (%(detail)s); check the quotes, or save the file again as CSV UTF-8")),
    (r"the file is empty: expected a header line (?P<header>\S+) and one volunteer a line",
     _l("the file is empty: expected a header line %(header)s and one volunteer a line")),
    (r"no volunteers in the file: it has a header line but no rows",
     _l("no volunteers in the file: it has a header line but no rows")),
    (r"the file has no header line and no rows", _l("the file has no header line and no rows")),
    (r"the database refused the import, nothing was changed \(was another import of the same volunteers "
     r"running\?\): (?P<detail>.*)",
     _l("the database refused the import, nothing was changed (was another import of the same volunteers "
        "running?): %(detail)s")),
    (r"(?P<detail>\w+): the import stopped, nothing was written",
     _l("%(detail)s: the import stopped, nothing was written")),
))


def match(reason: str) -> tuple[re.Pattern[str], object, dict[str, str]] | None:
    """The table's entry for an English reason, with its parts; None if no pattern matches it whole."""
    for pattern, template in REASONS:
        found = pattern.fullmatch(reason)
        if found:
            return pattern, template, found.groupdict()
    return None


def translate_reason(reason: str | None) -> str:
    """The reason in the page's language: English as the importer wrote it, Chinese from the table."""
    if not reason or current_language() == "en":
        return reason or ""
    found = match(reason)
    if found is None:
        return reason  # a reason the table does not know yet: shown as written rather than hidden
    _pattern, template, parts = found
    if "columns" in parts:
        parts["columns"] = _("、").join(_column(name.strip()) for name in parts["columns"].split(","))
    return str(template) % parts


def _column(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


@blueprint.app_template_filter("import_reason")
def import_reason_filter(reason: str | None) -> str:
    return translate_reason(reason)
