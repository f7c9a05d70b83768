"""Pacing invitations to a deadline (issue 14): how many to invite now so that 95% of an order's places are filled
by its needed-by time, with as few SMS as the answers allow.

The model, per invitation (independent of each other):

- it brings a yes with probability `yes_rate` (p) and an answer of any kind (yes, no, STOP) with probability
  `answer_rate` (q >= p);
- an answer comes a lognormal delay after the invitation reached the gateway (median, sigma);
- a yes becomes a place told (the dispatch handed to the gateway) `dispatch_lag_s` later.

So an invitation handed over `a` seconds ago and still silent brings a yes within the next `h` seconds with
probability p (F(a + h) - F(a)) / (1 - q F(a)), F the delay's distribution: silence is evidence, and an old silent
invitation is worth little. A new invitation waits in the sender's queue first: at queue position k (0-based) it
goes out (backlog + (k + 1) * segments per invitation) / cap seconds from now, so the tail of a big wave answers
late and counts for less by the deadline.

The yeses by the deadline are a sum of independent Bernoullis: their mean less `z` standard deviations (normal
approximation; the uncertainty of p itself added) must reach what the deadline needs. The smallest such wave is
the plan; when none suffices the deadline cannot be met with a margin, and the plan is the one for the earliest
moment that can be met (at launch nearly everything the sender can hand over, near the deadline only a little more
than what is pending; the projection then says when 95% would be filled instead).

The sender's cap paces a wave anyway, so only what the sender will reach soon (`feed_ahead_s` of its time) goes
into the outbox now; the rest is planned again at the next evaluation (every answer and every sweep), with what
the answers meanwhile taught. Nothing is lost by waiting: the invitations go out at the same moments, and a plan
that has become too big is never sent.

No Flask, no database: plain numbers in, plain numbers out (scipy for the distributions).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import ndtr
from scipy.stats import norm

DEADLINE_SHARE = 0.95  # the deadline is met when this share of the places is filled (told) by then
CONFIDENCE = 0.95  # a plan meets the deadline with at least this probability (normal approximation)
# The default delay when the district has no past orders: half of the answers within 4 minutes, 9 in 10 within
# 13 (lognormal, sigma 0.9), what the district's people were observed to do in the drill's model.
DEFAULT_DELAY_MEDIAN_S = 240.0
DEFAULT_DELAY_SIGMA = 0.9
DEFAULT_YES_SHARE = 0.75  # without history: the share of answers that are a yes (splits p into q * yes share)
PRIOR_WEIGHT = 50.0  # the prior counts as this many invitations' worth of evidence (`learn`)
# seconds of the sender's time put into the outbox at once (`Plan.send_now`): more than the sweep's period (10 s),
# so the sender never runs dry between two evaluations
FEED_AHEAD_S = 15.0
LATE_HORIZON_S = 600.0  # once the deadline has passed, what is still missing is paced to come within this
EVENTUALLY_S = 7 * 86400.0  # "in the end": a week after now
# an invitation is worth sending for the deadline only with at least this chance of a yes in time (1 in 50, about
# what inviting everyone costs a place in the drill); a plan never counts on the ones queued too late to answer
USEFUL_CHANCE = 0.02


@dataclass(frozen=True)
class AnswerBelief:
    """What an invitation is expected to bring: p, q and the delay; `yes_rate_sd` is how unsure p is."""

    yes_rate: float
    answer_rate: float
    delay_median_s: float = DEFAULT_DELAY_MEDIAN_S
    delay_sigma: float = DEFAULT_DELAY_SIGMA
    yes_rate_sd: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.yes_rate <= 1:
            raise ValueError(f"yes_rate must be in (0, 1], not {self.yes_rate}")
        if not self.yes_rate <= self.answer_rate <= 1:
            raise ValueError(f"answer_rate must be in [yes_rate, 1], not {self.answer_rate}")
        if self.delay_median_s <= 0 or self.delay_sigma <= 0:
            raise ValueError("the delay's median and sigma must be positive")

    def answered_within(self, seconds: np.ndarray) -> np.ndarray:
        """F: the share of eventual answers that came within `seconds` of the invitation (0 for seconds <= 0)."""
        # the lognormal CDF, Phi(ln(x / median) / sigma), as scipy.stats.lognorm.cdf computes it (the same bits)
        # without its per-call argument handling (~0.1 ms, called dozens of times per pacing evaluation)
        seconds = np.maximum(np.asarray(seconds, dtype=float), 0.0)
        with np.errstate(divide="ignore"):  # ln 0 = -inf: F(0) = 0
            return ndtr(np.log(seconds / self.delay_median_s) / self.delay_sigma)


def prior_belief(expected_answer_rate: float, yes_share: float = DEFAULT_YES_SHARE,
                 delay_median_s: float = DEFAULT_DELAY_MEDIAN_S, delay_sigma: float = DEFAULT_DELAY_SIGMA,
                 weight: float = PRIOR_WEIGHT) -> AnswerBelief:
    """The belief before any answer: p from the commander (or the district's history), q = p / yes share."""
    answer_rate = min(1.0, max(expected_answer_rate, expected_answer_rate / yes_share))
    sd = math.sqrt(expected_answer_rate * (1 - expected_answer_rate) / (weight + 1))
    return AnswerBelief(expected_answer_rate, answer_rate, delay_median_s, delay_sigma, sd)


def yes_chances(belief: AnswerBelief, sent_ago_s: np.ndarray, horizon_s: float) -> np.ndarray:
    """Per invitation handed over `sent_ago_s` seconds ago (negative: it goes out in that many seconds) and not
    answered yet: the chance of a yes within the next `horizon_s` seconds."""
    sent_ago_s = np.asarray(sent_ago_s, dtype=float)
    silent_for = np.maximum(sent_ago_s, 0.0)
    window_end = sent_ago_s + horizon_s
    answered_so_far = belief.answered_within(silent_for)
    gained = belief.answered_within(window_end) - answered_so_far
    still_possible = 1.0 - belief.answer_rate * answered_so_far
    return np.where(window_end > silent_for, belief.yes_rate * gained / np.maximum(still_possible, 1e-12), 0.0)


@dataclass(frozen=True)
class Observed:
    """This order's invitations so far: how long ago each reached the gateway, and how many answered (any answer)
    and said yes."""

    sent_ago_s: np.ndarray
    answered: int
    accepted: int


def learn(prior: AnswerBelief, observed: Observed, weight: float = PRIOR_WEIGHT) -> AnswerBelief:
    """The belief corrected by this order's answers. Censoring: an invitation sent `a` seconds ago has had F(a) of
    its chance to answer, so the answers expected by now are q * sum F(a) (silent recent invitations are not yet
    evidence of anything; silent old ones are); q is estimated as (answers + w q0) / (sum F(a) + w), the prior
    counting as `weight` invitations that had their whole chance. The yes share of the answers comes from the
    answers themselves (with the same prior weight): it needs no censoring. The delay keeps the prior's shape."""
    exposure = float(prior.answered_within(observed.sent_ago_s).sum())
    answer_rate = (observed.answered + weight * prior.answer_rate) / (exposure + weight)
    answer_rate = min(1.0, max(answer_rate, 1e-3))
    prior_share = prior.yes_rate / prior.answer_rate
    yes_share = (observed.accepted + weight * prior_share) / (observed.answered + weight)
    yes_rate = min(answer_rate, max(answer_rate * yes_share, 1e-3))
    sd = math.sqrt(yes_rate * (1 - yes_rate) / (exposure + weight + 1))
    return replace(prior, yes_rate=yes_rate, answer_rate=answer_rate, yes_rate_sd=sd)


@dataclass(frozen=True)
class Sender:
    """The sender as the pacing sees it: its cap, what a new invitation waits behind, the SMS size."""

    segments_per_second: float
    segments_per_invitation: float = 1.0
    backlog_segments: float = 0.0  # segments queued ahead of a new invitation (high priority and bulk)
    dispatch_lag_s: float = 5.0  # a yes -> its dispatch handed to the gateway (match debounce, queue)

    def __post_init__(self) -> None:
        if self.segments_per_second <= 0 or self.segments_per_invitation <= 0:
            raise ValueError("the sender's cap and the invitation's segments must be positive")

    def send_in_s(self, count: int) -> np.ndarray:
        """When each of `count` new invitations reaches the gateway, in seconds from now, in queue order."""
        positions = np.arange(1, count + 1, dtype=float)
        return (self.backlog_segments + positions * self.segments_per_invitation) / self.segments_per_second

    def invitations_within(self, seconds: float) -> int:
        """How many new invitations the sender hands over within `seconds` (after its backlog)."""
        room = seconds * self.segments_per_second - self.backlog_segments
        return max(0, math.floor(room / self.segments_per_invitation))


@dataclass(frozen=True)
class Need:
    """Yeses still needed: by the deadline (to reach `DEADLINE_SHARE` of the places) and in all (every open place
    times the over-recruit factor), both net of the accepted volunteers waiting for a place."""

    by_deadline: float
    in_all: float

    @classmethod
    def of(cls, places: int, short: int, over_recruit_factor: float) -> "Need":
        """`places` in all, `short` of them neither taken nor covered by a volunteer waiting on standby."""
        filled_or_covered = places - short
        by_deadline = max(0.0, math.ceil(DEADLINE_SHARE * places - 1e-9) - filled_or_covered)
        return cls(by_deadline=float(by_deadline), in_all=max(0.0, short * over_recruit_factor))


@dataclass(frozen=True)
class Plan:
    invitations: int  # new invitations the deadline (and the eventual fill) call for, nearest first
    send_now: int  # of those, what goes into the outbox now (the sender reaches the rest later anyway)
    feasible: bool  # the deadline is met with the confidence wanted (else: everyone, as fast as the sender goes)
    expected_by_deadline: float  # yeses expected by the deadline with the plan sent
    horizon_s: float  # the deadline, seconds from now (after it passed: `LATE_HORIZON_S`)
    urgent: bool = False


def uncorrectable_share(belief: AnswerBelief, horizon_s: float) -> float:
    """How much of the uncertainty of p the wave sent now must cover: a wrong p shows in the answers within about
    the median delay, and a top-up sent then still brings F(horizon - median) of its yeses in time. So with the
    deadline far off a later wave corrects the estimate at no risk (share 0), with it near nothing can (share 1)."""
    return float(1.0 - belief.answered_within(np.array(horizon_s - belief.delay_median_s)))


def _safe_yeses(mean: np.ndarray, variance: np.ndarray, belief: AnswerBelief, z: float, horizon_s: float
                ) -> np.ndarray:
    """Mean less z standard deviations: the Bernoullis' variance plus that of p (the mean scales with p), the
    latter as far as a later wave could not correct it."""
    relative = belief.yes_rate_sd / belief.yes_rate * uncorrectable_share(belief, horizon_s)
    return mean - z * np.sqrt(variance + (mean * relative) ** 2)


def plan(deadline_in_s: float, need: Need, pending_sent_ago_s: np.ndarray, belief: AnswerBelief, sender: Sender,
         audience: int, urgent: bool = False, confidence: float = CONFIDENCE,
         feed_ahead_s: float = FEED_AHEAD_S) -> Plan:
    """The smallest wave that meets the deadline (and, eventually, the whole need), and how much of it to send
    now. `pending_sent_ago_s`: the order's invitations awaiting an answer (see `yes_chances`); `audience`:
    eligible volunteers not invited yet."""
    horizon = deadline_in_s - sender.dispatch_lag_s
    if deadline_in_s <= 0:  # missed or passed: what is missing now is paced for a fresh horizon
        horizon = LATE_HORIZON_S
    if urgent:
        return Plan(audience, audience, True, 0.0, horizon, urgent=True)
    pending = yes_chances(belief, pending_sent_ago_s, horizon)
    by_deadline = _by_deadline(need.by_deadline, pending, belief, sender, audience, horizon, norm.ppf(confidence))
    eventual = float(yes_chances(belief, pending_sent_ago_s, EVENTUALLY_S).sum())
    in_all = max(0, math.ceil(round((need.in_all - eventual) / belief.yes_rate, 9)))
    feasible = by_deadline is not None
    if not feasible:
        by_deadline = _earliest_met(need.by_deadline, pending_sent_ago_s, belief, sender, audience, horizon,
                                    norm.ppf(confidence))
    invitations = min(audience, max(by_deadline, in_all))
    new = yes_chances(belief, -sender.send_in_s(invitations), horizon)
    send_now = min(invitations, sender.invitations_within(feed_ahead_s))
    return Plan(invitations, send_now, feasible, float(pending.sum() + new.sum()), horizon)


def _by_deadline(needed: float, pending: np.ndarray, belief: AnswerBelief, sender: Sender, audience: int,
                 horizon: float, z: float) -> int | None:
    """The fewest new invitations whose yeses by the horizon, with the pending ones', reach `needed` with a
    margin of z standard deviations; None when even all those with a useful chance (`USEFUL_CHANCE`) do not."""
    if needed <= 0:
        return 0
    new = yes_chances(belief, -sender.send_in_s(audience), horizon)
    new = new[:np.count_nonzero(new >= min(USEFUL_CHANCE, belief.yes_rate / 2))]  # later ones answer too late
    mean = pending.sum() + np.concatenate([[0.0], np.cumsum(new)])
    variance = (pending * (1 - pending)).sum() + np.concatenate([[0.0], np.cumsum(new * (1 - new))])
    safe = _safe_yeses(mean, variance, belief, z, horizon)
    enough = np.flatnonzero(safe >= needed)
    return int(enough[0]) if len(enough) else None


def _earliest_met(needed: float, pending_sent_ago_s: np.ndarray, belief: AnswerBelief, sender: Sender,
                  audience: int, horizon: float, z: float) -> int:
    """The deadline cannot be met with the margin: plan for the earliest moment that can (to a second), so the
    order is filled as soon as it can be with what that takes: at launch nearly everything the sender can hand
    over, near the deadline a little more than what is pending. Everyone if no moment within `EVENTUALLY_S` can."""

    def wave(h: float) -> int | None:
        return _by_deadline(needed, yes_chances(belief, pending_sent_ago_s, h), belief, sender, audience, h, z)

    low, high = max(horizon, 0.0), max(horizon, 1.0) * 2
    while wave(high) is None:
        low, high = high, high * 2
        if high > EVENTUALLY_S:
            return audience
    while high - low > 1.0:
        middle = (low + high) / 2
        low, high = (low, middle) if wave(middle) is not None else (middle, high)
    return int(wave(high))


def projected_time_s(needed: float, pending_sent_ago_s: np.ndarray, belief: AnswerBelief, sender: Sender,
                     new_invitations: int = 0, dispatch_lag_s: float | None = None,
                     longest_s: float = 6 * 3600.0) -> float | None:
    """When (seconds from now) the expected yeses reach `needed` at this pace: the pending invitations, and
    `new_invitations` more behind the sender's backlog; None if not within `longest_s`."""
    if needed <= 0:
        return 0.0
    lag = sender.dispatch_lag_s if dispatch_lag_s is None else dispatch_lag_s
    sent_ago = np.concatenate([np.asarray(pending_sent_ago_s, dtype=float), -sender.send_in_s(new_invitations)])

    def expected(t: float) -> float:
        return float(yes_chances(belief, sent_ago, t).sum())

    if expected(longest_s) < needed:
        return None
    low, high = 0.0, longest_s  # the expected yeses grow with time: bisect to a second
    while high - low > 1.0:
        middle = (low + high) / 2
        low, high = (low, middle) if expected(middle) >= needed else (middle, high)
    return high + lag


def deadline_cost(deadline_in_s: float, need: Need, belief: AnswerBelief, sender: Sender, audience: int,
                  confidence: float = CONFIDENCE) -> Plan:
    """Before launch: the wave a deadline calls for, nothing pending yet (the preview's trade-off)."""
    return plan(deadline_in_s, need, np.zeros(0), belief, sender, audience, confidence=confidence,
                feed_ahead_s=EVENTUALLY_S)
