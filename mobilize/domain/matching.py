"""Wartime matching: send accepted volunteers to demands, optimally, never past capacity.

The problem is a transportation problem: volunteers (supply 1 each) to slots (one per demand, supply = its
open capacity), an arc where the volunteer may serve there (skill, provisional rule, distance limit), costing
the distance plus a penalty when the site is in another street. We solve it exactly as a min-cost *max*-flow
with OR-Tools' `SimpleMinCostFlow` (source -> volunteer, cap 1 -> slot, cap 1 -> sink, cap = open capacity):
first as many volunteers placed as possible, then the least total cost among those placements. Whoever is not
placed is on standby.

Speed comes from exact pruning (see `_select_nearest` and `_certified_optimal`): 10,000 volunteers x 200
demands is two million arcs, but an optimal assignment only ever uses arcs from a slot to its nearest
candidates.

Also here: `wave_size` (how many to invite next) and `nearest_first` (whom to invite first). Pure logic: plain
dataclasses and numpy, no Flask, Redis or database.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from ortools.graph.python import min_cost_flow

from mobilize.domain.candidates import CandidateIndex, Lists
from mobilize.domain.matching_inputs import Candidate, MatchWeights, Slot  # noqa: F401  (the API)
from mobilize.domain.geo import haversine_matrix

Pruning = Literal["auto", "capacity", "none"]
# At most this many volunteer x slot pairs, "auto" and "none" price every pair at once (`pair_costs`) and solve on
# all allowed arcs: faster than candidate lists below it (a hold-back scenario, ~430 people x 36 places: 4 ms
# against 16 ms; 2,000 x 36: 33 ms against 74 ms), while the lists win on large orders (9,000 x 36: 94 ms against
# 159 ms) and keep memory flat (issue 15).
DENSE_MAX_PAIRS = 60_000


@dataclass(frozen=True)
class Placement:
    volunteer_id: int
    demand_id: int
    distance_m: float  # haversine distance from the volunteer's home to the site


@dataclass(frozen=True)
class SolveInfo:
    """How the optimum was found (for benchmarks and logs; not part of the answer)."""

    pruning: Pruning
    arcs: int = 0  # volunteer -> slot arcs in the last graph solved
    rounds: int = 0  # graphs solved (auto pruning widens and solves again if it cannot certify)


@dataclass(frozen=True)
class MatchResult:
    placements: tuple[Placement, ...]  # by demand id, then volunteer id
    unplaced: tuple[int, ...]  # volunteer ids for standby, ascending
    total_cost: int  # sum of the integer pair costs (units of MatchWeights.metres_per_unit)
    total_distance_m: float  # sum of placement distances
    info: SolveInfo = field(default=SolveInfo("none"), compare=False)


def match(candidates: Iterable[Candidate], slots: Iterable[Slot], weights: MatchWeights = MatchWeights(),
          max_distance_m: float | None = None, *, pruning: Pruning = "auto") -> MatchResult:
    """The optimal placement of `candidates` on `slots`: most volunteers placed, then least total cost.

    Hard rules: no slot gets more than its open capacity; a volunteer goes only where they have the required
    skill, provisional volunteers only where accepted, and never farther than `max_distance_m` or their own
    limit. `pruning` only changes the speed, never the optimum: "auto" (fastest; a small graph whose
    optimality is certified, widened when it cannot be), "capacity" (each slot keeps its C nearest candidates,
    C the total open capacity: exact by an exchange argument), "none" (every allowed pair). Up to
    `DENSE_MAX_PAIRS` volunteer x slot pairs "auto" and "none" price every pair at once instead (`_dense_match`).
    The same inputs, in any order, give the same result: they are put in id order first.
    """
    if pruning not in ("auto", "capacity", "none"):
        raise ValueError(f"unknown pruning {pruning!r}")
    people, places = _canonical(candidates, slots)
    if not people or not places:
        return _result(people, places, np.zeros((0, 2), np.int64), np.zeros(0), np.zeros(0), SolveInfo(pruning))
    capacity = np.array([slot.open_capacity for slot in places], dtype=np.int64)
    if pruning != "capacity" and len(people) * len(places) <= DENSE_MAX_PAIRS:
        return _dense_match(people, places, weights, max_distance_m, capacity, pruning)
    index = CandidateIndex(people, places, weights, max_distance_m)
    placed, info = _solve(index, capacity, pruning)
    distance, cost = index.pair_costs(placed[:, 0], placed[:, 1]) if len(placed) else (np.zeros(0), np.zeros(0))
    return _result(people, places, placed, distance, cost, info)


def _dense_match(people: list[Candidate], places: list[Slot], weights: MatchWeights, max_distance_m: float | None,
                 capacity: np.ndarray, pruning: Pruning) -> MatchResult:
    """Every allowed pair priced at once and solved: the arcs row by row, as "none" takes them from the candidate
    lists, so the same optimum is returned."""
    distance, cost = pair_costs(people, places, weights, max_distance_m)
    rows, cols = np.nonzero(np.isfinite(cost))
    placed = _min_cost_max_flow(rows, cols, cost[rows, cols], capacity)
    return _result(people, places, placed, distance[placed[:, 0], placed[:, 1]], cost[placed[:, 0], placed[:, 1]],
                   SolveInfo(pruning, len(rows), 1))


def pair_costs(candidates: Sequence[Candidate], slots: Sequence[Slot], weights: MatchWeights = MatchWeights(),
               max_distance_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(distance in metres, integer cost as float with +inf for forbidden pairs), both of shape (n, m).

    Dense, for checks and small cases: `match` and `nearest_first` price only the pairs they need
    (`candidates.CandidateIndex.pair_costs`, identical values).
    """
    distance = haversine_matrix([c.lat for c in candidates], [c.lon for c in candidates],
                                [s.site_lat for s in slots], [s.site_lon for s in slots])
    metres = distance.copy()
    streets = np.array([c.street_id for c in candidates])
    own_street = streets[:, None] == np.array([s.street_id for s in slots])
    metres += np.where(own_street, 0.0, weights.other_street_penalty_m)
    skilled = np.array([s.required_skill is not None for s in slots])
    metres -= np.where(skilled, weights.skill_bonus_m, 0.0)
    cost = np.rint(metres / weights.metres_per_unit)
    cost[~_allowed(candidates, slots, distance, max_distance_m)] = np.inf
    return distance, cost


