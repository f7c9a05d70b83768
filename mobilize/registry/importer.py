"""Importing volunteers from the registry's CSV file (DESIGN section 5: the columns are a contract).

    name,phone,street,community,lat,lon,skills,teams,language[,address]

Three steps, so that nothing is ever half-written:

1. read and validate the whole file, streaming, without writing anything (`mobilize.registry.csv_rows`, no
   database: it needs only the skills lookup). File-level problems (not CSV, not UTF-8, binary junk, missing
   columns, empty) raise `ImportFileError`; row problems become `RowError(line, column, reason)`, the row is
   rejected; control and direction characters are removed from every field, each value so changed noted
   (`RowNote`, in `ImportReport.notes`), and a name with nothing visible left is a row error;
2. place rows given by `address` with the geocoder (outside any write transaction: it may wait on network);
3. write every good row in one transaction with bulk Core statements: one lookup of the existing phones per
   batch, executemany inserts and updates, association rows diffed and batched. With `strict`, any bad row
   means nothing is written; with `dry_run` the transaction is rolled back (the report says what would be).

A volunteer is keyed by phone (E.164): re-importing a file updates, never duplicates. The opt-out state, the
`provisional` and `phone_invalid` flags and the notes are never changed by an import. A column left out of the
file (`community`, `skills`, `teams`, `language`) leaves that field of existing volunteers as it is; a column
present but empty clears it (`language` empty means `zh`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mobilize.models._types import utcnow
from mobilize.models.outreach import OpenCallDialogue
from mobilize.models.registry import (
    Community,
    Skill,
    Street,
    Team,
    Volunteer,
    volunteer_skills,
    volunteer_teams,
)
from mobilize.registry.csv_contract import ImportFileError, RowError, RowNote, VolunteerRow
from mobilize.registry.csv_fields import RowRules
from mobilize.registry.csv_rows import validate_csv
from mobilize.registry.csv_text import ProgressCallback, Source
from mobilize.registry.geocoding import Geocoder, OfflineGeocoder, Place

__all__ = ["ImportFailed", "ImportFileError", "ImportReport", "RowDecision", "RowError", "RowNote",
           "import_volunteers"]


class ImportFailed(RuntimeError):
    """The database refused the import (e.g. another import ran at the same time); nothing was changed."""


@dataclass(frozen=True, slots=True)
class RowDecision:
    """What the import did (or, in a dry run, would do) with one good row: "create", "update" (with the fields
    that change) or "unchanged". Kept only when asked (`record_rows`): the browser's per-row report."""

    line: int
    action: str
    name: str
    phone: str
    changes: tuple[str, ...] = ()


@dataclass
class ImportReport:
    rows: int = 0  # data rows read (blank lines not counted)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows with at least one error
    errors: list[RowError] = field(default_factory=list)
    # values of good rows changed on the way in (control or direction characters removed from a name...)
    notes: list[RowNote] = field(default_factory=list)
    geocoded: int = 0  # rows placed from their address
    approximate: int = 0  # of those, placed at a community's or street's centre
    new_communities: int = 0
    new_teams: int = 0
    opted_out: int = 0  # created already opted out: the phone had texted STOP before it was in the registry
    ignored_columns: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    strict: bool = False
    dry_run: bool = False
    committed: bool = False  # True when the good rows were written
    # per good row, in line order, when `record_rows` was asked for (else empty)
    decisions: list[RowDecision] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.rows - self.rejected

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged


# ----------------------------------------------------------------------------------------------------------
# Writing (one transaction)


@dataclass
class Reference:
    street_ids: dict[str, int]  # full name -> id
    streets: dict[str, Place]  # full name -> centre
    skill_ids: dict[str, int]  # code -> id
    skills: list[tuple[str, str]]  # (code, name_zh)
    # (street_id, name) -> (id, lat, lon)
    communities: dict[tuple[int, str], tuple[int, float | None, float | None]]


def load_reference(session: Session) -> Reference:
    streets = session.execute(select(Street.id, Street.name, Street.lat, Street.lon)).all()
    skills = session.execute(select(Skill.id, Skill.code, Skill.name_zh)).all()
    communities = session.execute(select(Community.id, Community.street_id, Community.name,
                                         Community.lat, Community.lon)).all()
    return Reference(
        street_ids={name: id_ for id_, name, _lat, _lon in streets},
        streets={name: Place(name, lat, lon) for _id, name, lat, lon in streets},
        skill_ids={code: id_ for id_, code, _zh in skills},
        skills=[(code, zh) for _id, code, zh in skills],
        communities={(street_id, name): (id_, lat, lon) for id_, street_id, name, lat, lon in communities},
    )


