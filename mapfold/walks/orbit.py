"""The orbit walk: leaves placed outward from the map's centre, one partial pile per symmetry class.

Piles as cycles
---------------
A folding is a pile, read top to bottom. Turning a pile cyclically (top leaf to the bottom) keeps it
a folding (two creases of one class interleave on the cycle or not, wherever the cycle is cut), so
the fold total is ``N`` times the number of valid *cyclic* orders of the ``N`` leaves. This walk
counts those cycles directly: the pile is a cyclic doubly linked list of the placed leaves, with no
sentinel. Leaves are numbered from 0 here; bit ``m`` of a gap mask means "just below leaf ``m``".

Any insertion order
-------------------
Leaves go in the order of ``MapSymmetry.order``. A cycle of ``k`` leaves has ``k`` gaps, and every
valid cycle of all ``N`` leaves is reached exactly once: its restriction to the first ``r`` leaves of
the order is the node it passes at depth ``r``. A node is a valid partial cycle (no two *placed*
creases of one class interleave), and placing leaf ``l`` adds one crease to each neighbour ``n``
already placed; a leaf has at most one crease per class (its two creases along a dimension have
opposite parities), so each new crease ``(n, l)`` only has to avoid the placed creases of its own
class. Those allow exactly the gaps on ``n``'s side of every placed crease of the class, which this
walk collects as Lunnon's does: start just below ``n``; from a gap below ``m`` step to
``x = below(m)``; if ``x`` has a placed partner ``z`` in the class, the arc ``x .. z`` is closed to
``l``, so jump to ``z`` (the table ``jumps[k, x] = z``, else ``x``); offer the gap below where the
step lands; stop on coming back to ``n`` (``jumps[k, n] = l``, the terminator). The mask of gaps is
the AND over the constraints of ``l`` (up to two per dimension).

The last leaves
---------------
The last leaf is never inserted: its gap count is the node's number of completions. Below a task
that lacks at least four leaves, the second-last and third-last leaves go into each of their gaps
with ``leaf_below`` alone (two stores, one to take it out again; no ``leaf_above``), in nested loops
of their own (``_last_three_completions``; a task lacking three leaves places the third-last leaf in
the general loop), and the tables of those three leaves are read once a task (``_read_leaf_tables``,
``_hoisted_gaps``): their walks are more than half of all gap computations, and 6x6 counts in about
0.9x the time of reading the tables once a walk in the walk's general loop (issue 18). (An earlier
version left the second-last leaf out and walked two of its gaps interleaved, reading the two
changed links through compares; one at a time, really inserted, is 7-9% faster on 6x6, 2x13 and
3x8.)

The orbits
----------
Let ``S`` be a closed prefix of ``K`` leaves (``map_symmetry``) and ``H`` the map's group ``G`` times
turning the pile over (reversing the cycle). Every ``h`` in ``H`` maps valid cycles of all ``N``
leaves onto valid cycles, and commutes with restriction to ``S`` because ``h(S) = S``. So ``h`` maps
the completions of a node ``P`` at depth ``K`` one-to-one onto the completions of ``h(P)``: both
have the same number of completions. The nodes at depth ``K`` fall into orbits under ``H``; the
total is the sum over orbits of (the orbit's number of nodes) x (the completions of any one member).
The weight of a representative is counted, not derived (except the hypercube's first orbit, below):
every node at depth ``K`` is listed, mapped to its canonical form (the least code over ``H`` of the
cycle read from its least leaf), and the nodes sharing a form are counted. The orbit is all of them
because the set of depth-``K`` nodes is mapped onto itself by ``H``. Deeper task nodes inherit their ancestor's weight.

Below ``K`` nothing needs the group any more, only a fixed order (each cycle is still reached once),
so the planner switches to the most constrained leaf first (``MapSymmetry.with_greedy_tail``).

Reducing again. The completions of a node are the valid cycles of all ``N`` leaves that restrict to
it, whatever order the walk places the rest in, so the argument above holds at any later prefix
``S'`` of the new order that the group happens to keep (``h(S') = S'``; on a square, the centre block
once its corners are in). The representatives' children down to ``S'``, each carrying its parent's
weight, stand for every node at that depth (``h`` maps the children of ``P`` onto the children of
``h(P)``), so grouping them by canonical form and summing their weights gives the same total, with
one subtree per group: representatives with a symmetry of their own have children in one orbit.

The hypercube's first orbit, without listing it. On ``2^d`` (``corner`` mode) the first ``d + 1``
leaves are leaf 0 and its ``d`` neighbours, one crease each, every crease in a class of its own
(one per dimension), so no two can interleave: the nodes at depth ``d + 1`` are all ``d!`` cycles of
those leaves. A swap of dimensions fixes leaf 0 and permutes its neighbours as it permutes the
dimensions, so the ``d!`` swaps act on the cycles read downward from leaf 0 (sequences of the ``d``
neighbours) simply transitively: the depth-``d + 1`` nodes are one orbit of the whole group. So one
cycle, with weight ``d!``, stands for all of them (``corner_orbit_representative``), and the group
need not be listed. The planner takes it where listing that depth is out of bounds (``d!`` above
``MAX_ORBIT_NODES``: ``2^9`` and up), where the listed group is only a subgroup whose orbits would
be ``d!`` over its order times finer. Reductions at later closed prefixes still use the listed
(sub)group: they need only that its elements keep the prefix, whatever the weights of the nodes.

Every per-task count is an int64 of cycles below one node (at most the map's fold total over ``N``,
far below ``2**63`` for any map that can be counted); weights and sums are Python ints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from mapfold.jit.bits import lowest_bit_index, popcount
from mapfold.walks.group import MapSymmetry, leaf_coordinates, leaf_of, map_symmetry
from mapfold.walks.orbit_wide import wide_orbit_child_gaps, wide_orbit_children
from mapfold.walks.pile import WALK_ABORTED, cycle_above, insert_leaf, remove_leaf

_ONE = np.uint64(1)

#: The most nodes the planner lists at one depth while looking for a closed prefix to reduce at.
#: Listing and canonicalising a quarter of a million piles takes well under a second.
MAX_ORBIT_NODES = 1 << 18

#: ... and at most this many bytes of them (rows of ``N`` leaves: fewer rows on big maps).
MAX_LISTED_BYTES = 128 << 20

#: The planner stops at a closed prefix with this many nodes per element of the group (x turning).
ENOUGH_NODES_PER_ELEMENT = 128

#: Dead ends between looks at the stop flag.
_STOP_CHECK_INTERVAL = 1 << 14


@dataclass(frozen=True)
class OrbitPlan:
    """Everything the jitted walk needs, built once per map.

    Attributes
    ----------
    symmetry
        The group, order and closed prefixes.
    order
        ``uint8`` insertion order (``order[r]`` is placed ``r``-th).
    neighbours
        ``uint8``, per constraint: the placed neighbour ``n`` it starts from.
    jumps
        ``uint8`` ``(constraints, N)``: the walk table of each constraint (module docstring).
    constraint_start
        ``int64`` ``(N + 1,)``: constraints of the leaf of rank ``r`` are ``constraint_start[r] ..
        constraint_start[r + 1] - 1``.
    prefix_masks
        ``uint64`` ``(N,)``: bits of the leaves of rank below ``r`` (every gap of the pile); on the
        wide path ``(N, words)`` (``mapfold.walks.orbit_wide``).
    shift
        The wide path's gaps per word, as a power of two (6: 64); 0 on the one-word path.

    The leaves (``order``, ``neighbours``, ``jumps`` and every task row) are ``uint8`` up to 256
    leaves and ``uint16`` beyond (``leaf_dtype``).
    """

    symmetry: MapSymmetry
    order: np.ndarray
    neighbours: np.ndarray
    jumps: np.ndarray
    constraint_start: np.ndarray
    prefix_masks: np.ndarray
    shift: int = 0

    @property
    def leaves_total(self) -> int:
        """``N``."""
        return int(self.order.shape[0])

    @property
    def wide(self) -> bool:
        """Whether the walk keeps its gap sets in several words (``mapfold.walks.orbit_wide``)."""
        return self.prefix_masks.ndim == 2

    @property
    def leaf_dtype(self) -> np.dtype:
        """The type of a leaf in the tables and the task rows."""
        return self.order.dtype

    def tables(self) -> tuple:
        """The arrays the jitted walks take: the wide path's form adds ``shift``."""
        if self.wide:
            return (self.order, self.neighbours, self.jumps, self.constraint_start, self.prefix_masks, self.shift)
        return (self.order, self.neighbours, self.jumps, self.constraint_start, self.prefix_masks)


