"""Answers by SMS: reply codes, bare replies, several open orders (a question, never a guess), every stage."""
from __future__ import annotations

from sqlalchemy import select

from mobilize.models import AssignmentStatus, Invitation, InvitationStatus, Response
from tests.wartime.conftest import (
    active,
    check_capacity_invariants,
    launched,
    order_row,
    people,
    run_match,
    sent,
    sites,
    text,
)


def setup_one_order(rt, volunteers: int = 4, capacity: int = 2):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, volunteers)
    # an answer rate that makes the first wave invite everyone
    order_id = launched(rt, [(site.id, "registration", capacity)], expected_answer_rate=capacity / volunteers)
    return order_id, crowd


def test_accept_with_code_dispatches_and_confirm_arrive_done_follow(rt):
    order_id, crowd = setup_one_order(rt, volunteers=2, capacity=1)
    code = order_row(rt, order_id).reply_code
    assert f"#{code}" in sent(rt, "invitation")[0].body
    first = crowd[0]
    assert text(rt, first, f"Y{code}") == "accepted"
    run_match(rt, order_id)
    dispatch = sent(rt, "dispatch", first)
    assert len(dispatch) == 1
    body = dispatch[0].body
    assert "太平角检测点" in body and "太平角一路12号" in body and "登记" in body and "王主任" in body
    assert f"Y{code}" in body and f"0 {code}" in body
    assert text(rt, first, "Y") == "confirmed"  # bare: the only thing open
    assert len(sent(rt, "dispatch_confirmed", first)) == 1
    assert text(rt, first, f"到{code}") == "arrived"
    assert len(sent(rt, "arrival_ack", first)) == 1
    assert text(rt, first, "签退") == "completed"
    assert "签退成功" in sent(rt, "done_ack", first)[0].body
    with rt.transaction() as session:
        outcomes = [r.outcome for r in session.scalars(select(Response).order_by(Response.id))]
    assert outcomes == ["accepted", "confirmed", "arrived", "completed"]
    assert [a.status for a in active(rt, order_id)] == [AssignmentStatus.completed]


def test_decline_is_acknowledged_and_recorded(rt):
    order_id, crowd = setup_one_order(rt)
    assert text(rt, crowd[0], "不能参加") == "declined"
    assert len(sent(rt, "decline_ack", crowd[0])) == 1
    with rt.transaction() as session:
        invitation = session.scalar(select(Invitation).where(Invitation.volunteer_id == crowd[0].id))
        assert invitation.status is InvitationStatus.declined and invitation.answered_at is not None
        assert session.scalar(select(Response.intent)) == "decline"


def test_several_open_orders_get_a_question_never_a_guess(rt):
    with rt.transaction() as session:
        site, other = sites(session)
        volunteer = people(session, 1)[0]
    first = launched(rt, [(site.id, "registration", 1)])
    second = launched(rt, [(other.id, "queue_keeping", 1)])
    assert text(rt, volunteer, "Y") == "asked_which_order"
    question = sent(rt, "which_order", volunteer)
    assert len(question) == 1
    reply_codes = [order_row(rt, order_id).reply_code for order_id in (first, second)]
    assert all(f"#{code}" in question[0].body for code in reply_codes)
    with rt.transaction() as session:
        assert session.scalar(select(Response.id)) is None  # nothing applied
        statuses = set(session.scalars(select(Invitation.status)))
    assert statuses == {InvitationStatus.invited}
    # the code decides
    assert text(rt, volunteer, f"是{reply_codes[1]}") == "accepted"
    with rt.transaction() as session:
        by_order = dict(session.execute(select(Invitation.order_id, Invitation.status)).all())
    assert by_order == {first: InvitationStatus.invited, second: InvitationStatus.accepted}
    # a bare "no" could be for either: the open invitation or the yes just given
    assert text(rt, volunteer, "N") == "asked_which_order"


def test_a_bare_reply_ignores_an_invitation_still_in_the_outbox(rt):
    """A second order's invitation not yet sent (a big wave drains at the sender's cap) neither takes a bare
    "Y" nor makes it ambiguous; with that order's code the answer counts for it."""
    with rt.transaction() as session:
        site, other = sites(session)
        volunteer = people(session, 1)[0]
    first = launched(rt, [(site.id, "registration", 1)])  # received
    second = launched(rt, [(other.id, "queue_keeping", 1)], handed=False)  # still in the outbox
    assert text(rt, volunteer, "Y") == "accepted"
    with rt.transaction() as session:
        by_order = dict(session.execute(select(Invitation.order_id, Invitation.status)).all())
    assert by_order == {first: InvitationStatus.accepted, second: InvitationStatus.invited}
    assert sent(rt, "which_order", volunteer) == []
    assert text(rt, volunteer, f"Y{order_row(rt, second).reply_code}") == "accepted"


def test_a_bare_reply_with_nothing_open_gets_the_short_help_once(rt):
    with rt.transaction() as session:
        volunteer = people(session, 1)[0]
    assert text(rt, volunteer, "Y") == "no_open_invitation"
    assert text(rt, volunteer, "Y") == "no_open_invitation_quiet"
    assert len(sent(rt, "not_understood", volunteer)) == 1


def test_a_code_of_another_order_asks_which(rt):
    order_id, crowd = setup_one_order(rt)
    assert text(rt, crowd[0], "Y98") == "asked_which_order"


def test_drop_out_frees_the_place_and_standby_backfills(rt):
    order_id, crowd = setup_one_order(rt, volunteers=3, capacity=1)
    for volunteer in crowd[:2]:
        assert text(rt, volunteer, "Y") == "accepted"
    run_match(rt, order_id)
    placed = active(rt, order_id)
    assert len(placed) == 1 and placed[0].volunteer_id == crowd[0].id  # the nearest
    assert len(sent(rt, "standby", crowd[1])) == 1
    assert text(rt, crowd[0], "0") == "dropped_out"
    assert len(sent(rt, "dropout_ack", crowd[0])) == 1
    check_capacity_invariants(rt, order_id)
    run_match(rt, order_id)
    placed = active(rt, order_id)
    assert [a.volunteer_id for a in placed] == [crowd[1].id] and placed[0].backfill
    assert len(sent(rt, "dispatch", crowd[1])) == 1
    check_capacity_invariants(rt, order_id)
    # the one who dropped out can come back by naming the order, and waits on standby
    code = order_row(rt, order_id).reply_code
    assert text(rt, crowd[0], f"Y{code}") == "accepted"
    run_match(rt, order_id)
    assert len(sent(rt, "standby", crowd[0])) == 1


def test_duplicate_answers_change_nothing_twice(rt):
    order_id, crowd = setup_one_order(rt, volunteers=1, capacity=1)
    assert text(rt, crowd[0], "Y") == "accepted"
    assert text(rt, crowd[0], "好的") == "already_accepted"
    run_match(rt, order_id)
    run_match(rt, order_id)
    assert len(sent(rt, "dispatch", crowd[0])) == 1
    assert text(rt, crowd[0], "Y") == "confirmed"
    assert text(rt, crowd[0], "Y") == "already_confirmed"
    assert len(sent(rt, "dispatch_confirmed", crowd[0])) == 1