def import_volunteers(
    sessions: sessionmaker[Session] | Session,
    source: Source,
    *,
    default_region: str = "CN",
    geocoder: Geocoder | None = None,
    strict: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    batch_size: int = 2000,
    record_rows: bool = False,
) -> ImportReport:
    """Import a volunteer CSV file; see the module's docstring.

    `sessions` is a session factory (the import runs in its own transaction and commits) or a Session (the
    import runs in a savepoint of the caller's transaction, which the caller commits). Raises ImportFileError
    when the file cannot be imported at all, ImportFailed when the database refuses it; then nothing changed.
    With `record_rows`, `report.decisions` says what became of each good row (the browser's dry-run report:
    the same decisions the write makes, since they are made by the write itself).
    """
    reference = _read(sessions, load_reference)
    rules = RowRules.from_skills(reference.skills, default_region)
    checked = validate_csv(source, rules, progress)
    report = ImportReport(rows=checked.rows_read, rejected=checked.rejected, errors=checked.errors,
                          ignored_columns=checked.header.ignored, strict=strict, dry_run=dry_run)
    if checked.header.ignored:
        report.warnings.append("ignored unknown column" + ("s " if len(checked.header.ignored) > 1 else " ")
                               + ", ".join(checked.header.ignored))
    unknown = [row for row in checked.rows if row.street not in reference.street_ids]
    if unknown:  # a street of the district's reference list missing from this database
        for row in unknown:
            report.errors.append(RowError(row.line, "street", f"street {row.street!r} is not in the database"))
        report.errors.sort(key=lambda error: error.line)
        report.rejected += len(unknown)
        checked.rows = [row for row in checked.rows if row.street in reference.street_ids]
    report.notes = checked.notes
    if (strict and report.rejected) or not checked.rows:
        return report
    rows = checked.rows
    # a dry run places addresses offline: no network calls for a check
    _geocode(rows, reference, OfflineGeocoder() if dry_run else (geocoder or OfflineGeocoder()), report,
             progress)
    if getattr(geocoder, "disabled", False):
        report.warnings.append("the online geocoder failed repeatedly; the remaining addresses were placed "
                               "at their community's or street's centre (approximate)")
    try:
        if isinstance(sessions, Session):
            savepoint = sessions.begin_nested()
            try:
                _write(sessions.connection(), rows, reference, report, progress, batch_size, record_rows)
            except BaseException:
                savepoint.rollback()
                raise
            if dry_run:
                savepoint.rollback()
            else:
                savepoint.commit()
        else:
            session = sessions()
            try:
                _write(session.connection(), rows, reference, report, progress, batch_size, record_rows)
                if dry_run:
                    session.rollback()
                else:
                    session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
    except IntegrityError as error:
        raise ImportFailed("the database refused the import, nothing was changed (was another import of the "
                           f"same volunteers running?): {error.orig}") from None
    report.committed = not dry_run
    report.decisions.sort(key=lambda decision: decision.line)
    return report


def _read(sessions: sessionmaker[Session] | Session, reader: Callable[[Session], Reference]) -> Reference:
    if isinstance(sessions, Session):
        return reader(sessions)
    session = sessions()
    try:
        return reader(session)
    finally:
        session.rollback()
        session.close()


def _geocode(rows: list[VolunteerRow], reference: Reference, geocoder: Geocoder, report: ImportReport,
             progress: ProgressCallback | None) -> None:
    todo = [row for row in rows if row.needs_geocoding]
    for number, row in enumerate(todo, start=1):
        street = reference.streets[row.street]
        community = None
        if row.community:
            known = reference.communities.get((reference.street_ids[row.street], row.community))
            community = Place(row.community, known[1], known[2]) if known else Place(row.community)
        location = geocoder.locate(row.address or "", street, community)
        row.lat, row.lon, row.approximate = location.lat, location.lon, location.approximate
        report.geocoded += 1
        if location.approximate:
            report.approximate += 1
        if progress is not None and (number % 1000 == 0 or number == len(todo) or geocoder.online):
            progress("geocode", number, len(todo))


