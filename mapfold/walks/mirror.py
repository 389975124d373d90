"""The mirror walk: build only the foldings that can count towards the symmetric total.

By the lemma in ``mapfold.walks.self_mirror``, a complete normalised folding has a counting centre exactly
when one mirror holds: read the pile as a cycle of ``L = N + 1`` items, the sentinel directly above
leaf 1; the involution ``sigma`` that swaps the sentinel with leaf ``N`` and leaf ``x`` with leaf
``N - x`` must turn the cycle over: ``sigma(below(e)) = above(sigma(e))`` for every item ``e``.
(Then its centre weight is ``mirror_weight``'s: 1 when ``L`` is odd, 2 when it is even.) Such a
"self-mirrored" folding is fixed by ``sigma``, so it can be built half at a time: this walk places
the items in ``sigma``-pairs, each pair's second item where the mirror of the first forces it, and
reaches every self-mirrored folding exactly once, without walking the folding tree at all. On a
1 x 20 strip it builds the 20,314 self-mirrored foldings in 8 ms of CPU time, where the fold walk
takes 0.28 s; 6 x 6 takes 18 ms, 7 x 7 0.17 s.

Numbering
---------
Leaves are numbered from 0 here, as in ``mapfold.walks.orbit`` (leaf ``m`` of the rest of the package
is leaf ``m - 1``), and the sentinel is item ``N``. So ``sigma`` swaps ``N`` (sentinel) with
``N - 1`` and ``x`` with ``N - 2 - x``; when ``N`` is even, leaf ``(N - 2) / 2`` is its only fixed
item. The pile is a cyclic doubly linked list of the placed items (``leaf_below``, ``leaf_above``).
A bit ``m`` of a gap mask means "just below leaf ``m``"; the gap below the sentinel has no bit, since
leaf 0 stays directly below it (Lunnon's normalisation).

The walk
--------
Every self-mirrored folding starts, read down from the sentinel, with leaf 0, and has leaf ``N - 2``
directly above leaf ``N - 1`` (``sigma`` pairs the sentinel-leaf 0 step with that one). So the walk
starts from the cycle ``sentinel, 0, N - 2, N - 1`` (three leaves: no two creases there can cross)
and places the other ``sigma``-orbits one after another (``mirror_order``), in an order that puts
each pair next to leaves already placed, so that its creases prune early:

* the first leaf ``x`` of a pair goes at any gap its creases allow (``orbit_walk``'s constraint
  tables, for this order), except just below leaf ``N - 2``, which must stay empty;
* its partner ``sigma(x)`` then has its place forced. With ``x`` between ``a`` (above) and ``b``
  (below), the mirror of the pile needs ``sigma(x)`` between ``sigma(b)`` and ``sigma(a)``: just
  below ``sigma(b)``. When ``sigma(b) = a`` (``x`` went into the gap on the mirror's axis), both
  ``a, sigma(x), x, b`` and ``a, x, sigma(x), b`` are mirrored, so both are offered. The creases of
  ``sigma(x)`` must allow the forced gap;
* the fixed leaf (``N`` even) must sit on the mirror's axis: in one of the (two) gaps ``e, below(e)``
  with ``sigma(below(e)) = e``.

Every node is then a partial pile that is valid (no two crossing creases of one class) and mirrored
by ``sigma``. Conversely, a self-mirrored folding restricted to the items placed so far is such a
node, and the position of each new pair in it is one of the options above, so every self-mirrored
folding is reached exactly once.

The walk only decides what is sent. Each folding it completes is pushed through the
``LeafBelowSender`` in the kernel's format (the pile of leaves ``1 .. N - 1`` in Lunnon's numbering
and a one-bit mask for leaf ``N``), and the consumer applies the exact predicate
(``walks.self_mirror.count_mirror_centres``) to it. The tests hold this walk against the full stream of the
fold walk and the brute force.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from math import prod

import numpy as np
from numba import njit

from mapfold.jit.bits import lowest_bit_index, popcount
from mapfold.walks.group import map_neighbours, map_symmetry
from mapfold.walks.mirror_wide import wide_mirror_children
from mapfold.walks.orbit import ONE_WORD_LEAVES, leaf_dtype_for, make_orbit_plan
from mapfold.walks.pile import WALK_ABORTED, cycle_above, insert_leaf, remove_leaf

_ONE = np.uint64(1)

#: The rank kinds of ``MirrorPlan.kinds``.
FREE = 0  # the first leaf of a pair: any gap its creases allow
MIRRORED = 1  # the second leaf of a pair: where the mirror of the first forces it
AXIS = 2  # the fixed leaf of ``sigma``: on the mirror's axis

#: Leaves placed before the walk starts: ``N - 1``, 0 and ``N - 2`` (see the module docstring).
START_PLACED = 3

#: Dead ends between looks at the stop flag.
_STOP_CHECK_INTERVAL = 1 << 14


def mirror_of(leaves_total: int, dtype: type = np.uint8) -> np.ndarray:
    """``sigma`` on the items ``0 .. N`` (``N`` is the sentinel), as a ``dtype`` table."""
    mirror = np.empty(leaves_total + 1, dtype=dtype)
    mirror[leaves_total] = leaves_total - 1
    mirror[leaves_total - 1] = leaves_total
    for leaf in range(leaves_total - 1):
        mirror[leaf] = leaves_total - 2 - leaf
    return mirror


def mirror_order(sides: tuple[int, ...]) -> np.ndarray:
    """The insertion order: ``N - 1, 0, N - 2``, then the fixed leaf (if any), then the pairs.

    Each pair is the one with the most map neighbours already placed (ties: the smaller leaf), its
    better-connected leaf first, so that the creases prune early. Returned as ``int64``.
    """
    neighbours = map_neighbours(tuple(sides))
    leaves_total = len(neighbours)
    mirror = mirror_of(leaves_total, np.int64)
    placed_neighbours = np.zeros(leaves_total, dtype=np.int64)  # map neighbours already placed, per leaf
    placed = np.zeros(leaves_total, dtype=bool)
    order: list[int] = []

    def place(leaf: int) -> None:
        order.append(leaf)
        placed[leaf] = True
        for neighbour in neighbours[leaf]:
            placed_neighbours[neighbour] += 1

    for leaf in [leaves_total - 1, 0, leaves_total - 2] if leaves_total >= 3 else [leaves_total - 1, 0]:
        place(leaf)
    if leaves_total % 2 == 0 and not placed[(leaves_total - 2) // 2]:
        place((leaves_total - 2) // 2)
    while not placed.all():
        unplaced = np.flatnonzero(~placed)
        scores = placed_neighbours[unplaced] + placed_neighbours[mirror[unplaced]]
        best = int(unplaced[int(np.argmax(scores))])  # the first of the best: the smaller leaf
        partner = int(mirror[best])
        if placed_neighbours[partner] > placed_neighbours[best]:
            best, partner = partner, best
        place(best)
        place(partner)
    return np.array(order, dtype=np.int64)


@dataclass(frozen=True)
class MirrorPlan:
    """The tables the jitted mirror walk needs, built once per map.

    Attributes
    ----------
    order
        ``uint8`` insertion order of the leaves (``order[r]`` is placed ``r``-th).
    kinds
        ``uint8`` ``FREE``, ``MIRRORED`` or ``AXIS`` per rank.
    mirror
        ``uint8`` ``sigma`` on the items ``0 .. N``.
    neighbours, constraint_start
        As in ``walks.orbit.OrbitPlan`` for this order.
    jumps
        ``uint8`` ``(constraints, N + 1)``: ``orbit_walk``'s walk tables with a column for the
        sentinel, which no crease touches.
    prefix_masks
        ``uint64`` per rank: the gaps of the placed leaves, less the gap below leaf ``N - 2``.
    gap_bits
        ``uint64`` per item: its gap's bit (0 for the sentinel, whose gap is never offered); unused
        on the wide path.
    shift
        The wide path's gaps per word as a power of two (``prefix_masks`` is then ``(N, words)``);
        0 on the one-word path.

    Past 64 leaves (or when forced) the plan is wide; its items are ``uint8`` up to 255 leaves (the
    sentinel is item ``N``), ``uint16`` beyond.
    """

    order: np.ndarray
    kinds: np.ndarray
    mirror: np.ndarray
    neighbours: np.ndarray
    jumps: np.ndarray
    constraint_start: np.ndarray
    prefix_masks: np.ndarray
    gap_bits: np.ndarray
    shift: int = 0

    @property
    def leaves_total(self) -> int:
        """``N``."""
        return int(self.order.shape[0])

    @property
    def wide(self) -> bool:
        """Whether the walk keeps its gap sets in several words (``mapfold.walks.mirror_wide``)."""
        return self.prefix_masks.ndim == 2

    def tables(self) -> tuple[np.ndarray, ...]:
        """The arrays in the order the jitted functions take them (the wide path: ``shift`` for ``gap_bits``)."""
        if self.wide:
            return (
                self.order,
                self.kinds,
                self.mirror,
                self.neighbours,
                self.jumps,
                self.constraint_start,
                self.prefix_masks,
                self.shift,
            )
        return (
            self.order,
            self.kinds,
            self.mirror,
            self.neighbours,
            self.jumps,
            self.constraint_start,
            self.prefix_masks,
            self.gap_bits,
        )


def make_mirror_plan(
    sides: tuple[int, ...], wide: bool | None = None, shift: int = 6, leaf_dtype: type | None = None
) -> MirrorPlan:
    """Build the mirror walk's tables for a map of at least 2 leaves.

    ``wide`` (default: past 64 leaves), ``shift`` and ``leaf_dtype`` (default: ``uint8`` while the
    ``N + 1`` items fit a byte) as in ``walks.orbit.make_orbit_plan``.
    """
    leaves_total = prod(sides)
    if wide is None:
        wide = leaves_total > ONE_WORD_LEAVES
    if leaf_dtype is None:
        leaf_dtype = leaf_dtype_for(leaves_total + 1)
    order = mirror_order(sides)
    mirror = mirror_of(leaves_total, leaf_dtype)
    symmetry = dataclasses.replace(map_symmetry(sides), order=order)
    orbit_plan = make_orbit_plan(sides, symmetry, wide=wide, shift=shift, leaf_dtype=leaf_dtype)
    jumps = np.empty((orbit_plan.jumps.shape[0], leaves_total + 1), dtype=leaf_dtype)
    jumps[:, :leaves_total] = orbit_plan.jumps
    jumps[:, leaves_total] = leaves_total  # the sentinel: no crease, so the gap walk steps on
    kinds = np.full(leaves_total, FREE, dtype=np.uint8)
    for rank in range(START_PLACED, leaves_total):
        leaf = int(order[rank])
        if mirror[leaf] == leaf:
            kinds[rank] = AXIS
        elif mirror[leaf] == order[rank - 1] and kinds[rank - 1] == FREE:
            kinds[rank] = MIRRORED
    prefix_masks = orbit_plan.prefix_masks.copy()
    if leaves_total >= 3:
        if wide:
            prefix_masks[:, (leaves_total - 2) >> shift] &= ~(_ONE << np.uint64((leaves_total - 2) & ((1 << shift) - 1)))
        else:
            prefix_masks &= ~(_ONE << np.uint64(leaves_total - 2))
    gap_bits = np.zeros(leaves_total + 1, dtype=np.uint64)
    if not wide:
        gap_bits[:leaves_total] = _ONE << np.arange(leaves_total, dtype=np.uint64)
    return MirrorPlan(
        order=order.astype(leaf_dtype),
        kinds=kinds,
        mirror=mirror,
        neighbours=orbit_plan.neighbours,
        jumps=jumps,
        constraint_start=orbit_plan.constraint_start,
        prefix_masks=prefix_masks,
        gap_bits=gap_bits,
        shift=shift if wide else 0,
    )


def mirror_root(plan: MirrorPlan) -> tuple[np.ndarray, int]:
    """The walk's first node, ``sentinel, 0, N - 2, N - 1`` (``sentinel, 0, 1`` for two leaves)."""
    leaves_total = plan.leaves_total
    sentinel = leaves_total
    root = np.zeros((1, leaves_total + 1), dtype=plan.order.dtype)
    pile = [sentinel, 0, leaves_total - 2, leaves_total - 1] if leaves_total >= 3 else [sentinel, 0, 1]
    for item, below in zip(pile, pile[1:] + pile[:1], strict=True):
        root[0, item] = below
    return root, len(pile) - 1


