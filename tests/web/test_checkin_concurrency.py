"""Two officers check in the same people at the same moment, and undo at the same moment: each place changes
once (one arrival, one arrival SMS, one batch naming it; one undo), on SQLite and on PostgreSQL."""
from __future__ import annotations

import threading

from sqlalchemy import func, select, update

from mobilize.models import Assignment, AssignmentStatus, AuditEvent, Order, OrderState, OutboundMessage
from mobilize.models._types import utcnow
from mobilize.wartime import checkin
from mobilize.wartime.audit import Actor
from mobilize.wartime.places import place
from tests.wartime.conftest import BADAGUAN, draft, people, sites

OFFICERS = (Actor("officer-a", None), Actor("officer-a2", None))


def _field(runtime, n: int = 20) -> tuple[int, list[int]]:
    with runtime.transaction() as session:
        site_a, _site_b = sites(session)
        site_id, street_id = site_a.id, site_a.street_id
    order_id = draft(runtime, [(site_id, "registration", n)])
    with runtime.transaction() as session:
        session.execute(update(Order).where(Order.id == order_id).values(state=OrderState.open,
                                                                       launched_at=utcnow()))
        demand_id = session.get(Order, order_id).demands[0].id
        ids = [place(session, order_id, demand_id, v.id, utcnow()).id
               for v in people(session, n, near=BADAGUAN)]
    return street_id, ids


def _at_once(*calls) -> list:
    results, errors = [None] * len(calls), []
    barrier = threading.Barrier(len(calls))

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # noqa: BLE001  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_two_bulk_check_ins_at_once_change_each_place_once(runtime):
    street_id, ids = _field(runtime)

    def bulk(actor):
        def call():
            with runtime.transaction() as session:
                return checkin.bulk_arrive(session, street_id, ids, actor, utcnow())
        return call

    first, second = _at_once(bulk(OFFICERS[0]), bulk(OFFICERS[1]))
    assert sorted(first.arrived + second.arrived) == ids  # every one arrived, by exactly one of them
    assert not set(first.arrived) & set(second.arrived)
    assert sorted(first.skipped) == sorted(second.arrived) and sorted(second.skipped) == sorted(first.arrived)
    with runtime.transaction() as session:
        assert set(session.scalars(select(Assignment.status).where(Assignment.id.in_(ids)))) == {
            AssignmentStatus.arrived}
        arrivals = session.execute(select(AuditEvent.subject_id, func.count()).where(
            AuditEvent.action == "assignment.arrived").group_by(AuditEvent.subject_id)).all()
        assert sorted(arrivals) == [(i, 1) for i in ids]
        acks = session.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.kind == "arrival_ack"))
        assert acks == len(ids)
        batched = [item["assignment_id"] for event in session.scalars(select(AuditEvent).where(
            AuditEvent.action == checkin.BATCH_ACTION)) for item in event.details["items"]]
        assert sorted(batched) == ids

    batch_id = first.batch_id if len(first.arrived) >= len(second.arrived) else second.batch_id

    def undo(actor):
        def call():
            with runtime.transaction() as session:
                return checkin.undo(session, street_id, batch_id, actor, utcnow())
        return call

    one, other = _at_once(undo(OFFICERS[0]), undo(OFFICERS[1]))
    with runtime.transaction() as session:
        batch_items = [item["assignment_id"] for item in session.get(AuditEvent, batch_id).details["items"]]
        undone = session.execute(select(AuditEvent.subject_id, func.count()).where(
            AuditEvent.action == checkin.UNDONE_ACTION).group_by(AuditEvent.subject_id)).all()
    assert sorted(one.undone + other.undone) == sorted(batch_items)
    assert sorted(undone) == [(i, 1) for i in sorted(batch_items)]
