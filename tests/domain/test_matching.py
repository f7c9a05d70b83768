"""Wartime matching: hard rules, optimality against an independent exact solver, pruning, waves."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import mobilize.domain.matching as matching
from mobilize.domain.candidates import CandidateIndex
from mobilize.domain.geo import haversine_m, haversine_matrix
from mobilize.domain.matching import (
    Candidate,
    MatchResult,
    MatchWeights,
    Slot,
    match,
    nearest_first,
    pair_costs,
    wave_size,
)

LAT, LON = 36.06, 120.38  # Qingdao, Shinan
MODES = ("auto", "capacity", "none")
# Small problems are solved on the whole cost matrix (`matching.DENSE_MAX_PAIRS`); 0 forces the candidate lists.
DENSE_LIMITS = {"dense when small": matching.DENSE_MAX_PAIRS, "candidate lists always": 0}


@pytest.fixture(params=list(DENSE_LIMITS))
def solver_path(request, monkeypatch) -> str:
    monkeypatch.setattr(matching, "DENSE_MAX_PAIRS", DENSE_LIMITS[request.param])
    return request.param
DEG_PER_KM = 1 / 111.2  # of latitude


def at(north_km: float, east_km: float) -> tuple[float, float]:
    return LAT + north_km * DEG_PER_KM, LON + east_km * DEG_PER_KM / math.cos(math.radians(LAT))


def person(vid: int, north_km: float = 0.0, east_km: float = 0.0, street: int = 1,
           skills: tuple[str, ...] = (), provisional: bool = False,
           max_distance_m: float | None = None) -> Candidate:
    return Candidate(vid, *at(north_km, east_km), frozenset(skills), street, provisional, max_distance_m)


def slot(did: int, north_km: float = 0.0, east_km: float = 0.0, street: int = 1, capacity: int = 1,
         skill: str | None = None, accepts_provisional: bool = True) -> Slot:
    return Slot(did, *at(north_km, east_km), street, capacity, skill, accepts_provisional)


def assignment(result: MatchResult) -> dict[int, int]:
    return {p.volunteer_id: p.demand_id for p in result.placements}


# --- an independent exact solver ----------------------------------------------------------------------------


def allowed(c: Candidate, s: Slot, max_distance_m: float | None) -> bool:
    """The rules, pair by pair, written again from the specification."""
    d = haversine_m((c.lat, c.lon), (s.site_lat, s.site_lon))
    limits = [x for x in (c.max_distance_m, max_distance_m) if x is not None]
    return ((s.required_skill is None or s.required_skill in c.skills)
            and (s.accepts_provisional or not c.provisional) and all(d <= x for x in limits))


def reference_cost(c: Candidate, s: Slot, weights: MatchWeights) -> float:
    metres = haversine_m((c.lat, c.lon), (s.site_lat, s.site_lon))
    metres += 0.0 if c.street_id == s.street_id else weights.other_street_penalty_m
    metres -= weights.skill_bonus_m if s.required_skill else 0.0
    return float(round(metres / weights.metres_per_unit))


def reference_optimum(candidates: list[Candidate], slots: list[Slot], weights: MatchWeights = MatchWeights(),
                      max_distance_m: float | None = None) -> tuple[int, int]:
    """(most placed, least cost) by scipy's Hungarian method on the expanded matrix.

    One column per place (a slot repeated open_capacity times) plus one dummy "standby" column per volunteer;
    forbidden pairs are +inf. Standby costs a big M larger than any cost of k + 1 placements minus any cost of
    k (at most max + k * spread), so one more volunteer placed always beats any saving in distance: the
    optimum is lexicographic, as `match` promises.
    """
    places = [s for s in slots for _ in range(max(0, s.open_capacity))]
    if not candidates or not places:
        return 0, 0
    costs = np.array([[reference_cost(c, s, weights) if allowed(c, s, max_distance_m) else np.inf
                       for s in places] for c in candidates])
    finite = costs[np.isfinite(costs)]
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    big_m = (float(np.abs(finite).max(initial=0.0)) + spread + 1.0) * (len(candidates) + 1)
    expanded = np.hstack((costs, np.full((len(candidates), len(candidates)), big_m)))
    rows, cols = linear_sum_assignment(expanded)
    placed = cols < len(places)
    return int(placed.sum()), int(expanded[rows[placed], cols[placed]].sum())


def check_rules(result: MatchResult, candidates: list[Candidate], slots: list[Slot],
                max_distance_m: float | None = None) -> None:
    by_id = {c.volunteer_id: c for c in candidates}
    demands = {s.demand_id: s for s in slots}
    load: dict[int, int] = {}
    for p in result.placements:
        load[p.demand_id] = load.get(p.demand_id, 0) + 1
        assert allowed(by_id[p.volunteer_id], demands[p.demand_id], max_distance_m)
    assert all(count <= demands[d].open_capacity for d, count in load.items())  # capacity is a hard limit
    placed = [p.volunteer_id for p in result.placements]
    assert len(placed) == len(set(placed))
    assert sorted(placed + list(result.unplaced)) == sorted(by_id)  # everyone is placed or on standby, once


# --- random instances ---------------------------------------------------------------------------------------

SKILLS = ("medical", "data_entry")


@st.composite
def instances(draw, max_people: int = 14, max_slots: int = 5):
    # coordinates on a coarse grid, so that ties and co-located sites are common
    coordinate = st.tuples(st.integers(-4, 4), st.integers(-4, 4)).map(lambda p: (p[0] * 0.4, p[1] * 0.4))
    people = []
    for vid in draw(st.lists(st.integers(1, 999), max_size=max_people, unique=True)):
        north, east = draw(coordinate)
        people.append(person(vid, north, east, draw(st.integers(1, 3)),
                             tuple(draw(st.sets(st.sampled_from(SKILLS)))), draw(st.booleans()),
                             draw(st.sampled_from([None, None, 1500.0, 3000.0]))))
    slots = []
    for did in draw(st.lists(st.integers(1, 999), max_size=max_slots, unique=True)):
        north, east = draw(coordinate)
        slots.append(slot(did, north, east, draw(st.integers(1, 3)), draw(st.integers(0, 4)),
                          draw(st.sampled_from([None, None, *SKILLS])), draw(st.booleans())))
    weights = MatchWeights(other_street_penalty_m=draw(st.sampled_from([0.0, 500.0])),
                           skill_bonus_m=draw(st.sampled_from([0.0, 300.0])))
    return people, slots, weights, draw(st.sampled_from([None, 2500.0]))


def random_instance(rng: random.Random, people: int, slots: int, max_capacity: int, spread_km: float = 4.0):
    def km() -> float:
        return rng.uniform(-spread_km, spread_km)
    candidates = [person(3 * i + 1, km(), km(), rng.randrange(4),
                         tuple(s for s in SKILLS if rng.random() < 0.25), rng.random() < 0.2,
                         rng.choice([None, None, None, 2000.0])) for i in range(people)]
    demands = [slot(7 * j + 2, km(), km(), rng.randrange(4), rng.randrange(max_capacity + 1),
                    rng.choice([None, None, None, *SKILLS]), rng.random() < 0.7) for j in range(slots)]
    return candidates, demands


@settings(max_examples=150, deadline=None)
@given(instances())
def test_rules_hold_and_the_optimum_is_reached_on_random_instances(instance) -> None:
    people, slots, weights, limit = instance
    expected = reference_optimum(people, slots, weights, limit)
    kept = matching.DENSE_MAX_PAIRS
    try:
        for dense_limit in DENSE_LIMITS.values():
            matching.DENSE_MAX_PAIRS = dense_limit
            for mode in MODES:
                result = match(people, slots, weights, limit, pruning=mode)
                check_rules(result, people, slots, limit)
                assert (len(result.placements), result.total_cost) == expected, (mode, dense_limit)
    finally:
        matching.DENSE_MAX_PAIRS = kept


@pytest.mark.parametrize("mode", MODES)
def test_optimal_on_medium_instances(mode: str, solver_path: str) -> None:
    rng = random.Random(20240117)
    for _ in range(4):
        people, slots = random_instance(rng, 250, 20, 12)
        result = match(people, slots, pruning=mode)
        check_rules(result, people, slots)
        assert (len(result.placements), result.total_cost) == reference_optimum(people, slots)


def test_auto_pruning_widens_until_certified(monkeypatch) -> None:
    """Start from one arc per slot: the certificate must refuse, widen, and end at the optimum."""
    monkeypatch.setattr(matching, "_initial_keep", lambda capacity: np.ones_like(capacity))
    monkeypatch.setattr(matching, "DENSE_MAX_PAIRS", 0)  # these instances are small: lists only when forced
    rng = random.Random(7)
    widened = 0
    for _ in range(40):
        people, slots = random_instance(rng, 30, 5, 4, spread_km=rng.choice([0.0, 0.5, 3.0]))
        result = match(people, slots, pruning="auto")
        widened += result.info.rounds > 1
        assert (len(result.placements), result.total_cost) == reference_optimum(people, slots)
    assert widened > 10


def test_certificate_accepts_exactly_the_optimal_assignments() -> None:
    """On a pruned graph the solver may miss the optimum; the certificate must say so, and only then."""
    rng = random.Random(11)
    verdicts = set()
    for _ in range(150):
        people, slots = random_instance(rng, rng.randrange(1, 25), rng.randrange(1, 6), 4,
                                        spread_km=rng.choice([0.0, 0.5, 3.0]))
        slots = [s for s in slots if s.open_capacity > 0]
        if not slots:
            continue
        people.sort(key=lambda c: c.volunteer_id)
        slots.sort(key=lambda s: s.demand_id)
        _, cost = pair_costs(people, slots)
        capacity = np.array([s.open_capacity for s in slots])
        index = CandidateIndex(people, slots, MatchWeights(), None)
        lists = index.nearest(np.arange(len(slots)), np.full(len(slots), rng.randrange(1, 4)))
        placed = matching._min_cost_max_flow(*matching._arcs(lists), capacity)
        value = (len(placed), int(cost[placed[:, 0], placed[:, 1]].sum()))
        verdict = matching._certified_optimal(index, lists, capacity, placed)
        assert verdict == (value == reference_optimum(people, slots))
        verdicts.add(verdict)
    assert verdicts == {True, False}


# --- the rules, one by one ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_capacity_is_a_hard_limit(mode: str, solver_path: str) -> None:
    people = [person(i, 0.1 * i) for i in range(1, 11)]
    result = match(people, [slot(1, capacity=3), slot(2, 5.0, capacity=2)], pruning=mode)
    assert sorted(assignment(result).values()).count(1) == 3
    assert sorted(assignment(result).values()).count(2) == 2
    # the nearest three go to site 1, the two farthest north to site 2 (5 km north); the middle waits
    assert result.unplaced == (4, 5, 6, 7, 8)


def test_skills_are_required() -> None:
    people = [person(1, skills=()), person(2, 3.0, skills=("medical",))]
    result = match(people, [slot(10, skill="medical")])
    assert assignment(result) == {2: 10}  # the nearer one lacks the skill
    assert result.unplaced == (1,)


def test_provisional_volunteers_only_where_accepted() -> None:
    people = [person(1, provisional=True), person(2, 2.0)]
    result = match(people, [slot(10, accepts_provisional=False), slot(11, 0.1, accepts_provisional=True)])
    assert assignment(result) == {1: 11, 2: 10}
    assert assignment(match([person(1, provisional=True)], [slot(10, accepts_provisional=False)])) == {}


def test_max_distance_global_and_per_volunteer() -> None:
    people = [person(1, 1.0), person(2, 3.0), person(3, 1.0, max_distance_m=500.0)]
    assert assignment(match(people, [slot(10, capacity=3)])) == {1: 10, 2: 10}
    assert assignment(match(people, [slot(10, capacity=3)], max_distance_m=2000.0)) == {1: 10}


def test_own_street_wins_when_distances_tie() -> None:
    # one volunteer halfway between two sites
    sites = [slot(10, east_km=-1.0, street=1), slot(11, east_km=1.0, street=2)]
    assert assignment(match([person(1, street=2)], sites)) == {1: 11}
    assert assignment(match([person(1, street=1)], sites)) == {1: 10}
    # two volunteers at the same distance from one site: the one of its street goes
    people = [person(1, 1.0, street=5), person(2, -1.0, street=6)]
    assert assignment(match(people, [slot(10, street=6)])) == {2: 10}
    assert assignment(match(people, [slot(10, street=5)])) == {1: 10}


def test_another_street_needs_to_be_nearer_by_the_penalty() -> None:
    sites = [slot(10, east_km=0.3, street=1), slot(11, east_km=-0.6, street=2)]  # own street 300 m farther
    assert assignment(match([person(1, street=2)], sites)) == {1: 11}
    no_penalty = MatchWeights(other_street_penalty_m=0.0)
    assert assignment(match([person(1, street=2)], sites, no_penalty)) == {1: 10}


def test_places_as_many_as_possible_before_saving_distance() -> None:
    # the medic is nearest to the queue site, but only she can take the medical post, far away
    people = [person(1, 0.0, skills=("medical",)), person(2, 5.0)]
    slots = [slot(10, 0.1), slot(11, 8.0, skill="medical")]
    result = match(people, slots)
    assert assignment(result) == {1: 11, 2: 10}
    assert result.unplaced == ()


def test_skill_bonus_fills_skilled_posts_first_when_short() -> None:
    slots = [slot(10, 0.2), slot(11, 1.0, skill="medical")]
    medic = [person(1, skills=("medical",))]
    assert assignment(match(medic, slots)) == {1: 10}
    assert assignment(match(medic, slots, MatchWeights(skill_bonus_m=2000.0))) == {1: 11}


def test_costs_and_distances_reported() -> None:
    people = [person(1, 1.0, street=2), person(2, -2.0)]
    result = match(people, [slot(10, capacity=2)])
    assert [p.distance_m for p in result.placements] == pytest.approx([1000.0, 2000.0], rel=0.003)
    assert result.total_distance_m == pytest.approx(sum(p.distance_m for p in result.placements))
    first, second = result.placements
    assert result.total_cost == round(first.distance_m + 500) + round(second.distance_m)
    coarse = match(people, [slot(10, capacity=2)], MatchWeights(metres_per_unit=100.0))
    assert coarse.total_cost == pytest.approx(result.total_cost / 100, abs=1)


@pytest.mark.parametrize("mode", MODES)
def test_deterministic_whatever_the_input_order(mode: str, solver_path: str) -> None:
    # everyone co-located: many optimal assignments, always the same one returned
    people = [person(i, 0.0) for i in range(1, 21)]
    slots = [slot(j, 1.0, capacity=3) for j in range(1, 5)]
    first = match(people, slots, pruning=mode)
    for seed in range(5):
        shuffled_people, shuffled_slots = people[:], slots[:]
        random.Random(seed).shuffle(shuffled_people)
        random.Random(seed).shuffle(shuffled_slots)
        assert match(shuffled_people, shuffled_slots, pruning=mode) == first
    assert len(first.placements) == 12


def test_the_whole_matrix_returns_what_the_candidate_lists_of_every_pair_return(monkeypatch) -> None:
    """Small problems solved on the whole cost matrix: the very placements "none" finds through the candidate
    lists (the same arcs in the same order), so switching at DENSE_MAX_PAIRS moves no volunteer."""
    rng = random.Random(15)
    for number in range(12):
        people, slots = random_instance(rng, rng.randrange(5, 300), rng.randrange(1, 12), rng.randrange(1, 20),
                                        spread_km=rng.choice([0.0, 0.5, 3.0]))
        assert len(people) * len(slots) <= matching.DENSE_MAX_PAIRS
        whole = match(people, slots, pruning="none")
        monkeypatch.setattr(matching, "DENSE_MAX_PAIRS", 0)
        lists = match(people, slots, pruning="none")
        monkeypatch.undo()
        assert whole == lists and whole.info.arcs == lists.info.arcs, number
        assert (len(whole.placements), whole.total_cost) == reference_optimum(people, slots)


def test_empty_inputs() -> None:
    people = [person(1), person(2)]
    assert match([], [slot(1)]) == MatchResult((), (), 0, 0.0)
    assert match(people, []) == MatchResult((), (1, 2), 0, 0.0)
    assert match(people, [slot(1, capacity=0)]).unplaced == (1, 2)
    assert match(people, [slot(1, skill="medical")]).unplaced == (1, 2)
    assert match([], []) == MatchResult((), (), 0, 0.0)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicate volunteer"):
        match([person(1), person(1)], [slot(1)])
    with pytest.raises(ValueError, match="duplicate demand"):
        match([person(1)], [slot(1), slot(1)])
    with pytest.raises(ValueError, match="open_capacity"):
        match([person(1)], [slot(1, capacity=-1)])
    with pytest.raises(ValueError, match="pruning"):
        match([person(1)], [slot(1)], pruning="some")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MatchWeights(metres_per_unit=0)


def test_pair_costs_shape_and_forbidden_pairs() -> None:
    distance, cost = pair_costs([person(1), person(2, skills=("medical",))], [slot(10, 1.0, skill="medical")])
    assert distance.shape == cost.shape == (2, 1)
    assert np.isinf(cost[0, 0]) and cost[1, 0] == round(distance[1, 0])
    assert np.allclose(distance, haversine_matrix([LAT, LAT], [LON, LON], [LAT + DEG_PER_KM], [LON]))


def test_qualifies_says_what_the_priced_pairs_say() -> None:
    """Distances only for those with a limit: the same verdict as pricing every pair, limits, skills, vetting."""
    rng = random.Random(3)
    for _ in range(30):
        people, slots = random_instance(rng, rng.randrange(1, 80), rng.randrange(1, 8), 5,
                                        spread_km=rng.choice([0.5, 3.0]))
        for limit in (None, 1500.0, 4000.0):
            _distance, cost = pair_costs(people, slots, max_distance_m=limit)
            assert np.array_equal(matching.qualifies(people, slots, limit), np.isfinite(cost).any(axis=1))
    assert not matching.qualifies([], [slot(1)]).any() and not matching.qualifies([person(1)], []).any()


# --- waves --------------------------------------------------------------------------------------------------


def test_wave_size() -> None:
    assert wave_size(435, 0.6, 1.2) == 870
    assert wave_size(100, 0.5, 1.0) == 200
    assert wave_size(100, 0.5, 1.0, already_pending=150) == 50  # 150 pending bring ~75 of the 100 wanted
    assert wave_size(100, 0.5, 1.0, already_pending=500) == 0
    assert wave_size(0, 0.5, 1.3) == 0
    assert wave_size(-3, 0.5, 1.3) == 0
    assert wave_size(1, 0.3, 1.0) == 4  # rounded up: 3.33 invitations are 4
    for bad in ((10, 0.0, 1.0), (10, 1.5, 1.0), (10, 0.5, 0.0)):
        with pytest.raises(ValueError):
            wave_size(*bad)
    with pytest.raises(ValueError):
        wave_size(10, 0.5, 1.0, already_pending=-1)


@given(st.integers(0, 10_000), st.floats(0.01, 1.0), st.floats(1.0, 3.0), st.integers(0, 50_000))
def test_wave_size_covers_the_gap(remaining: int, rate: float, factor: float, pending: int) -> None:
    size = wave_size(remaining, rate, factor, pending)
    assert size >= 0
    if remaining > 0:
        assert (size + pending) * rate >= remaining * factor - 1e-6  # expected acceptances cover the need
        assert size == 0 or (size - 1 + pending) * rate < remaining * factor + 1e-6  # and not one more


def test_nearest_first_orders_by_nearest_eligible_open_slot() -> None:
    people = [person(1, 3.0), person(2, 1.0), person(3, 0.5, skills=("medical",)), person(4, -1.0),
              person(5, 0.2, provisional=True), person(6, 20.0, max_distance_m=1000.0)]
    slots = [slot(10, 0.0, skill="medical"), slot(11, 2.0, accepts_provisional=False),
             slot(12, 0.0, capacity=0)]
    # 3 is 500 m from the medical post; 2 is 1 km from 11, 1 is 1 km from 11 too (ties: lower id); 4 is 3 km
    # away; 5 is provisional (11 refuses), 6 will not go that far: left out
    assert nearest_first(people, slots) == [3, 1, 2, 4]
    assert nearest_first([], slots) == [] and nearest_first(people, []) == []


def test_nearest_first_counts_the_street_penalty_as_matching_does() -> None:
    people = [person(1, 0.3, street=2), person(2, 0.6, street=1)]
    assert nearest_first(people, [slot(10, street=1)]) == [2, 1]
    assert nearest_first(people, [slot(10, street=1)], MatchWeights(other_street_penalty_m=0.0)) == [1, 2]
