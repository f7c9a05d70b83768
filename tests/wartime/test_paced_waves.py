"""Waves paced to the deadline (issue 14): the service's default. Sized by `domain.pacing` from the places still
open, the time left, the sender and the answers so far; urgent orders invite everyone at once."""
from __future__ import annotations

from datetime import timedelta

import pytest

from mobilize.models._types import utcnow
from mobilize.wartime import drafts, lifecycle, waves
from mobilize.wartime.errors import InvalidOrder
from tests.wartime.conftest import (
    COMMANDER,
    concurrent_waves,
    draft,
    invited_ids,
    launched,
    later,
    order_row,
    people,
    run_wave,
    sites,
    spec,
    text,
)

pytestmark = pytest.mark.paced


def test_a_far_deadline_invites_what_the_places_need_with_a_margin_nearest_first(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 40)
    # 4 places, p = 0.5, needed by the start (a day off): 4 yeses by then with 95% confidence. 15 invitations
    # bring 7.5 on average, sd 1.9: 7.5 - 1.645 * 1.9 = 4.3 >= 4 (14 would give 3.9)
    order_id = launched(rt, [(site.id, "registration", 4)], expected_answer_rate=0.5)
    assert invited_ids(rt, order_id) == [v.id for v in crowd[:15]]
    order = order_row(rt, order_id)
    assert order.waves_sent == 1 and order.deadline == order.starts_at


def test_a_near_deadline_invites_more(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 200)
    far = launched(rt, [(site.id, "registration", 4)], expected_answer_rate=0.5)
    near = launched(rt, [(site.id, "registration", 4)], expected_answer_rate=0.5,
                    needed_by=utcnow() + timedelta(minutes=5))
    assert len(invited_ids(rt, near)) > 1.5 * len(invited_ids(rt, far))


def test_an_urgent_order_invites_everyone_eligible_at_once(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 30)
    order_id = launched(rt, [(site.id, "registration", 2)], expected_answer_rate=0.5, urgent=True)
    assert len(invited_ids(rt, order_id)) == 30 and order_row(rt, order_id).urgent


def test_declines_bring_a_top_up_before_the_interval(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 60)
    order_id = launched(rt, [(site.id, "registration", 4)], expected_answer_rate=0.5, wave_interval_s=600)
    first = len(invited_ids(rt, order_id))
    assert run_wave(rt, order_id).reason in ("not_due", "enough_expected")  # the plan is out already
    for volunteer in crowd[:10]:
        text(rt, volunteer, "N")
    result = run_wave(rt, order_id, now=utcnow() + timedelta(seconds=30))  # a sweep 30 s later, not 10 min
    assert result.reason == "sent" and result.invited > 0
    assert invited_ids(rt, order_id)[first:] == [v.id for v in crowd[first:first + result.invited]]


def test_the_assessment_projects_when_95_percent_will_be_filled(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 40)
    order_id = launched(rt, [(site.id, "registration", 4)], expected_answer_rate=0.5)
    with rt.transaction() as session:
        need = waves.assess(session, order_row(rt, order_id), utcnow())
    assert need.pace is not None and need.pace.prior_source == "commander"
    assert need.pace.projected_s is not None and 0 < need.pace.projected_s < 3600


def test_nobody_is_invited_twice_even_by_concurrent_paced_waves(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 60)
    order_id = launched(rt, [(site.id, "registration", 4)], wave=False, expected_answer_rate=0.5)
    ids = concurrent_waves(rt, order_id)
    assert len(ids) == len(set(ids)) == 15  # one wave: the others found the plan out already


def test_needed_by_must_be_in_the_future_and_within_the_window(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
    demands = [(site.id, "registration", 1)]
    with rt.transaction() as session, pytest.raises(InvalidOrder) as past:
        drafts.create_draft(session, spec(demands, needed_by=utcnow() - timedelta(minutes=1)), COMMANDER, utcnow())
    assert past.value.details["needed_by"] == "the needed-by time must be in the future"
    with rt.transaction() as session, pytest.raises(InvalidOrder) as after:
        drafts.create_draft(session, spec(demands, needed_by=later(30)), COMMANDER, utcnow())
    assert after.value.details["needed_by"] == "the needed-by time must not be after the order ends"
    with rt.transaction() as session, pytest.raises(InvalidOrder) as naive:
        drafts.create_draft(session, spec(demands, needed_by=later(2).replace(tzinfo=None)), COMMANDER, utcnow())
    assert "time zone" in naive.value.details["needed_by"]


def test_a_draft_whose_deadline_passed_cannot_be_launched(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
    order_id = draft(rt, [(site.id, "registration", 1)], needed_by=utcnow() + timedelta(minutes=5))
    with rt.transaction() as session, pytest.raises(InvalidOrder) as refused:
        lifecycle.launch(session, order_id, COMMANDER, utcnow() + timedelta(minutes=6))
    assert "needed-by time has passed" in str(refused.value)


def test_the_launch_preview_shows_what_a_nearer_or_later_deadline_would_cost(rt):
    from mobilize.wartime.previews import preview_action

    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 300)
    order_id = draft(rt, [(site.id, "registration", 20)], expected_answer_rate=0.5,
                     needed_by=utcnow() + timedelta(minutes=10))
    with rt.transaction() as session:
        preview = preview_action(session, order_id, "launch", utcnow(), price_per_segment=0.05)
        session.rollback()
    rows = preview.deadline["rows"]
    assert [row["factor"] for row in rows] == [0.5, 1.0, 2.0] and [row["chosen"] for row in rows] == [0, 1, 0]
    sizes = [row["invitations"] for row in rows]
    assert sizes[0] >= sizes[1] >= sizes[2] > 0 and sizes[0] > sizes[2]  # a nearer deadline costs more
    assert all(row["cost"] == round(row["segments"] * 0.05, 2) for row in rows)
    assert preview.deadline["prior"] == "commander" and preview.as_dict()["deadline"] is preview.deadline
    # what the launch itself sends now is the plan's first part: never more than the chosen deadline's plan
    assert 0 < preview.by_template["invitation"] <= sizes[1]


def test_the_trade_off_counts_segments_as_the_people_read_them(rt):
    """English invitations take two segments where the Chinese take one: before any invitation exists the
    trade-off weighs each language's text by its readers, so its cost agrees with the wave's own count."""
    from mobilize.wartime.previews import preview_action

    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 150)
        people(session, 150, language="en", step_m=101.0)
    order_id = draft(rt, [(site.id, "registration", 20)], expected_answer_rate=0.5,
                     needed_by=utcnow() + timedelta(minutes=10))
    with rt.transaction() as session:
        preview = preview_action(session, order_id, "launch", utcnow(), price_per_segment=0.05)
        session.rollback()
    chosen = next(row for row in preview.deadline["rows"] if row["chosen"])
    per_invitation = chosen["segments"] / chosen["invitations"]
    sent_per_invitation = preview.segments / preview.by_template["invitation"]
    assert per_invitation > 1.2 and abs(per_invitation - sent_per_invitation) < 0.25
