"""The mirror walk for maps of any size: gap sets as several 64-bit words.

The same walk as ``mapfold.walks.mirror`` (same order, same kinds of rank, same forced gaps; its
docstring has the argument), with each gap set spread over ``words`` words as in
``mapfold.walks.orbit_wide``: the gap below item ``m`` is bit ``m & (2**shift - 1)`` of word
``m >> shift``; the sentinel's gap (item ``N``) is never offered, so it has no bit.

What it sends differs: the one-word walk pushes a pile without leaf ``N`` and a one-bit mask for
leaf ``N``'s gap (bit ``N - 1``), which no ``uint64`` holds past 64 leaves. This walk pushes the
complete pile, leaf ``N`` in place (Lunnon's numbering, ``uint8`` rows up to 255 leaves, ``uint16``
beyond), and a mask of 1 (one folding); the consumer reads such rows with
``self_mirror.count_complete_mirror_centres``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mapfold.walks.orbit_wide import mask_count, take_lowest
from mapfold.walks.pile import WALK_ABORTED, cycle_above, insert_leaf, remove_leaf

_ONE = np.uint64(1)
_ZERO = np.uint64(0)

#: The rank kinds (as ``mapfold.walks.mirror``).
_MIRRORED = 1
_AXIS = 2

#: Dead ends between looks at the stop flag.
_STOP_CHECK_INTERVAL = 1 << 14


@njit(nogil=True, cache=True, inline="always")
def _add_gap(masks, row, item, shift, sentinel):
    """Add the gap below ``item`` (none for the sentinel)."""
    if item != sentinel:
        masks[row, np.int64(item) >> shift] |= _ONE << np.uint64(np.int64(item) & ((1 << shift) - 1))


@njit(nogil=True, cache=True, inline="always")
def wide_rank_gaps(tables, rank, leaf_below, leaf_above, masks, row, scratch) -> bool:
    """Put the gaps of the leaf of rank ``rank`` into ``masks[row]``; ``True`` when there is one."""
    order, kinds, mirror, neighbours, jumps, constraint_start, prefix_masks, shift = tables
    words = masks.shape[1]
    sentinel = leaf_below.shape[0] - 1
    leaf = order[rank]
    kind = kinds[rank]
    if kind == _MIRRORED or kind == _AXIS:
        for word in range(words):
            masks[row, word] = _ZERO
        if kind == _MIRRORED:
            partner = order[rank - 1]
            above = leaf_above[partner]
            mirrored_below = mirror[leaf_below[partner]]
            _add_gap(masks, row, mirrored_below, shift, sentinel)
            if mirrored_below == above:
                _add_gap(masks, row, partner, shift, sentinel)
        else:
            item = leaf_below[sentinel]
            for _ in range(leaf_below.shape[0]):
                below = leaf_below[item]
                if mirror[below] == item:
                    _add_gap(masks, row, item, shift, sentinel)
                item = below
                if item == sentinel:
                    break
        for word in range(words):
            masks[row, word] &= prefix_masks[rank, word]
    else:
        for word in range(words):
            masks[row, word] = prefix_masks[rank, word]
    left = _ZERO
    for word in range(words):
        left |= masks[row, word]
    for constraint in range(constraint_start[rank], constraint_start[rank + 1]):
        if left == _ZERO:
            return False  # no constraint can add a gap back
        for word in range(words):
            scratch[0, word] = _ZERO
        step = neighbours[constraint]
        while step != leaf:
            _add_gap(scratch, 0, step, shift, sentinel)
            step = jumps[constraint, leaf_below[step]]
        left = _ZERO
        for word in range(words):
            masks[row, word] &= scratch[0, word]
            left |= masks[row, word]
    return left != _ZERO


@njit(nogil=True, cache=True)
def _send_complete_folding(leaf_below, row, sender, lane) -> bool:
    """Push one complete self-mirrored pile in Lunnon's numbering (leaves ``1 .. N``, sentinel 0), mask 1."""
    sentinel = leaf_below.shape[0] - 1
    row[0] = leaf_below[sentinel] + 1
    for leaf in range(sentinel):
        below = leaf_below[leaf]
        row[leaf + 1] = 0 if below == sentinel else below + 1
    return sender.push(lane, row, _ONE)


@njit(nogil=True, cache=True)
def walk_mirror_subtree_wide(tables, leaf_below, leaf_above, placed, gap_masks, scratch, stop_flag, sender, lane, row) -> int:
    """Count (and, with a sender, push) the self-mirrored foldings below one node.

    As ``mirror.walk_mirror_subtree``, with ``gap_masks`` ``(N, words)`` and ``scratch`` ``(1,
    words)``; each folding goes out complete (module docstring).
    """
    order = tables[0]
    shift = tables[7]
    leaves_total = order.shape[0]
    last = leaves_total - 1
    if placed > last:
        if sender is not None:
            if not _send_complete_folding(leaf_below, row, sender, lane):
                return WALK_ABORTED
        return 1
    found = 0
    dead_ends = 0
    position = placed
    wide_rank_gaps(tables, position, leaf_below, leaf_above, gap_masks, position, scratch)
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
        if position == last:
            found += 1
            if sender is not None:
                if not _send_complete_folding(leaf_below, row, sender, lane):
                    remove_leaf(leaf_below, leaf_above, order[position])
                    return WALK_ABORTED
            remove_leaf(leaf_below, leaf_above, order[position])
        else:
            position += 1
            wide_rank_gaps(tables, position, leaf_below, leaf_above, gap_masks, position, scratch)
    return found


@njit(nogil=True, cache=True)
def wide_mirror_children(tables, nodes, placed):
    """Every node one leaf deeper than ``nodes`` (``placed`` leaves each)."""
    order = tables[0]
    shift = tables[7]
    leaves_total = order.shape[0]
    words = tables[6].shape[1]
    width = nodes.shape[1]
    leaf_above = np.zeros(width, dtype=nodes.dtype)
    gap_sets = np.zeros((nodes.shape[0], words), dtype=np.uint64)
    scratch = np.zeros((1, words), dtype=np.uint64)
    total = 0
    for index in range(nodes.shape[0]):
        cycle_above(nodes[index], leaf_above, leaves_total)
        wide_rank_gaps(tables, placed, nodes[index], leaf_above, gap_sets, index, scratch)
        total += mask_count(gap_sets, index)
    children = np.zeros((total, width), dtype=nodes.dtype)
    leaf_below = np.zeros(width, dtype=nodes.dtype)
    child = 0
    for index in range(nodes.shape[0]):
        while True:
            gap = take_lowest(gap_sets, index, shift)
            if gap < 0:
                break
            leaf_below[:] = nodes[index]
            cycle_above(leaf_below, leaf_above, leaves_total)
            insert_leaf(leaf_below, leaf_above, order[placed], gap)
            children[child] = leaf_below
            child += 1
    return children