#: The one-word walk's limit: a gap set is one ``uint64``.
ONE_WORD_LEAVES = 64
#: Task rows and tables hold a leaf in one byte up to this many leaves.
BYTE_LEAVES = 256


def leaf_dtype_for(leaves_total: int) -> type:
    """``uint8`` when every leaf (from 0) fits a byte, else ``uint16``."""
    return np.uint8 if leaves_total <= BYTE_LEAVES else np.uint16


def make_orbit_plan(
    sides: tuple[int, ...],
    symmetry: MapSymmetry | None = None,
    wide: bool | None = None,
    shift: int = 6,
    leaf_dtype: type | None = None,
    route: int = 1,
) -> OrbitPlan:
    """Build the order, the group and the constraint tables for a map of at least 2 leaves.

    Parameters
    ----------
    sides
        The counted sides.
    symmetry
        Overrides ``map_symmetry(sides, route)`` (for an order with a greedy tail).
    wide
        Keep gap sets in several words (``mapfold.walks.orbit_wide``); default: past 64 leaves.
        The tests force it on small maps.
    shift
        The wide path's gaps per word as a power of two: 6 (64) in a count, less in tests.
    leaf_dtype
        ``np.uint8`` or ``np.uint16``; default ``leaf_dtype_for(N)``.
    route
        1, or 2 for the second route (``mapfold.walks.group``).
    """
    if symmetry is None:
        symmetry = map_symmetry(sides, route)
    coordinates = leaf_coordinates(symmetry.sides)
    leaves_total = coordinates.shape[0]
    order = symmetry.order
    rank = np.empty(leaves_total, dtype=np.int64)
    rank[order] = np.arange(leaves_total)

    # partners[d, q, m]: the leaf joined to m by its crease of class (d, q), or -1 (none). Stepping
    # from coordinate c along d crosses the crease (min(c, c +- 1) mod 2): up when c = q mod 2.
    strides = np.cumprod((1, *symmetry.sides[:-1])).astype(np.int64)
    partners = np.full((len(symmetry.sides), 2, leaves_total), -1, dtype=np.int64)
    for dimension, side in enumerate(symmetry.sides):
        for parity in (0, 1):
            coordinate = coordinates[:, dimension]
            step = np.where(coordinate % 2 == parity, 1, -1)
            inside = (coordinate + step >= 0) & (coordinate + step < side)
            partners[dimension, parity, inside] = (np.arange(leaves_total) + step * strides[dimension])[inside]

    neighbours: list[int] = []
    jump_rows: list[np.ndarray] = []
    constraint_start = np.zeros(leaves_total + 1, dtype=np.int64)
    if wide is None:
        wide = leaves_total > ONE_WORD_LEAVES
    if leaf_dtype is None:
        leaf_dtype = leaf_dtype_for(leaves_total)
    if not wide and (leaves_total > ONE_WORD_LEAVES or leaf_dtype != np.uint8):
        raise ValueError("the one-word walk takes at most 64 leaves, as uint8")
    words = -(-leaves_total // (1 << shift)) if wide else 0
    prefix_masks = np.zeros((leaves_total, words) if wide else leaves_total, dtype=np.uint64)
    mask = 0
    for position, leaf in enumerate(order):
        if wide:
            for word in range(words):
                prefix_masks[position, word] = np.uint64((mask >> (word << shift)) & ((1 << (1 << shift)) - 1))
        else:
            prefix_masks[position] = np.uint64(mask)
        mask |= 1 << int(leaf)
        constraint_start[position] = len(neighbours)
        for dimension in range(len(symmetry.sides)):
            for step in (-1, 1):
                coordinate = coordinates[leaf, dimension] + step
                if coordinate < 0 or coordinate >= symmetry.sides[dimension]:
                    continue
                moved = coordinates[leaf].copy()
                moved[dimension] = coordinate
                neighbour = leaf_of(moved, symmetry.sides)
                if rank[neighbour] >= position:
                    continue
                parity = min(coordinate, coordinates[leaf, dimension]) % 2
                row = np.arange(leaves_total, dtype=np.int64)
                joined = partners[dimension, parity]
                both_placed = (joined >= 0) & (rank < position) & (rank[joined] < position)
                row[both_placed] = joined[both_placed]
                row[neighbour] = leaf  # the neighbour's partner in this class is the new leaf: stop
                neighbours.append(neighbour)
                jump_rows.append(row)
    constraint_start[leaves_total] = len(neighbours)
    jumps = np.array(jump_rows, dtype=leaf_dtype) if jump_rows else np.zeros((1, leaves_total), dtype=leaf_dtype)
    return OrbitPlan(
        symmetry=symmetry,
        order=order.astype(leaf_dtype),
        neighbours=np.array(neighbours if neighbours else [0], dtype=leaf_dtype),
        jumps=jumps,
        constraint_start=constraint_start,
        prefix_masks=prefix_masks,
        shift=shift if wide else 0,
    )


def check_connected_order(plan: OrbitPlan) -> None:
    """Raise ``ValueError`` unless every leaf after the first has a map neighbour placed before it.

    ``walk_orbit_subtree`` reads the first constraints of the bottom three leaves once a task
    (``_read_leaf_tables``, which raises too, on a leaf without one), so those leaves need one.
    The orbit walk's orders (shells from the centre, then the greedy tail) grow one connected
    block; the mirror walk's, which place leaves in mirrored pairs, need not, and use their own
    walk.
    """
    if plan.leaves_total > 1 and (np.diff(plan.constraint_start)[1:] == 0).any():
        raise ValueError("every leaf after the first must have a placed map neighbour")


@njit(nogil=True, cache=True, inline="always")
def orbit_gaps(order, neighbours, jumps, constraint_start, prefix_masks, position, leaf_below) -> np.uint64:
    """Gap mask for the leaf of rank ``position`` given the pile of the leaves ranked before it."""
    leaf = order[position]
    usable = prefix_masks[position]
    constraint = constraint_start[position]
    end = constraint_start[position + 1]
    # One constraint at a time, stopping as soon as no gap is left (the others cannot add one back).
    # Walking two constraints interleaved overlapped their chains of loads but lost this early exit
    # and added a branch per step: one by one is 11-16% faster (6x6, 2x13, 3x8, 5x5; issue 18).
    while constraint < end:
        step = neighbours[constraint]
        gaps = np.uint64(0)
        while step != leaf:
            gaps |= _ONE << np.uint64(step)
            step = jumps[constraint, leaf_below[step]]
        usable &= gaps
        if usable == 0:
            return usable
        constraint += 1
    return usable


@njit(nogil=True, cache=True, inline="always")
def _walk_gaps(order, neighbours, jumps, constraint_start, prefix_masks, position, leaf_below) -> np.uint64:
    """``orbit_gaps`` for the walk's own pile, its first two constraints walked together.

    Sets ``leaf_below[leaf] = leaf`` for the leaf it places (not in the pile: its entry is free), so
    a walk that reaches the leaf stays there and the loop has one exit, with two independent chains
    of loads the processor overlaps. The first mask alone always holds its neighbour's gap, so no
    early exit is lost between the two.
    """
    leaf = order[position]
    usable = prefix_masks[position]
    constraint = constraint_start[position]
    end = constraint_start[position + 1]
    if constraint + 2 <= end:
        leaf_below[leaf] = leaf
        first = neighbours[constraint]
        second = neighbours[constraint + 1]
        first_gaps = np.uint64(0)
        second_gaps = np.uint64(0)
        while first != leaf or second != leaf:
            first_gaps |= _ONE << np.uint64(first)
            second_gaps |= _ONE << np.uint64(second)
            first = jumps[constraint, leaf_below[first]]
            second = jumps[constraint + 1, leaf_below[second]]
        usable &= first_gaps & second_gaps
        if usable == 0:
            return usable
        constraint += 2
    while constraint < end:
        step = neighbours[constraint]
        gaps = np.uint64(0)
        while step != leaf:
            gaps |= _ONE << np.uint64(step)
            step = jumps[constraint, leaf_below[step]]
        usable &= gaps
        if usable == 0:
            return usable
        constraint += 1
    return usable


@njit(nogil=True, cache=True, inline="always")
def _read_leaf_tables(order, neighbours, jumps, constraint_start, prefix_masks, position):
    """What ``_walk_gaps`` reads for the leaf of rank ``position``, read once (``_hoisted_gaps``).

    Returns ``(leaf, first, second, first_row, second_row, usable, more, end)``: the first two
    constraints' start leaves and jump rows (a leaf with one constraint walks it twice, side by
    side, which costs no time), the prefix mask, and the other constraints ``more .. end - 1``.
    Every leaf but the first has a constraint in the orbit walk's orders (``check_connected_order``);
    a leaf without one raises ``ValueError``.
    """
    leaf = order[position]
    start = constraint_start[position]
    end = constraint_start[position + 1]
    if start == end:
        # Read once a task, so this costs nothing; without it, such a leaf would walk another's rows.
        raise ValueError("every leaf after the first must have a placed map neighbour")
    second = start + 1 if start + 1 < end else start
    return leaf, neighbours[start], neighbours[second], jumps[start], jumps[second], prefix_masks[position], second + 1, end


@njit(nogil=True, cache=True, inline="always")
def _hoisted_gaps(leaf_below, jumps, neighbours, tables) -> np.uint64:
    """``_walk_gaps`` from ``_read_leaf_tables`` (``leaf_below[leaf] == leaf`` beforehand).

    The walks of the last two leaves run about 300 million times on 6x6 (more than half of all gap
    computations), so ``walk_orbit_subtree`` reads the tables of the last three leaves once a task,
    not once a walk (see "The last leaves" above).
    """
    leaf, first, second, first_row, second_row, usable, more, end = tables
    first_gaps = np.uint64(0)
    second_gaps = np.uint64(0)
    while first != leaf or second != leaf:
        first_gaps |= _ONE << np.uint64(first)
        second_gaps |= _ONE << np.uint64(second)
        first = first_row[leaf_below[first]]
        second = second_row[leaf_below[second]]
    usable &= first_gaps & second_gaps
    constraint = more
    while constraint < end and usable != 0:
        step = neighbours[constraint]
        walked = np.uint64(0)
        while step != leaf:
            walked |= _ONE << np.uint64(step)
            step = jumps[constraint, leaf_below[step]]
        usable &= walked
        constraint += 1
    return usable


@njit(nogil=True, cache=True, inline="always")
def _hoisted_last_leaf_completions(leaf_below, jumps, neighbours, last_tables, second_last, second_last_gaps) -> int:
    """``last_leaf_completions`` from the last leaf's ``_read_leaf_tables`` (``leaf_below[last leaf]`` set)."""
    completions = 0
    gaps = second_last_gaps
    while gaps != 0:
        gap = lowest_bit_index(gaps)
        gaps &= gaps - _ONE
        below = leaf_below[gap]
        leaf_below[second_last] = below
        leaf_below[gap] = second_last
        completions += popcount(_hoisted_gaps(leaf_below, jumps, neighbours, last_tables))
        leaf_below[gap] = below
    return completions


@njit(nogil=True, cache=True, inline="always")
def _last_two_completions(leaf_below, jumps, neighbours, second_last_tables, last_tables) -> int:
    """The completions of a node that lacks the last two leaves (``leaf_below[last leaf]`` set)."""
    second_last = second_last_tables[0]
    leaf_below[second_last] = second_last
    second_last_gaps = _hoisted_gaps(leaf_below, jumps, neighbours, second_last_tables)
    if second_last_gaps == 0:
        return 0
    return _hoisted_last_leaf_completions(leaf_below, jumps, neighbours, last_tables, second_last, second_last_gaps)


@njit(nogil=True, cache=True, inline="always")
def _last_three_completions(leaf_below, jumps, neighbours, third_last_tables, second_last_tables, last_tables) -> int:
    """The completions of a node that lacks the last three leaves (``leaf_below[last leaf]`` set).

    The third-last leaf goes in and out like the second-last one, with ``leaf_below`` alone, in a
    loop of its own rather than the walk's general one: 2x15, 5x6 and 6x6 count in 0.91-0.96x the
    time of the general loop with the tables read once a task (issue 18).
    """
    third_last = third_last_tables[0]
    leaf_below[third_last] = third_last
    third_last_gaps = _hoisted_gaps(leaf_below, jumps, neighbours, third_last_tables)
    completions = 0
    while third_last_gaps != 0:
        gap = lowest_bit_index(third_last_gaps)
        third_last_gaps &= third_last_gaps - _ONE
        below = leaf_below[gap]
        leaf_below[third_last] = below
        leaf_below[gap] = third_last
        completions += _last_two_completions(leaf_below, jumps, neighbours, second_last_tables, last_tables)
        leaf_below[gap] = below
    return completions


@njit(nogil=True, cache=True, inline="always")
def last_leaf_completions(order, neighbours, jumps, constraint_start, prefix_masks, leaf_below, second_last_gaps) -> int:
    """Completions of a node that lacks only the last two leaves, given the second-last one's gaps.

    Each gap takes the second-last leaf for a moment (only ``leaf_below`` changes; the entries of the
    leaves in the pile are restored, those of the two missing leaves are scratch): the last leaf's
    gap count there is the completions (see "The last leaves" above).
    """
    last = order.shape[0] - 1
    last_tables = _read_leaf_tables(order, neighbours, jumps, constraint_start, prefix_masks, last)
    leaf_below[last_tables[0]] = last_tables[0]
    return _hoisted_last_leaf_completions(leaf_below, jumps, neighbours, last_tables, order[last - 1], second_last_gaps)


@njit(nogil=True, cache=True)
def walk_orbit_subtree(
    order, neighbours, jumps, constraint_start, prefix_masks, leaf_below, leaf_above, placed, gap_masks, stop_flag
) -> int:
    """Count the complete cycles below one node (the leaves of rank below ``placed`` in the pile).

    ``leaf_below`` and ``leaf_above`` are working space: their entries for the placed leaves are left
    as they came in unless the walk returns ``WALK_ABORTED`` (when ``stop_flag[0]`` is set); those of
    the leaves not yet placed are scratch. ``gap_masks`` needs ``N`` entries.
    """
    leaves_total = order.shape[0]
    last = leaves_total - 1
    if placed >= last:
        return popcount(_walk_gaps(order, neighbours, jumps, constraint_start, prefix_masks, last, leaf_below))
    if placed == last - 1:
        second_last_gaps = _walk_gaps(order, neighbours, jumps, constraint_start, prefix_masks, placed, leaf_below)
        return last_leaf_completions(order, neighbours, jumps, constraint_start, prefix_masks, leaf_below, second_last_gaps)
    # The bottom three leaves' tables, read once a task rather than once a walk (``_hoisted_gaps``);
    # ``_last_three_completions`` places them. Here ``1 <= placed <= last - 2`` (every caller places
    # the first leaf): none of the three is the first leaf, so each has a constraint.
    last_tables = _read_leaf_tables(order, neighbours, jumps, constraint_start, prefix_masks, last)
    second_last_tables = _read_leaf_tables(order, neighbours, jumps, constraint_start, prefix_masks, last - 1)
    third_last_tables = _read_leaf_tables(order, neighbours, jumps, constraint_start, prefix_masks, last - 2)
    leaf_below[last_tables[0]] = last_tables[0]  # never placed: its entry is free, and a finished walk stays there
    completions = 0
    dead_ends = 0
    position = placed
    gap_masks[position] = _walk_gaps(order, neighbours, jumps, constraint_start, prefix_masks, position, leaf_below)
    while True:
        gaps = gap_masks[position]
        if gaps == 0:
            position -= 1
            if position < placed:
                break
            remove_leaf(leaf_below, leaf_above, order[position])
            dead_ends += 1
            if dead_ends == _STOP_CHECK_INTERVAL:
                dead_ends = 0
                if stop_flag[0] != 0:
                    return WALK_ABORTED
            continue
        gap = lowest_bit_index(gaps)
        gap_masks[position] = gaps & (gaps - _ONE)
        insert_leaf(leaf_below, leaf_above, order[position], gap)
        if position == last - 3:
            completions += _last_three_completions(
                leaf_below, jumps, neighbours, third_last_tables, second_last_tables, last_tables
            )
            remove_leaf(leaf_below, leaf_above, order[position])
        elif position == last - 2:  # a task that lacks three leaves
            completions += _last_two_completions(leaf_below, jumps, neighbours, second_last_tables, last_tables)
            remove_leaf(leaf_below, leaf_above, order[position])
        else:
            position += 1
            gap_masks[position] = _walk_gaps(order, neighbours, jumps, constraint_start, prefix_masks, position, leaf_below)
    return completions


@njit(nogil=True, cache=True)
def _orbit_children(order, neighbours, jumps, constraint_start, prefix_masks, nodes, placed):
    """Every node one leaf deeper than ``nodes`` (``placed`` leaves each), and each row's child count."""
    leaves_total = nodes.shape[1]
    counts = np.zeros(nodes.shape[0], dtype=np.int64)
    gap_sets = np.zeros(nodes.shape[0], dtype=np.uint64)
    for row in range(nodes.shape[0]):
        gap_sets[row] = orbit_gaps(order, neighbours, jumps, constraint_start, prefix_masks, placed, nodes[row])
        counts[row] = popcount(gap_sets[row])
    children = np.zeros((counts.sum(), leaves_total), dtype=nodes.dtype)
    leaf_below = np.zeros(leaves_total, dtype=nodes.dtype)
    leaf_above = np.zeros(leaves_total, dtype=nodes.dtype)
    child = 0
    for row in range(nodes.shape[0]):
        gaps = gap_sets[row]
        while gaps != 0:
            gap = lowest_bit_index(gaps)
            gaps &= gaps - _ONE
            leaf_below[:] = nodes[row]
            cycle_above(leaf_below, leaf_above, order[0])
            insert_leaf(leaf_below, leaf_above, order[placed], gap)
            children[child] = leaf_below
            child += 1
    return children, counts


def orbit_children(
    plan: OrbitPlan, nodes: np.ndarray, placed: int, max_children: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Children of ``nodes`` (each with ``placed`` leaves) and how many each row has.

    On the wide path, with ``max_children``, more children than that are not listed: the children
    come back empty (none of them allocated), with the counts.
    """
    if not plan.wide:
        return _orbit_children(plan.order, plan.neighbours, plan.jumps, plan.constraint_start, plan.prefix_masks, nodes, placed)
    gap_sets, counts = wide_orbit_child_gaps(plan.tables(), nodes, placed, plan.prefix_masks.shape[1])
    total = int(counts.sum())
    if max_children is not None and total > max_children:
        return np.zeros((0, nodes.shape[1]), dtype=nodes.dtype), counts
    return wide_orbit_children(plan.tables(), nodes, placed, gap_sets, total), counts


@njit(nogil=True, cache=True)
def canonical_codes(nodes: np.ndarray, placed: int, start: int, permutations: np.ndarray) -> np.ndarray:
    """The least code of each node over the group and turning the pile over.

    A code is the cycle read from its least leaf, downwards or (turned over) upwards, after mapping
    every leaf by a group element; two nodes have the same least code exactly when one is an image
    of the other.
    """
    codes = np.empty((nodes.shape[0], placed), dtype=nodes.dtype)
    cycle = np.empty(placed, dtype=np.int64)
    mapped = np.empty(placed, dtype=np.int64)
    best = np.empty(placed, dtype=np.int64)
    for row in range(nodes.shape[0]):
        leaf = start
        for position in range(placed):
            cycle[position] = leaf
            leaf = nodes[row, leaf]
        have_best = False
        for element in range(permutations.shape[0]):
            least_at = 0
            for position in range(placed):
                mapped[position] = permutations[element, cycle[position]]
                if mapped[position] < mapped[least_at]:
                    least_at = position
            for direction in (1, -1):
                # Compare the rotation starting at the least leaf, read in ``direction``, with best.
                verdict = 0 if have_best else -1
                if have_best:
                    for position in range(placed):
                        value = mapped[(least_at + direction * position) % placed]
                        if value != best[position]:
                            verdict = -1 if value < best[position] else 1
                            break
                if verdict < 0:
                    for position in range(placed):
                        best[position] = mapped[(least_at + direction * position) % placed]
                    have_best = True
        for position in range(placed):
            codes[row, position] = best[position]
    return codes


@dataclass(frozen=True)
class OrbitTasks:
    """Task nodes of the orbit walk, each standing for ``weights[i]`` nodes of the full walk.

    Attributes
    ----------
    leaf_below
        ``(tasks, N)`` ``uint8`` piles, the leaves of rank below ``placed_leaves`` in each.
    weights
        ``int64`` orbit weight of each task (the total is ``sum(weight * completions)``).
    placed_leaves
        Leaves placed in every task.
    plan
        The plan whose order the tasks follow (walk them with its tables): the planner's order up
        to ``reduced_at``, then ``MapSymmetry.with_greedy_tail``.
    reduced_at
        The (last) closed prefix where the nodes were de-duplicated (0: no reduction).
    nodes_at_reduction, orbits
        How many nodes of the full walk that depth has, and how many representatives were kept.
    estimated_nodes
        ``float64`` estimate of the nodes below each task (``plan.probe.orbit_subtree_weights``),
        where the planner made one on its way (``plan.tasks.plan_orbit_tasks``); ``None`` otherwise.
        Not part of the task list's identity: it only orders, deals and weighs the tasks.
    """

    leaf_below: np.ndarray
    weights: np.ndarray
    placed_leaves: int
    plan: OrbitPlan
    reduced_at: int
    nodes_at_reduction: int
    orbits: int
    estimated_nodes: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.leaf_below.shape[0])


def orbit_root(plan: OrbitPlan) -> np.ndarray:
    """The node holding the first leaf of the order alone (its own cycle)."""
    root = np.zeros((1, plan.leaves_total), dtype=plan.leaf_dtype)
    first = int(plan.order[0])
    root[0, first] = first
    return root


def corner_orbit_representative(plan: OrbitPlan) -> tuple[np.ndarray, int, int] | None:
    """On ``2^d``: one node at depth ``d + 1`` standing for all ``d!`` (module docstring), or ``None``.

    Returns ``(node, d + 1, d!)``: the cycle of the first ``d + 1`` leaves of the order, in that order
    downward from leaf 0. ``None`` where the map is not ``2^d`` (``d >= 2``) or the order does not
    start with leaf 0 and its neighbours.
    """
    symmetry = plan.symmetry
    dimensions = len(symmetry.sides)
    if symmetry.mode != "corner" or dimensions < 2:
        return None
    first = [int(leaf) for leaf in plan.order[: dimensions + 1]]
    if first[0] != 0 or sorted(first[1:]) != [1 << dimension for dimension in range(dimensions)]:
        return None
    if dimensions + 1 not in symmetry.closed_prefixes:
        return None
    node = np.zeros((1, plan.leaves_total), dtype=plan.leaf_dtype)
    for leaf, below in zip(first, first[1:] + first[:1], strict=True):
        node[0, leaf] = below
    return node, dimensions + 1, math.factorial(dimensions)


def reduce_to_orbits(
    plan: OrbitPlan, nodes: np.ndarray, placed: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One representative per orbit of ``nodes`` (all at a closed depth), with the orbit's weight.

    The weight is the number of nodes of the orbit, or with ``weights`` (each node standing for
    that many nodes of the full walk) the sum of theirs.
    """
    codes = canonical_codes(nodes, placed, int(plan.order[0]), plan.symmetry.permutations)
    # Each code as one opaque value of ``placed`` bytes: ``np.unique(..., axis=0)`` would compare
    # rows field by field, about 15x slower (2 x 14: 55 ms against 4 ms for 20,000 rows).
    whole_codes = np.ascontiguousarray(codes).view(np.dtype((np.void, placed * codes.itemsize))).reshape(-1)
    _, first_index, orbit_of = np.unique(whole_codes, return_index=True, return_inverse=True)
    orbit_weights = np.zeros(len(first_index), dtype=np.int64)
    np.add.at(orbit_weights, orbit_of.reshape(-1), 1 if weights is None else weights)
    # Representatives in the order their orbits first appear (the order the walk met them).
    by_appearance = np.argsort(first_index)
    return nodes[first_index[by_appearance]], orbit_weights[by_appearance]


def split_orbit_tasks(
    plan: OrbitPlan, threads: int, tasks_per_thread: int, max_nodes: int = MAX_ORBIT_NODES, corner_orbit: bool | None = None
) -> OrbitTasks:
    """List the nodes down to the deepest closed prefix that stays small, reduce them, split on.

    Parameters
    ----------
    plan
        From ``make_orbit_plan`` (at least 2 leaves).
    threads, tasks_per_thread
        After the reduction, go deeper until there are ``threads * tasks_per_thread`` tasks.
    max_nodes
        The most nodes listed at one depth on the way to the reduction depth.
    corner_orbit
        On ``2^d``, start from ``corner_orbit_representative`` instead of listing and reducing:
        ``None`` (the default) where the ``d!`` nodes of its depth are more than ``max_nodes``
        (``2^9`` and up; the task lists of smaller maps stay as they were), ``True`` always (the
        tests check it on small maps), ``False`` never.

    Returns
    -------
    OrbitTasks
    """
    leaves_total = plan.leaves_total
    # Bounded memory on big maps: a listed depth holds at most ``MAX_LISTED_BYTES`` of rows.
    max_nodes = min(max_nodes, MAX_LISTED_BYTES // (leaves_total * plan.leaf_dtype.itemsize))
    last_usable = max([k for k in plan.symmetry.closed_prefixes if k <= leaves_total - 1], default=0)
    nodes, placed = orbit_root(plan), 1
    reduced_nodes, reduced_at = (nodes, 1) if 1 in plan.symmetry.closed_prefixes else (None, 0)
    closed = plan.symmetry.closed_prefixes
    group_order = plan.symmetry.group_order
    corner = corner_orbit_representative(plan) if corner_orbit is not False else None
    if corner is not None and (corner_orbit or math.factorial(len(plan.symmetry.sides)) > max_nodes):
        # d >= 2, so the orbit's depth d + 1 is at most N - 1: there is a subtree below it to walk.
        reduced_nodes, reduced_at, corner_weight = corner
        nodes, placed, last_usable = reduced_nodes, reduced_at, 0  # nothing to list
    else:
        corner = None
    while placed < last_usable:
        deeper, _ = orbit_children(plan, nodes, placed, max_nodes)
        if len(deeper) > max_nodes or len(deeper) == 0:
            break
        nodes, placed = deeper, placed + 1
        if placed in closed:
            reduced_nodes, reduced_at = nodes, placed
            next_closed = min([k for k in closed if k > placed], default=leaves_total)
            # Enough nodes that most orbits have all 2|G| members, or the next closed prefix is far
            # off (listing its nodes would cost more than the reduction saves).
            if len(nodes) >= ENOUGH_NODES_PER_ELEMENT * 2 * group_order or (
                len(nodes) >= group_order and next_closed - placed > 4
            ):
                break
    if reduced_nodes is None:
        # No closed prefix short of the last leaf (a 1 x 2 strip): walk the whole tree, weight 1.
        nodes, placed = orbit_root(plan), 1
        weights = np.ones(1, dtype=np.int64)
        nodes_at_reduction, orbits = 1, 1
        reduced_at = 0
    elif corner is not None:
        nodes, placed = reduced_nodes, reduced_at
        weights = np.array([corner_weight], dtype=np.int64)
        nodes_at_reduction, orbits = corner_weight, 1
    else:
        nodes, placed = reduced_nodes, reduced_at
        nodes_at_reduction = len(nodes)
        nodes, weights = reduce_to_orbits(plan, nodes, placed)
        orbits = len(nodes)
    # The leaves after the reduction may go in any fixed order: take the most constrained first.
    # The nodes listed so far hold the first ``placed`` leaves, which the new order keeps.
    plan = make_orbit_plan(
        plan.symmetry.sides,
        plan.symmetry.with_greedy_tail(placed),
        wide=plan.wide,
        shift=plan.shift if plan.wide else 6,
        leaf_dtype=plan.leaf_dtype,
    )
    if reduced_nodes is not None:
        # The new order may close again soon (on a square: the centre block once its corners are
        # in). Reduce there too: children of representatives with a symmetry of their own fall
        # into common orbits (6 x 6: 1524 children of 455 representatives, 1225 orbits).
        for closed_at in plan.symmetry.closed_prefixes:
            if closed_at <= placed or closed_at >= leaves_total - 1:
                continue
            deeper, deeper_weights, deeper_placed = nodes, weights, placed
            while deeper_placed < closed_at and 0 < len(deeper) <= max_nodes:
                deeper, counts = orbit_children(plan, deeper, deeper_placed, max_nodes)
                deeper_weights, deeper_placed = np.repeat(deeper_weights, counts), deeper_placed + 1
            if deeper_placed < closed_at or len(deeper) == 0 or len(deeper) > max_nodes:
                break
            nodes, weights = reduce_to_orbits(plan, deeper, closed_at, deeper_weights)
            placed = reduced_at = closed_at
            nodes_at_reduction, orbits = int(weights.sum()), len(nodes)
    check_connected_order(plan)
    wanted = max(1, threads) * tasks_per_thread
    while len(nodes) < wanted and placed < leaves_total - 1:
        deeper, counts = orbit_children(plan, nodes, placed)
        if len(deeper) == 0:
            break
        nodes, weights, placed = deeper, np.repeat(weights, counts), placed + 1
    return OrbitTasks(
        leaf_below=nodes,
        weights=weights,
        placed_leaves=placed,
        plan=plan,
        reduced_at=reduced_at,
        nodes_at_reduction=nodes_at_reduction,
        orbits=orbits,
    )