def _batches(items: list, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _insert_missing(connection: Connection, table, rows: list[dict]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING (another import may create the same team or community meanwhile)."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        connection.execute(insert(table), rows)
        return
    connection.execute(dialect_insert(table).on_conflict_do_nothing(), rows)


def _ensure_communities(connection: Connection, rows: list[VolunteerRow], reference: Reference,
                        report: ImportReport) -> dict[tuple[int, str], int]:
    wanted = {(reference.street_ids[row.street], row.community) for row in rows if row.community}
    missing = sorted(wanted - reference.communities.keys())
    table = Community.__table__
    _insert_missing(connection, table,
                    [{"street_id": street_id, "name": name} for street_id, name in missing])
    report.new_communities = len(missing)
    ids = {key: value[0] for key, value in reference.communities.items()}
    if missing:
        street_ids = sorted({street_id for street_id, _name in missing})
        for id_, street_id, name in connection.execute(
                select(table.c.id, table.c.street_id, table.c.name).where(table.c.street_id.in_(street_ids))):
            ids[(street_id, name)] = id_
    return ids


def _ensure_teams(connection: Connection, rows: list[VolunteerRow], report: ImportReport) -> dict[str, int]:
    names = sorted({team for row in rows if row.teams for team in row.teams})
    table = Team.__table__
    ids: dict[str, int] = {}
    for batch in _batches(names, 1000):
        ids.update((name, id_) for id_, name in connection.execute(
            select(table.c.id, table.c.name).where(table.c.name.in_(batch))))
    missing = [name for name in names if name not in ids]
    _insert_missing(connection, table,
                    [{"name": name, "street_id": None, "specialised": False} for name in missing])
    report.new_teams = len(missing)
    for batch in _batches(missing, 1000):
        ids.update((name, id_) for id_, name in connection.execute(
            select(table.c.id, table.c.name).where(table.c.name.in_(batch))))
    return ids


def _insert_rows(connection: Connection, table, rows: list[dict]) -> None:
    """Many rows (all with the same keys) into a table: COPY on PostgreSQL with psycopg 3, else executemany.

    (psycopg 3 runs a plain executemany as one pipelined statement a row, and SQLAlchemy's multi-row VALUES
    batches cost more in parsing the huge statements than they save; COPY is PostgreSQL's bulk path.)"""
    if not rows:
        return
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        columns = list(rows[0])
        preparer = connection.dialect.identifier_preparer
        statement = (f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(c) for c in columns)}) "
                     "FROM STDIN")
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[column] for column in columns])
        finally:
            cursor.close()
        return
    connection.execute(insert(table), rows)


