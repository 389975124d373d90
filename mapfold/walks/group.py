"""The symmetries of a map that a walk can use, and an insertion order whose prefixes they keep.

Leaves here are numbered from 0 (leaf ``m`` of the rest of the package is leaf ``m - 1``), the first
side varying fastest; ``coordinates[m, d]`` counts from 0.

The group
---------
Reflecting a dimension (``c_d -> p_d - 1 - c_d``) and swapping two dimensions of equal length are
automorphisms of the grid of leaves, so they map creases to creases. A crease joins coordinates
``k`` and ``k + 1`` along ``d``; its class is ``(d, k mod 2)`` (see ``tests/brute_force.py``: creases
of one class lie on one edge of the pile and must not interleave; creases of different classes never
meet). A reflection of ``d`` sends class ``(d, q)`` to ``(d, (p_d - q) mod 2)`` for every crease
of the class at once, and a swap of ``d`` and ``e`` sends ``(d, q)`` to ``(e, q)``. So every element
maps each class onto one class, two interleaving creases onto two interleaving creases, and a folding
onto a folding. Turning the pile over (reversing its cyclic order) keeps interleaving too; the walk
adds that element itself.

The order
---------
A walk can only use a symmetry ``g`` at a node that has placed a set of leaves ``S`` with
``g(S) = S``: then ``g`` maps the partial piles of ``S`` onto partial piles of ``S``. The leaves are
placed in the order of a key that ``g`` leaves unchanged, so every prefix that ends at a change of
key is such a set ("closed prefix").

* ``centre`` mode (any map with a side longer than 2): the key is the L1 distance from the map's
  centre, in doubled units (``sum_d |2 c_d - (p_d - 1)|``), then the sorted list of those offsets.
  Reflections and equal-side swaps only move offsets between equal sides, so the key is invariant
  under the whole group. Every leaf off the central block has a neighbour one step nearer the centre,
  placed earlier, so each leaf but the first is constrained by a crease when it is placed (the walk
  prunes early). The group is every reflection and every swap of equal sides.
* ``corner`` mode (``2 x 2 x ... x 2``): every leaf is equally far from the centre, so the only closed
  prefixes of the centre order are empty or full. Instead the walk grows from the corner leaf 0 by
  Hamming weight; the group is the stabiliser of leaf 0, the swaps of dimensions (``d!`` elements),
  which keeps the weight.

Large groups
------------
The group is listed, one permutation of the leaves per element, and the planner maps every listed
node through every element; both grow with the group's order, which is ``d!`` on ``2^d`` (40,320 on
``2^8``, 3.6 million on ``2^10``). So the listed group is capped at ``MAX_GROUP_ORDER`` elements:
past it, only the swaps of the first ``k`` dimensions are kept (every reflection stays), ``k`` the
largest that fits. That is a subgroup, and every argument of the orbit walk holds for any subgroup
(its orbits are finer, so there are more representatives, each of a smaller weight: the walk below
the reduction grows by the index of the subgroup, ``8`` on ``2^8``). On ``2^9`` and up the planner
does not list the first orbit at all: its ``d!`` nodes are one orbit of the whole group, so one
representative of weight ``d!`` stands for them (``walks.orbit.corner_orbit_representative``); the
listed subgroup serves only the reductions after it.

Routes
------
``route=2`` builds a second, independent walk of the same map (to check a new count by another
way): within each key class the leaves go in decreasing order, the greedy tail breaks ties towards
the highest leaf, and a capped group swaps the *last* ``k`` dimensions instead of the first. So
its trees, representatives and (where the group is capped) orbit weights differ from route 1's.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from math import prod

import numpy as np

#: The most elements of the map's group that are listed (see "Large groups"): ``7!``.
MAX_GROUP_ORDER = 5040


def leaf_coordinates(sides: tuple[int, ...]) -> np.ndarray:
    """``coordinates[m, d]`` of every leaf ``m`` (from 0), each counted from 0, first side fastest."""
    leaves_total = prod(sides)
    coordinates = np.zeros((leaves_total, len(sides)), dtype=np.int64)
    stride = 1
    for dimension, side in enumerate(sides):
        coordinates[:, dimension] = (np.arange(leaves_total) // stride) % side
        stride *= side
    return coordinates


def leaf_of(coordinates: np.ndarray | list[int], sides: tuple[int, ...]) -> int:
    """The leaf (from 0) at these coordinates."""
    leaf, stride = 0, 1
    for coordinate, side in zip(coordinates, sides, strict=True):
        leaf += int(coordinate) * stride
        stride *= side
    return leaf


def map_neighbours(sides: tuple[int, ...]) -> list[list[int]]:
    """Each leaf's map neighbours (one step along one dimension), without an ``N x N`` table."""
    coordinates = leaf_coordinates(sides)
    strides = np.cumprod((1, *sides[:-1])).astype(np.int64)
    neighbours: list[list[int]] = [[] for _ in range(coordinates.shape[0])]
    for dimension, side in enumerate(sides):
        for leaf in np.flatnonzero(coordinates[:, dimension] + 1 < side).tolist():
            neighbours[leaf].append(leaf + int(strides[dimension]))
            neighbours[leaf + int(strides[dimension])].append(leaf)
    for leaf_list in neighbours:
        leaf_list.sort()
    return neighbours