@njit(nogil=True, cache=True, inline="always")
def _rank_gaps(tables, rank, leaf_below, leaf_above):
    """The gaps where the leaf of rank ``rank`` can go, given the pile of the leaves ranked before it."""
    order, kinds, mirror, neighbours, jumps, constraint_start, prefix_masks, gap_bits = tables
    leaf = order[rank]
    kind = kinds[rank]
    usable = prefix_masks[rank]
    if kind == MIRRORED:
        # Forced by the partner just placed (module docstring): below sigma(b), or also below the
        # partner itself when the partner went into the gap on the axis.
        partner = order[rank - 1]
        above = leaf_above[partner]
        mirrored_below = mirror[leaf_below[partner]]
        forced = gap_bits[mirrored_below]
        if mirrored_below == above:
            forced |= gap_bits[partner]
        usable &= forced
    elif kind == AXIS:
        on_axis = np.uint64(0)
        item = leaf_below[leaf_below.shape[0] - 1]
        for _ in range(leaf_below.shape[0]):
            below = leaf_below[item]
            if mirror[below] == item:
                on_axis |= gap_bits[item]
            item = below
            if item == leaf_below.shape[0] - 1:
                break
        usable &= on_axis
    for constraint in range(constraint_start[rank], constraint_start[rank + 1]):
        if usable == 0:
            break  # no constraint can add a gap back
        gaps = np.uint64(0)
        step = neighbours[constraint]
        while step != leaf:
            gaps |= gap_bits[step]
            step = jumps[constraint, leaf_below[step]]
        usable &= gaps
    return usable


