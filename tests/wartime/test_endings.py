"""The three endings of an order, never confused (issue 10): who gets which message, and who gets none.

One scene for all of them: an order with three places and eight people around it, each at another stage: on site
(arrived), confirmed, dispatched (notified), two on standby, one who declined, one who never answered and one
whose invitation is still waiting in the outbox (never sent).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from mobilize.domain.templates import render
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Invitation,
    InvitationStatus,
    Order,
    OrderState,
    OutboundMessage,
    OutboundStatus,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.wartime import board, dispatch, lifecycle, timers
from mobilize.wartime.errors import Conflict
from mobilize.wartime.messages import invite_key, send
from tests.wartime.conftest import (
    COMMANDER,
    check_capacity_invariants,
    handed_to_the_gateway,
    launched,
    order_row,
    people,
    run_wave,
    sent,
    sites,
    text,
)

ROLES = ("arrived", "confirmed", "notified", "standby1", "standby2", "declined", "silent", "unsent")


@dataclass
class Scene:
    order_id: int
    code: str
    who: dict[str, Volunteer]

    def ids(self, *names: str) -> set[int]:
        return {self.who[name].id for name in names}


def scene(rt, started: bool = False) -> Scene:
    """The order described in the module's docstring. `started`: its window began an hour ago."""
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = dict(zip(ROLES, people(session, len(ROLES))))  # nearest first: the first three are placed
    window = {"starts_at": utcnow() - timedelta(hours=1), "ends_at": utcnow() + timedelta(hours=4)} if started \
        else {}
    order_id = launched(rt, [(site.id, "registration", 3)], expected_answer_rate=3 / 7, **window)  # invites 7
    code = order_row(rt, order_id).reply_code
    for name in ("arrived", "confirmed", "notified", "standby1", "standby2"):
        assert text(rt, crowd[name], "Y") == "accepted"
    assert text(rt, crowd["declined"], "N") == "declined"
    with rt.transaction() as session:  # everyone who said yes answered: nothing to hold back for
        dispatch.run_matching(session, order_id, utcnow(), hold_max_s=0)
    handed_to_the_gateway(rt, "dispatch")
    assert text(rt, crowd["confirmed"], "Y") == "confirmed"
    assert text(rt, crowd["arrived"], "到") == "arrived"
    with rt.transaction() as session:  # a later invitation, still in the outbox
        unsent = session.get(Volunteer, crowd["unsent"].id)
        session.add(Invitation(order_id=order_id, volunteer_id=unsent.id, wave=2, status=InvitationStatus.invited))
        send(session, unsent, "invitation", dedupe_key=invite_key(order_id, unsent.id), code=code, title="t",
             window="w", area="a")
    stages = stage_of(rt, order_id)
    assert {name: stages[crowd[name].id] for name in ROLES} == {
        "arrived": "arrived", "confirmed": "confirmed", "notified": "notified", "standby1": "accepted",
        "standby2": "accepted", "declined": "declined", "silent": "invited", "unsent": "invited"}
    assert order_row(rt, order_id).state is OrderState.filled
    return Scene(order_id, code, crowd)


def stage_of(rt, order_id: int) -> dict[int, str]:
    """Per volunteer: their latest assignment's status, else their invitation's."""
    with rt.transaction() as session:
        stages = {vid: status.value for vid, status in session.execute(
            select(Invitation.volunteer_id, Invitation.status).where(Invitation.order_id == order_id))}
        stages.update({vid: status.value for vid, status in session.execute(
            select(Assignment.volunteer_id, Assignment.status).where(Assignment.order_id == order_id)
            .order_by(Assignment.id))})
    return stages


def outbox_count(rt) -> int:
    with rt.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboundMessage))


def written_since(rt, before: int) -> list[tuple[int, str]]:
    """(volunteer, template) of the messages written after the first `before` ones."""
    with rt.transaction() as session:
        rows = session.execute(select(OutboundMessage.volunteer_id, OutboundMessage.kind)
                               .order_by(OutboundMessage.id).offset(before)).all()
    return sorted((vid, kind) for vid, kind in rows)


def ending(rt, name: str, order_id: int, **kwargs):
    with rt.transaction() as session:
        return getattr(lifecycle, name)(session, order_id, COMMANDER, utcnow(), **kwargs)


def window_started(rt, order_id: int) -> None:
    with rt.transaction() as session:
        session.execute(update(Order).where(Order.id == order_id).values(starts_at=utcnow() - timedelta(hours=1)))


# --- stop recruiting -------------------------------------------------------------------------------------------