def _swaps(sides: tuple[int, ...], flips: int, route: int) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """The listed swaps of dimensions and the generating transpositions (see "Large groups").

    Swaps permute dimensions of equal side among themselves; only ``k`` dimensions may move (the
    first ``k``, or the last on route 2), ``k`` the largest whose swaps times ``flips`` fit in
    ``MAX_GROUP_ORDER``.
    """
    dimensions = len(sides)
    for movable in range(dimensions, -1, -1):
        moving = list(range(movable)) if route != 2 else list(range(dimensions - movable, dimensions))
        classes: dict[int, list[int]] = {}
        for dimension in moving:
            classes.setdefault(sides[dimension], []).append(dimension)
        size = 1
        for members in classes.values():
            size *= math.factorial(len(members))
        if size * flips <= MAX_GROUP_ORDER or movable <= 1:
            break
    swaps: list[tuple[int, ...]] = [tuple(range(dimensions))]
    transpositions: list[tuple[int, ...]] = []
    for members in classes.values():
        grown = []
        for swap in swaps:
            for arrangement in itertools.permutations(members):
                moved = list(swap)
                for source, target in zip(members, arrangement, strict=True):
                    moved[source] = target
                grown.append(tuple(moved))
        swaps = grown
        for first, second in itertools.pairwise(members):
            moved = list(range(dimensions))
            moved[first], moved[second] = second, first
            transpositions.append(tuple(moved))
    return swaps, transpositions


@dataclass(frozen=True)
class MapSymmetry:
    """A map's usable group and the matching insertion order.

    Attributes
    ----------
    sides
        The counted sides (no side of 1).
    mode
        ``"centre"`` or ``"corner"`` (see the module docstring).
    permutations
        ``(|G|, N)`` int64: ``permutations[g, m]`` is the image of leaf ``m`` under element ``g``;
        row 0 is the identity. Turning the pile over is not included.
    order
        The insertion order: ``order[r]`` is the leaf placed ``r``-th.
    closed_prefixes
        Every ``k`` in ``1 .. N`` such that ``set(order[:k])`` is closed under the group.
    generators
        Rows of ``permutations`` that generate the group (a set closed under them is closed under
        it); ``None``: all of them.
    route
        1, or 2 for the second route (module docstring).
    """

    sides: tuple[int, ...]
    mode: str
    permutations: np.ndarray
    order: np.ndarray
    closed_prefixes: tuple[int, ...]
    generators: np.ndarray | None = None
    route: int = 1

    @property
    def group_order(self) -> int:
        """``|G|``, turning the pile over not counted."""
        return int(self.permutations.shape[0])

    def with_greedy_tail(self, fixed: int) -> MapSymmetry:
        """The same order for the first ``fixed`` leaves, then the most constrained leaf first.

        After the prefix the walk reduces at, the order only has to be fixed, not closed: each next
        leaf is the one with the most map neighbours already placed (the most creases to check, so
        the fewest gaps), the lowest-numbered on a tie. On 5x6 and 4x7 that walks the same counts
        in 1.5-1.75x less time than continuing shell by shell. The closed prefixes up to ``fixed``
        stay closed; later ones are whichever prefixes of the new order the group happens to keep
        (on a square, the centre block once its corners are in), found by testing each.

        On squares of side 6 and more (``RECENT_TIES_MIN_SIDE``) a tie goes first to the leaf next to
        the most recently placed one, so the pile grows around one front: 6x6 counts in 0.89x the
        time (three alternating pairs, 12.1/11.6/11.9 s against 14.1/12.9/13.4 s). Elsewhere it did
        not pay (5x6 1.01, 4x7 1.00, 3x10 1.01, 2x15 0.98, 3x3x4 0.96) or cost (2x2x3x4 1.60,
        2x2x2x2x3 1.27), so the lowest (route 2: highest) leaf breaks the tie there.
        """
        leaves_total = len(self.order)
        neighbours = map_neighbours(self.sides)
        placed_neighbours = [0] * leaves_total
        is_placed = [False] * leaves_total
        order: list[int] = []
        # Route 2 breaks ties towards the highest leaf, route 1 towards the lowest.
        tie = 1 if self.route == 2 else -1

        def place(leaf: int) -> None:
            order.append(leaf)
            is_placed[leaf] = True
            for neighbour in neighbours[leaf]:
                placed_neighbours[neighbour] += 1

        # step_placed[leaf]: when it went in (-1: not yet), for the recent-neighbour tie-break.
        step_placed = [-1] * leaves_total
        recent_ties = len(self.sides) == 2 and min(self.sides) >= RECENT_TIES_MIN_SIDE and self.sides[0] == self.sides[1]

        def latest_neighbour(leaf: int) -> int:
            return max(step_placed[neighbour] for neighbour in neighbours[leaf]) if recent_ties else 0

        for leaf in self.order[:fixed]:
            step_placed[int(leaf)] = len(order)
            place(int(leaf))
        while len(order) < leaves_total:
            chosen = max(
                (leaf for leaf in range(leaves_total) if not is_placed[leaf]),
                key=lambda leaf: (placed_neighbours[leaf], latest_neighbour(leaf), tie * leaf),
            )
            step_placed[chosen] = len(order)
            place(chosen)
        checked = self.permutations if self.generators is None else self.generators
        closed = tuple(k for k in self.closed_prefixes if k <= fixed) + _closed_prefixes_after(order, checked, fixed)
        return dataclasses.replace(self, order=np.array(order, dtype=np.int64), closed_prefixes=closed)