@njit(nogil=True, cache=True)
def _send_folding(leaf_below, row, sender, lane) -> bool:
    """Push one complete self-mirrored pile the way the kernel pushes a node (Lunnon's numbering).

    The row holds leaves ``1 .. N - 1`` (leaf ``N`` left out) and the mask says leaf ``N`` goes
    just below leaf ``N - 1``, where every self-mirrored folding has it.
    """
    leaves_total = leaf_below.shape[0] - 1
    last = leaves_total - 1  # leaf N, from 0
    row[0] = leaf_below[leaves_total] + 1  # leaf 1: below the sentinel
    for leaf in range(leaves_total - 1):
        below = leaf_below[leaf]
        if below == last:
            below = leaf_below[last]
        row[leaf + 1] = 0 if below == leaves_total else below + 1
    row[leaves_total] = 0
    return sender.push(lane, row, _ONE << np.uint64(leaves_total - 1))


@njit(nogil=True, cache=True)
def walk_mirror_subtree(
    tables,
    leaf_below,
    leaf_above,
    placed,
    gap_masks,
    stop_flag,
    sender,
    lane,
    row,
) -> int:
    """Count (and, with a sender, push) the self-mirrored foldings below one node.

    ``tables`` is ``MirrorPlan.tables()``. ``leaf_below`` and ``leaf_above`` hold the items of rank
    below ``placed`` (and the sentinel);
    they are left as they came in unless the walk returns ``WALK_ABORTED`` (stop flag set, or the
    sender shut down). ``gap_masks`` needs ``N`` entries, ``row`` ``N + 1``.
    """
    order = tables[0]
    leaves_total = order.shape[0]
    last = leaves_total - 1
    if placed > last:
        if sender is not None:
            if not _send_folding(leaf_below, row, sender, lane):
                return WALK_ABORTED
        return 1
    found = 0
    dead_ends = 0
    position = placed
    gap_masks[position] = _rank_gaps(tables, position, leaf_below, leaf_above)
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
        if position == last:
            found += 1
            if sender is not None:
                if not _send_folding(leaf_below, row, sender, lane):
                    remove_leaf(leaf_below, leaf_above, order[position])
                    return WALK_ABORTED
            remove_leaf(leaf_below, leaf_above, order[position])
        else:
            position += 1
            gap_masks[position] = _rank_gaps(tables, position, leaf_below, leaf_above)
    return found


