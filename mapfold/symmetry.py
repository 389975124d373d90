"""The symmetric filter: how many foldings are mirror images of themselves (OEIS A007822 for 1 x 2n).

For a complete normalised folding, read the pile's cycle from leaf 1 (``s_1 = 1``,
``s_{j+1} = leaf_below[s_j]``, ending at the sentinel ``s_{N+1} = 0``) and form the cyclic sequence
of ``N + 1`` values ``v_0 = 1``, ``v_j = (s_{j+1} - s_j) mod N``. A centre ``c`` in ``0 .. N``
counts when ``v[(c + k) mod (N + 1)] == v[(c - 2 - k) mod (N + 1)]`` for ``k = 0 .. N // 2 - 1``.
Summing the centres over every complete folding of the normalised walk gives ``sum``; the
symmetric total is ``(sum + 1) // 2``.

The consumer receives nodes missing only the last leaf, each with the mask of gaps where the last
leaf can go; ``SymmetricTotal`` expands each into its complete foldings and adds their centres.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mapfold.bit_ops import lowest_bit_index

_ONE = np.uint64(1)


@njit(nogil=True, cache=True, inline="always")
def _mirror_centres(steps: np.ndarray) -> int:
    """How many centres the cyclic sequence ``steps`` (length ``N + 1``) is a mirror image about."""
    length = steps.shape[0]
    half = (length - 1) // 2
    centres = 0
    for centre in range(length):
        mirrored = True
        for offset in range(half):
            ahead = centre + offset
            if ahead >= length:
                ahead -= length
            behind = centre - 2 - offset
            while behind < 0:
                behind += length
            if steps[ahead] != steps[behind]:
                mirrored = False
                break
        if mirrored:
            centres += 1
    return centres


@njit(nogil=True, cache=True, inline="always")
def _fill_steps(leaf_below: np.ndarray, last_leaf: int, last_leaf_gap: int, steps: np.ndarray) -> None:
    """Steps ``v`` of the folding made by putting ``last_leaf`` just below ``last_leaf_gap``.

    The pile in ``leaf_below`` lacks ``last_leaf``; it is spliced in while reading, not written.
    """
    leaves_total = last_leaf
    steps[0] = 1
    leaf = 1
    for step in range(1, leaves_total + 1):
        if leaf == last_leaf:
            below = leaf_below[last_leaf_gap]
        elif leaf == last_leaf_gap:
            below = last_leaf
        else:
            below = leaf_below[leaf]
        steps[step] = (below - leaf + leaves_total) % leaves_total
        leaf = below


@njit(nogil=True, cache=True)
def count_mirror_centres(rows: np.ndarray, last_leaf_gaps: np.ndarray) -> int:
    """Sum of mirror centres over every completion of every row.

    Parameters
    ----------
    rows
        ``(count, N + 1)`` ``leaf_below`` piles holding leaves ``1 .. N - 1``.
    last_leaf_gaps
        For each row, the mask of gaps where leaf ``N`` completes it.

    Returns
    -------
    int
        The sum of centres over all the completions.
    """
    leaves_total = rows.shape[1] - 1
    steps = np.empty(leaves_total + 1, dtype=np.int64)
    centres = 0
    for row in range(rows.shape[0]):
        gaps = last_leaf_gaps[row]
        while gaps != 0:
            gap = lowest_bit_index(gaps)
            gaps &= gaps - _ONE
            _fill_steps(rows[row], leaves_total, gap, steps)
            centres += _mirror_centres(steps)
    return centres


class SymmetricTotal:
    """Batch handler for a ``LeafBelowSender`` that gathers the symmetric total.

    Each call hands one batch to the jitted ``nogil`` ``count_mirror_centres``; the running sum of
    centres is a Python int, so it cannot overflow however long the run.
    """

    def __init__(self) -> None:
        self.centres = 0

    def __call__(self, rows: np.ndarray, last_leaf_gaps: np.ndarray) -> None:
        self.centres += int(count_mirror_centres(rows, last_leaf_gaps))

    @property
    def total(self) -> int:
        """The symmetric total: ``(sum of centres + 1) // 2``."""
        return (self.centres + 1) // 2
