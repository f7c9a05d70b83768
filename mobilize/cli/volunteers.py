"""`mobilize volunteers ...`: the volunteer registry from the command line."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from mobilize.cli import CliContext, pass_cli

SHOWN_ERRORS = 50
PROGRESS_MIN_ROWS = 1000
PHASES = {"read": ("checking", "B"), "geocode": ("geocoding", " rows"), "write": ("writing", " rows")}

EXIT_OK, EXIT_ROWS_REJECTED, EXIT_FILE_ERROR = 0, 1, 2


@click.group("volunteers")
@click.pass_context
def volunteers_group(ctx: click.Context) -> None:
    """The volunteer registry."""
    context = ctx.ensure_object(CliContext)
    ctx.call_on_close(context.close)


@volunteers_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Import nothing at all when any row is bad.")
@click.option("--dry-run", is_flag=True,
              help="Check the file and say what would change; write nothing (addresses are placed offline).")
@click.option("--progress/--no-progress", default=None,
              help=f"Progress bars on stderr (default: for files over {PROGRESS_MIN_ROWS} lines).")
@pass_cli
def import_command(context: CliContext, file: Path, strict: bool, dry_run: bool,
                   progress: bool | None) -> None:
    """Import or update volunteers from a CSV file (UTF-8, with or without BOM).

    Columns: name,phone,street,community,lat,lon,skills,teams,language (an address column may replace lat
    and lon). A volunteer is keyed by phone: importing the same file again updates, never duplicates. Good
    rows are imported in one transaction and bad rows are listed (line: column: reason); with --strict a single
    bad row means nothing is imported. Control and direction characters are removed from every value, each
    value so changed listed ("changed: line: column: ..."); a name with nothing visible left is a bad row.

    Exit status: 0 all rows imported, 1 some rows rejected, 2 the file could not be imported at all.
    """
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from mobilize.registry.geocoding import make_geocoder
    from mobilize.registry.importer import ImportFailed, ImportFileError, import_volunteers

    if not file.exists():
        _fail(f"{file}: no such file")
    if file.is_dir():
        _fail(f"{file} is a folder, not a CSV file")
    settings = context.settings
    try:
        geocoder = make_geocoder(settings)
    except ValueError as error:
        _fail(str(error))
    if progress is None:
        progress = _count_lines(file) > PROGRESS_MIN_ROWS
    bars = _ProgressBars() if progress else None
    try:
        report = import_volunteers(
            context.runtime.sessions, file, default_region=settings.default_region, geocoder=geocoder,
            strict=strict, dry_run=dry_run, progress=bars,
        )
    except ImportFileError as error:
        _fail(f"{file}: {error}; nothing was imported", bars)
    except ImportFailed as error:
        _fail(str(error), bars)
    except (OperationalError, ProgrammingError) as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        if "no such table" in reason or "does not exist" in reason:
            _fail(f"the database is not ready ({reason}): run `mobilize db upgrade` first", bars)
        _fail(f"database error, nothing was imported: {reason}", bars)
    finally:
        if bars is not None:
            bars.close()

    for error in report.errors[:SHOWN_ERRORS]:
        click.echo(str(error))
    if len(report.errors) > SHOWN_ERRORS:
        click.echo(f"... and {len(report.errors) - SHOWN_ERRORS} more")
    for note in report.notes[:SHOWN_ERRORS]:
        click.echo(f"changed: {note}")
    if len(report.notes) > SHOWN_ERRORS:
        click.echo(f"... and {len(report.notes) - SHOWN_ERRORS} more values changed")
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    click.echo(_summary(file, report))
    sys.exit(EXIT_ROWS_REJECTED if report.rejected else EXIT_OK)


def _summary(file: Path, report) -> str:
    would = "would be " if report.dry_run else ""
    lines = [f"{file.name}: {report.rows} rows, {report.accepted} good, {report.rejected} rejected"]
    if report.notes:
        rows = len({note.line for note in report.notes})
        lines.append(f"{len(report.notes)} values in {rows} rows had control or direction characters, "
                     "removed (listed above as changed)")
    if report.strict and report.rejected:
        lines.append("nothing imported (--strict): fix the rows above and import the file again")
    elif report.imported or report.committed or report.dry_run:
        dry = " (dry run: nothing written)" if report.dry_run else ""
        lines.append(f"{report.created} {would}created, {report.updated} {would}updated, "
                     f"{report.unchanged} unchanged{dry}")
        if report.new_communities or report.new_teams:
            lines.append(f"{report.new_communities} communities and {report.new_teams} teams {would}created")
        if report.opted_out:
            lines.append(f"{report.opted_out} {would}created opted out: they had texted STOP before they were "
                         "in the registry")
        if report.geocoded:
            lines.append(f"{report.geocoded} placed from their address, {report.approximate} of them "
                         "approximately (community or street centre)")
    else:
        lines.append("nothing imported")
    return "\n".join(lines)


def _fail(message: str, bars: "_ProgressBars | None" = None) -> None:
    if bars is not None:
        bars.close()
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_FILE_ERROR)


def _count_lines(path: Path, limit: int = PROGRESS_MIN_ROWS + 1) -> int:
    """Lines in the file, counting no further than `limit` (enough to decide on progress bars)."""
    lines = 0
    try:
        with path.open("rb") as stream:
            while lines < limit and (chunk := stream.read(1 << 16)):
                lines += chunk.count(b"\n")
    except OSError:
        return 0
    return lines


class _ProgressBars:
    """One tqdm bar per phase of the import, on stderr."""

    def __init__(self) -> None:
        self.bar = None
        self.phase = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            from tqdm import tqdm

            label, unit = PHASES.get(phase, (phase, ""))
            scale = unit == "B"
            self.bar = tqdm(total=total or None, desc=label, unit=unit.strip() or "it", unit_scale=scale,
                            file=sys.stderr, leave=False, dynamic_ncols=True, mininterval=0.2)
            self.phase = phase
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.phase = None


COMMANDS = [volunteers_group]
