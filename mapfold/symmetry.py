"""The symmetric filter: how many foldings are mirror images of themselves (OEIS A007822 for 1 x 2n).

The definition (``MAPFOLDING.md``): for a complete normalised folding, read the pile's cycle from
leaf 1 (``s_1 = 1``, ``s_{j+1} = leaf_below[s_j]``, ending at the sentinel ``s_{N+1} = 0``) and
form the cyclic sequence of ``L = N + 1`` steps ``v_0 = 1``, ``v_j = (s_{j+1} - s_j) mod N``. A
centre ``c`` in ``0 .. N`` counts when ``v[(c + k) mod L] == v[(c - 2 - k) mod L]`` for
``k = 0 .. N // 2 - 1``. The symmetric total is ``(sum of centres over all foldings + 1) // 2``.

How it is computed fast
-----------------------
Write the pile as values ``t_0 = 0`` (sentinel), ``t_1 = 1``, ``t_j = s_j mod N`` (leaf N counts as
0). Summing the step conditions shows that centre ``c`` counts exactly when the mirror map
``x -> 2c - 1 - x`` pairs every position with one whose value adds up to the same constant mod N.
Those pairs cover all ``L`` positions, so the mirror image of positions 0 and 1 (values 0 and 1)
must be two adjacent positions ``p, p + 1`` with ``t_{p+1} = t_p + 1 (mod N)``: an "up-step". So
only up-steps are candidate mirrors (``x -> p + 1 - x``), and most foldings have one or two of
them. When ``L`` is even, a mirror map comes from two centres (``c`` and ``c + L/2``) if ``p`` is
even and from none if ``p`` is odd.

The consumer receives nodes missing only the last leaf with the mask of gaps that complete them.
Per node it reads the pile's order once and lists its up-steps (and down-steps, for reflections);
per completion it adjusts those lists for the inserted last leaf and checks each candidate,
stopping at the first pair that does not match. When the walk was halved by reflection
(``mapfold.kernel``), each completion is checked together with its reflection
``0, 1, t_N, ..., t_2``, whose up-steps are the pile's down-steps read backwards.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import get_num_threads, njit, prange

from mapfold.bit_ops import lowest_bit_index

_ONE = np.uint64(1)
_THREAD_POOL_TURN = threading.Lock()


@njit(nogil=True, cache=True, inline="always")
def _mirror_weight(doubled_pile: np.ndarray, leaves_total: int, up_step: int) -> int:
    """Centres contributed by the candidate mirror ``x -> up_step + 1 - x`` (0, 1 or 2).

    ``doubled_pile`` holds the pile's ``L`` values twice over, so no index needs wrapping.
    """
    length = leaves_total + 1
    if length % 2 == 0 and up_step % 2 == 1:
        return 0  # x -> odd - x is the mirror of no centre when L is even
    target = 1 + np.int64(doubled_pile[up_step])
    # Pair positions 1 + offset and up_step - offset (taken mod L, here shifted by L). Offsets 0
    # (1 with up_step) and L - 1 (0 with up_step + 1) hold by the choice of target and of the
    # candidate; the rest cover every other pair (each twice, which only a success pays for).
    for offset in range(1, length - 1):
        excess = np.int64(doubled_pile[1 + offset]) + np.int64(doubled_pile[up_step + length - offset]) - target
        if excess != 0 and excess != leaves_total and excess != -leaves_total:
            return 0
    return 2 if length % 2 == 0 else 1


@njit(nogil=True, cache=True, inline="always")
def _is_up_step(value: int, next_value: int, leaves_total: int) -> bool:
    """``next_value == value + 1 (mod N)`` for values in ``0 .. N - 1``."""
    return next_value == value + 1 or (value == leaves_total - 1 and next_value == 0)


@njit(nogil=True, cache=True, parallel=True)
def count_mirror_centres(rows: np.ndarray, last_leaf_gaps: np.ndarray, with_reflections: bool, chunks: int) -> int:
    """Sum of mirror centres over every completion of every row (and its reflection).

    The rows are split into chunks that numba's thread pool filters side by side, so a batch is
    done in a fraction of the time one core would need: the filter costs more per folding than
    the walk does, and this is what lets the consumer keep up with the workers.

    Parameters
    ----------
    rows
        ``(count, N + 1)`` ``leaf_below`` piles holding leaves ``1 .. N - 1``.
    last_leaf_gaps
        For each row, the mask of gaps where leaf ``N`` completes it.
    with_reflections
        Also count each completion's reflection (the walk was halved).
    chunks
        How many pieces to cut the rows into (a few per thread of numba's pool).

    Returns
    -------
    int
        The sum of centres over all the foldings.
    """
    chunks = max(1, min(rows.shape[0], chunks))
    centres = 0
    for chunk in prange(chunks):
        start = rows.shape[0] * chunk // chunks
        stop = rows.shape[0] * (chunk + 1) // chunks
        centres += _count_rows(rows, last_leaf_gaps, with_reflections, start, stop)
    return centres


@njit(nogil=True, cache=True)
def _count_rows(rows: np.ndarray, last_leaf_gaps: np.ndarray, with_reflections: bool, start: int, stop: int) -> int:
    """``count_mirror_centres`` for rows ``start .. stop - 1``, on one thread."""
    leaves_total = rows.shape[1] - 1
    length = leaves_total + 1
    # Unsigned bytes: leaves fit, and unsigned indices spare numba its negative-index checks.
    order = np.empty(leaves_total, dtype=np.uint8)
    position = np.empty(leaves_total, dtype=np.uint8)
    pile = np.empty(2 * length, dtype=np.uint8)
    reflection = np.empty(2 * length, dtype=np.uint8)
    up_steps = np.empty(leaves_total + 2, dtype=np.int64)
    down_steps = np.empty(leaves_total + 2, dtype=np.int64)
    candidates = np.empty(leaves_total + 4, dtype=np.int64)
    centres = 0
    for row in range(start, stop):
        # The node's pile in order from the sentinel, and its up- and down-steps (x -> x + 1).
        leaf = np.uint8(0)
        for index in range(leaves_total):
            order[index] = leaf
            position[leaf] = index
            leaf = rows[row, leaf]
        ups = 0
        downs = 0
        for index in range(leaves_total):
            value = np.int64(order[index])
            next_value = np.int64(order[index + 1]) if index + 1 < leaves_total else 0
            if _is_up_step(value, next_value, leaves_total):
                up_steps[ups] = index
                ups += 1
            if _is_up_step(next_value, value, leaves_total):
                down_steps[downs] = index
                downs += 1

        gaps = last_leaf_gaps[row]
        while gaps != 0:
            gap = lowest_bit_index(gaps)
            gaps &= gaps - _ONE
            gap_position = np.int64(position[gap])  # the last leaf (value 0) goes just after it
            after = gap_position + 1
            for index in range(after):
                pile[index] = order[index]
                pile[length + index] = order[index]
            pile[after] = 0
            pile[length + after] = 0
            for index in range(after, leaves_total):
                pile[index + 1] = order[index]
                pile[length + index + 1] = order[index]

            # Up-steps of the completed pile: the node's, shifted past the insertion, less the
            # one the insertion splits, plus (gap -> last leaf) when the gap is leaf N - 1.
            count = 0
            for index in range(ups):
                step = up_steps[index]
                if step != gap_position:
                    candidates[count] = step if step < gap_position else step + 1
                    count += 1
            if gap == leaves_total - 1:
                candidates[count] = gap_position
                count += 1
            for index in range(count):
                centres += _mirror_weight(pile, leaves_total, candidates[index])

            if with_reflections:
                # The reflection 0, 1, t_N, ..., t_2 and its up-steps: position 0 always; 1 when
                # the bottom leaf is 2; N + 1 - y for each down-step y in 2 .. N - 1 of the pile;
                # N when t_2 = N - 1.
                reflection[0] = 0
                reflection[1] = 1
                reflection[length] = 0
                reflection[length + 1] = 1
                for index in range(2, length):
                    reflection[index] = pile[leaves_total + 2 - index]
                    reflection[length + index] = pile[leaves_total + 2 - index]
                count = 0
                candidates[count] = 0
                count += 1
                if pile[leaves_total] == 2:
                    candidates[count] = 1
                    count += 1
                for index in range(downs):
                    step = down_steps[index]
                    if step != gap_position:
                        shifted = step if step < gap_position else step + 1
                        if 2 <= shifted <= leaves_total - 1:
                            candidates[count] = leaves_total + 1 - shifted
                            count += 1
                # The two down-steps the last leaf (value 0) may make with its neighbours.
                if gap == 1 and 2 <= gap_position <= leaves_total - 1:
                    candidates[count] = leaves_total + 1 - gap_position
                    count += 1
                if pile[after + 1] == leaves_total - 1 and 2 <= after <= leaves_total - 1:
                    candidates[count] = leaves_total + 1 - after
                    count += 1
                if pile[2] == leaves_total - 1:
                    candidates[count] = leaves_total
                    count += 1
                for index in range(count):
                    centres += _mirror_weight(reflection, leaves_total, candidates[index])
    return centres


class SymmetricTotal:
    """Batch handler for a ``LeafBelowSender`` that gathers the symmetric total.

    Each call hands one batch to the jitted ``nogil`` ``count_mirror_centres``; the running sum of
    centres is a Python int, so it cannot overflow however long the run.

    Parameters
    ----------
    with_reflections
        The walk was halved by reflection: count each folding's reflection too.
    """

    def __init__(self, with_reflections: bool = False) -> None:
        self.centres = 0
        self.with_reflections = with_reflections

    def __call__(self, rows: np.ndarray, last_leaf_gaps: np.ndarray) -> None:
        # numba's default thread pool must not be entered by two threads at once; runs in
        # several Python threads of one process take turns here.
        with _THREAD_POOL_TURN:
            self.centres += int(count_mirror_centres(rows, last_leaf_gaps, self.with_reflections, 4 * get_num_threads()))

    @property
    def total(self) -> int:
        """The symmetric total: ``(sum of centres + 1) // 2``."""
        return (self.centres + 1) // 2
