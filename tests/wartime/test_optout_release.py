"""STOP releases (issue 10, item 5): an opt-out during an order frees the volunteer's place at once, the standby
takes it, and the opt-out confirmation is the only message they get from then on (DESIGN 7)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from mobilize.models import (
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Demand,
    Invitation,
    InvitationStatus,
    Order,
    OrderState,
    OutboundStatus,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.wartime import dispatch, followups, optouts
from tests.stack import start_stack
from tests.wartime.conftest import (
    active,
    check_capacity_invariants,
    handed_to_the_gateway,
    launched,
    order_row,
    people,
    run_match,
    sent,
    sites,
    text,
)
from workers.sms import send_pending

OPT_OUTS = ["退订", "TD", "STOP", "unsubscribe"]


def one_place_two_takers(rt):
    """One place: the nearest volunteer dispatched, the other on standby (told so)."""
    with rt.transaction() as session:
        site, _ = sites(session)
        placed, waiting = people(session, 2)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.5)
    for volunteer in (placed, waiting):
        assert text(rt, volunteer, "Y") == "accepted"
    run_match(rt, order_id)
    [assignment] = active(rt, order_id)
    assert assignment.volunteer_id == placed.id
    assert order_row(rt, order_id).state is OrderState.filled
    return order_id, placed, waiting, assignment


def kinds_since(rt, volunteer, message_id: int) -> list[str]:
    return [m.kind for m in sent(rt, volunteer=volunteer) if m.id > message_id]


def last_id(rt) -> int:
    return max((m.id for m in sent(rt)), default=0)


@pytest.mark.parametrize("body", OPT_OUTS)
def test_an_opt_out_frees_the_place_and_the_standby_takes_it(rt, body):
    order_id, placed, waiting, assignment = one_place_two_takers(rt)
    before = last_id(rt)
    assert text(rt, placed, body) == "opted_out"
    with rt.transaction() as session:
        released = session.get(Assignment, assignment.id)
        assert released.status is AssignmentStatus.released and released.end_reason == "opted_out"
        assert session.get(Demand, released.demand_id).filled == 0
        assert session.get(Order, order_id).state is OrderState.open  # no longer full
        assert session.get(Volunteer, placed.id).opted_out
    check_capacity_invariants(rt, order_id)
    run_match(rt, order_id)  # what the opt-out requested (followups): the standby first, no hold-back
    [backfill] = active(rt, order_id)
    assert backfill.volunteer_id == waiting.id and backfill.backfill
    # the only message after the opt-out: our confirmation (Twilio itself answers STOP and UNSUBSCRIBE)
    ours = [] if body.upper() in ("STOP", "UNSUBSCRIBE") else ["opt_out_confirm"]
    assert kinds_since(rt, placed, before) == ours


def test_a_confirmed_volunteer_who_opts_out_is_released_too_and_audited(rt):
    order_id, placed, waiting, assignment = one_place_two_takers(rt)
    handed_to_the_gateway(rt, "dispatch")
    assert text(rt, placed, "Y") == "confirmed"
    assert text(rt, placed, "TD") == "opted_out"
    with rt.transaction() as session:
        assert session.get(Assignment, assignment.id).end_reason == "opted_out"
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "assignment.opted_out"))
        assert event.subject_id == assignment.id and event.details["order_id"] == order_id
        assert event.actor.startswith("sms:") and placed.phone not in event.actor  # masked
    run_match(rt, order_id)
    assert [a.volunteer_id for a in active(rt, order_id)] == [waiting.id]


def test_their_messages_still_in_the_outbox_are_cancelled_and_nothing_follows(rt):
    order_id, placed, waiting, assignment = one_place_two_takers(rt)
    [dispatch_sms] = sent(rt, "dispatch", placed)
    assert dispatch_sms.status is OutboundStatus.pending  # not sent yet
    before = last_id(rt)
    assert text(rt, placed, "退订") == "opted_out"
    [dispatch_sms] = sent(rt, "dispatch", placed)
    assert dispatch_sms.status is OutboundStatus.cancelled
    # whatever happens to the order later, nothing reaches them: they are nobody's standby either
    with rt.transaction() as session:
        assert dispatch.standby_count(session, order_id) == 1  # `waiting` only
    run_match(rt, order_id)
    assert kinds_since(rt, placed, before) == ["opt_out_confirm"]


def test_an_opt_out_releases_in_every_running_order_and_leaves_standby_elsewhere(rt):
    with rt.transaction() as session:
        site, other_site = sites(session)
        volunteer, spare = people(session, 2)
    first = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1.0)
    second = launched(rt, [(other_site.id, "queue_keeping", 1)], expected_answer_rate=0.5)
    codes = [order_row(rt, order_id).reply_code for order_id in (first, second)]
    assert text(rt, volunteer, f"Y{codes[0]}") == "accepted"
    run_match(rt, first)
    assert text(rt, volunteer, f"Y{codes[1]}") == "accepted"  # on standby there: the place is held back
    before = last_id(rt)
    assert text(rt, volunteer, "退订") == "opted_out"
    assert active(rt, first) == []
    with rt.transaction() as session:
        invitations = {i.order_id: i.status for i in session.scalars(
            select(Invitation).where(Invitation.volunteer_id == volunteer.id))}
        assert invitations == {first: InvitationStatus.declined, second: InvitationStatus.declined}
        assert dispatch.standby_count(session, first) == 0 and dispatch.standby_count(session, second) == 0
    run_match(rt, second)
    assert active(rt, second) == []  # they are never placed after opting out
    assert kinds_since(rt, volunteer, before) == ["opt_out_confirm"]
    for order_id in (first, second):
        check_capacity_invariants(rt, order_id)


def test_someone_already_on_site_keeps_their_place(rt):
    order_id, placed, waiting, assignment = one_place_two_takers(rt)
    handed_to_the_gateway(rt, "dispatch")
    assert text(rt, placed, "到") == "arrived"
    assert text(rt, placed, "退订") == "opted_out"
    [kept] = active(rt, order_id)
    assert kept.id == assignment.id and kept.status is AssignmentStatus.arrived


def test_opting_out_twice_changes_nothing_the_second_time(rt):
    order_id, placed, waiting, assignment = one_place_two_takers(rt)
    assert text(rt, placed, "退订") == "opted_out"
    run_match(rt, order_id)
    before = last_id(rt)
    assert text(rt, placed, "退订") == "already_opted_out"
    assert [a.volunteer_id for a in active(rt, order_id)] == [waiting.id]
    assert kinds_since(rt, placed, before) == []


@pytest.fixture
def stack(tmp_path, database_url, redis_url, redis_client):
    live = start_stack(tmp_path / "instance", database_url, redis_url)
    yield live
    live.close()


def test_twilio_21610_releases_the_place_as_an_sms_opt_out_does(stack):
    """The sender's path: the phone sent STOP to the carrier, not to us; Twilio refuses our dispatch (21610)."""
    rt = stack.runtime
    order_id, placed, waiting, assignment = one_place_two_takers(rt)
    stack.control.register_phone(placed.phone)
    stack.control.update_phone(placed.phone, opted_out=True)
    send_pending("high")  # the real sender, the real twilio client, the simulator answering 21610
    with rt.transaction() as session:
        [refused] = [m for m in sent(rt, "dispatch", placed)]
        assert (refused.status, refused.error_code) == (OutboundStatus.failed, 21610)
        released = session.get(Assignment, assignment.id)
        assert released.status is AssignmentStatus.released and released.end_reason == "opted_out"
        assert session.get(Volunteer, placed.id).opted_out
        assert session.scalar(select(AuditEvent.actor).where(AuditEvent.action == "assignment.opted_out")) \
            == "system"
    check_capacity_invariants(rt, order_id)
    run_match(rt, order_id)
    assert [a.volunteer_id for a in active(rt, order_id)] == [waiting.id]
    assert [m.kind for m in sent(rt, volunteer=placed) if m.kind not in ("invitation", "dispatch")] == []