def qualifies(candidates: Sequence[Candidate], slots: Sequence[Slot], max_distance_m: float | None = None
              ) -> np.ndarray:
    """Per candidate, whether they may take at least one of `slots` (the rules of `pair_costs`), with distances
    computed only for those a distance limit applies to: the hold-back asks it of ten thousand pending invitees
    per batch at district scale (issue 15), most of them without a limit of their own."""
    if not candidates or not slots:
        return np.zeros(len(candidates), dtype=bool)
    limit = np.array([math.inf if c.max_distance_m is None else c.max_distance_m for c in candidates])
    if max_distance_m is not None:
        limit = np.minimum(limit, max_distance_m)
    distance = np.zeros((len(candidates), len(slots)))  # 0 where no limit applies: only the rules decide there
    limited = np.flatnonzero(np.isfinite(limit))
    if len(limited):
        distance[limited] = haversine_matrix([candidates[i].lat for i in limited], [candidates[i].lon for i in limited],
                                             [s.site_lat for s in slots], [s.site_lon for s in slots])
    return _allowed(candidates, slots, distance, max_distance_m).any(axis=1)


def wave_size(remaining_places: int, expected_answer_rate: float, over_recruit_factor: float,
              already_pending: int = 0) -> int:
    """How many volunteers to invite in the next wave.

    We want `remaining_places * over_recruit_factor` acceptances (the surplus covers drop-outs and no-shows
    and becomes standby). Invitations still awaiting an answer are expected to bring `already_pending *
    expected_answer_rate` of them, so the next wave is (remaining * factor - pending * rate) / rate
    invitations, rounded up, never negative: remaining * factor / rate - pending.
    """
    if not 0 < expected_answer_rate <= 1:
        raise ValueError("expected_answer_rate must be in (0, 1]")
    if not over_recruit_factor > 0:
        raise ValueError("over_recruit_factor must be positive")
    if already_pending < 0:
        raise ValueError("already_pending must not be negative")
    if remaining_places <= 0:
        return 0
    wanted = remaining_places * over_recruit_factor / expected_answer_rate - already_pending
    return max(0, math.ceil(round(wanted, 9)))  # 435 * 1.2 / 0.6 is 870, not 870.0000000001 -> 871


def nearest_first(candidates: Iterable[Candidate], slots: Iterable[Slot],
                  weights: MatchWeights = MatchWeights(), max_distance_m: float | None = None) -> list[int]:
    """Volunteer ids by the cost (as in `match`) of their nearest eligible open slot, nearest first.

    This is the invitation order of the waves. Ties go to the lower id. A volunteer with no eligible open slot
    is left out: inviting them would only add to standby.
    """
    people, places = _canonical(candidates, slots)
    if not people or not places:
        return []
    nearest = CandidateIndex(people, places, weights, max_distance_m).cheapest_slot()
    ids = np.array([c.volunteer_id for c in people])
    reachable = np.isfinite(nearest)
    order = np.lexsort((ids[reachable], nearest[reachable]))
    return [int(i) for i in ids[reachable][order]]


