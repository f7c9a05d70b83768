"""What the deadline pacing reads on every evaluation (`wartime.pacing_inputs`), read the fast way at district scale
(issue 15), must be what the plain queries read: the same invitations in the same send order with the same
statuses, times and sizes, the same audience."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import delete, func, select, update

from mobilize.models import Invitation, Order, OutboundMessage, Volunteer
from mobilize.models._types import utcnow
from mobilize.models.messaging import OutboundStatus
from mobilize.wartime import pacing_inputs
from tests.wartime.conftest import launched, people, run_wave, sites, text


def _same(fast: pacing_inputs.InvitationRows, joined: pacing_inputs.InvitationRows) -> None:
    assert fast.message.tolist() == joined.message.tolist()
    assert fast.invitation.tolist() == joined.invitation.tolist()
    assert fast.times == joined.times
    assert fast.segments.tolist() == joined.segments.tolist()
    assert fast.mean_segments() == joined.mean_segments()


def _two_orders_interleaved(srt) -> tuple[int, int, list[Volunteer]]:
    """Two orders over one crowd whose invitations and SMS alternate in the tables (waves of each in turn),
    answered in part, one volunteer deleted (their SMS keep no volunteer), one SMS cancelled."""
    with srt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 120)
    first = launched(srt, [(site.id, "registration", 6)], expected_answer_rate=0.5)
    for volunteer, answer in zip(crowd[:12], "YNYYNNNNYNNN"):
        text(srt, volunteer, answer)
    second = launched(srt, [(site.id, "queue_keeping", 5)], expected_answer_rate=0.5)
    assert run_wave(srt, first, now=utcnow() + timedelta(seconds=30)).reason == "sent"  # after the second's
    with srt.transaction() as session:
        invited = session.scalars(select(Invitation.volunteer_id).where(Invitation.order_id == first)
                                  .order_by(Invitation.id.desc())).first()
        session.execute(delete(Volunteer).where(Volunteer.id == invited))  # SET NULL on their SMS, CASCADE
        session.execute(update(OutboundMessage).where(OutboundMessage.id == session.scalar(
            select(func.max(OutboundMessage.id)).where(OutboundMessage.dedupe_key.like(f"invite:order:{second}:%"))))
            .values(status=OutboundStatus.cancelled))
    return first, second, crowd


def test_sqlite_reads_the_invitations_the_join_reads_in_send_order(srt):
    first, second, _crowd = _two_orders_interleaved(srt)
    statuses = set()
    with srt.transaction() as session:
        connection = session.connection()
        for order_id in (first, second):
            fast = pacing_inputs.read_invitations(session, session.get(Order, order_id))
            joined = pacing_inputs.read_joined(connection, order_id, sqlite=True)
            assert len(joined.message) >= 5
            _same(fast, joined)
            statuses |= set(fast.message)
        assert {"accepted", "declined", "invited"} <= set(
            pacing_inputs.read_invitations(session, session.get(Order, first)).invitation)
    assert {"sent", "cancelled"} <= statuses


def test_an_order_without_invitations_reads_none(srt):
    with srt.transaction() as session:
        site, _ = sites(session)
        people(session, 5)
    order_id = launched(srt, [(site.id, "registration", 2)], wave=False)
    with srt.transaction() as session:
        rows = pacing_inputs.read_invitations(session, session.get(Order, order_id))
        assert len(rows.message) == 0 and rows.mean_segments() is None
        _same(rows, pacing_inputs.read_joined(session.connection(), order_id, sqlite=True))


def test_the_pacing_sees_the_same_order_whichever_way_it_was_read(srt):
    first, _second, _crowd = _two_orders_interleaved(srt)
    now = utcnow()
    with srt.transaction() as session:
        rows = pacing_inputs.read_invitations(session, session.get(Order, first))
        joined = pacing_inputs.read_joined(session.connection(), first, sqlite=True)
    sender = pacing_inputs.pacing.Sender(100.0, 1.0)
    fast, slow = (pacing_inputs.order_invitations(r, now, 3.0, sender) for r in (rows, joined))
    assert np.array_equal(fast.observed.sent_ago_s, slow.observed.sent_ago_s)
    assert (fast.observed.answered, fast.observed.accepted) == (slow.observed.answered, slow.observed.accepted)
    assert np.array_equal(fast.pending_sent_ago_s, slow.pending_sent_ago_s)
    assert fast.observed.answered > 0 and fast.observed.accepted > 0


def test_the_audience_is_every_volunteer_less_the_opted_out_and_the_invited(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 30)
    order_id = launched(rt, [(site.id, "registration", 2)], expected_answer_rate=0.5)
    text(rt, crowd[25], "STOP")  # not invited (the first wave is the nearest few): opted out
    text(rt, crowd[0], "STOP")  # invited, then opted out: counted once
    with rt.transaction() as session:
        order = session.get(Order, order_id)
        reachable = session.scalar(select(func.count()).select_from(Volunteer)
                                   .where(Volunteer.opted_out_at.is_(None)))
        invited = session.scalar(select(func.count()).select_from(Invitation).where(Invitation.order_id == order_id))
        assert reachable == 28 and 0 < invited < 25
        assert pacing_inputs.audience_bound(session, order) == reachable - invited
        assert session.scalar(select(Invitation.status).where(Invitation.volunteer_id == crowd[25].id)) is None
