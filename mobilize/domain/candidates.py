"""Candidate lists for matching: each slot's nearest eligible volunteers by cost, without any n x m matrix.

`match` only ever needs, per slot, its k cheapest eligible volunteers (`CandidateIndex.nearest`), the pair
costs of those, and for the invitation order each volunteer's cheapest eligible slot
(`CandidateIndex.cheapest_slot`). Both come from k-d trees (scipy's cKDTree) on 3-D unit vectors: the chord
between unit vectors is monotone in the great-circle distance, so "nearest by chord" is "nearest by
distance". Costs are then computed pair by pair with exactly the operations of the dense path
(`geo.haversine_pairs`), so they are identical to `matching.pair_costs`.

Exactness. A slot's cost is distance + a penalty when the volunteer lives in another street - a bonus when
the slot needs a skill, rounded. Volunteers are split into *parts*: per eligibility group of the slot
(required skill; provisional volunteers or not) and, when there are few streets, per street, so that within a
part the cost is the distance plus a constant and a tree query returns a part's members in cost order. Each
part is queried for more and more neighbours until whatever it has not returned provably costs more than the
slot's k-th cheapest eligible volunteer found so far (the chord of the farthest returned neighbour bounds the
distance, hence the cost, of every member not returned; a safety margin absorbs floating-point error between
chord and haversine). Then the k cheapest (ties: lower row, i.e. lower id) among what was returned are the k
cheapest overall. Per-volunteer distance limits are checked on the exact distance; the order's own limit also
bounds the tree searches.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from mobilize.domain.geo import PointTrig, chord_to_metres, haversine_pairs, metres_to_chord
from mobilize.domain.matching_inputs import Candidate, MatchWeights, Slot

# Between chord-derived and haversine distances the float error is below 1e-6 m even across the globe; these
# margins are far wider, and only ever make a search return a few more neighbours than strictly needed.
_RELATIVE_MARGIN = 1e-9
_ABSOLUTE_MARGIN_M = 1e-3
# Above this many distinct streets among a group's volunteers one tree per street costs more than it saves.
_MAX_STREET_PARTS = 32
_GroupKey = tuple[str | None, bool]  # (required skill, accepts provisional volunteers)


@dataclass(frozen=True)
class Lists:
    """Candidate lists of some slots, as flat arrays sorted by (slot, cost, row).

    `more[j]` says whether slot j has eligible volunteers beyond its list (the list is then exactly its k
    cheapest), `start` indexes the flat arrays: slot j's list is [start[j], start[j + 1]).
    """

    slot: np.ndarray
    row: np.ndarray
    cost: np.ndarray
    distance: np.ndarray
    start: np.ndarray
    more: np.ndarray


def by_slot_cost_row(slot: np.ndarray, cost: np.ndarray, row: np.ndarray) -> np.ndarray:
    """The permutation sorting by (slot, cost, row), costs finite and integer-valued: one int64 key when it
    fits (several times faster than a three-key lexsort), else lexsort."""
    if len(slot) == 0:
        return np.zeros(0, np.int64)
    low, high = float(cost.min()), float(cost.max())
    rows, slots = int(row.max()) + 1, int(slot.max()) + 1
    if slots * (high - low + 1) * rows < 2.0 ** 62:
        key = (slot * int(high - low + 1) + (cost - low).astype(np.int64)) * rows + row
        return np.argsort(key, kind="stable")
    return np.lexsort((row, cost, slot))


def _lower_metres(chord: np.ndarray) -> np.ndarray:
    """A distance no greater than the true distance of any pair whose chord is at least `chord`."""
    return chord_to_metres(chord) * (1 - _RELATIVE_MARGIN) - _ABSOLUTE_MARGIN_M


def _upper_chord(metres: np.ndarray) -> np.ndarray:
    """A chord no smaller than that of any pair whose distance is at most `metres`."""
    return metres_to_chord(np.asarray(metres, np.float64) * (1 + _RELATIVE_MARGIN) + _ABSOLUTE_MARGIN_M)


class CandidateIndex:
    """The volunteers and open slots of one matching, in id order, with k-d trees built on demand."""

    def __init__(self, people: Sequence[Candidate], places: Sequence[Slot], weights: MatchWeights,
                 max_distance_m: float | None) -> None:
        self.weights = weights
        self.people_count, self.slot_count = len(people), len(places)
        self.people = PointTrig([c.lat for c in people], [c.lon for c in people])
        self.places = PointTrig([s.site_lat for s in places], [s.site_lon for s in places])
        self.person_street = np.array([c.street_id for c in people], dtype=np.int64)
        self.slot_street = np.array([s.street_id for s in places], dtype=np.int64)
        limit = np.array([math.inf if c.max_distance_m is None else c.max_distance_m for c in people])
        self.global_limit = math.inf if max_distance_m is None else float(max_distance_m)
        self.limit = np.minimum(limit, self.global_limit)
        self.provisional = np.array([c.provisional for c in people], dtype=bool)
        self.slot_group: list[_GroupKey] = [(s.required_skill, s.accepts_provisional) for s in places]
        self.bonus = np.array([0.0 if s.required_skill is None else weights.skill_bonus_m for s in places])
        self._skills = [c.skills for c in people]
        self._group_keys = sorted(set(self.slot_group), key=repr)
        number = {key: i for i, key in enumerate(self._group_keys)}
        self._group_number = np.array([number[key] for key in self.slot_group], dtype=np.int64)
        self._members: dict[_GroupKey, np.ndarray] = {}
        self._member_masks: dict[_GroupKey, np.ndarray] = {}
        self._parts: dict[_GroupKey, list[_Part]] = {}
        self._slot_trees: dict[tuple[_GroupKey, int | None], tuple[np.ndarray, cKDTree]] = {}

    # --- pair costs -----------------------------------------------------------------------------------------

    def pair_costs(self, rows: np.ndarray, cols: np.ndarray, *, group_members: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(distance, cost) of pairs, as `matching.pair_costs` has them (cost +inf where not allowed).

        group_members: the caller vouches that each volunteer belongs to the slot's eligibility group
        (found in its tree), so only the distance limits remain to check.
        """
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        distance = haversine_pairs(self.people, rows, self.places, cols)
        cost = self._cost(rows, cols, distance)
        allowed = distance <= self.limit[rows]
        if not group_members:
            allowed &= self._eligible(rows, cols)
        cost[~allowed] = np.inf
        return distance, cost

    def _cost(self, rows: np.ndarray, cols: np.ndarray, distance: np.ndarray) -> np.ndarray:
        metres = distance.copy()  # the operations of pair_costs, in its order, for identical rounding
        metres += np.where(self.person_street[rows] == self.slot_street[cols], 0.0,
                           self.weights.other_street_penalty_m)
        metres -= self.bonus[cols]
        return np.rint(metres / self.weights.metres_per_unit)

    def _eligible(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Skill and provisional rules (not distance) of pairs."""
        ok = np.ones(len(rows), dtype=bool)
        group = self._group_number[cols]
        for number in np.unique(group).tolist():
            key = self._group_keys[number]
            if key == (None, True):
                continue  # anyone
            member = self._member_mask(key)
            at = group == number
            ok[at] = member[rows[at]]
        return ok

    def _member_mask(self, key: _GroupKey) -> np.ndarray:
        if key not in self._member_masks:
            mask = np.zeros(self.people_count, dtype=bool)
            mask[self.members(key)] = True
            self._member_masks[key] = mask
        return self._member_masks[key]

    # --- eligibility groups ---------------------------------------------------------------------------------

    def members(self, key: _GroupKey) -> np.ndarray:
        """Rows of the volunteers a slot of this group may take (distance aside), ascending."""
        if key not in self._members:
            skill, accepts_provisional = key
            ok = np.ones(self.people_count, dtype=bool) if accepts_provisional else ~self.provisional
            if skill is not None:
                ok &= np.array([skill in s for s in self._skills], dtype=bool)
            self._members[key] = np.flatnonzero(ok)
        return self._members[key]

    def parts(self, key: _GroupKey) -> list[_Part]:
        if key not in self._parts:
            rows = self.members(key)
            streets = np.unique(self.person_street[rows])
            if len(streets) <= _MAX_STREET_PARTS:
                split = [(int(s), rows[self.person_street[rows] == s]) for s in streets]
            else:
                split = [(None, rows)]
            self._parts[key] = [_Part(street, part_rows, cKDTree(self.people.unit[part_rows]))
                                for street, part_rows in split if len(part_rows)]
        return self._parts[key]

    # --- per slot: the k cheapest eligible volunteers -------------------------------------------------------

    def nearest(self, cols: np.ndarray, keep: np.ndarray) -> Lists:
        """For each slot cols[i], its keep[i] cheapest eligible volunteers by (cost, row), and whether it has
        more eligible volunteers than that."""
        cols = np.asarray(cols, np.int64)
        keep = np.asarray(keep, np.int64)
        chunks = []
        group = self._group_number[cols]
        for number in np.unique(group).tolist():
            at = np.flatnonzero(group == number)
            # one more than kept: does the slot have more eligible volunteers than its list?
            search = _GroupSearch(self, self._group_keys[number], cols[at], keep[at] + 1)
            chunks.append(search.run())
        slot = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0, np.int64)
        row = np.concatenate([c[1] for c in chunks]) if chunks else np.zeros(0, np.int64)
        distance = np.concatenate([c[2] for c in chunks]) if chunks else np.zeros(0)
        cost = np.concatenate([c[3] for c in chunks]) if chunks else np.zeros(0)
        # the (cost, row) order per slot, then keep only each slot's first keep[slot] entries
        order = by_slot_cost_row(slot, cost, row)
        slot, row, distance, cost = slot[order], row[order], distance[order], cost[order]
        wanted = np.zeros(self.slot_count, np.int64)
        wanted[cols] = keep
        found = np.bincount(slot, minlength=self.slot_count)
        starts = np.concatenate(([0], np.cumsum(found)[:-1]))
        rank = np.arange(len(slot)) - starts[slot]
        kept = rank < wanted[slot]
        more = np.zeros(self.slot_count, dtype=bool)
        more[cols] = found[cols] > keep
        slot, row, distance, cost = slot[kept], row[kept], distance[kept], cost[kept]
        start = np.concatenate(([0], np.cumsum(np.bincount(slot, minlength=self.slot_count))))
        return Lists(slot, row, cost, distance, start, more)

    # --- per volunteer: the cheapest eligible slot ----------------------------------------------------------

    def cheapest_slot(self) -> np.ndarray:
        """Per volunteer, the least cost of an eligible slot (+inf if none)."""
        best = np.full(self.people_count, np.inf)
        for key in self._group_keys:
            rows = self.members(key)
            if len(rows):
                np.minimum.at(best, rows, self._cheapest_in_group(key, rows))
        return best

    def _slot_tree(self, key: _GroupKey, street: int | None) -> tuple[np.ndarray, cKDTree]:
        if (key, street) not in self._slot_trees:
            of_group = self._group_number == self._group_keys.index(key)
            if street is not None:
                of_group &= self.slot_street == street
            cols = np.flatnonzero(of_group)
            self._slot_trees[key, street] = cols, cKDTree(self.places.unit[cols].reshape(-1, 3))
        return self._slot_trees[key, street]

    def _cheapest_in_group(self, key: _GroupKey, rows: np.ndarray) -> np.ndarray:
        """Least cost of a slot of this group, per volunteer in `rows`.

        Searches the group's slots by distance, widening (x 4) per volunteer until the slots not returned
        provably cost no less than the best found: those of another street cost at least their distance +
        the penalty; those of the volunteer's own street at least their distance, unless the cheapest of
        them is known (all returned, or searched among the own street's slots: within one street the
        nearest is the cheapest). Only the value matters here, so ties need no care.
        """
        cols, tree = self._slot_tree(key, None)
        best = np.full(len(rows), np.inf)
        bonus = self.bonus[cols[0]]
        penalty, unit = self.weights.other_street_penalty_m, self.weights.metres_per_unit
        streets, counts = np.unique(self.slot_street[cols], return_counts=True)
        own_slots = np.zeros(len(rows), np.int64)  # how many slots of the group are in the volunteer's street
        where = np.minimum(np.searchsorted(streets, self.person_street[rows]), len(streets) - 1)
        hit = streets[where] == self.person_street[rows]
        own_slots[hit] = counts[where[hit]]
        own_known = own_slots == 0
        upper = float(_upper_chord(self.global_limit)) if math.isfinite(self.global_limit) else np.inf
        pending, k = np.arange(len(rows)), 2  # mostly settled at once: the nearest is in the own street
        while len(pending):
            k = min(k, len(cols))
            chord, found = tree.query(self.people.unit[rows[pending]], k=k, distance_upper_bound=upper)
            chord, found = chord.reshape(len(pending), k), found.reshape(len(pending), k)
            valid = found < len(cols)
            who = np.repeat(pending, k)[valid.ravel()]
            slots = cols[found[valid]]
            np.minimum.at(best, who, self.pair_costs(rows[who], slots, group_members=True)[1])
            own = self.slot_street[slots] == self.person_street[rows[who]]
            own_found = np.bincount(np.searchsorted(pending, who[own]), minlength=len(pending))
            own_known[pending] |= own_found >= own_slots[pending]
            floor = _lower_metres(chord[:, -1])
            exhausted = (k >= len(cols)) | ~valid[:, -1] | (floor > self.limit[rows[pending]])

            def settled() -> np.ndarray:
                offset = np.where(own_known[pending], penalty, 0.0) - bonus
                return exhausted | ((floor + offset) / unit > best[pending] - 0.5)

            done = settled()
            # the nearest slots are all in other streets: the own street's cheapest, searched directly
            ask_own = ~done & (own_found == 0) & ~own_known[pending]
            if ask_own.any():
                self._own_street_best(key, rows, pending[ask_own], best)
                own_known[pending[ask_own]] = True
                done = settled()
            pending, k = pending[~done], k * 4
        return best

    def _own_street_best(self, key: _GroupKey, rows: np.ndarray, which: np.ndarray, best: np.ndarray) -> None:
        """Lower `best[which]` with each volunteer's cheapest slot of the group in their own street: the
        nearest, as the cost there is the distance minus a constant. The 4 nearest by chord are priced
        exactly; where the 4th is not clearly farther than the 1st (float ties), the whole street is."""
        for street in np.unique(self.person_street[rows[which]]).tolist():
            cols, tree = self._slot_tree(key, int(street))
            at = which[self.person_street[rows[which]] == street]
            if len(cols) == 0:
                continue
            k = min(4, len(cols))
            chord, found = tree.query(self.people.unit[rows[at]], k=k)
            chord, found = chord.reshape(len(at), k), found.reshape(len(at), k)
            who = np.repeat(at, k)
            np.minimum.at(best, who, self.pair_costs(rows[who], cols[found.ravel()], group_members=True)[1])
            close = _lower_metres(chord[:, -1]) <= chord_to_metres(chord[:, 0]) * (1 + _RELATIVE_MARGIN) + 1.0
            if k < len(cols) and close.any():
                who = np.repeat(at[close], len(cols))
                tiled = np.tile(cols, int(close.sum()))
                np.minimum.at(best, who, self.pair_costs(rows[who], tiled, group_members=True)[1])


@dataclass(frozen=True)
class _Part:
    street: int | None  # None: volunteers of any street
    rows: np.ndarray  # ascending
    tree: cKDTree


class _GroupSearch:
    """The exact `target` cheapest eligible volunteers of slots of one eligibility group (see module doc)."""

    def __init__(self, index: CandidateIndex, key: _GroupKey, cols: np.ndarray, target: np.ndarray) -> None:
        self.index, self.cols, self.target = index, cols, target
        self.parts = index.parts(key)
        slots, parts = len(cols), len(self.parts)
        self.asked = np.zeros((slots, parts), np.int64)  # neighbours returned so far by each part's tree
        self.reach = np.zeros((slots, parts))  # every member not returned is at least this chord away
        self.exhausted = np.zeros((slots, parts), dtype=bool)
        self.ball_radius = np.zeros((slots, parts))  # counted members within this chord (fresh parts)
        self.ball_count = np.full((slots, parts), -1, np.int64)
        weights = index.weights
        street = index.slot_street[cols]
        # the constant part of the cost of each part for each slot, in metres: penalty minus bonus
        penalty = [np.where((street == p.street) | (p.street is None), 0.0, weights.other_street_penalty_m)
                   for p in self.parts]
        self.offset = (np.column_stack(penalty) if penalty else np.zeros((slots, 0))).reshape(slots, parts)
        self.offset -= index.bonus[cols][:, None]
        self.upper = float(_upper_chord(index.global_limit)) if math.isfinite(index.global_limit) else np.inf
        self.entries = _Entries.empty()
        self.new_entries: list[_Entries] = []

    def run(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not self.parts or not len(self.cols):
            return _Entries.empty().as_tuple()
        # first the parts in the slot's own street (or the only part): they hold the cheapest, usually
        first = self.offset == self.offset.min(axis=1, keepdims=True)
        self._query(first, np.broadcast_to(self.target[:, None], first.shape))
        while True:
            self._price_new_entries()
            kth = self._kth_cost()
            # what costs more than a slot's target-th found can never be among its target cheapest
            self.entries = self.entries.without(self.entries.cost > kth[self.entries.slot])
            uncovered = ~self.exhausted & (self._floor_cost() <= kth[:, None] + 0.5)
            if not uncovered.any():
                e = self.entries
                return self.cols[e.slot], e.row, e.distance, e.cost
            fresh = uncovered & (self.asked == 0)
            grow = uncovered & ~fresh
            size = np.zeros_like(self.asked)
            size[grow] = 2 * self.asked[grow]
            if fresh.any():
                size[fresh] = self._fresh_size(fresh, kth)
            self._query(uncovered, size)

    def _price_new_entries(self) -> None:
        """Price what the last queries returned (all at once: fewer, larger numpy operations)."""
        if self.new_entries:
            new = _Entries.join(self.new_entries, priced=False)
            distance, cost = self.index.pair_costs(new.row, self.cols[new.slot], group_members=True)
            eligible = np.isfinite(cost)  # the ineligible are of no further use
            new = _Entries(new.slot[eligible], new.part[eligible], new.row[eligible], distance[eligible],
                           cost[eligible])
            self.entries = _Entries.join([self.entries, new])
        self.new_entries = []

    def _floor_cost(self) -> np.ndarray:
        """(slots, parts): a lower bound (before rounding) on the cost of any member not returned yet."""
        return (_lower_metres(self.reach) + self.offset) / self.index.weights.metres_per_unit

    def _kth_cost(self) -> np.ndarray:
        """Per slot, the target-th least cost among the eligible returned (+inf if fewer)."""
        e = self.entries
        order = by_slot_cost_row(e.slot, e.cost, np.zeros_like(e.slot))
        cost, slot = e.cost[order], e.slot[order]
        count = np.bincount(slot, minlength=len(self.cols))
        starts = np.concatenate(([0], np.cumsum(count)[:-1]))
        enough = count >= self.target
        kth = np.full(len(self.cols), np.inf)
        kth[enough] = cost[starts[enough] + self.target[enough] - 1]
        return kth

    def _fresh_size(self, fresh: np.ndarray, kth: np.ndarray) -> np.ndarray:
        """How many neighbours to ask of a part never asked: as many members as lie within the distance
        where their cost could reach the k-th found (counted, cheaply), at most the target."""
        slot_at, part_at = np.nonzero(fresh)
        metres = (kth[slot_at] + 0.5) * self.index.weights.metres_per_unit - self.offset[slot_at, part_at]
        beyond_limit = metres >= self.index.global_limit  # then the order's limit bounds the search
        metres = np.minimum(metres, self.index.global_limit)
        # padded so that the bound derived back from this chord (`_lower_metres`) still exceeds `metres`
        padded = np.maximum(metres, 0.0) * (1 + 4 * _RELATIVE_MARGIN) + 4 * _ABSOLUTE_MARGIN_M
        radius = np.where(np.isfinite(metres), _upper_chord(padded), 2.0 + 1e-9)
        size = np.zeros(len(slot_at), np.int64)
        for p, part in enumerate(self.parts):
            at = np.flatnonzero(part_at == p)
            if len(at):
                points = self.index.places.unit[self.cols[slot_at[at]]]
                size[at] = part.tree.query_ball_point(points, radius[at], return_length=True)
        self.ball_radius[slot_at, part_at] = radius
        self.ball_count[slot_at, part_at] = size
        nobody = size == 0  # every member lies beyond the radius
        self.reach[slot_at[nobody], part_at[nobody]] = radius[nobody]
        self.exhausted[slot_at[nobody], part_at[nobody]] = beyond_limit[nobody] | ~np.isfinite(metres[nobody])
        return np.minimum(size, self.target[slot_at])

    def _query(self, mask: np.ndarray, size: np.ndarray) -> None:
        """Ask each masked (slot, part) for its `size` nearest members (replacing what it returned before)."""
        mask = mask & (size > 0)
        if not mask.any():
            return
        self.entries = self.entries.without(mask[self.entries.slot, self.entries.part])
        for p, part in enumerate(self.parts):
            slots = np.flatnonzero(mask[:, p])
            if not len(slots):
                continue
            k_wanted = np.minimum(size[slots, p], len(part.rows))
            # batched by sizes rounded up to 4 steps per power of two: asking a few more is harmless
            # (at least 16: one query call costs more than a few neighbours)
            k_wanted = np.maximum(k_wanted, 16)
            step = (1 << np.floor(np.log2(k_wanted)).astype(np.int64)) // 4
            bucket = np.minimum(-(-k_wanted // step) * step, len(part.rows))
            for k in np.unique(bucket).tolist():
                self._query_part(p, part, slots[bucket == k], k)

    def _query_part(self, p: int, part: _Part, slots: np.ndarray, k: int) -> None:
        chord, found = part.tree.query(self.index.places.unit[self.cols[slots]], k=k,
                                       distance_upper_bound=self.upper)
        chord, found = chord.reshape(len(slots), k), found.reshape(len(slots), k)
        valid = found < len(part.rows)
        self.asked[slots, p] = k
        counted = self.ball_count[slots, p]
        # all members within a counted ball were returned: none left nearer than the ball's radius
        self.reach[slots, p] = np.where((counted >= 0) & (k >= counted),
                                        np.maximum(chord[:, -1], self.ball_radius[slots, p]), chord[:, -1])
        self.exhausted[slots, p] = (k >= len(part.rows)) | ~valid[:, -1]
        slot = np.repeat(slots, k)[valid.ravel()]
        self.new_entries.append(_Entries(slot, np.full(len(slot), p), part.rows[found[valid]], None, None))


@dataclass(frozen=True)
class _Entries:
    """Volunteers returned by the searches of one group: local slot index, part, row, distance, cost."""

    slot: np.ndarray
    part: np.ndarray
    row: np.ndarray
    distance: np.ndarray | None  # None until priced
    cost: np.ndarray | None

    @staticmethod
    def empty() -> _Entries:
        z = np.zeros(0, np.int64)
        return _Entries(z, z, z, np.zeros(0), np.zeros(0))

    def without(self, drop: np.ndarray) -> _Entries:
        keep = ~drop
        return _Entries(*(column[keep] for column in self.as_full()))

    @staticmethod
    def join(parts: list[_Entries], priced: bool = True) -> _Entries:
        if len(parts) == 1:
            return parts[0]
        columns = zip(*(p.as_full() if priced else (p.slot, p.part, p.row) for p in parts))
        joined = [np.concatenate(c) for c in columns]
        return _Entries(*joined) if priced else _Entries(*joined, None, None)  # type: ignore[arg-type]

    def as_full(self) -> tuple[np.ndarray, ...]:
        return self.slot, self.part, self.row, self.distance, self.cost

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.slot, self.row, self.distance, self.cost
