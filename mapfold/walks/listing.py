"""Listing foldings: every completion of a normalised node, written out with all its rotations.

Lunnon's walk (``mapfold.walks.lunnon``) keeps only the foldings with leaf 1 on top (just below the
sentinel) and stops one leaf short: a node holds the pile of leaves ``1 .. N-1`` and the mask of the
gaps where leaf ``N`` completes it. ``expand_node`` turns such a node into the foldings it stands
for, as rows of leaves read from the top of the pile to the bottom:

* for each gap, lowest first (the walk's own order), the cycle ``1, s_2, ..., s_N`` with leaf ``N``
  put just below the gap's leaf;
* for each cycle, its ``N`` rotations, leaf ``s_1 = 1`` on top first, then ``s_2``, and so on: any
  leaf may be on top, and moving the top leaf to the bottom never makes two creases cross.

So the listing order is fixed by the tree alone: the walk's depth-first order of the nodes, their
gaps lowest first, each cycle's rotations in cycle order. How the tree is split into tasks, or
which thread walks which task, changes nothing as long as the tasks are emitted in walk order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mapfold.jit import cache as jit_cache
from mapfold.jit.bits import lowest_bit_index

jit_cache.install()  # before any cache=True function is defined

_ONE = np.uint64(1)


@njit(nogil=True, cache=True)
def expand_node(leaf_below: np.ndarray, last_leaf_gaps: np.uint64, cycle: np.ndarray, out: np.ndarray, first_row: int) -> int:
    """Write every folding a normalised node stands for into ``out``, from row ``first_row``.

    Parameters
    ----------
    leaf_below
        The node's pile: ``N + 1`` entries, leaves ``1 .. N-1`` placed, leaf 1 just below the sentinel.
    last_leaf_gaps
        Bit ``m`` set: leaf ``N`` completes the pile just below leaf ``m`` (bit 0 is never set).
    cycle
        Scratch of at least ``2 N`` entries.
    out
        ``(rows, N)`` array with room for ``popcount(last_leaf_gaps) * N`` rows from ``first_row``.
    first_row
        Where the first folding goes.

    Returns
    -------
    int
        The rows written.
    """
    leaves_total = leaf_below.shape[0] - 1
    row = first_row
    gaps = last_leaf_gaps
    while gaps != 0:
        gap = lowest_bit_index(gaps)
        gaps &= gaps - _ONE
        # The cycle from leaf 1, written twice in a row so that every rotation is one window of it.
        leaf = 1
        for position in range(leaves_total):
            cycle[position] = leaf
            cycle[position + leaves_total] = leaf
            if leaf == gap:
                leaf = leaves_total
            elif leaf == leaves_total:
                leaf = leaf_below[gap]
            else:
                leaf = leaf_below[leaf]
        for top in range(leaves_total):
            for position in range(leaves_total):
                out[row, position] = cycle[top + position]
            row += 1
    return row - first_row
