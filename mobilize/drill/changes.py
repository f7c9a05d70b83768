"""The drill's change log: what the service changed since the drill last looked, recorded by SQLite triggers.

Only in the drill's throwaway database (installed by `engine._run` once the order exists; never a migration of
the service, never the seed cache): the drill's fill timelines would otherwise re-read every active assignment
and re-check the standby after every answer (issue 15: a third of the drill's time at 100k volunteers, 5,000
places).

- `drill_assignment_changes`: the order's assignments inserted, deleted, or whose id, order or status changed,
  with their status now (NULL: gone from the order). A row that changed twice is logged once, as it is now.
- `drill_idle_changes`: one row once anything `dispatch.idle_places` reads for the order may have changed
  (the standby: `standby.standby_filter`, `standby.busy_elsewhere`, `coexistence.blocked_by_roster`, the
  candidates' places and skills; the open places: `audience.order_slots`; the order's window, roster policy
  and distance). A write that cannot change what it reads (a decline, a standby notice, a confirmation, a
  volunteer's other details) leaves it alone; when in doubt, a write marks it.

The triggers run inside the service's transactions: a rolled back write logs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Table, text

ASSIGNMENT_LOG = "drill_assignment_changes"
IDLE_LOG = "drill_idle_changes"
_PREFIX = "drill_log_"  # the triggers' names


@dataclass(frozen=True)
class Watch:
    """Writes to `table` that matter: rows that pass `where` (SQL over the row alias ROW) before or after an
    update in which one of `values` (SQL over ROW, default the `columns` themselves) changed; every insert or
    delete of such a row. `columns`: the UPDATE OF list (an update setting none of them cannot matter)."""

    table: Table
    columns: tuple[str, ...]
    values: tuple[str, ...] = ()
    where: str = "1"

    def compared(self) -> tuple[str, ...]:
        return self.values or tuple(f"ROW.{column}" for column in self.columns)


def _in(values) -> str:
    return "(" + ", ".join(f"'{getattr(value, 'value', value)}'" for value in values) + ")"


def idle_watches(order_id: int) -> list[Watch]:
    """What `dispatch.idle_places` of `order_id` reads (see the module's docstring)."""
    from mobilize.models import (
        Assignment,
        AssignmentStatus,
        Demand,
        Invitation,
        InvitationStatus,
        Order,
        Post,
        Shift,
        ShiftSignup,
        Site,
        Skill,
        Volunteer,
        volunteer_skills,
    )
    from mobilize.wartime.places import ACTIVE, OFFICER_RELEASE_REASON

    # an assignment holds a place (`busy_elsewhere`, any order) or keeps its volunteer out of the order's
    # standby (`standby_filter`): a change between two active statuses (a confirmation, an arrival) changes
    # neither
    holds = f"ROW.status IN {_in(ACTIVE)}"
    blocks = (f"(ROW.status IN {_in((*ACTIVE, AssignmentStatus.no_show))} OR (ROW.status = 'released' "
              f"AND ROW.end_reason IS '{OFFICER_RELEASE_REASON}'))")
    accepted = f"ROW.order_id = {int(order_id)} AND ROW.status = '{InvitationStatus.accepted.value}'"
    return [
        Watch(Assignment.__table__, ("id", "order_id", "volunteer_id", "status", "end_reason"),
              ("ROW.order_id", "ROW.volunteer_id", holds, blocks)),
        Watch(Invitation.__table__, ("id", "order_id", "volunteer_id", "status", "off_standby"), where=accepted),
        Watch(Demand.__table__, ("id", "order_id", "site_id", "capacity", "filled", "required_skill_id",
                                 "accepts_provisional"), where=f"ROW.order_id = {int(order_id)}"),
        Watch(Order.__table__, ("id", "starts_at", "ends_at", "peacetime_policy", "max_distance_m")),
        Watch(Volunteer.__table__, ("id", "opted_out_at", "phone_invalid", "lat", "lon", "street_id",
                                    "provisional")),
        Watch(volunteer_skills, ("volunteer_id", "skill_id")),
        Watch(Skill.__table__, ("id", "code")),
        Watch(Site.__table__, ("id", "lat", "lon", "street_id")),
        Watch(ShiftSignup.__table__, ("id", "volunteer_id", "status", "shift_id")),
        Watch(Shift.__table__, ("id", "status", "starts_at", "ends_at", "post_id")),
        Watch(Post.__table__, ("id", "protected")),
    ]


def _idle_triggers(watch: Watch) -> list[str]:
    for column in watch.columns:
        watch.table.c[column]  # noqa: B018 - a renamed column fails here, not silently in SQLite
    table = watch.table.name
    name, mark = f"{_PREFIX}idle_{table}", f"INSERT OR IGNORE INTO {IDLE_LOG} VALUES (1)"

    def where(row: str) -> str:
        return f"({watch.where.replace('ROW.', f'{row}.')})"

    changed = " OR ".join(f"({v.replace('ROW.', 'OLD.')}) IS NOT ({v.replace('ROW.', 'NEW.')})"
                          for v in watch.compared())
    return [
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} WHEN {where('NEW')} BEGIN {mark}; END",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} WHEN {where('OLD')} BEGIN {mark}; END",
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF {', '.join(watch.columns)} ON {table} "
        f"WHEN ({where('OLD')} OR {where('NEW')}) AND ({changed}) BEGIN {mark}; END",
    ]


