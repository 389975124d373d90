"""The symmetric filter: which foldings are mirror images of themselves (OEIS A007822 for 1 x 2n).

The definition (``MAPFOLDING.md``): for a complete normalised folding, read the pile's cycle from
leaf 1 (``s_1 = 1``, ``s_{j+1} = leaf_below[s_j]``, ending at the sentinel ``s_{N+1} = 0``) and
form the cyclic sequence of ``L = N + 1`` steps ``v_0 = 1``, ``v_j = (s_{j+1} - s_j) mod N``. A
centre ``c`` in ``0 .. N`` counts when ``v[(c + k) mod L] == v[(c - 2 - k) mod L]`` for
``k = 0 .. N // 2 - 1``. The symmetric total is ``(sum of centres over all foldings + 1) // 2``.

This module has two parts: the exact predicate, run by the consumer thread on every folding it
receives (``count_mirror_centres``), and a cheap necessary condition, run by the kernel at every
node that lacks only its last leaf (``mirror_gate``), which decides what need not be sent at all.

Centres are mirrors of the pile
-------------------------------
Write the pile as positions ``0 .. N`` holding values ``t_0 = 0`` (the sentinel), ``t_1 = 1``,
``t_j = s_j mod N`` (so leaf ``N`` has value 0 too); indices are taken mod ``L``. Then
``v_j = t_{j+1} - t_j`` (mod N). Let ``m(x) = 2c - 1 - x`` and ``S(x) = t_x + t_{m(x)}``, the sum
of a pair of positions that ``m`` swaps. Since ``m(c + k) = c - 1 - k`` and
``m(c + k + 1) = c - 2 - k``, the equation ``v[c + k] = v[c - 2 - k]`` reads
``S(c + k + 1) = S(c + k)``. So centre ``c`` counts exactly when ``S`` is constant on
``c, c + 1, ..., c + N // 2``; these positions and their images cover all ``L`` positions
(``2 (N // 2 + 1) >= L``), so: centre ``c`` counts exactly when the mirror ``x -> a - x``, with
``a = 2c - 1`` (mod L), pairs every position with one whose value adds up to one constant ``K``
(mod N). When ``L`` is odd each ``a`` comes from exactly one centre; when ``L`` is even, an odd
``a`` comes from two (``c`` and ``c + L/2``) and an even ``a`` from none.

The lemma: at most one mirror can count
---------------------------------------
The values are ``{0, 0, 1, ..., N - 1}``: 0 twice (the sentinel at position 0 and leaf ``N`` at
position ``b``), every other value once. Take a counting mirror ``m`` with constant ``K``.

- ``K = 0``. Otherwise one item has value ``K``, and each of the two value-0 items must be paired
  with it (``0 + K = K``) or sit on a fixed point of ``m`` (``0 + 0 = K``, impossible). Two items
  cannot share one partner, so this fails.
- So a value-0 item is paired with a value-0 item: ``m(0)`` is 0 or ``b``. If ``m(0) = 0`` then
  ``a = 0`` and ``m(b) = b``, so ``2b = 0`` (mod L) with ``b != 0``: ``L`` is even, and ``a = 0``
  is even, the mirror of no centre. Hence ``m(0) = b``: ``a = b``.

Therefore, in every folding, the only mirror that can count swaps the sentinel and leaf ``N``
(``a`` = the position of leaf ``N``) and pairs leaf ``x`` with leaf ``N - x``. Position 1 (leaf 1)
is paired with position ``a - 1``, so leaf ``N - 1`` must sit directly above leaf ``N``; position 2
(``s_2``) with position ``a - 2`` (the leaf above ``N - 1``), whose sum must be ``N``; and so on,
outward from the axis. ``mirror_weight`` checks that one mirror; the tests compare it with the
definition, centre by centre, on every folding of many small maps.

The gate
--------
The kernel reaches a node holding leaves ``1 .. N - 1`` with the mask of gaps where leaf ``N`` can
go (leaf ``N`` at gap ``g`` sits directly below leaf ``g``). By the lemma only the completion at
gap ``N - 1`` can count, so every other completion is dropped with one bit test, and that one is
sent only if its mirror holds: two cursors start at the axis (leaf 1, and leaf ``N - 1`` above leaf
``N``) and move apart through the completed pile, which is the node's pile read with leaf ``N``
spliced in; each pair of leaves met must add up to 0 mod ``N``. Almost every completion fails on
the first or second pair.

With the walk halved by reflection, each walked folding also stands for its reflection
``0, 1, s_N, ..., s_2``, and the same rule applies to it: the reflection can count only if leaf
``N`` sits directly above leaf ``N - 1`` in the walked pile (gap ``g`` = the leaf above
``N - 1``), and its pairs are read with cursors that move through the turned-over order.

The consumer still applies the exact predicate to every completion (and reflection) it receives,
so the gate decides only what is sent, never what counts. With the gate off, every node with a
completion is sent, and the totals must agree (the tests compare them, and check folding by
folding that the gate never drops a folding that counts).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mapfold.jit.bits import lowest_bit_index, popcount

_ONE = np.uint64(1)


@njit(nogil=True, cache=True, inline="always")
def _pairs_hold(x_step: np.ndarray, y_step: np.ndarray, x: int, y: int, stop: int, leaves_total: int) -> bool:
    """Walk two cursors apart, ``x`` through ``x_step`` and ``y`` through ``y_step``, until ``x``
    reaches ``stop``; ``False`` as soon as two leaves met side by side do not add up to ``N``.

    The cursors only ever meet leaves ``1 .. N - 1`` (the callers choose the stretches so), whose
    sum is 0 mod N exactly when it is ``N``.
    """
    for _ in range(leaves_total):
        if x == stop:
            return True
        if np.int64(x) + np.int64(y) != leaves_total:
            return False
        x = x_step[x]
        y = y_step[y]
    return True


@njit(nogil=True, cache=True, inline="always")
def mirror_gate(leaf_below: np.ndarray, leaf_above: np.ndarray, last_leaf_gaps: np.uint64, with_reflections: bool) -> np.uint64:
    """The last-leaf gaps whose completion (or, with ``with_reflections``, its reflection) counts.

    Exact for the mirror about leaf ``N``, the only one that can count (see the module docstring):
    a gap left out completes a folding that is not a mirror image of itself, and neither is its
    reflection; a gap kept completes one of which at least one is.

    Parameters
    ----------
    leaf_below, leaf_above
        The pile of a node holding leaves ``1 .. N - 1``.
    last_leaf_gaps
        Where leaf ``N`` completes the node.
    with_reflections
        The walk was halved, so each completion also stands for its reflection.

    Returns
    -------
    numpy.uint64
        A subset of ``last_leaf_gaps``: at most two gaps.
    """
    leaves_total = leaf_below.shape[0] - 1
    second_last = leaves_total - 1
    if leaves_total < 3:
        return last_leaf_gaps  # the stretches below need leaf 1, N - 1 and N to be three leaves
    # The walk calls this at every node that lacks only its last leaf, and most of them fail in the
    # first two pairs of each mirror. Those pairs are tested first with plain loads and no branch
    # (their outcomes are unpredictable, and a mispredicted branch costs about as much as the walk
    # spends on a node); only the few nodes that pass are read in full by _full_mirror_gate.
    below_one = leaf_below[1]  # s_2
    above_second_last = leaf_above[second_last]  # the leaf above N - 1; also the reflection's gap
    bottom = leaf_above[0]
    below_second_last = leaf_below[second_last]
    # Itself: leaf N at gap N - 1; s_2 pairs with the leaf above N - 1, and the leaf below s_2 with
    # the one above that, unless s_2 is N - 1 itself (then no pair is left above the axis).
    itself = (last_leaf_gaps >> np.uint64(second_last)) & _ONE != 0
    itself &= np.int64(below_one) + np.int64(above_second_last) == leaves_total
    next_pair = np.int64(leaf_below[below_one]) + np.int64(leaf_above[above_second_last])
    itself &= (next_pair == leaves_total) | (below_one == second_last)
    # The reflection: leaf N at gap ``above_second_last``; the bottom leaf pairs with the leaf below
    # N - 1, and the leaf above the bottom with the next one down, unless the walk from the bottom
    # has reached N - 1 (then no pair is left).
    reflection = (last_leaf_gaps >> np.uint64(above_second_last)) & _ONE != 0
    bottom_done = bottom == second_last
    reflection &= (np.int64(bottom) + np.int64(below_second_last) == leaves_total) | bottom_done
    above_bottom = leaf_above[bottom]
    next_pair = np.int64(above_bottom) + np.int64(leaf_below[below_second_last])
    reflection &= (next_pair == leaves_total) | (above_bottom == second_last) | bottom_done
    reflection &= with_reflections
    if not (itself | reflection):
        return np.uint64(0)
    return _full_mirror_gate(leaf_below, leaf_above, last_leaf_gaps, itself, reflection)


@njit(nogil=True, cache=True, inline="always")
def second_last_gate_gaps(leaf_below: np.ndarray, leaf_above: np.ndarray, with_reflections: bool) -> np.uint64:
    """The gaps ``h`` of leaf ``N - 1`` whose nodes can pass ``mirror_gate``'s first pairs.

    Given the pile of leaves ``1 .. N - 2``, putting leaf ``N - 1`` just below leaf ``h`` makes
    ``h`` the leaf above ``N - 1``, and the leaf below ``h`` the leaf below ``N - 1``. The first pair
    of the node's own mirror (``s_2`` with the leaf above ``N - 1``) then holds only for ``h = 1``
    (``s_2`` becomes ``N - 1``) or ``h = N - s_2``. The first pair of its reflection (the bottom
    leaf with the leaf below ``N - 1``) holds only when ``N - 1`` goes to the bottom
    (``h`` = the bottom leaf) or when the leaf below ``h`` is ``N - bottom``, that is ``h`` = the leaf
    above ``N - bottom``. Those two candidates are also held to the next pair out, which the pile of
    leaves ``1 .. N - 2`` already shows. Every other gap of ``N - 1`` leads to nodes that
    ``mirror_gate`` rejects, so the walk need not call it there. (Where ``N - s_2`` or
    ``N - bottom`` is not in the pile, the loads read stale entries; then the gap in question is
    not a gap of the pile at all, and a bit set for it is merely one too many.)

    For maps of fewer than 5 leaves the pile is too small for this reasoning: every gap is kept.
    """
    leaves_total = leaf_below.shape[0] - 1
    if leaves_total < 5:
        return np.uint64(0xFFFFFFFFFFFFFFFF)
    gaps = _ONE << np.uint64(1)
    below_one = np.int64(leaf_below[1])
    paired = leaves_total - below_one  # the gap h = N - s_2
    # Its second pair, the leaf below s_2 with the leaf above h, holds or is not needed (when
    # h = s_2, the leaf below s_2 becomes N - 1 and the pairs above the axis are done).
    second_pair = np.int64(leaf_below[below_one]) + np.int64(leaf_above[paired])
    # (Set without a branch: the outcome is unpredictable.)
    gaps |= np.uint64((second_pair == leaves_total) | (paired == below_one)) << np.uint64(paired)
    if with_reflections:
        bottom = np.int64(leaf_above[0])
        gaps |= _ONE << np.uint64(bottom)  # N - 1 goes to the bottom: the reflection's axis is near the top
        partner = leaves_total - bottom  # the leaf that must lie below N - 1
        reflected = np.int64(leaf_above[partner])  # the gap h with it below
        # Its second pair, the leaf above the bottom with the leaf below the partner, holds or is not
        # needed (when h is the leaf above the bottom, N - 1 comes next and the pairs are done).
        above_bottom = np.int64(leaf_above[bottom])
        second_pair = above_bottom + np.int64(leaf_below[partner])
        gaps |= np.uint64((second_pair == leaves_total) | (reflected == above_bottom)) << np.uint64(reflected)
    return gaps


@njit(nogil=True, cache=True)  # not inlined: few nodes get here, and the walk's loop stays small
def _full_mirror_gate(
    leaf_below: np.ndarray, leaf_above: np.ndarray, last_leaf_gaps: np.uint64, itself: bool, reflection: bool
) -> np.uint64:
    """``mirror_gate`` for a node whose first pairs hold: read every pair of the mirrors in question."""
    leaves_total = leaf_below.shape[0] - 1
    second_last = leaves_total - 1
    passed = np.uint64(0)
    # Itself: leaf N directly below leaf N - 1 (gap N - 1). The mirror pairs positions j and a - j
    # (a = leaf N's position). Above the axis: going down from s_2 against going up from the leaf
    # above N - 1, until the first cursor reaches N - 1 (paired with leaf 1). Below it: going
    # down from the leaf below leaf N against going up from the bottom, until the sentinel.
    if itself:
        if _pairs_hold(leaf_below, leaf_above, leaf_below[1], leaf_above[second_last], second_last, leaves_total):
            if _pairs_hold(leaf_below, leaf_above, leaf_below[second_last], leaf_above[0], 0, leaves_total):
                passed |= _ONE << np.uint64(second_last)
    if reflection:
        # The reflection 0, 1, s_N, ..., s_2 has leaf N directly below leaf N - 1 when the walked
        # pile has it directly above, at gap g = the leaf above N - 1. Read in the walked pile,
        # its pairs are: going up from the bottom against going down from the leaf below N - 1,
        # until the first reaches N - 1 (paired with leaf 1); and going up from g against going
        # down from s_2, until the first reaches leaf 1.
        mirrored_gap = leaf_above[second_last]
        if _pairs_hold(leaf_above, leaf_below, leaf_above[0], leaf_below[second_last], second_last, leaves_total):
            if _pairs_hold(leaf_above, leaf_below, mirrored_gap, leaf_below[1], 1, leaves_total):
                passed |= _ONE << np.uint64(mirrored_gap)
    return passed & last_leaf_gaps


@njit(nogil=True, cache=True)
def mirror_weight(pile: np.ndarray, leaves_total: int) -> int:
    """Centres (0, 1 or 2) of one complete pile: the exact predicate, by the lemma.

    ``pile`` holds the values ``t_0 .. t_N`` by position (sentinel first, leaf ``N`` as 0 or ``N``),
    each in ``0 .. N``.
    Only the mirror about leaf ``N``'s position can count; it counts when every pair of positions
    it swaps adds up to 0 mod ``N``.
    """
    # Every value is in 0 .. N, so "0 mod N" is 0 or N, and a pair's sum (0 .. 2N) is 0 mod N
    # when it is 0, N or 2N: comparisons instead of a division by N per position, which made this
    # test, run by the consumer on every folding sent, about as slow as the walk that built them.
    length = leaves_total + 1
    axis = 0
    for position in range(1, length):
        value = pile[position]
        if value == 0 or value == leaves_total:
            axis = position  # leaf N's position: the mirror x -> axis - x
    if length % 2 == 0 and axis % 2 == 0:
        return 0  # an even axis is the mirror of no centre when L is even
    twice = 2 * leaves_total
    for position in range(1, length):
        partner = axis - position
        if partner < 0:
            partner += length
        pair = np.int64(pile[position]) + np.int64(pile[partner])
        if pair != 0 and pair != leaves_total and pair != twice:
            return 0
    return 2 if length % 2 == 0 else 1


@njit(nogil=True, cache=True)
def count_mirror_centres(rows: np.ndarray, last_leaf_gaps: np.ndarray, with_reflections: bool) -> int:
    """Sum of mirror centres over every completion of every row (and its reflection).

    Parameters
    ----------
    rows
        ``(count, N + 1)`` ``leaf_below`` piles holding leaves ``1 .. N - 1``.
    last_leaf_gaps
        For each row, the gaps where leaf ``N`` completes it (all of them, or what the gate let
        through).
    with_reflections
        Also count each completion's reflection (the walk was halved).

    Returns
    -------
    int
        The sum of centres over all the foldings.
    """
    leaves_total = rows.shape[1] - 1
    length = leaves_total + 1
    pile = np.empty(length, dtype=np.int64)
    reflection = np.empty(length, dtype=np.int64)
    centres = 0
    for row in range(rows.shape[0]):
        gaps = last_leaf_gaps[row]
        while gaps != 0:
            gap = lowest_bit_index(gaps)
            gaps &= gaps - _ONE
            # The completed pile from the sentinel down, leaf N just below leaf ``gap``.
            leaf = 0
            for position in range(length):
                pile[position] = leaf
                if leaf == gap:
                    leaf = leaves_total
                elif leaf == leaves_total:
                    leaf = rows[row, gap]
                else:
                    leaf = rows[row, leaf]
            centres += mirror_weight(pile, leaves_total)
            if with_reflections:
                # Turned over: 0, 1, s_N, ..., s_2.
                reflection[0] = 0
                reflection[1] = 1
                for position in range(2, length):
                    reflection[position] = pile[leaves_total + 2 - position]
                centres += mirror_weight(reflection, leaves_total)
    return centres


@njit(nogil=True, cache=True)
def count_complete_mirror_centres(rows: np.ndarray) -> int:
    """Sum of mirror centres over complete piles (the wide mirror walk's rows: leaf ``N`` in place).

    Each row is a ``leaf_below`` pile of all ``N`` leaves and the sentinel 0 (``uint8`` or
    ``uint16``); ``mirror_weight`` is the same exact predicate ``count_mirror_centres`` applies.
    """
    leaves_total = rows.shape[1] - 1
    length = leaves_total + 1
    pile = np.empty(length, dtype=np.int64)
    centres = 0
    for row in range(rows.shape[0]):
        leaf = 0
        for position in range(length):
            pile[position] = leaf
            leaf = rows[row, leaf]
        centres += mirror_weight(pile, leaves_total)
    return centres


@njit(nogil=True, cache=True)
def count_completions(last_leaf_gaps: np.ndarray) -> int:
    """How many completions a batch's masks stand for."""
    total = 0
    for mask in last_leaf_gaps:
        total += popcount(mask)
    return total
