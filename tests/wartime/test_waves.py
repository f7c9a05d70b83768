"""Waves: nearest eligible first, sized from what is still needed, again while short, never twice per person."""
from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update

from mobilize.models import (
    Invitation,
    InvitationStatus,
    OutboundMessage,
    OutboundStatus,
    Priority,
)
from mobilize.models._types import utcnow
from mobilize.wartime import waves
from tests.wartime.conftest import (
    ZHANSHAN,
    concurrent_waves,
    draft,
    invited_ids,
    launched,
    order_row,
    people,
    run_match,
    run_wave,
    sent,
    sites,
    text,
)


def test_the_first_wave_is_sized_and_nearest_first(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 30)  # 100 m, 200 m, ... from the site
    # 4 places, half answer, 1.5x over-recruited: 4 * 1.5 / 0.5 = 12 invitations
    order_id = launched(rt, [(site.id, "registration", 4)], expected_answer_rate=0.5, over_recruit_factor=1.5)
    assert invited_ids(rt, order_id) == [v.id for v in crowd[:12]]
    invitations = sent(rt, "invitation")
    assert len(invitations) == 12
    assert all(m.priority is Priority.bulk for m in invitations)
    assert {m.dedupe_key for m in invitations} == {f"invite:order:{order_id}:volunteer:{v.id}" for v in crowd[:12]}
    assert "八大关街道" in invitations[0].body and "回复Y" in invitations[0].body
    order = order_row(rt, order_id)
    assert order.waves_sent == 1 and order.last_wave_at is not None


def test_no_new_wave_before_it_is_due_then_one_sized_by_what_is_missing(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 40)
    order_id = launched(rt, [(site.id, "registration", 4)], expected_answer_rate=0.5, wave_interval_s=600)
    assert len(invited_ids(rt, order_id)) == 8
    assert run_wave(rt, order_id).reason == "not_due"
    # two of the eight accept and are placed; the rest stay silent past the interval
    for volunteer in crowd[:2]:
        text(rt, volunteer, "Y")
    run_match(rt, order_id)
    result = run_wave(rt, order_id, now=utcnow() + timedelta(seconds=601))
    # 2 places left, 0 pending within the interval: 2 / 0.5 = 4 more, the next nearest
    assert result.reason == "sent" and result.wave == 2 and result.invited == 4
    assert invited_ids(rt, order_id)[8:] == [v.id for v in crowd[8:12]]


def test_a_mostly_answered_wave_brings_the_next_one_early(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 40)
    order_id = launched(rt, [(site.id, "registration", 5)], expected_answer_rate=0.5)
    assert len(invited_ids(rt, order_id)) == 10
    for volunteer in crowd[:9]:  # 9 of 10 answer: one yes, eight no
        text(rt, volunteer, "Y" if volunteer is crowd[0] else "N")
    run_match(rt, order_id)
    result = run_wave(rt, order_id)
    # 4 places left, 1 pending still expected to bring half a yes: 4 / 0.5 - 1 = 7
    assert result.reason == "sent" and result.invited == 7


def test_inviting_stops_once_filled(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 10)
    order_id = launched(rt, [(site.id, "registration", 2)], expected_answer_rate=1.0)
    for volunteer in crowd[:2]:
        text(rt, volunteer, "Y")
    run_match(rt, order_id)
    assert order_row(rt, order_id).state.value == "filled"
    assert run_wave(rt, order_id, now=utcnow() + timedelta(days=1)).reason == "not_open"
    assert len(invited_ids(rt, order_id)) == 2


def test_standby_counts_before_a_new_wave(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 10)
    order_id = launched(rt, [(site.id, "registration", 2)], expected_answer_rate=0.5)
    for volunteer in crowd[:3]:
        text(rt, volunteer, "Y")  # 3 yes for 2 places, nobody placed yet
    with rt.transaction() as session:
        need = waves.assess(session, order_row(rt, order_id), utcnow())
    assert need.placeable == 2 and need.short == 0 and need.size == 0


def test_waves_aim_at_the_places_standby_cannot_fill(rt):
    with rt.transaction() as session:
        site, other = sites(session)
        near = people(session, 6)  # no skill, around 八大关
        medics = people(session, 4, "湛山", near=ZHANSHAN, step_m=3000, skills=("medical",))
    order_id = launched(rt, [(site.id, "registration", 1), (other.id, "medical_support", 1)],
                        expected_answer_rate=1.0)
    first = set(invited_ids(rt, order_id))
    assert near[0].id in first and medics[0].id in first
    assert near[1].id not in first  # the second place is for a medic, however near near[1] lives
    text(rt, near[0], "Y")
    run_match(rt, order_id)
    result = run_wave(rt, order_id, now=utcnow() + timedelta(hours=1))
    # only the medical place is short: the new wave goes to medics, not to nearer unskilled people
    assert result.invited == 1 and invited_ids(rt, order_id)[-1] == medics[1].id


def test_nobody_is_invited_twice_even_by_concurrent_waves(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 60)
    order_id = launched(rt, [(site.id, "registration", 10)], wave=False, expected_answer_rate=0.5)
    ids = concurrent_waves(rt, order_id)
    assert len(ids) == len(set(ids)) == 20  # one wave: the others found it not due
    with rt.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboundMessage)) == 20


def test_the_unique_constraint_is_the_last_word(rt):
    """Even a wave computed from a stale view cannot invite someone twice: INSERT ... ON CONFLICT DO NOTHING."""
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 3)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1.0)
    with rt.transaction() as session:
        rows = [{"order_id": order_id, "volunteer_id": v.id, "wave": 9, "status": InvitationStatus.invited,
                 "distance_m": 1.0, "invited_at": utcnow()} for v in crowd]
        inserted = waves._insert_new(session, rows)
    assert set(inserted) == {crowd[1].id, crowd[2].id}
    with rt.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Invitation)) == 3


