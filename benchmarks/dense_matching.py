"""The dense matching solver as it was before issue 15 (sparse candidate lists): the benchmark's baseline and the
tests' bit-for-bit reference. Not used by the product (`mobilize.domain.matching` is the solver).

It builds (volunteers x demands) distance and cost matrices; everything else (data classes, rules, pruning,
certificate) is the solver of commit 7f9d234, unchanged but for importing the data classes from
`mobilize.domain.matching`, so that results compare with ==.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from ortools.graph.python import min_cost_flow

from mobilize.domain.geo import haversine_matrix
from mobilize.domain.matching import (
    Candidate,
    MatchResult,
    MatchWeights,
    Placement,
    Pruning,
    Slot,
    SolveInfo,
)


def match(candidates: Iterable[Candidate], slots: Iterable[Slot], weights: MatchWeights = MatchWeights(),
          max_distance_m: float | None = None, *, pruning: Pruning = "auto") -> MatchResult:
    """The optimal placement of `candidates` on `slots`: most volunteers placed, then least total cost.

    Hard rules: no slot gets more than its open capacity; a volunteer goes only where they have the required
    skill, provisional volunteers only where accepted, and never farther than `max_distance_m` or their own
    limit. `pruning` only changes the speed, never the optimum: "auto" (fastest; a small graph whose
    optimality is certified, widened when it cannot be), "capacity" (each slot keeps its C nearest candidates,
    C the total open capacity: exact by an exchange argument), "none" (every allowed pair).
    The same inputs, in any order, give the same result: they are put in id order first.
    """
    if pruning not in ("auto", "capacity", "none"):
        raise ValueError(f"unknown pruning {pruning!r}")
    people, places = _canonical(candidates, slots)
    if not people or not places:
        return _result(people, places, np.zeros((len(people), len(places))), np.zeros((0, 2), np.int64),
                       SolveInfo(pruning))
    distance, cost = pair_costs(people, places, weights, max_distance_m)
    capacity = np.array([slot.open_capacity for slot in places], dtype=np.int64)
    placed, info = _solve(cost, capacity, pruning)
    return _result(people, places, distance, placed, info, cost)


def pair_costs(candidates: Sequence[Candidate], slots: Sequence[Slot], weights: MatchWeights = MatchWeights(),
               max_distance_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(distance in metres, integer cost as float with +inf for forbidden pairs), both of shape (n, m)."""
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


def nearest_first(candidates: Iterable[Candidate], slots: Iterable[Slot],
                  weights: MatchWeights = MatchWeights(), max_distance_m: float | None = None) -> list[int]:
    """Volunteer ids by the cost (as in `match`) of their nearest eligible open slot, nearest first.

    This is the invitation order of the waves. Ties go to the lower id. A volunteer with no eligible open slot
    is left out: inviting them would only add to standby.
    """
    people, places = _canonical(candidates, slots)
    if not people or not places:
        return []
    _, cost = pair_costs(people, places, weights, max_distance_m)
    nearest = cost.min(axis=1)
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


def _result(people: list[Candidate], places: list[Slot], distance: np.ndarray, placed: np.ndarray,
            info: SolveInfo, cost: np.ndarray | None = None) -> MatchResult:
    """`placed` holds (row, column) pairs of the placements."""
    placements = sorted((Placement(people[r].volunteer_id, places[c].demand_id, float(distance[r, c]))
                         for r, c in placed), key=lambda p: (p.demand_id, p.volunteer_id))
    taken = {p.volunteer_id for p in placements}
    total_cost = int(cost[placed[:, 0], placed[:, 1]].sum()) if cost is not None and len(placed) else 0
    unplaced = tuple(c.volunteer_id for c in people if c.volunteer_id not in taken)
    return MatchResult(tuple(placements), unplaced,
                       total_cost, float(sum(p.distance_m for p in placements)), info)


# --- solving ------------------------------------------------------------------------------------------------


def _solve(cost: np.ndarray, capacity: np.ndarray, pruning: Pruning) -> tuple[np.ndarray, SolveInfo]:
    """Optimal placements as (row, column) pairs of `cost`."""
    total = int(capacity.sum())
    if pruning == "none":
        rows, cols = np.nonzero(np.isfinite(cost))
        return _min_cost_max_flow(cost, rows, cols, capacity), SolveInfo("none", len(rows), 1)
    if pruning == "capacity":
        rows, cols = _select_nearest(cost, np.full(len(capacity), total))
        return _min_cost_max_flow(cost, rows, cols, capacity), SolveInfo("capacity", len(rows), 1)
    keep = np.minimum(total, _initial_keep(capacity))
    for rounds in range(1, 64):
        rows, cols = _select_nearest(cost, keep)
        placed = _min_cost_max_flow(cost, rows, cols, capacity)
        # With keep == C everywhere the exchange argument alone makes it exact; below, the certificate must.
        if np.all(keep >= total) or _certified_optimal(cost, capacity, placed):
            return placed, SolveInfo("auto", len(rows), rounds)
        keep = np.minimum(total, keep * 4)
    raise AssertionError("unreachable: keep reaches the total capacity within a few rounds")