# --- inputs and outputs -------------------------------------------------------------------------------------


def _canonical(candidates: Iterable[Candidate], slots: Iterable[Slot]) -> tuple[list[Candidate], list[Slot]]:
    """Candidates and open slots in id order (this makes results independent of input order), checked."""
    people = sorted(candidates, key=lambda c: c.volunteer_id)
    places = sorted(slots, key=lambda s: s.demand_id)
    for kind, ids in (("volunteer", [c.volunteer_id for c in people]),
                      ("demand", [s.demand_id for s in places])):
        if any(a == b for a, b in zip(ids, ids[1:])):
            raise ValueError(f"duplicate {kind} id")
    if any(s.open_capacity < 0 for s in places):
        raise ValueError("open_capacity must not be negative")
    return people, [s for s in places if s.open_capacity > 0]


def _allowed(candidates: Sequence[Candidate], slots: Sequence[Slot], distance: np.ndarray,
             max_distance_m: float | None) -> np.ndarray:
    """(n, m) boolean: may this volunteer be sent to this slot at all?"""
    limit = np.array([math.inf if c.max_distance_m is None else c.max_distance_m for c in candidates])
    if max_distance_m is not None:
        limit = np.minimum(limit, max_distance_m)
    allowed = distance <= limit[:, None]
    provisional = np.array([c.provisional for c in candidates])
    closed = np.array([not s.accepts_provisional for s in slots])
    allowed &= ~(provisional[:, None] & closed[None, :])
    for skill in {s.required_skill for s in slots} - {None}:
        has = np.array([skill in c.skills for c in candidates])
        needs = np.array([s.required_skill == skill for s in slots])
        allowed &= has[:, None] | ~needs[None, :]
    return allowed


def _result(people: list[Candidate], places: list[Slot], placed: np.ndarray, distance: np.ndarray, cost: np.ndarray,
            info: SolveInfo) -> MatchResult:
    """`placed` holds (row, column) pairs of the placements, `distance` and `cost` theirs."""
    placements = sorted((Placement(people[r].volunteer_id, places[c].demand_id, float(d))
                         for (r, c), d in zip(placed.tolist(), distance.tolist())),
                        key=lambda p: (p.demand_id, p.volunteer_id))
    taken = {p.volunteer_id for p in placements}
    unplaced = tuple(c.volunteer_id for c in people if c.volunteer_id not in taken)
    return MatchResult(tuple(placements), unplaced, int(cost.sum()),
                       float(sum(p.distance_m for p in placements)), info)


# --- solving ------------------------------------------------------------------------------------------------


def _solve(index: CandidateIndex, capacity: np.ndarray, pruning: Pruning) -> tuple[np.ndarray, SolveInfo]:
    """Optimal placements as (row, column) pairs (rows: volunteers, columns: slots, both in id order)."""
    total = int(capacity.sum())
    columns = np.arange(len(capacity))
    if pruning == "none":
        lists = index.nearest(columns, np.full(len(capacity), index.people_count))  # every allowed pair
        order = np.lexsort((lists.slot, lists.row))  # row by row, as the dense solver took them
        rows, cols, costs = lists.row[order], lists.slot[order], lists.cost[order]
        return _min_cost_max_flow(rows, cols, costs, capacity), SolveInfo("none", len(rows), 1)
    if pruning == "capacity":
        rows, cols, costs = _arcs(index.nearest(columns, np.full(len(capacity), total)))
        return _min_cost_max_flow(rows, cols, costs, capacity), SolveInfo("capacity", len(rows), 1)
    keep = np.minimum(total, _initial_keep(capacity))
    for rounds in range(1, 64):
        lists = index.nearest(columns, keep)
        rows, cols, costs = _arcs(lists)
        placed = _min_cost_max_flow(rows, cols, costs, capacity)
        # With keep == C everywhere the exchange argument alone makes it exact; below, the certificate must.
        if np.all(keep >= total) or _certified_optimal(index, lists, capacity, placed):
            return placed, SolveInfo("auto", len(rows), rounds)
        keep = np.minimum(total, keep * 4)
    raise AssertionError("unreachable: keep reaches the total capacity within a few rounds")