def test_release_opted_out_requests_matching_for_the_freed_order(rt):
    order_id, placed, waiting, assignment = one_place_two_takers(rt)
    with rt.transaction() as session:
        assert optouts.release_opted_out(session, placed.id, utcnow()) == 1
        assert order_id in followups.take(session)[followups.MATCH]
    with rt.transaction() as session:
        assert optouts.release_opted_out(session, placed.id, utcnow()) == 0  # idempotent
        assert not followups.take(session)[followups.MATCH]


def test_after_recruiting_stopped_an_opt_out_still_frees_the_place(rt):
    """Staffed (recruiting stopped): the dispatched still serve, so an opt-out still ends the dispatch; nobody is
    placed instead (recruiting stopped) and nobody else is texted because of it."""
    from mobilize.wartime import lifecycle
    from tests.wartime.conftest import COMMANDER

    order_id, placed, waiting, assignment = one_place_two_takers(rt)
    with rt.transaction() as session:
        lifecycle.stop_recruiting(session, order_id, COMMANDER, utcnow())
    before = last_id(rt)
    assert text(rt, placed, "退订") == "opted_out"
    with rt.transaction() as session:
        assert session.get(Assignment, assignment.id).end_reason == "opted_out"
        assert session.get(Order, order_id).state is OrderState.staffed
    run_match(rt, order_id)
    assert active(rt, order_id) == []
    assert [(m.kind, m.volunteer_id) for m in sent(rt) if m.id > before] == [("opt_out_confirm", placed.id)]
    check_capacity_invariants(rt, order_id)
