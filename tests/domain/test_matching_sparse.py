"""Sparse matching (issue 15): candidate lists from k-d trees must change nothing but memory and speed.

Three references, each independent of the sparse code:
- the dense solver as it was (`benchmarks/dense_matching.py`): same placements, same costs and distances bit for
  bit, same pruning rounds and arcs, same invitation order;
- brute force over the dense cost matrix (`pair_costs`): each slot's k cheapest eligible volunteers, ties to the
  lower id, and each volunteer's cheapest eligible slot;
- scipy's linear_sum_assignment on the expanded matrix (`reference_optimum`): the optimum itself.
The instances are built to hit the sparse parts where they could go wrong: every site at one point (ties
everywhere), the other-street penalty deciding who is nearest, scarce skills, mostly provisional volunteers,
tight personal limits, coarse cost units (rounding ties), many streets (one tree per group instead of per
street), nobody eligible, and certificates that must refuse (widening rounds).
"""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest

import mobilize.domain.matching as matching
from mobilize.domain.candidates import CandidateIndex, by_slot_cost_row
from mobilize.domain.geo import PointTrig, chord_to_metres, haversine_matrix, haversine_pairs, metres_to_chord
from mobilize.domain.matching import Candidate, MatchWeights, Slot, match, nearest_first, pair_costs

from .test_matching import SKILLS, check_rules, person, reference_optimum, slot

_DENSE = Path(__file__).resolve().parents[2] / "benchmarks" / "dense_matching.py"
_spec = importlib.util.spec_from_file_location("dense_matching_reference", _DENSE)
dense = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dense)



@pytest.fixture(autouse=True)
def candidate_lists_always(monkeypatch) -> None:
    """These tests are about the candidate lists: small problems must not take the whole-matrix path."""
    monkeypatch.setattr(matching, "DENSE_MAX_PAIRS", 0)


KINDS = ("spread", "one_point", "penalty", "scarce_skills", "provisional", "personal_limits", "coarse_units",
         "many_streets", "nobody_eligible")


def adversarial(rng: random.Random, kind: str, people: int, slots: int
                ) -> tuple[list[Candidate], list[Slot], MatchWeights, float | None]:
    """A random instance of one of KINDS (ids scattered, not in input order)."""
    spread = {"one_point": 0.0, "penalty": 0.6, "coarse_units": 1.0}.get(kind, rng.choice([0.3, 2.0, 5.0]))
    grid = rng.choice([None, 0.2])  # on a grid: many equal distances

    def km() -> float:
        value = rng.uniform(-spread, spread)
        return round(value / grid) * grid if grid else value

    streets = 60 if kind == "many_streets" else 4
    skill_rate = 0.03 if kind == "scarce_skills" else 0.3
    provisional_rate = 0.85 if kind == "provisional" else 0.15
    ids = rng.sample(range(1, 10 * people + 10), people)
    candidates = []
    for vid in ids:
        limit = rng.choice([None, 300.0, 800.0, 1500.0]) if kind == "personal_limits" else \
            rng.choice([None, None, None, 2000.0])
        skills = tuple(s for s in SKILLS if rng.random() < skill_rate)
        if kind == "nobody_eligible":
            skills = ()
        candidates.append(person(vid, km(), km(), rng.randrange(streets), skills,
                                 rng.random() < provisional_rate, limit))
    demands = []
    for did in rng.sample(range(1, 10 * slots + 10), slots):
        skill = rng.choice([None, *SKILLS]) if kind != "nobody_eligible" else rng.choice(SKILLS)
        demands.append(slot(did, km(), km(), rng.randrange(streets), rng.randrange(6), skill,
                            rng.random() < (0.2 if kind == "provisional" else 0.7)))
    penalty = {"penalty": 3000.0}.get(kind, rng.choice([0.0, 500.0]))
    weights = MatchWeights(metres_per_unit=100.0 if kind == "coarse_units" else rng.choice([1.0, 1.0, 10.0]),
                           other_street_penalty_m=penalty, skill_bonus_m=rng.choice([0.0, 0.0, 400.0]))
    return candidates, demands, weights, rng.choice([None, None, 1200.0, 4000.0])


def same_as_dense(people, slots, weights, limit, mode: str = "auto") -> matching.MatchResult:
    sparse = match(people, slots, weights, limit, pruning=mode)
    reference = dense.match(people, slots, weights, limit, pruning=mode)
    assert sparse == reference  # placements (with their distances), standby, total cost and distance
    assert sparse.info == reference.info  # the same graphs were solved: arcs and rounds
    return sparse