#: Squares of at least this side break the greedy tail's ties towards the latest placed neighbour.
RECENT_TIES_MIN_SIDE = 6


def _closed_prefixes_after(order: list[int], permutations: np.ndarray, fixed: int) -> tuple[int, ...]:
    """Every ``k > fixed`` (up to ``len(order)``) such that every element maps ``order[:k]`` onto itself."""
    closed = []
    placed = np.zeros(len(order), dtype=bool)
    placed[order[:fixed]] = True
    for k in range(fixed + 1, len(order) + 1):
        placed[order[k - 1]] = True
        # The images of the placed leaves are all placed (the sets are the same size).
        if placed[permutations[:, order[:k]]].all():
            closed.append(k)
    return tuple(closed)


def map_symmetry(sides: tuple[int, ...], route: int = 1) -> MapSymmetry:
    """The group, order and closed prefixes for a map (sides of 1 already dropped).

    Parameters
    ----------
    sides
        The map's sides, each at least 2 (or ``(1,)`` for one leaf).
    route
        1, or 2 for the second route (module docstring).

    Returns
    -------
    MapSymmetry
    """
    sides = tuple(int(side) for side in sides)
    coordinates = leaf_coordinates(sides)
    leaves_total = coordinates.shape[0]
    dimensions = len(sides)
    corner = all(side == 2 for side in sides) and leaves_total > 1
    flip_sets = [tuple([False] * dimensions)] if corner else list(itertools.product([False, True], repeat=dimensions))
    swaps, transpositions = _swaps(sides, len(flip_sets), route)
    strides = np.cumprod((1, *sides[:-1])).astype(np.int64)

    def image_of(perm: tuple[int, ...], flips: tuple[bool, ...]) -> np.ndarray:
        image = np.zeros(leaves_total, dtype=np.int64)
        for d in range(dimensions):
            moved = coordinates[:, perm[d]]
            if flips[d]:
                moved = sides[d] - 1 - moved
            image += moved * strides[d]
        return image

    permutations = np.array([image_of(perm, flips) for perm in swaps for flips in flip_sets], dtype=np.int64)
    # Row 0 must be the identity (first swap and no flips are the identity by construction).
    assert np.array_equal(permutations[0], np.arange(leaves_total))
    identity = tuple(range(dimensions))
    no_flips = tuple([False] * dimensions)
    generators = [image_of(swap, no_flips) for swap in transpositions]
    if not corner:
        generators += [image_of(identity, tuple(d == flipped for d in range(dimensions))) for flipped in range(dimensions)]
    generator_rows = np.array(generators, dtype=np.int64) if generators else permutations[:1]

    if corner:
        keys = [(int(coordinates[m].sum()),) for m in range(leaves_total)]
    else:
        offsets = np.abs(2 * coordinates - (np.array(sides) - 1))
        keys = [(int(offsets[m].sum()), *sorted(int(x) for x in offsets[m])) for m in range(leaves_total)]
    # Route 2: decreasing leaves within a key class (the classes, so the closed prefixes, are the same).
    tie = -1 if route == 2 else 1
    order = np.array(sorted(range(leaves_total), key=lambda m: (keys[m], tie * m)), dtype=np.int64)
    closed = tuple(k for k in range(1, leaves_total + 1) if k == leaves_total or keys[order[k]] != keys[order[k - 1]])
    return MapSymmetry(
        sides=sides,
        mode="corner" if corner else "centre",
        permutations=permutations,
        order=order,
        closed_prefixes=closed,
        generators=generator_rows,
        route=route,
    )