def _assignment_triggers(order_id: int) -> list[str]:
    order = int(order_id)
    name, log = f"{_PREFIX}assignment", f"INSERT OR REPLACE INTO {ASSIGNMENT_LOG} (id, status)"
    return [
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON assignments WHEN NEW.order_id = {order} "
        f"BEGIN {log} VALUES (NEW.id, NEW.status); END",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON assignments WHEN OLD.order_id = {order} "
        f"BEGIN {log} VALUES (OLD.id, NULL); END",
        # the old id first: an id that moved is gone (never seen, but then not miscounted)
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF id, order_id, status ON assignments "
        f"WHEN OLD.order_id = {order} OR NEW.order_id = {order} BEGIN "
        f"{log} SELECT OLD.id, NULL WHERE OLD.id IS NOT NEW.id; "
        f"{log} VALUES (NEW.id, CASE WHEN NEW.order_id = {order} THEN NEW.status END); END",
    ]


def install(connection: Connection, order_id: int) -> None:
    """The log tables (empty) and their triggers for `order_id`, replacing any of an earlier drill in a reused
    working folder."""
    triggers = text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE :prefix")
    existing = connection.execute(triggers, {"prefix": f"{_PREFIX}%"}).scalars().all()
    for name in existing:
        connection.execute(text(f"DROP TRIGGER {name}"))
    connection.execute(text(f"DROP TABLE IF EXISTS {ASSIGNMENT_LOG}"))
    connection.execute(text(f"DROP TABLE IF EXISTS {IDLE_LOG}"))
    connection.execute(text(f"CREATE TABLE {ASSIGNMENT_LOG} (id INTEGER PRIMARY KEY, status TEXT)"))
    connection.execute(text(f"CREATE TABLE {IDLE_LOG} (changed INTEGER PRIMARY KEY)"))
    statements = _assignment_triggers(order_id)
    for watch in idle_watches(order_id):
        statements += _idle_triggers(watch)
    for statement in statements:
        connection.execute(text(statement))


def take_assignments(connection: Connection) -> list[tuple[int, str | None]]:
    """(assignment id, its status now or None if no longer the order's) of every logged change; the log
    emptied."""
    rows = connection.execute(text(f"SELECT id, status FROM {ASSIGNMENT_LOG}")).all()
    if rows:
        connection.execute(text(f"DELETE FROM {ASSIGNMENT_LOG}"))
    return [(assignment_id, status) for assignment_id, status in rows]


def take_idle(connection: Connection) -> bool:
    """Whether what the idle places read may have changed since the last call; the mark cleared."""
    marked = connection.execute(text(f"SELECT 1 FROM {IDLE_LOG}")).first() is not None
    if marked:
        connection.execute(text(f"DELETE FROM {IDLE_LOG}"))
    return marked