@pytest.mark.parametrize("kind", KINDS)
def test_sparse_match_is_the_dense_match_bit_for_bit(kind: str) -> None:
    rng = random.Random(f"same-{kind}")
    for _ in range(25):
        people, slots, weights, limit = adversarial(rng, kind, rng.randrange(0, 120), rng.randrange(0, 9))
        result = same_as_dense(people, slots, weights, limit)
        check_rules(result, people, slots, limit)
        assert nearest_first(people, slots, weights, limit) == dense.nearest_first(people, slots, weights, limit)


@pytest.mark.parametrize("kind", KINDS)
def test_every_pruning_reaches_the_scipy_optimum(kind: str) -> None:
    rng = random.Random(f"scipy-{kind}")
    for _ in range(12):
        people, slots, weights, limit = adversarial(rng, kind, rng.randrange(1, 45), rng.randrange(1, 6))
        expected = reference_optimum(people, slots, weights, limit)
        for mode in ("auto", "capacity", "none"):
            result = same_as_dense(people, slots, weights, limit, mode)
            assert (len(result.placements), result.total_cost) == expected, mode


@pytest.mark.parametrize("start", ["one", "capacity"])
def test_widening_rounds_stay_exact_and_identical(monkeypatch, start: str) -> None:
    """Short first lists: the sparse certificate must refuse exactly when the dense one does."""
    first = (lambda capacity: np.ones_like(capacity)) if start == "one" else (lambda capacity: capacity.copy())
    monkeypatch.setattr(matching, "_initial_keep", first)
    monkeypatch.setattr(dense, "_initial_keep", first)
    rng = random.Random(f"widen-{start}")
    rounds = []
    for number in range(60):
        kind = KINDS[number % len(KINDS)]
        people, slots, weights, limit = adversarial(rng, kind, rng.randrange(20, 200), rng.randrange(1, 10))
        result = same_as_dense(people, slots, weights, limit)
        rounds.append(result.info.rounds)
        if number % 6 == 0:
            assert (len(result.placements), result.total_cost) == reference_optimum(people, slots, weights, limit)
    assert sum(r > 1 for r in rounds) >= 15  # the certificate did refuse, often
    assert max(rounds) >= (3 if start == "one" else 2)


def test_certificate_lengthens_lists_made_only_of_placed_volunteers() -> None:
    """Everyone at one point, one slot's short list entirely placed: its enter arc needs a longer list."""
    people = [person(i, 0.0, street=1) for i in range(1, 40)]
    slots = [slot(1, 0.0, capacity=5), slot(2, 0.0, street=2, capacity=5)]
    index = CandidateIndex(people, slots, MatchWeights(), None)
    lists = index.nearest(np.arange(2), np.array([3, 3]))
    capacity = np.array([5, 5])
    placed = np.array([[0, 0], [1, 0], [2, 0], [3, 1], [4, 1]])  # slot 0 full of its three nearest
    slot_of = np.full(len(people), -1)
    slot_of[placed[:, 0]] = placed[:, 1]
    slot_ids, rows, _ = matching._lists_with_an_unplaced(index, lists, slot_of, len(placed))
    for j in (0, 1):
        assert (slot_of[rows[slot_ids == j]] < 0).any()
    # not optimal (5 more fit): the certificate must see the augmenting path through the lengthened lists
    assert not matching._certified_optimal(index, lists, capacity, placed)


# --- candidate lists and cheapest slots against brute force -------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_candidate_lists_are_the_k_cheapest_ties_to_the_lower_id(kind: str) -> None:
    rng = random.Random(f"lists-{kind}")
    for _ in range(20):
        people, slots, weights, limit = adversarial(rng, kind, rng.randrange(1, 150), rng.randrange(1, 8))
        people.sort(key=lambda c: c.volunteer_id)
        slots = sorted((s for s in slots if s.open_capacity > 0), key=lambda s: s.demand_id)
        if not slots:
            continue
        distance, cost = pair_costs(people, slots, weights, limit)
        keep = np.array([rng.choice([1, 2, 5, 17, 1000]) for _ in slots])
        lists = CandidateIndex(people, slots, weights, limit).nearest(np.arange(len(slots)), keep)
        for j in range(len(slots)):
            allowed = np.flatnonzero(np.isfinite(cost[:, j]))
            expected = allowed[np.lexsort((allowed, cost[allowed, j]))][: keep[j]]
            got = slice(lists.start[j], lists.start[j + 1])
            assert lists.row[got].tolist() == expected.tolist()
            assert np.array_equal(lists.cost[got], cost[expected, j])
            assert np.array_equal(lists.distance[got], distance[expected, j])  # bit for bit
            assert lists.more[j] == (len(allowed) > keep[j])


