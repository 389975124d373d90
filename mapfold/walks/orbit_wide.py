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
words)``), the lowest gap taken first, a leaf removed on the way back. The walk's own gap sets come
from ``_walk_gaps``, with the one-word walk's two speed-ups (issue 18): the first two constraints of
a leaf walked together, and the second-last leaf put into each of its gaps through ``leaf_below``
alone (two stores, one to take it out). The last leaf is never placed: its number of gaps is the
node's completions. The planner and the probes use ``wide_orbit_gaps``, which leaves the pile alone.
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


@njit(nogil=True, cache=True, inline="always")
def _walk_gaps(tables, position, leaf_below, masks, row, pair) -> bool:
    """``wide_orbit_gaps`` for the walk's own pile, its first two constraints walked together.

    As the one-word ``orbit._walk_gaps``: ``leaf_below[leaf] = leaf`` for the leaf being placed (not
    in the pile, so its entry is free) holds a finished walk where it is, so the loop has one exit
    and two independent chains of loads. ``pair`` is ``(2, words)`` working space.
    """
    order, neighbours, jumps, constraint_start, prefix_masks, shift = tables
    words = masks.shape[1]
    low = (1 << shift) - 1
    leaf = order[position]
    constraint = constraint_start[position]
    end = constraint_start[position + 1]
    left = _ZERO
    for word in range(words):
        masks[row, word] = prefix_masks[position, word]
        left |= prefix_masks[position, word]
    if constraint + 2 <= end and left != _ZERO:
        leaf_below[leaf] = leaf
        for word in range(words):
            pair[0, word] = _ZERO
            pair[1, word] = _ZERO
        first = neighbours[constraint]
        second = neighbours[constraint + 1]
        while first != leaf or second != leaf:
            pair[0, np.int64(first) >> shift] |= _ONE << np.uint64(np.int64(first) & low)
            pair[1, np.int64(second) >> shift] |= _ONE << np.uint64(np.int64(second) & low)
            first = jumps[constraint, leaf_below[first]]
            second = jumps[constraint + 1, leaf_below[second]]
        left = _ZERO
        for word in range(words):
            masks[row, word] &= pair[0, word] & pair[1, word]
            left |= masks[row, word]
        constraint += 2
    while constraint < end:
        if left == _ZERO:
            return False  # no other constraint can add a gap back
        for word in range(words):
            pair[0, word] = _ZERO
        step = neighbours[constraint]
        while step != leaf:
            pair[0, np.int64(step) >> shift] |= _ONE << np.uint64(np.int64(step) & low)
            step = jumps[constraint, leaf_below[step]]
        left = _ZERO
        for word in range(words):
            masks[row, word] &= pair[0, word]
            left |= masks[row, word]
        constraint += 1
    return left != _ZERO


@njit(nogil=True, cache=True)
def walk_orbit_subtree_wide(tables, leaf_below, leaf_above, placed, gap_masks, scratch, stop_flag) -> int:
    """Count the complete cycles below one node (the leaves of rank below ``placed`` in the pile).

    As ``orbit.walk_orbit_subtree``: ``leaf_below`` and ``leaf_above`` are working space, their
    entries for the placed leaves left as they came in unless the walk returns ``WALK_ABORTED``
    (``stop_flag[0]`` set); those of the leaves not yet placed are scratch. ``gap_masks`` is ``(N,
    words)``; ``scratch`` is ``(2, words)`` working space.
    """
    order = tables[0]
    shift = tables[5]
    leaves_total = order.shape[0]
    last = leaves_total - 1
    if placed >= last:
        _walk_gaps(tables, last, leaf_below, gap_masks, last, scratch)
        return mask_count(gap_masks, last)
    second_last = order[last - 1]
    completions = 0
    dead_ends = 0
    position = placed
    _walk_gaps(tables, position, leaf_below, gap_masks, position, scratch)
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
        if position == last - 1:
            # The second-last leaf in for a moment, through leaf_below alone: the last leaf's gaps
            # are all the walk reads, and the entry of ``gap`` is put back.
            leaf_below[second_last] = leaf_below[gap]
            leaf_below[gap] = second_last
            if _walk_gaps(tables, last, leaf_below, gap_masks, last, scratch):
                completions += mask_count(gap_masks, last)
            leaf_below[gap] = leaf_below[second_last]
        else:
            insert_leaf(leaf_below, leaf_above, order[position], gap)
            position += 1
            _walk_gaps(tables, position, leaf_below, gap_masks, position, scratch)
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