def test_stop_recruiting_thanks_the_standby_only_and_withdraws_the_unsent(rt):
    s = scene(rt)
    before = outbox_count(rt)
    result = ending(rt, "stop_recruiting", s.order_id)
    assert (result.told, result.released, result.withdrawn, result.lapsed) == (2, 0, 1, 2)
    assert written_since(rt, before) == sorted((vid, "not_needed") for vid in s.ids("standby1", "standby2"))
    order = order_row(rt, s.order_id)
    assert order.state is OrderState.staffed and order.recruiting_stopped_at is not None
    body = sent(rt, "not_needed", s.who["standby1"])[0].body
    assert body == render("not_needed", "zh", code=s.code, title=order.title)
    assert [m.status for m in sent(rt, "invitation", s.who["unsent"])] == [OutboundStatus.cancelled]
    stages = stage_of(rt, s.order_id)  # the dispatched are untouched; who never answered lapses
    assert all(stages[s.who[name].id] == name for name in ("arrived", "confirmed", "notified"))
    assert stages[s.who["silent"].id] == stages[s.who["unsent"].id] == "cancelled"
    assert stages[s.who["standby1"].id] == "accepted"  # they did say yes
    check_capacity_invariants(rt, s.order_id)


def test_after_stop_recruiting_a_yes_hears_the_places_are_filled_once(rt):
    s = scene(rt)
    ending(rt, "stop_recruiting", s.order_id)
    assert text(rt, s.who["silent"], "Y") == "order_full"
    assert text(rt, s.who["standby1"], f"Y{s.code}") == "order_full"
    assert text(rt, s.who["declined"], f"Y{s.code}") == "order_full"  # a yes by code no longer takes them back
    assert text(rt, s.who["silent"], "Y") == "order_full_quiet"  # told once
    full = sent(rt, "order_full")
    assert sorted(m.volunteer_id for m in full) == sorted(s.ids("silent", "standby1", "declined"))
    assert full[0].body == render("order_full", "zh", code=s.code)
    assert "All places are filled" in render("order_full", "en", code=s.code)
    assert text(rt, s.who["standby2"], "N") == "declined_after_recruiting"  # a no is acknowledged
    assert not sent(rt, "not_understood")
    with rt.transaction() as session:  # nobody was placed or invited again by those answers
        assert session.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.order_id == s.order_id)) == 3


def test_after_stop_recruiting_nobody_is_invited_or_placed_but_the_dispatched_go_on(rt):
    s = scene(rt)
    ending(rt, "stop_recruiting", s.order_id)
    assert text(rt, s.who["notified"], "Y") == "confirmed"  # confirmations still work
    assert text(rt, s.who["confirmed"], "0") == "dropped_out"  # drop-outs too: the place stays free
    with rt.transaction() as session:
        outcome = dispatch.run_matching(session, s.order_id, utcnow(), hold_max_s=0)
    assert outcome.placed == 0
    assert run_wave(rt, s.order_id).reason == "not_open"
    with rt.transaction() as session:  # the sweep leaves the order alone (no timeouts, no backfill, no wave)
        assert s.order_id not in timers.running_order_ids(session)
        assert timers.sweep_order(session, s.order_id, utcnow()) == timers.SweepResult(s.order_id)
    assert not sent(rt, "dispatch", s.who["standby1"]) and not sent(rt, "standby", s.who["standby1"])[1:]
    assert text(rt, s.who["arrived"], f"签退{s.code}") == "completed"  # check-out by SMS
    with rt.transaction() as session:  # an officer marks the confirmed one's arrival
        assignment = session.scalar(select(Assignment).where(Assignment.order_id == s.order_id,
                                                             Assignment.volunteer_id == s.who["notified"].id,
                                                             Assignment.status == AssignmentStatus.confirmed))
        board.officer_arrive(session, assignment, COMMANDER, utcnow())
    stages = stage_of(rt, s.order_id)
    assert (stages[s.who["arrived"].id], stages[s.who["notified"].id], stages[s.who["confirmed"].id]) == \
        ("completed", "arrived", "released")
    assert order_row(rt, s.order_id).state is OrderState.staffed
    check_capacity_invariants(rt, s.order_id)


def test_a_staffed_order_is_not_stopped_twice_nor_topped_up(rt):
    s = scene(rt)
    ending(rt, "stop_recruiting", s.order_id)
    with pytest.raises(Conflict) as error:
        ending(rt, "stop_recruiting", s.order_id)
    assert error.value.status == 409 and "cannot stop recruiting for order" in error.value.message
    assert "it is staffed" in error.value.message
    with pytest.raises(Conflict), rt.transaction() as session:
        lifecycle.top_up(session, s.order_id, [], COMMANDER, utcnow())


# --- finish ----------------------------------------------------------------------------------------------------