@pytest.mark.parametrize("kind", KINDS)
def test_cheapest_slot_is_the_row_minimum_of_the_dense_costs(kind: str) -> None:
    rng = random.Random(f"cheapest-{kind}")
    for _ in range(20):
        people, slots, weights, limit = adversarial(rng, kind, rng.randrange(1, 150), rng.randrange(1, 30))
        people.sort(key=lambda c: c.volunteer_id)
        slots = sorted((s for s in slots if s.open_capacity > 0), key=lambda s: s.demand_id)
        if not slots:
            continue
        _, cost = pair_costs(people, slots, weights, limit)
        got = CandidateIndex(people, slots, weights, limit).cheapest_slot()
        assert np.array_equal(got, cost.min(axis=1))


def test_pair_costs_of_the_index_equal_the_dense_matrix() -> None:
    rng = random.Random(3)
    people, slots, weights, limit = adversarial(rng, "personal_limits", 200, 12)
    people.sort(key=lambda c: c.volunteer_id)
    slots = sorted(slots, key=lambda s: s.demand_id)
    distance, cost = pair_costs(people, slots, weights, limit)
    rows, cols = np.divmod(np.arange(len(people) * len(slots)), len(slots))
    got_distance, got_cost = CandidateIndex(people, slots, weights, limit).pair_costs(rows, cols)
    assert np.array_equal(got_distance, distance.ravel()) and np.array_equal(got_cost, cost.ravel())


def test_nearest_first_when_the_nearest_sites_are_all_in_other_streets() -> None:
    # volunteer 1 (street 1) has ten sites of street 2 nearest (100 m and on), their own street's site 900 m
    # away; volunteer 2 (street 2) is 600 m from the first site of their street, 400 m from the street 1 site
    others = [slot(10 + i, 0.1 + 0.01 * i, street=2) for i in range(10)]
    people = [person(1, street=1), person(2, -0.5, street=2)]
    sites = others + [slot(99, -0.9, street=1)]
    cases = {0.0: [1, 2],  # 100 m vs 400 m
             5000.0: [2, 1],  # 1 goes to their own street (900 m), 2 stays in theirs (600 m)
             500.0: [1, 2]}  # 1: 100 + 500 = 600, 2: 600 (to the metre; on a tie the lower id is first)
    for penalty, expected in cases.items():
        weights = MatchWeights(other_street_penalty_m=penalty)
        assert nearest_first(people, sites, weights) == dense.nearest_first(people, sites, weights) == expected


def test_sort_key_orders_by_slot_cost_row() -> None:
    rng = np.random.default_rng(5)
    slot_ids, costs, rows = rng.integers(0, 7, 500), rng.integers(-50, 50, 500).astype(float), rng.permutation(500)
    assert np.array_equal(by_slot_cost_row(slot_ids, costs, rows), np.lexsort((rows, costs, slot_ids)))
    huge = costs * 1e12  # the single key would overflow: lexsort
    assert np.array_equal(by_slot_cost_row(slot_ids, huge, rows), np.lexsort((rows, huge, slot_ids)))


def test_haversine_pairs_are_the_matrix_entries_bit_for_bit() -> None:
    rng = np.random.default_rng(11)
    for n, m in ((1, 1), (37, 5), (2001, 13)):
        lat1, lon1 = rng.uniform(-80, 80, n), rng.uniform(-180, 180, n)
        lat2, lon2 = rng.uniform(-80, 80, m), rng.uniform(-180, 180, m)
        lat1[: n // 2], lon1[: n // 2] = 36.06 + rng.normal(0, 0.01, n // 2), 120.38 + rng.normal(0, 0.01, n // 2)
        matrix = haversine_matrix(lat1, lon1, lat2, lon2)
        rows, cols = rng.integers(0, n, 3000), rng.integers(0, m, 3000)
        first, second = PointTrig(lat1, lon1), PointTrig(lat2, lon2)
        assert np.array_equal(haversine_pairs(first, rows, second, cols), matrix[rows, cols])
        chord = np.linalg.norm(first.unit[rows] - second.unit[cols], axis=1)
        assert np.allclose(chord_to_metres(chord), matrix[rows, cols], rtol=1e-12, atol=1e-5)
        assert np.allclose(metres_to_chord(matrix[rows, cols]), chord, rtol=1e-12, atol=1e-15)
