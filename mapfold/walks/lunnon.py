"""The jitted walk: Lunnon's depth-first enumeration of one subtree, with 64-bit gap masks.

The pile is a cyclic doubly linked list through the sentinel leaf 0 (``leaf_below``,
``leaf_above``). Leaves are inserted in order; for each leaf the usable gaps are the AND, over the
dimensions that constrain it, of the gaps found by walking its already-placed neighbours
(``usable_gaps``). The walk is normalised: leaf 1 sits just below the sentinel, so a leaf put at
gap 0 (above leaf 1) can never complete and gap 0 is never offered. Each complete normalised
folding stands for ``leaves_total`` foldings (any leaf may be on top).

At the second-to-last leaf the walk does not insert the last leaf: the number of its usable gaps
is the number of completions. When a sender is given, that node is pushed whole (its pile and a
last-leaf gap mask), which stands for those completions. With ``gate`` the mask holds only the
completions that could be mirror images of themselves (``mapfold.walks.self_mirror.mirror_gate``: at most
two per node, and most nodes have none, so they are not pushed at all); without it, all of them.

Halving by reflection: turning a folded pile upside down gives another folding, and on the
normalised cycle read from leaf 1 (``1, s_2, ..., s_N``) it reverses the order of ``s_2 .. s_N``.
So exactly one folding of each mirror pair has leaf 2 above leaf 3 (for N >= 3 no folding is its
own reflection, since ``s_2 != s_N``). With ``halved`` the walk puts leaf 3 only below leaf 2 (the
order of leaves 2 and 3 never changes after that), walks half the tree, and every completion
stands for two foldings. Consumers that need every folding expand each one with its reflection.

The kernel knows nothing of threads, tasks, progress or output: ``walk_subtree`` counts the
completions below one node and returns.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mapfold.jit.bits import lowest_bit_index, popcount
from mapfold.walks.pile import WALK_ABORTED, insert_leaf, remove_leaf
from mapfold.walks.self_mirror import mirror_gate, second_last_gate_gaps

_ALL_BITS = np.uint64(0xFFFFFFFFFFFFFFFF)
_ONE = np.uint64(1)
#: With halving, the only gap offered to leaf 3: just below leaf 2.
_BELOW_LEAF_TWO = np.uint64(1 << 2)

#: How many dead ends the walk passes between looks at the stop flag: rare enough to cost nothing,
#: often enough that a stop is seen within milliseconds.
_STOP_CHECK_INTERVAL = 1 << 14


@njit(nogil=True, cache=True, inline="always")
def usable_gaps(connection_graph: np.ndarray, leaf: int, leaf_below: np.ndarray, halved: bool) -> np.uint64:
    """Gap mask for ``leaf`` (at least 2) given the pile of leaves ``1 .. leaf-1``.

    Bit ``m`` set means ``leaf`` may go just below leaf ``m``. Gap 0 is never set (normalisation);
    with ``halved``, leaf 3 goes below leaf 2 only (see the module docstring).
    """
    # Bits 1 .. leaf-1: every position in the pile except just below the sentinel.
    usable = (_ALL_BITS >> np.uint64(64 - leaf)) & ~_ONE
    if halved and leaf == 3:
        usable &= _BELOW_LEAF_TWO
    for dimension in range(connection_graph.shape[0]):
        # Leaves stay unsigned bytes: unsigned indices spare numba its negative-index fix-ups on
        # the walk's critical path (two dependent loads a step).
        neighbour = connection_graph[dimension, leaf, leaf]
        if neighbour == leaf:
            continue  # no neighbour placed yet in this dimension: it allows every gap
        dimension_gaps = np.uint64(0)
        while neighbour != leaf:
            dimension_gaps |= _ONE << np.uint64(neighbour)
            neighbour = connection_graph[dimension, leaf, leaf_below[neighbour]]
        usable &= dimension_gaps
    return usable


@njit(nogil=True, cache=True)
def walk_subtree(
    connection_graph: np.ndarray,
    leaf_below: np.ndarray,
    leaf_above: np.ndarray,
    placed_leaves: int,
    gap_masks: np.ndarray,
    stop_flag: np.ndarray,
    halved: bool,
    sender,
    lane: int,
    gate: bool,
) -> int:
    """Count the normalised complete foldings below one node of the tree.

    Parameters
    ----------
    connection_graph
        From ``make_connection_graph``.
    leaf_below, leaf_above
        The pile holding leaves ``1 .. placed_leaves`` (leaf 1 just below the sentinel). Used as
        working space: left as they came in when the walk completes, in no particular state
        after ``WALK_ABORTED`` (an aborted run reuses nothing).
    placed_leaves
        How many leaves the node has placed, ``1 .. leaves_total - 1``.
    gap_masks
        Scratch ``uint64`` array of at least ``leaves_total + 1`` entries.
    stop_flag
        ``int64`` array; a non-zero ``stop_flag[0]`` asks the walk to stop early.
    halved
        Walk only the foldings with leaf 2 above leaf 3 (each stands for itself and its
        reflection); the caller doubles the count. Needs at least 3 leaves.
    sender
        ``None``, or an object with ``push(lane, leaf_below, last_leaf_gaps) -> bool`` (a
        ``LeafBelowSender``) that receives every node missing only the last leaf, with the mask of
        its completions; ``False`` means the consumer is gone and the walk stops.
    lane
        The sender lane this walk pushes to (one per worker thread).
    gate
        Push only the completions that could count in the symmetric total (``mirror_gate``);
        ``False`` pushes every node with a completion (the full stream, for checking).

    Returns
    -------
    int
        The number of normalised complete foldings (each stands for ``leaves_total`` foldings),
        or ``WALK_ABORTED``.
    """
    leaves_total = leaf_below.shape[0] - 1
    last_leaf = leaves_total
    if placed_leaves == last_leaf - 1:
        last_gaps = usable_gaps(connection_graph, last_leaf, leaf_below, halved)
        if sender is not None and last_gaps != 0:
            sent = mirror_gate(leaf_below, leaf_above, last_gaps, halved) if gate else last_gaps
            if sent != 0 and not sender.push(lane, leaf_below, sent):
                return WALK_ABORTED
        return popcount(last_gaps)

    completions = 0
    dead_ends = 0
    leaf = placed_leaves + 1
    gap_masks[leaf] = usable_gaps(connection_graph, leaf, leaf_below, halved)
    # The gaps of leaf N - 1 whose nodes may get past the gate, worked out once per pile of leaves
    # 1 .. N - 2 so that the other nodes (almost all) skip the gate with one predictable branch.
    gate_gaps = _ALL_BITS
    if sender is not None and gate and leaf == last_leaf - 1:
        gate_gaps = second_last_gate_gaps(leaf_below, leaf_above, halved)
    while True:
        gaps = gap_masks[leaf]
        if gaps == 0:
            # Every gap of this leaf is done: back up and take the previous leaf out.
            leaf -= 1
            if leaf == placed_leaves:
                break
            remove_leaf(leaf_below, leaf_above, leaf)
            dead_ends += 1
            if dead_ends == _STOP_CHECK_INTERVAL:
                dead_ends = 0
                if stop_flag[0] != 0:
                    return WALK_ABORTED
            continue
        gap = lowest_bit_index(gaps)
        gap_masks[leaf] = gaps & (gaps - _ONE)
        insert_leaf(leaf_below, leaf_above, leaf, gap)
        if leaf == last_leaf - 1:
            last_gaps = usable_gaps(connection_graph, last_leaf, leaf_below, halved)
            completions += popcount(last_gaps)
            if sender is not None and last_gaps != 0:
                # Only completions that could be mirror images of themselves are worth sending.
                sent = last_gaps
                if gate:
                    sent = np.uint64(0)
                    if (gate_gaps >> np.uint64(gap)) & _ONE != 0:
                        sent = mirror_gate(leaf_below, leaf_above, last_gaps, halved)
                if sent != 0 and not sender.push(lane, leaf_below, sent):
                    return WALK_ABORTED
            remove_leaf(leaf_below, leaf_above, leaf)
        else:
            leaf += 1
            gap_masks[leaf] = usable_gaps(connection_graph, leaf, leaf_below, halved)
            if sender is not None and gate and leaf == last_leaf - 1:
                gate_gaps = second_last_gate_gaps(leaf_below, leaf_above, halved)
    return completions