@njit(nogil=True, cache=True)
def _mirror_children(tables, nodes, placed):
    """Every node one leaf deeper than ``nodes`` (``placed`` leaves each)."""
    order = tables[0]
    leaves_total = order.shape[0]
    width = nodes.shape[1]
    leaf_above = np.zeros(width, dtype=nodes.dtype)
    gap_sets = np.zeros(nodes.shape[0], dtype=np.uint64)
    total = 0
    for index in range(nodes.shape[0]):
        cycle_above(nodes[index], leaf_above, leaves_total)
        gap_sets[index] = _rank_gaps(tables, placed, nodes[index], leaf_above)
        total += popcount(gap_sets[index])
    children = np.zeros((total, width), dtype=nodes.dtype)
    leaf_below = np.zeros(width, dtype=nodes.dtype)
    child = 0
    for index in range(nodes.shape[0]):
        gaps = gap_sets[index]
        while gaps != 0:
            gap = lowest_bit_index(gaps)
            gaps &= gaps - _ONE
            leaf_below[:] = nodes[index]
            cycle_above(leaf_below, leaf_above, leaves_total)
            insert_leaf(leaf_below, leaf_above, order[placed], gap)
            children[child] = leaf_below
            child += 1
    return children


@dataclass(frozen=True)
class MirrorTasks:
    """Independent subtrees of the mirror walk.

    Attributes
    ----------
    leaf_below
        ``(tasks, N + 1)`` ``uint8`` piles (leaves from 0, the sentinel as item ``N``).
    placed_leaves
        Leaves placed in every task (ranks ``0 .. placed_leaves - 1`` of ``plan.order``).
    plan
        The tables to walk them with.
    """

    leaf_below: np.ndarray
    placed_leaves: int
    plan: MirrorPlan

    def __len__(self) -> int:
        return int(self.leaf_below.shape[0])


def split_mirror_tasks(sides: tuple[int, ...], wanted: int, **plan_options) -> MirrorTasks:
    """The mirror walk's nodes at the first depth with at least ``wanted`` of them (or the last).

    Parameters
    ----------
    sides
        The map, at least 2 leaves.
    wanted
        How many tasks to aim for (a few per worker thread or more).
    plan_options
        ``wide``, ``shift``, ``leaf_dtype`` for ``make_mirror_plan`` (the tests force the wide path).

    Returns
    -------
    MirrorTasks
        Possibly none at all: a map may have no self-mirrored folding.
    """
    plan = make_mirror_plan(sides, **plan_options)
    nodes, placed = mirror_root(plan)
    # Never split past the leaf before the last: the walk counts the last leaf's gaps itself.
    while len(nodes) < wanted and 0 < len(nodes) and placed < plan.leaves_total - 1:
        nodes = (wide_mirror_children if plan.wide else _mirror_children)(plan.tables(), nodes, placed)
        placed += 1
    return MirrorTasks(leaf_below=nodes, placed_leaves=placed, plan=plan)