def test_an_exhausted_audience_waits_for_the_interval(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 2)
    order_id = launched(rt, [(site.id, "registration", 5)], expected_answer_rate=0.5)
    assert len(invited_ids(rt, order_id)) == 2
    assert run_wave(rt, order_id, now=utcnow() + timedelta(hours=1)).reason == "audience_exhausted"
    assert run_wave(rt, order_id, now=utcnow() + timedelta(hours=1, seconds=5)).reason == "not_due"


def test_a_draft_gets_no_wave(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 2)
    order_id = draft(rt, [(site.id, "registration", 1)])
    assert run_wave(rt, order_id).reason == "not_open"


def test_an_order_that_fills_withdraws_the_invitations_still_in_the_outbox(rt):
    """Inviting stops when the order is filled: invitations not yet handed to the gateway are never sent, and
    their volunteers (who never heard of the order) can still be invited once if the order is short again."""
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 10)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.25, handed=False)  # invites 4
    assert invited_ids(rt, order_id) == [v.id for v in crowd[:4]]
    handed = {crowd[0].id, crowd[1].id}  # the sender handed these two to the gateway; two are still queued
    with rt.transaction() as session:
        session.execute(update(OutboundMessage).where(OutboundMessage.volunteer_id.in_(handed))
                        .values(status=OutboundStatus.sent))
    text(rt, crowd[0], "Y")
    run_match(rt, order_id)
    assert order_row(rt, order_id).state.value == "filled"
    statuses = {m.volunteer_id: m.status for m in sent(rt, "invitation")}
    assert statuses[crowd[1].id] is OutboundStatus.sent  # already out: it stays, and may still be answered
    assert {statuses[v.id] for v in crowd[2:4]} == {OutboundStatus.cancelled}
    assert invited_ids(rt, order_id) == [crowd[0].id, crowd[1].id]
    # the one placed drops out: the order is short again and a new wave may invite the withdrawn, nearest first
    code = order_row(rt, order_id).reply_code
    text(rt, crowd[0], f"0 {code}")
    result = run_wave(rt, order_id, now=utcnow() + timedelta(seconds=601))
    assert result.reason == "sent" and crowd[2].id in invited_ids(rt, order_id)
    live = Counter(m.volunteer_id for m in sent(rt, "invitation") if m.status is not OutboundStatus.cancelled)
    assert max(live.values()) == 1  # nobody receives two invitations to one order


def test_a_projected_shortfall_brings_the_next_wave_before_its_interval(rt):
    """20 invitations for 5 places at an expected 1 in 4: once 5 have declined, the 15 still pending can no longer
    be expected to bring 5 yeses; waiting out the interval would only delay the order."""
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 40)
    order_id = launched(rt, [(site.id, "registration", 5)], expected_answer_rate=0.25)
    assert len(invited_ids(rt, order_id)) == 20
    for volunteer in crowd[:4]:
        text(rt, volunteer, "N")
    assert run_wave(rt, order_id).reason == "not_due"  # 4 missing of 20: the pending may still do it
    text(rt, crowd[4], "N")
    result = run_wave(rt, order_id)  # 5 of 20 missing (EARLY_SHARE): now, not in ten minutes
    assert result.reason == "sent" and result.invited == 5
    assert invited_ids(rt, order_id)[20:] == [v.id for v in crowd[20:25]]  # still the next nearest


def test_the_answers_of_earlier_invitations_correct_the_expected_rate(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 120, step_m=20)
    order_id = launched(rt, [(site.id, "registration", 20)], expected_answer_rate=0.5)
    assert len(invited_ids(rt, order_id)) == 40
    for volunteer in crowd[:4]:  # 4 yes out of 40 (the commander expected 20); the rest stay silent
        text(rt, volunteer, "Y")
    run_match(rt, order_id)
    later = utcnow() + timedelta(seconds=601)
    with rt.transaction() as session:
        order = order_row(rt, order_id)
        rate = waves.planning_rate(session, order, later - timedelta(seconds=order.wave_interval_s))
        need = waves.assess(session, order, later)
    assert rate == (4 + waves.PRIOR_WEIGHT * 0.5) / (40 + waves.PRIOR_WEIGHT)
    assert need.short == 16 and need.size == math.ceil(16 / rate)  # 69, where 0.5 would have asked for 32
    with rt.transaction() as session:  # too little evidence: the commander's expectation stands
        assert waves.planning_rate(session, order, utcnow() - timedelta(hours=1)) == 0.5


def test_silence_counts_as_part_of_an_answer_as_the_interval_runs_out(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 30)
    order_id = launched(rt, [(site.id, "registration", 5)], expected_answer_rate=0.5, wave_interval_s=600)
    assert len(invited_ids(rt, order_id)) == 10
    assert run_wave(rt, order_id, now=utcnow() + timedelta(seconds=100)).reason == "not_due"  # all still count
    # nobody answered for three quarters of the interval: the ten count as 2.5 pending yeses' worth of
    # invitations (rounded to 2), so 10 - 2 = 8 more are needed now rather than in two and a half minutes
    result = run_wave(rt, order_id, now=utcnow() + timedelta(seconds=460))
    assert result.reason == "sent" and result.invited == 8
    assert invited_ids(rt, order_id)[10:] == [v.id for v in crowd[10:18]]
