"""Cancel tells everyone who said yes or was dispatched (not who never answered); finish certifies time on site
within the window and thanks those who came. (The three endings in full: test_endings.py.)"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Invitation,
    InvitationStatus,
    Order,
    OutboundMessage,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.wartime import lifecycle
from mobilize.wartime.messages import invite_key, send
from tests.wartime.conftest import (
    COMMANDER,
    active,
    check_capacity_invariants,
    launched,
    people,
    run_match,
    sent,
    sites,
    text,
)


def mark_all_sent(rt) -> None:
    """What the SMS senders would have done by now."""
    with rt.transaction() as session:
        session.execute(update(OutboundMessage).values(status="sent"))


def test_cancel_tells_the_dispatched_and_the_standby_but_not_who_never_answered_or_never_heard(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        dispatched, standby, silent, declined, unsent = people(session, 5)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.25)  # invites 4
    mark_all_sent(rt)  # (an invitation still in the outbox when the order fills is withdrawn: silent heard it)
    text(rt, dispatched, "Y")
    text(rt, standby, "Y")
    text(rt, declined, "N")
    run_match(rt, order_id)
    mark_all_sent(rt)
    with rt.transaction() as session:  # a fifth invitation still waiting in the outbox
        session.add(Invitation(order_id=order_id, volunteer_id=unsent.id, wave=2, status=InvitationStatus.invited))
        send(session, session.get(Volunteer, unsent.id), "invitation", dedupe_key=invite_key(order_id, unsent.id),
             code="10", title="t", window="w", area="a")
    with rt.transaction() as session:
        ending = lifecycle.cancel(session, order_id, COMMANDER, utcnow(), reason="weather")
    assert ending.told == 2 and ending.released == 1 and ending.withdrawn == 1 and ending.lapsed == 2
    told = {m.volunteer_id for m in sent(rt, "order_cancelled")}
    assert told == {dispatched.id, standby.id}  # silent's invitation lapses without a message
    assert [m.status.value for m in sent(rt, "invitation", unsent)] == ["cancelled"]  # never goes out
    assert active(rt, order_id) == []
    check_capacity_invariants(rt, order_id)
    with rt.transaction() as session:
        statuses = dict(session.execute(select(Invitation.volunteer_id, Invitation.status)).all())
    assert statuses[declined.id] is InvitationStatus.declined
    assert {statuses[v.id] for v in (dispatched, standby, silent, unsent)} == {InvitationStatus.cancelled}


def test_finish_certifies_hours_within_the_window_thanks_and_marks_no_shows(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        early, late, absent = people(session, 3)
    order_id = launched(rt, [(site.id, "registration", 3)], expected_answer_rate=1.0)
    for volunteer in (early, late, absent):
        text(rt, volunteer, "Y")
    run_match(rt, order_id)
    now = utcnow()
    starts, ends = now - timedelta(hours=4), now - timedelta(hours=1)
    with rt.transaction() as session:  # the window has passed
        session.execute(update(Order).where(Order.id == order_id).values(starts_at=starts, ends_at=ends))
        placed = {a.volunteer_id: a.id for a in session.scalars(select(Assignment))}
        session.execute(update(Assignment).where(Assignment.id == placed[early.id]).values(
            status=AssignmentStatus.arrived, arrived_at=starts - timedelta(minutes=30)))  # early: counts from start
        session.execute(update(Assignment).where(Assignment.id == placed[late.id]).values(
            status=AssignmentStatus.completed, arrived_at=starts + timedelta(hours=1),
            completed_at=starts + timedelta(hours=2, minutes=30)))
    with rt.transaction() as session:
        ending = lifecycle.finish(session, order_id, COMMANDER, now)
    assert ending.certified_hours == 4.5 and ending.no_shows == 1 and ending.told == 2  # the two who came
    with rt.transaction() as session:
        hours = {a.volunteer_id: (a.status, a.hours) for a in session.scalars(select(Assignment))}
    assert hours[early.id] == (AssignmentStatus.completed, 3.0)
    assert hours[late.id] == (AssignmentStatus.completed, 1.5)
    assert hours[absent.id] == (AssignmentStatus.no_show, None)  # not cancelled, and not texted
    assert [m.kind for m in sent(rt, volunteer=absent)] == ["invitation", "dispatch"]
    thanks = {m.volunteer_id: m.body for m in sent(rt, "thank_you")}
    assert set(thanks) == {early.id, late.id}
    assert "3小时" in thanks[early.id] and "累计3小时" in thanks[early.id] and "1.5小时" in thanks[late.id]
    check_capacity_invariants(rt, order_id)