def _in_list(connection: Connection, column, name: str):
    """`column IN (:name...)`; on PostgreSQL `column = ANY(:name)`: one array parameter, not thousands."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy import any_
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def _opted_out_before(connection: Connection, phones: list[str]) -> dict:
    """When each of these phones (not in the registry yet) texted STOP to us: an open call's dialogue keeps
    that for phones without a volunteer record. Importing the number later must not undo the opt-out, or the
    first invitation would go to someone who asked for nothing more (DESIGN section 7)."""
    if not phones:
        return {}
    dialogues = OpenCallDialogue.__table__
    query = select(dialogues.c.phone, dialogues.c.opted_out_at).where(
        _in_list(connection, dialogues.c.phone, "phones"), dialogues.c.opted_out_at.is_not(None))
    return dict(connection.execute(query, {"phones": phones}).all())


_VOLUNTEER_FIELDS = ("name", "street_id", "community_id", "lat", "lon", "location_approximate", "language")


_CHANGE_NAMES = ("name", "street", "community", "lat", "lon", "location_approximate", "language")


def _write(connection: Connection, rows: list[VolunteerRow], reference: Reference, report: ImportReport,
           progress: ProgressCallback | None, batch_size: int, record_rows: bool = False) -> None:
    volunteers = Volunteer.__table__
    now = utcnow()
    community_ids = _ensure_communities(connection, rows, reference, report)
    team_ids = _ensure_teams(connection, rows, report)
    skill_ids = reference.skill_ids
    phone_in_batch = _in_list(connection, volunteers.c.phone, "phones")
    lookup = select(volunteers.c.id, volunteers.c.phone,
                    *(volunteers.c[name] for name in _VOLUNTEER_FIELDS)).where(phone_in_batch)
    inserted_ids = select(volunteers.c.id, volunteers.c.phone).where(phone_in_batch)
    update_volunteers = update(volunteers).where(volunteers.c.id == bindparam("_id")).values(
        {name: bindparam("_" + name) for name in _VOLUNTEER_FIELDS + ("updated_at",)})
    links = ((volunteer_skills, volunteer_skills.c.skill_id, "skill_id"),
             (volunteer_teams, volunteer_teams.c.team_id, "team_id"))
    done = 0
    for batch in _batches(rows, batch_size):
        phones = [row.phone for row in batch]
        existing = {found.phone: found for found in connection.execute(lookup, {"phones": phones})}
        stopped = _opted_out_before(connection, [phone for phone in phones if phone not in existing])
        existing_ids = [found.id for found in existing.values()]
        current_links: list[dict[int, set[int]]] = []
        for table, column, _key in links:
            by_volunteer: dict[int, set[int]] = {}
            if existing_ids:
                for volunteer_id, other_id in connection.execute(
                        select(table.c.volunteer_id, column).where(
                            _in_list(connection, table.c.volunteer_id, "ids")), {"ids": existing_ids}):
                    by_volunteer.setdefault(volunteer_id, set()).add(other_id)
            current_links.append(by_volunteer)

        new_rows: list[dict] = []
        new_links: list[tuple[str, frozenset[int] | None, frozenset[int] | None]] = []
        changed: list[dict] = []
        link_adds: tuple[list[dict], list[dict]] = ([], [])
        link_removes: tuple[list[dict], list[dict]] = ([], [])
        for row in batch:
            street_id = reference.street_ids[row.street]
            wanted_skills = None if row.skills is None else frozenset(skill_ids[code] for code in row.skills)
            wanted_teams = None if row.teams is None else frozenset(team_ids[name] for name in row.teams)
            found = existing.get(row.phone)
            if found is None:
                new_rows.append({
                    "name": row.name, "phone": row.phone, "street_id": street_id,
                    "community_id": community_ids[(street_id, row.community)] if row.community else None,
                    "lat": row.lat, "lon": row.lon, "location_approximate": row.approximate,
                    "language": row.language or "zh", "opted_out_at": stopped.get(row.phone),
                    "phone_invalid": False,
                    "provisional": False, "notes": "", "created_at": now, "updated_at": now,
                })
                new_links.append((row.phone, wanted_skills, wanted_teams))
                if record_rows:
                    report.decisions.append(RowDecision(row.line, "create", row.name, row.phone))
                continue
            if row.community is None:
                community_id = found.community_id
            else:
                community_id = community_ids[(street_id, row.community)] if row.community else None
            values = (row.name, street_id, community_id, row.lat, row.lon, row.approximate,
                      row.language if row.language is not None else found.language)
            dirty = values != tuple(found[2:])
            changes = [name for name, new, old in zip(_CHANGE_NAMES, values, found[2:]) if new != old] \
                if record_rows else []
            for index, wanted in enumerate((wanted_skills, wanted_teams)):
                if wanted is None:
                    continue
                key = links[index][2]
                have = current_links[index].get(found.id, set())
                for other_id in wanted - have:
                    link_adds[index].append({"volunteer_id": found.id, key: other_id})
                for other_id in have - wanted:
                    link_removes[index].append({"_volunteer_id": found.id, "_other_id": other_id})
                dirty = dirty or wanted != have
                if record_rows and wanted != have:
                    changes.append(("skills", "teams")[index])
            if record_rows:
                report.decisions.append(RowDecision(row.line, "update" if dirty else "unchanged", row.name,
                                                    row.phone, tuple(changes)))
            if dirty:
                changed.append({"_id": found.id, **{"_" + name: value for name, value in
                                                    zip(_VOLUNTEER_FIELDS, values)}, "_updated_at": now})
                report.updated += 1
            else:
                report.unchanged += 1

        if new_rows:
            _insert_rows(connection, volunteers, new_rows)
            inserted = {phone: id_ for id_, phone in connection.execute(
                inserted_ids, {"phones": [values["phone"] for values in new_rows]})}
            report.created += len(new_rows)
            report.opted_out += sum(1 for values in new_rows if values["opted_out_at"] is not None)
            for phone, wanted_skills, wanted_teams in new_links:
                volunteer_id = inserted[phone]
                for index, wanted in enumerate((wanted_skills, wanted_teams)):
                    if wanted:
                        key = links[index][2]
                        link_adds[index].extend({"volunteer_id": volunteer_id, key: other_id}
                                                for other_id in wanted)
        if changed:
            connection.execute(update_volunteers, changed)
        for index, (table, column, _key) in enumerate(links):
            if link_removes[index]:
                unlink = delete(table).where(and_(table.c.volunteer_id == bindparam("_volunteer_id"),
                                                  column == bindparam("_other_id")))
                connection.execute(unlink, link_removes[index])
            if link_adds[index]:
                _insert_rows(connection, table, link_adds[index])
        done += len(batch)
        if progress is not None:
            progress("write", done, len(rows))
