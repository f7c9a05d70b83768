"""The drill's change log (`drill.changes`): the fill timelines read only the assignments that changed and
re-solve the idle places only when what they read changed, and come out as a full re-read would."""
from __future__ import annotations

import pytest
from sqlalchemy import String, cast, event, select, update

from mobilize.drill import changes
from mobilize.drill.clock import SimClock
from mobilize.drill.engine import KNOWN_TO_COME, START, Drill, DrillConfig
from mobilize.models import Assignment, Invitation, Volunteer
from mobilize.models._types import utcnow
from mobilize.wartime.places import ACTIVE
from tests.wartime.conftest import launched, order_row, people, run_match, sites, text


@pytest.fixture
def order(srt):
    """An order of two places whose first wave invited all four volunteers (nearest first)."""
    with srt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 4)
    order_id = launched(srt, [(site.id, "registration", 2)], expected_answer_rate=0.5)
    with srt.transaction() as session:
        changes.install(session.connection(), order_id)
    return order_id, crowd


@pytest.fixture
def drill(srt, order):
    """The drill's bookkeeping on the order, its statement hook listening, after its first (full) look."""
    order_id, _crowd = order
    watcher = Drill(DrillConfig(places=2), srt, order_id, SimClock(START))
    event.listen(srt.engine, "after_cursor_execute", watcher.note_writes)
    watcher.note_fill()
    yield watcher
    event.remove(srt.engine, "after_cursor_execute", watcher.note_writes)


def read_in_full(rt, drill: Drill) -> tuple[dict[int, str], int, int]:
    """What the bookkeeping would hold after reading every active assignment again (as before the log)."""
    with rt.transaction() as session:
        active = dict(session.connection().execute(
            select(Assignment.id, cast(Assignment.status, String)).where(
                Assignment.order_id == drill.order_id, Assignment.status.in_(list(ACTIVE)))).all())
    told = sum(a in drill.told or status in KNOWN_TO_COME for a, status in active.items())
    confirmed = sum(a in drill.told and status in KNOWN_TO_COME for a, status in active.items())
    return active, told, confirmed


def kept(drill: Drill) -> tuple[dict[int, str], int, int]:
    return drill.active, drill.told_count, drill.confirmed_count


def test_a_status_changed_by_an_answer_not_a_match_is_counted(srt, order, drill):
    order_id, crowd = order
    assert text(srt, crowd[0], "Y") == "accepted"
    run_match(srt, order_id)
    drill.note_fill()
    [(assignment_id, status)] = drill.active.items()
    assert status not in KNOWN_TO_COME and kept(drill) == read_in_full(srt, drill) and drill.told_count == 0
    drill.note_told(assignment_id)
    assert (drill.told_count, drill.confirmed_count) == (1, 0)
    assert text(srt, crowd[0], "Y") == "confirmed"  # the reply path writes the status, not the matching
    drill.note_fill()
    assert drill.active == {assignment_id: "confirmed"}
    assert (drill.told_count, drill.confirmed_count) == (1, 1)
    assert kept(drill) == read_in_full(srt, drill)
    code = order_row(srt, order_id).reply_code
    text(srt, crowd[0], f"0 {code}")  # drops out: the place is no longer taken
    drill.note_fill()
    assert kept(drill) == read_in_full(srt, drill)
    assert assignment_id not in drill.active and (drill.told_count, drill.confirmed_count) == (0, 0)


def test_a_dispatch_handed_over_before_its_assignment_is_read_is_counted_once(srt, order, drill):
    order_id, crowd = order
    text(srt, crowd[0], "Y")
    run_match(srt, order_id)
    with srt.transaction() as session:
        assignment_id = session.scalar(select(Assignment.id).where(Assignment.order_id == order_id))
    drill.note_told(assignment_id)  # the sender handed it over before the drill looked
    drill.note_told(assignment_id)  # (a second slice naming it again changes nothing)
    drill.note_fill()
    assert (drill.told_count, drill.confirmed_count) == (1, 0) and kept(drill) == read_in_full(srt, drill)
    text(srt, crowd[0], "Y")
    drill.note_fill()
    assert (drill.told_count, drill.confirmed_count) == (1, 1) and kept(drill) == read_in_full(srt, drill)


def test_an_unknown_write_reads_everything_again(srt, order, drill):
    order_id, crowd = order
    text(srt, crowd[0], "Y")
    run_match(srt, order_id)
    with srt.transaction() as session:
        changes.take_assignments(session.connection())  # as if the log had missed it
    drill.written.add(None)  # a statement the hook could not place
    drill.note_fill()
    assert len(drill.active) == 1 and kept(drill) == read_in_full(srt, drill)


def take_idle(rt) -> bool:
    with rt.transaction() as session:
        return changes.take_idle(session.connection())


def test_the_idle_places_are_marked_only_by_writes_that_can_change_them(srt, order):
    order_id, crowd = order
    take_idle(srt)
    assert text(srt, crowd[3], "不能参加") == "declined"  # a decline: neither the standby nor the places move
    assert not take_idle(srt)
    assert text(srt, crowd[0], "Y") == "accepted"  # a yes: the standby grows
    assert take_idle(srt) and not take_idle(srt)
    run_match(srt, order_id)  # placed: out of the standby, one place fewer open
    assert take_idle(srt)
    with srt.transaction() as session:
        session.execute(update(Invitation).where(Invitation.order_id == order_id)
                        .values(standby_notified_at=utcnow()))  # a standby notice: nobody moves
    assert not take_idle(srt)
    assert text(srt, crowd[0], "Y") == "confirmed"  # from one active status to another: the place stays taken
    assert not take_idle(srt)
    with srt.transaction() as session:
        session.execute(update(Volunteer).where(Volunteer.id == crowd[1].id).values(lat=Volunteer.lat + 0.01))
    assert take_idle(srt)  # a volunteer who moved may now be nearer to an open place


def test_only_the_orders_assignments_are_logged_and_a_reused_folder_starts_afresh(srt, order):
    order_id, crowd = order
    with srt.transaction() as session:
        [site] = sites(session, (("湛山", "另一检测点", (36.07, 120.37)),))
        others = people(session, 2, street="湛山", near=(36.07, 120.37))
    other_id = launched(srt, [(site.id, "registration", 1)], expected_answer_rate=1.0)
    code = order_row(srt, other_id).reply_code
    assert text(srt, others[0], f"Y{code}") == "accepted"
    run_match(srt, other_id)
    with srt.transaction() as session:
        assert changes.take_assignments(session.connection()) == []
        changes.install(session.connection(), other_id)  # a drill run again in the same folder
    text(srt, others[0], "Y")
    with srt.transaction() as session:
        [(_assignment_id, status)] = changes.take_assignments(session.connection())
    assert status == "confirmed"