def test_finish_before_the_window_starts_is_refused_pointing_to_the_other_endings(rt):
    s = scene(rt)
    before = outbox_count(rt)
    with pytest.raises(Conflict) as error:
        ending(rt, "finish", s.order_id)
    assert error.value.status == 409 and error.value.code == "window_not_started"
    assert "stop recruiting" in error.value.message and "cancel" in error.value.message
    assert order_row(rt, s.order_id).state is OrderState.filled and outbox_count(rt) == before


def test_finish_thanks_who_came_marks_no_shows_and_tells_standby_they_are_not_needed(rt):
    s = scene(rt, started=True)
    before = outbox_count(rt)
    result = ending(rt, "finish", s.order_id)
    assert (result.no_shows, result.withdrawn, result.lapsed, result.told) == (2, 1, 2, 3)
    assert written_since(rt, before) == sorted([(s.who["arrived"].id, "thank_you")] + [
        (vid, "not_needed") for vid in s.ids("standby1", "standby2")])
    stages = stage_of(rt, s.order_id)
    assert (stages[s.who["arrived"].id], stages[s.who["confirmed"].id], stages[s.who["notified"].id]) == \
        ("completed", "no_show", "no_show")  # not cancelled, not texted
    assert stages[s.who["silent"].id] == "cancelled"
    order = order_row(rt, s.order_id)
    assert order.state is OrderState.closed and order.closed_at is not None
    check_capacity_invariants(rt, s.order_id)


def test_finish_after_stop_recruiting_does_not_tell_the_standby_twice(rt):
    s = scene(rt, started=True)
    ending(rt, "stop_recruiting", s.order_id)
    before = outbox_count(rt)
    result = ending(rt, "finish", s.order_id)
    assert written_since(rt, before) == [(s.who["arrived"].id, "thank_you")]
    assert result.told == 1 and result.no_shows == 2
    assert len(sent(rt, "not_needed")) == 2
    assert text(rt, s.who["standby1"], "Y") == "order_full"  # still: the places were filled


# --- cancel ----------------------------------------------------------------------------------------------------


def test_cancel_tells_who_said_yes_or_was_dispatched_and_a_silent_invitee_only_when_they_reply(rt):
    s = scene(rt)
    before = outbox_count(rt)
    result = ending(rt, "cancel", s.order_id, reason="天气")
    told = s.ids("arrived", "confirmed", "notified", "standby1", "standby2")
    assert written_since(rt, before) == sorted((vid, "order_cancelled") for vid in told)
    assert (result.told, result.released, result.withdrawn, result.lapsed) == (5, 3, 1, 2)
    assert [m.status for m in sent(rt, "invitation", s.who["unsent"])] == [OutboundStatus.cancelled]
    # a later reply from who never answered: "this order was called off", once
    assert text(rt, s.who["silent"], "Y") == "order_called_off"
    assert text(rt, s.who["silent"], f"N{s.code}") == "order_called_off_quiet"
    assert text(rt, s.who["standby1"], "Y") == "order_called_off_quiet"  # already told
    called_off = sent(rt, "order_cancelled", s.who["silent"])
    assert len(called_off) == 1 and f"#{s.code}" in called_off[0].body
    assert not sent(rt, "not_understood")
    check_capacity_invariants(rt, s.order_id)


def test_cancelling_a_draft_sends_nothing(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 3)
    order_id = launched(rt, [(site.id, "registration", 1)], wave=False)
    with rt.transaction() as session:  # back to a draft (never launched)
        session.execute(update(Order).where(Order.id == order_id).values(state=OrderState.draft))
    before = outbox_count(rt)
    result = ending(rt, "cancel", order_id)
    assert (result.told, result.released) == (0, 0) and outbox_count(rt) == before
    assert order_row(rt, order_id).state is OrderState.cancelled


def test_a_reply_long_after_the_order_gets_the_usual_help(rt):
    s = scene(rt)
    ending(rt, "cancel", s.order_id)
    with rt.transaction() as session:  # its window ended two days ago
        session.execute(update(Order).where(Order.id == s.order_id).values(
            starts_at=utcnow() - timedelta(days=2, hours=5), ends_at=utcnow() - timedelta(days=2)))
    assert text(rt, s.who["silent"], "Y") == "no_open_invitation"


def test_cancel_after_stop_recruiting_does_not_text_the_standby_again(rt):
    s = scene(rt)
    ending(rt, "stop_recruiting", s.order_id)
    before = outbox_count(rt)
    ending(rt, "cancel", s.order_id)
    told = s.ids("arrived", "confirmed", "notified")  # the standby heard "not needed" already
    assert written_since(rt, before) == sorted((vid, "order_cancelled") for vid in told)