def _initial_keep(capacity: np.ndarray) -> np.ndarray:
    # In realistic instances the last volunteer an optimal assignment sends to a slot ranks at most ~6x its
    # capacity among the slot's candidates (neighbouring sites compete for the same people); 8x + 64 makes a
    # second round rare, and costs little: ~8C + 64m arcs instead of up to n*m.
    return 8 * capacity + 64


def _arcs(lists: Lists) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arcs (rows, columns, costs) from each slot to its candidate list, slot by slot.

    Why keeping only the C nearest of every slot (C = total open capacity) is exact -- an exchange argument.
    Take any optimal assignment (most placed, then least cost) in which volunteer v serves slot s although v
    is not among the C nearest allowed candidates K(s) of s. At most C volunteers are placed in all, v being
    one of them, so at most C - 1 of the C members of K(s) are placed: some u in K(s) is unplaced. Sending u
    to s instead of v keeps every rule (u is allowed at s, u was free, the load of s is unchanged), places as
    many, and costs cost(u, s) - cost(v, s) <= 0 more, since u ranks before v for s. So it is optimal too and
    uses one arc outside the kept sets fewer; repeating, some optimal assignment uses kept arcs only, and the
    solver finds one of the same (optimal) value. Candidates kept by no slot are thus never needed and are
    dropped with their arcs. The bound is tight in the worst case (all slots at one site need C distinct
    people), which is why "auto" starts much smaller and certifies instead (`_certified_optimal`).

    The order of the arcs is the dense solver's, so that the min-cost-flow solver, given the same graph,
    returns the same one of several optimal assignments: within a slot by row when its list holds all its
    allowed volunteers, else those cheaper than the last kept by row, then those as cheap as it by row.
    """
    truncated = lists.more[lists.slot]
    last = lists.cost[np.maximum(lists.start[lists.slot + 1] - 1, 0)]  # each list's last (k-th) cost
    tie = truncated & (lists.cost == last)
    order = np.lexsort((lists.row, tie, lists.slot))
    return lists.row[order], lists.slot[order], lists.cost[order]


def _min_cost_max_flow(rows: np.ndarray, cols: np.ndarray, arc_costs: np.ndarray,
                       capacity: np.ndarray) -> np.ndarray:
    """Solve source -> volunteer (cap 1) -> slot (cap 1) -> sink (cap open capacity) for (row, col) pairs."""
    if len(rows) == 0:
        return np.zeros((0, 2), np.int64)
    used, node_of_row = np.unique(rows, return_inverse=True)  # only volunteers some slot kept get a node
    people, places = len(used), len(capacity)
    source, sink = people + places, people + places + 1
    tails = np.concatenate((node_of_row, np.full(people, source), people + np.arange(places)))
    heads = np.concatenate((people + cols, np.arange(people), np.full(places, sink)))
    capacities = np.concatenate((np.ones(len(rows) + people, np.int64), capacity))
    costs = np.concatenate((arc_costs, np.zeros(people + places))).astype(np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails.astype(np.int32), heads.astype(np.int32), capacities,
                                              costs)
    flow.set_node_supply(source, people)
    flow.set_node_supply(sink, -people)
    status = flow.solve_max_flow_with_min_cost()  # the supply need not all arrive: max flow, then min cost
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed: {status}")
    chosen = flow.flows(np.arange(len(rows))) > 0
    return np.column_stack((rows[chosen], cols[chosen])).astype(np.int64)


def _certified_optimal(index: CandidateIndex, lists: Lists, capacity: np.ndarray, placed: np.ndarray) -> bool:
    """Is this assignment, found on a pruned graph, optimal on the full one (every allowed pair)?

    A flow is a max flow with least cost iff its residual graph has no source-to-sink path (nobody more can be
    placed) and no negative cycle (no cheaper rearrangement). We check both on the full residual graph,
    contracted to the slots plus source and sink: volunteer nodes have one way in, so each path through one
    becomes a direct arc priced at the cheapest such path:
      source -> t   an unplaced volunteer enters t:           min over unplaced v of cost(v, t)
      s -> t        a volunteer of s moves to t:              min over v at s of cost(v, t) - cost(v, s)
      s -> source   a volunteer of s leaves:                  min over v at s of -cost(v, s)
      t -> sink     if t has room;   sink -> s   if s has someone (0 cost)
    Negative cycles of the contracted graph and of the residual graph are the same (a negative closed walk
    contains a negative cycle), so the check is exact.

    Sparse: only each slot's candidate list is looked at, extended where needed until it holds an unplaced
    volunteer u (or every allowed one). That gives enter(t) = cost(u, t) exactly (the list is a prefix in
    cost order), and a move s -> t of a volunteer v *outside* t's list is never needed: cost(v, t) >=
    cost(u, t), so the path s -> source -> t (leave, then u enters) costs at most cost(v, t) - cost(v, s) and
    reaches t as well. Dropping arcs that such a path dominates changes neither reachability nor whether a
    negative cycle exists. So the graph has at most one move arc per list entry: no n x m, no m x m matrix.
    """
    places = len(capacity)
    load = np.bincount(placed[:, 1], minlength=places)
    slot_of = np.full(index.people_count, -1, np.int64)
    slot_of[placed[:, 0]] = placed[:, 1]
    own_cost = np.zeros(index.people_count)
    if len(placed):
        own_cost[placed[:, 0]] = index.pair_costs(placed[:, 0], placed[:, 1])[1]
    slot, row, cost = _lists_with_an_unplaced(index, lists, slot_of, len(placed))
    free = slot_of[row] < 0
    enter = np.full(places, np.inf)
    np.minimum.at(enter, slot[free], cost[free])
    moving = ~free & (slot_of[row] != slot)
    move_from, move_to = slot_of[row[moving]], slot[moving]
    move_cost = cost[moving] - own_cost[row[moving]]
    room = load < capacity
    if _reaches_room(np.isfinite(enter), move_from, move_to, room):
        return False
    leave = np.full(places, -np.inf)
    np.maximum.at(leave, placed[:, 1], own_cost[placed[:, 0]])
    source, sink = places, places + 1
    entering, occupied = np.flatnonzero(np.isfinite(enter)), np.flatnonzero(load > 0)
    with_room = np.flatnonzero(room)
    tails = np.concatenate((move_from, np.full(len(entering), source), occupied, with_room,
                            np.full(len(occupied), sink)))
    heads = np.concatenate((move_to, entering, np.full(len(occupied), source), np.full(len(with_room), sink),
                            occupied))
    weights = np.concatenate((move_cost, enter[entering], -leave[occupied], np.zeros(len(with_room)),
                              np.zeros(len(occupied))))
    return not _has_negative_cycle(places + 2, tails, heads, weights)


def _lists_with_an_unplaced(index: CandidateIndex, lists: Lists, slot_of: np.ndarray,
                            placed_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(slot, row, cost) of the candidate lists, those made only of placed volunteers (and not holding every
    allowed one) lengthened (x 4, up to placed_count + 1, which must hold someone unplaced) until they hold an
    unplaced volunteer."""
    slot, row, cost, more, length = lists.slot, lists.row, lists.cost, lists.more, np.diff(lists.start)
    while True:
        has_free = np.zeros(len(length), dtype=bool)
        has_free[slot[slot_of[row] < 0]] = True
        short = np.flatnonzero(~has_free & more)
        if not len(short):
            return slot, row, cost
        wider = index.nearest(short, np.minimum(4 * length[short], placed_count + 1))
        keep = ~np.isin(slot, short)
        slot, row, cost = (np.concatenate((slot[keep], wider.slot)), np.concatenate((row[keep], wider.row)),
                           np.concatenate((cost[keep], wider.cost)))
        more = more.copy()
        more[short] = wider.more[short]
        length = length.copy()
        length[short] = np.diff(wider.start)[short]


def _reaches_room(enter: np.ndarray, move_from: np.ndarray, move_to: np.ndarray, room: np.ndarray) -> bool:
    """Is there an augmenting path: an unplaced volunteer enters, others shift along, a slot has room?"""
    reached = enter.copy()
    while True:
        wider = reached.copy()
        wider[move_to[reached[move_from]]] = True
        if np.array_equal(wider, reached):
            return bool((reached & room).any())
        reached = wider


def _has_negative_cycle(nodes: int, tails: np.ndarray, heads: np.ndarray, weights: np.ndarray) -> bool:
    """Bellman-Ford from a virtual root linked to every node at cost 0, on the arc list (vectorised)."""
    order = np.argsort(heads, kind="stable")
    tails, heads, weights = tails[order], heads[order], weights[order]
    targets, starts = np.unique(heads, return_index=True)
    dist = np.zeros(nodes)
    for _ in range(nodes):
        if not len(tails):
            return False
        relaxed = dist.copy()
        relaxed[targets] = np.minimum(dist[targets], np.minimum.reduceat(dist[tails] + weights, starts))
        if np.array_equal(relaxed, dist):
            return False
        dist = relaxed
    return True