def _initial_keep(capacity: np.ndarray) -> np.ndarray:
    # In realistic instances the last volunteer an optimal assignment sends to a slot ranks at most ~6x its
    # capacity among the slot's candidates (neighbouring sites compete for the same people); 8x + 64 makes a
    # second round rare, and costs little: ~8C + 64m arcs instead of up to n*m.
    return 8 * capacity + 64


def _select_nearest(cost: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arcs from each slot j to its keep[j] cheapest allowed candidates (ties: lower row, i.e. lower id).

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
    """
    by_slot = np.ascontiguousarray(cost.T)  # one contiguous row per slot
    rows: list[np.ndarray] = []
    for column, k in zip(by_slot, keep):
        allowed = np.flatnonzero(np.isfinite(column))
        if len(allowed) > k:
            values = column[allowed]
            threshold = np.partition(values, k - 1)[k - 1]  # argpartition's choice among ties is arbitrary
            below = allowed[values < threshold]
            ties = allowed[values == threshold][: k - len(below)]  # flatnonzero is ascending: lower ids first
            allowed = np.concatenate((below, ties))
        rows.append(allowed)
    cols = np.repeat(np.arange(len(keep)), [len(r) for r in rows])
    return (np.concatenate(rows) if rows else np.zeros(0, np.int64)), cols


def _min_cost_max_flow(cost: np.ndarray, rows: np.ndarray, cols: np.ndarray,
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
    costs = np.concatenate((cost[rows, cols], np.zeros(people + places))).astype(np.int64)
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


def _certified_optimal(cost: np.ndarray, capacity: np.ndarray, placed: np.ndarray) -> bool:
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
    contains a negative cycle), so the check is exact. It costs O(n m + m^3) with numpy, far less than
    solving.
    """
    people, places = cost.shape
    load = np.bincount(placed[:, 1], minlength=places)
    is_placed = np.zeros(people, bool)
    is_placed[placed[:, 0]] = True
    enter = cost[~is_placed].min(axis=0) if not is_placed.all() else np.full(places, np.inf)
    move, leave = _moves(cost, placed, places)
    room = load < capacity
    if _reaches_room(np.isfinite(enter), np.isfinite(move), room):
        return False
    source, sink = places, places + 1
    graph = np.full((places + 2, places + 2), np.inf)
    graph[:places, :places] = move
    graph[source, :places] = enter
    graph[:places, source] = leave
    graph[:places, sink] = np.where(room, 0.0, np.inf)
    graph[sink, :places] = np.where(load > 0, 0.0, np.inf)
    return not _has_negative_cycle(graph)


def _moves(cost: np.ndarray, placed: np.ndarray, places: int) -> tuple[np.ndarray, np.ndarray]:
    """The contracted s -> t (move) and s -> source (leave) arc costs; +inf where there is no such path."""
    move = np.full((places, places), np.inf)
    leave = np.full(places, np.inf)
    if len(placed) == 0:
        return move, leave
    placed = placed[np.argsort(placed[:, 1], kind="stable")]
    own = cost[placed[:, 0], placed[:, 1]]
    delta = cost[placed[:, 0]] - own[:, None]
    delta[np.arange(len(placed)), placed[:, 1]] = np.inf  # a volunteer cannot "move" to the slot they are in
    slots, starts = np.unique(placed[:, 1], return_index=True)
    move[slots] = np.minimum.reduceat(delta, starts, axis=0)
    leave[slots] = -np.maximum.reduceat(own, starts)
    return move, leave


def _reaches_room(enter: np.ndarray, move: np.ndarray, room: np.ndarray) -> bool:
    """Is there an augmenting path: an unplaced volunteer enters, others shift along, a slot has room?"""
    reached = enter.copy()
    while True:
        wider = reached | (reached[:, None] & move).any(axis=0)
        if np.array_equal(wider, reached):
            return bool((reached & room).any())
        reached = wider


def _has_negative_cycle(graph: np.ndarray) -> bool:
    """Bellman-Ford from a virtual root linked to every node at cost 0 (dense, vectorised)."""
    dist = np.zeros(len(graph))
    for _ in range(len(graph)):
        relaxed = np.minimum(dist, (dist[:, None] + graph).min(axis=0))
        if np.array_equal(relaxed, dist):
            return False
        dist = relaxed
    return True
