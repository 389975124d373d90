"""The orbit walk for maps of any size: gap sets as several 64-bit words.

The one-word walk (``mapfold.walks.orbit``) keeps each set of gaps in one ``uint64``, so it counts
maps of at most 64 leaves; its inner loops are left exactly as they are. This module walks the same
tree (same order, same constraint tables, same orbits and weights, so the same counts) with every
gap set spread over ``words`` words: the gap below leaf ``m`` is bit ``m & (2**shift - 1)`` of word
``m >> shift``. ``shift`` is 6 (64 bits a word) in a count; the tests lower it (say to 2, four gaps a
word) so that a map of ten leaves already spreads its gaps over several words, and every path
across a word boundary is exercised on maps the brute force can check.

Tables
------
``tables`` is ``OrbitPlan.tables()``: ``(order, neighbours, jumps, constraint_start, prefix_masks,
shift)``, where ``prefix_masks`` is ``(N, words)``. Leaves are ``uint8`` up to 256 leaves and
``uint16`` beyond (``OrbitPlan.leaf_dtype``).

The walk
--------
Lunnon's depth-first walk, as in the one-word module: a gap set per level (``gap_masks``, ``(N,
words)``), the lowest gap taken first, a leaf removed on the way back. At the second-last leaf the
walk inserts it at each of its gaps and adds the last leaf's number of gaps (its completions), never
placing the last leaf. The one-word module's interleaved pair of walks for the last two leaves is a
speed trick only; here each walk runs alone.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mapfold.jit.bits import lowest_bit_index, popcount
from mapfold.walks.pile import WALK_ABORTED, cycle_above, insert_leaf, remove_leaf

_ONE = np.uint64(1)
_ZERO = np.uint64(0)

#: Dead ends between looks at the stop flag.
_STOP_CHECK_INTERVAL = 1 << 14


@njit(nogil=True, cache=True, inline="always")
def mask_count(masks: np.ndarray, row: int) -> int:
    """Set bits of the gap set ``masks[row]`` (all its words)."""
    total = 0
    for word in range(masks.shape[1]):
        total += popcount(masks[row, word])
    return total


@njit(nogil=True, cache=True, inline="always")
def take_lowest(masks: np.ndarray, row: int, shift: int) -> int:
    """Remove the lowest gap from ``masks[row]`` and return its leaf, or -1 when the set is empty."""
    for word in range(masks.shape[1]):
        bits = masks[row, word]
        if bits != _ZERO:
            masks[row, word] = bits & (bits - _ONE)
            return (word << shift) | lowest_bit_index(bits)
    return -1


@njit(nogil=True, cache=True, inline="always")
def nth_gap(masks: np.ndarray, row: int, shift: int, skip: int) -> int:
    """The leaf of the gap with ``skip`` gaps before it in ``masks[row]`` (which has more than ``skip``)."""
    for word in range(masks.shape[1]):
        bits = masks[row, word]
        count = popcount(bits)
        if skip >= count:
            skip -= count
            continue
        for _ in range(skip):
            bits &= bits - _ONE
        return (word << shift) | lowest_bit_index(bits)
    return -1


@njit(nogil=True, cache=True, inline="always")
def wide_orbit_gaps(tables, position, leaf_below, masks, row, scratch) -> bool:
    """Put the gap set of the leaf of rank ``position`` into ``masks[row]``; ``True`` when it is not empty.

    ``scratch`` is working space of ``words`` words. The set is the prefix's gaps ANDed with every
    constraint's walk (see ``mapfold.walks.orbit``).
    """
    order, neighbours, jumps, constraint_start, prefix_masks, shift = tables
    words = masks.shape[1]
    low = (1 << shift) - 1
    leaf = order[position]
    left = _ZERO
    for word in range(words):
        masks[row, word] = prefix_masks[position, word]
        left |= prefix_masks[position, word]
    for constraint in range(constraint_start[position], constraint_start[position + 1]):
        if left == _ZERO:
            return False  # no other constraint can add a gap back
        for word in range(words):
            scratch[word] = _ZERO
        step = neighbours[constraint]
        while step != leaf:
            scratch[np.int64(step) >> shift] |= _ONE << np.uint64(np.int64(step) & low)
            step = jumps[constraint, leaf_below[step]]
        left = _ZERO
        for word in range(words):
            masks[row, word] &= scratch[word]
            left |= masks[row, word]
    return left != _ZERO


@njit(nogil=True, cache=True)
def walk_orbit_subtree_wide(tables, leaf_below, leaf_above, placed, gap_masks, scratch, stop_flag) -> int:
    """Count the complete cycles below one node (the leaves of rank below ``placed`` in the pile).

    As ``orbit.walk_orbit_subtree``: ``leaf_below`` and ``leaf_above`` are working space, left as
    they came in unless the walk returns ``WALK_ABORTED`` (``stop_flag[0]`` set). ``gap_masks`` is
    ``(N, words)``, ``scratch`` ``words`` long.
    """
    order = tables[0]
    shift = tables[5]
    leaves_total = order.shape[0]
    last = leaves_total - 1
    if placed >= last:
        wide_orbit_gaps(tables, last, leaf_below, gap_masks, last, scratch)
        return mask_count(gap_masks, last)
    completions = 0
    dead_ends = 0
    position = placed
    wide_orbit_gaps(tables, position, leaf_below, gap_masks, position, scratch)
    while True:
        gap = take_lowest(gap_masks, position, shift)
        if gap < 0:
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
        insert_leaf(leaf_below, leaf_above, order[position], gap)
        if position == last - 1:
            if wide_orbit_gaps(tables, last, leaf_below, gap_masks, last, scratch):
                completions += mask_count(gap_masks, last)
            remove_leaf(leaf_below, leaf_above, order[position])
        else:
            position += 1
            wide_orbit_gaps(tables, position, leaf_below, gap_masks, position, scratch)
    return completions


@njit(nogil=True, cache=True)
def wide_orbit_child_gaps(tables, nodes, placed, words):
    """The gap set of the leaf of rank ``placed`` in each node, and each node's number of children."""
    gap_sets = np.zeros((nodes.shape[0], words), dtype=np.uint64)
    counts = np.zeros(nodes.shape[0], dtype=np.int64)
    scratch = np.zeros(words, dtype=np.uint64)
    for row in range(nodes.shape[0]):
        wide_orbit_gaps(tables, placed, nodes[row], gap_sets, row, scratch)
        counts[row] = mask_count(gap_sets, row)
    return gap_sets, counts


@njit(nogil=True, cache=True)
def wide_orbit_children(tables, nodes, placed, gap_sets, total):
    """Every child of ``nodes`` (``total`` of them), from ``wide_orbit_child_gaps``'s sets (which it empties)."""
    order = tables[0]
    shift = tables[5]
    leaves_total = nodes.shape[1]
    children = np.zeros((total, leaves_total), dtype=nodes.dtype)
    leaf_below = np.zeros(leaves_total, dtype=nodes.dtype)
    leaf_above = np.zeros(leaves_total, dtype=nodes.dtype)
    child = 0
    for row in range(nodes.shape[0]):
        while True:
            gap = take_lowest(gap_sets, row, shift)
            if gap < 0:
                break
            leaf_below[:] = nodes[row]
            cycle_above(leaf_below, leaf_above, order[0])
            insert_leaf(leaf_below, leaf_above, order[placed], gap)
            children[child] = leaf_below
            child += 1
    return children
