"""The deadline pacing's decisions on small cases (domain.pacing): pure numbers, no database."""
from __future__ import annotations

import numpy as np
import pytest

from mobilize.domain.pacing import (
    AnswerBelief,
    Need,
    Observed,
    Sender,
    deadline_cost,
    learn,
    plan,
    prior_belief,
    projected_time_s,
    yes_chances,
)

BELIEF = AnswerBelief(yes_rate=0.5, answer_rate=0.7, delay_median_s=240.0, delay_sigma=0.9)
FAST_SENDER = Sender(segments_per_second=1000.0, segments_per_invitation=1.0, dispatch_lag_s=0.0)
NOTHING_PENDING = np.zeros(0)


def need(yeses: float) -> Need:
    return Need(by_deadline=yeses, in_all=0.0)


def test_a_far_deadline_needs_about_the_yeses_over_the_yes_rate():
    result = plan(7 * 86400.0, need(100), NOTHING_PENDING, BELIEF, FAST_SENDER, audience=10_000)
    assert result.feasible
    assert 200 <= result.invitations <= 240  # 100 / 0.5, and a margin for the variance of a sum of Bernoullis


def test_a_nearer_deadline_needs_more_invitations():
    sizes = [plan(deadline, need(100), NOTHING_PENDING, BELIEF, FAST_SENDER, 10_000).invitations
             for deadline in (3600.0, 600.0, 300.0, 150.0)]
    assert sizes == sorted(sizes) and sizes[-1] > 2 * sizes[0]


def test_pending_invitations_reduce_the_wave():
    alone = plan(600.0, need(100), NOTHING_PENDING, BELIEF, FAST_SENDER, 10_000).invitations
    with_pending = plan(600.0, need(100), np.zeros(100), BELIEF, FAST_SENDER, 10_000).invitations
    assert alone - 110 <= with_pending < alone - 60  # 100 fresh ones are worth about 100 new ones


def test_silence_makes_a_pending_invitation_worth_less():
    ages = np.array([0.0, 120.0, 600.0, 1800.0])
    chances = yes_chances(BELIEF, ages, 600.0)
    assert list(chances) == sorted(chances, reverse=True) and chances[-1] < 0.05 * chances[0]
    waves = [plan(600.0, need(100), np.full(100, age), BELIEF, FAST_SENDER, 10_000).invitations for age in ages]
    assert waves == sorted(waves)


def test_a_new_invitation_late_in_the_queue_counts_for_less():
    slow = Sender(segments_per_second=10.0, segments_per_invitation=1.0, dispatch_lag_s=0.0)
    fast = plan(300.0, need(100), NOTHING_PENDING, BELIEF, FAST_SENDER, 10_000).invitations
    queued = plan(300.0, need(100), NOTHING_PENDING, BELIEF, slow, 10_000).invitations
    assert queued > fast
    backlog = Sender(segments_per_second=10.0, segments_per_invitation=1.0, backlog_segments=1000.0)
    assert plan(300.0, need(100), NOTHING_PENDING, BELIEF, backlog, 10_000).invitations > queued


def test_an_infeasible_deadline_plans_for_the_earliest_moment_that_can_be_met():
    result = plan(20.0, need(100), NOTHING_PENDING, BELIEF, FAST_SENDER, audience=5000)
    assert not result.feasible and 3000 < result.invitations <= 5000  # nearly everyone: no answer comes in 20 s
    when = projected_time_s(100, NOTHING_PENDING, BELIEF, FAST_SENDER, new_invitations=result.invitations)
    assert when is not None and 20.0 < when < 240.0
    assert plan(20.0, need(100), NOTHING_PENDING, BELIEF, FAST_SENDER, audience=150).invitations == 150


def test_near_a_deadline_that_slipped_only_a_little_more_than_what_is_pending_goes_out():
    pending = np.full(400, 200.0)  # 400 invitations out for 200 s, silent so far
    slipping = plan(30.0, need(40), pending, BELIEF, FAST_SENDER, audience=50_000)
    # new invitations answer within 30 s with a chance of 1 in 200: none is worth it for this deadline, so the
    # plan is for the earliest moment that can be met, and never the whole registry
    assert not slipping.feasible and slipping.invitations < 2000


def test_only_what_the_sender_reaches_soon_goes_into_the_outbox_now():
    slow = Sender(segments_per_second=10.0, segments_per_invitation=2.0, backlog_segments=20.0)
    result = plan(3600.0, need(300), NOTHING_PENDING, BELIEF, slow, 10_000, feed_ahead_s=15.0)
    assert result.invitations > 600 and result.send_now == (15 * 10 - 20) // 2


def test_urgent_invites_everyone_at_once():
    result = plan(3600.0, need(10), NOTHING_PENDING, BELIEF, FAST_SENDER, audience=777, urgent=True)
    assert result.urgent and result.invitations == result.send_now == 777


def test_nothing_needed_means_no_wave_and_the_eventual_fill_still_counts():
    assert plan(600.0, Need(0.0, 0.0), NOTHING_PENDING, BELIEF, FAST_SENDER, 1000).invitations == 0
    eventual = plan(600.0, Need(0.0, 50.0), NOTHING_PENDING, BELIEF, FAST_SENDER, 1000).invitations
    assert eventual == 100  # 50 more yeses in the end at p = 0.5


def test_a_passed_deadline_paces_what_is_missing_instead_of_inviting_everyone():
    result = plan(-60.0, need(20), NOTHING_PENDING, BELIEF, FAST_SENDER, audience=50_000)
    assert result.feasible and result.invitations < 200


def test_learning_moves_the_yes_rate_and_counts_silence_by_its_age():
    prior = prior_belief(0.4)
    old_silence = learn(prior, Observed(np.full(1000, 3600.0), answered=300, accepted=250))
    assert old_silence.yes_rate < prior.yes_rate  # an hour of silence from 700 of 1000: fewer yeses
    young = learn(prior, Observed(np.full(1000, 60.0), answered=40, accepted=35))
    assert young.yes_rate > prior.yes_rate  # 40 answers within a minute is a lot under a 4-minute median
    assert young.yes_rate_sd < prior.yes_rate_sd
    nothing = learn(prior, Observed(np.zeros(0), 0, 0))
    assert nothing.yes_rate == pytest.approx(prior.yes_rate)


def test_the_need_counts_95_percent_of_the_places_net_of_standby():
    assert Need.of(places=100, short=100, over_recruit_factor=1.2) == Need(95.0, 120.0)
    assert Need.of(places=100, short=10, over_recruit_factor=1.2) == Need(5.0, 12.0)
    assert Need.of(places=100, short=3, over_recruit_factor=1.0).by_deadline == 0


def test_the_launch_cost_falls_as_the_deadline_moves_out():
    sender = Sender(segments_per_second=100.0, segments_per_invitation=1.0, dispatch_lag_s=4.0)
    sizes = [deadline_cost(d, Need.of(435, 435, 1.2), BELIEF, sender, 100_000).invitations
             for d in (150.0, 300.0, 600.0, 3600.0)]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 1044  # 522 / 0.5: the eventual fill decides


def test_bad_beliefs_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="yes_rate"):
        AnswerBelief(yes_rate=0.0, answer_rate=0.5)
    with pytest.raises(ValueError, match="answer_rate"):
        AnswerBelief(yes_rate=0.6, answer_rate=0.5)


def test_the_uncertainty_of_p_weighs_only_where_a_later_wave_could_not_correct_it():
    unsure = AnswerBelief(yes_rate=0.5, answer_rate=0.7, yes_rate_sd=0.1)
    near = plan(150.0, need(100), NOTHING_PENDING, unsure, FAST_SENDER, 100_000).invitations
    near_sure = plan(150.0, need(100), NOTHING_PENDING, BELIEF, FAST_SENDER, 100_000).invitations
    far = plan(3 * 3600.0, need(100), NOTHING_PENDING, unsure, FAST_SENDER, 100_000).invitations
    far_sure = plan(3 * 3600.0, need(100), NOTHING_PENDING, BELIEF, FAST_SENDER, 100_000).invitations
    assert near > 1.2 * near_sure  # no time to learn: the margin covers a p that may be lower
    assert far == far_sure  # time to learn and top up: no margin for p
