"""The mirror lemma and the kernel's gate, against the definition of the symmetric total.

The lemma (``mapfold/walks/self_mirror.py``): in any folding, a centre can count only for the mirror that
swaps the sentinel and leaf N. The gate: a node's completion is sent to the consumer only if it
(or, in a halved walk, its reflection) could count. Both are checked here folding by folding on
every valid pile of small maps from the independent brute force, and the totals with the gate on
are compared with the full stream (gate off), the OEIS oracle and the brute force.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from brute_force import brute_force_counts, mirror_centres, valid_piles

from mapfold import count_folds
from mapfold.oeis import VALUES
from mapfold.walks.self_mirror import mirror_gate, mirror_weight, second_last_gate_gaps

SMALL_SHAPES = [(1, 5), (1, 6), (1, 7), (1, 8), (1, 9), (2, 3), (3, 2), (2, 4), (4, 2), (2, 5), (5, 2), (3, 3), (2, 2, 2)]
SMALL_SHAPES += [(2, 2, 3), (3, 2, 2), (2, 3, 2), (1, 10), (2, 6)]


@functools.cache
def piles_of(shape: tuple[int, ...]) -> list[list[int]]:
    return list(valid_piles(shape))


def counted_centres(pile: list[int]) -> list[int]:
    """The centres the definition counts, one by one (the same formula as the brute force)."""
    n = len(pile)
    s = [None, *pile, 0]
    v = [1] + [(s[j + 1] - s[j]) % n for j in range(1, n + 1)]
    m = n + 1
    return [c for c in range(m) if all(v[(c + k) % m] == v[(c - 2 - k) % m] for k in range(n // 2))]


def reflected(pile: list[int]) -> list[int]:
    """The pile turned over, read from leaf 1: 1, s_N, ..., s_2."""
    return [pile[0], *reversed(pile[1:])]


def node_arrays(pile: list[int], missing: int = 1) -> tuple[np.ndarray, np.ndarray, int]:
    """``leaf_below``/``leaf_above`` of the pile without its last ``missing`` leaves, and the gap
    (the leaf directly above) of the first missing leaf."""
    n = len(pile)
    first_missing = n - missing + 1
    order = [0, *[leaf for leaf in pile if leaf < first_missing]]
    leaf_below = np.zeros(n + 1, dtype=np.uint8)
    leaf_above = np.zeros(n + 1, dtype=np.uint8)
    for index, leaf in enumerate(order):
        below = order[(index + 1) % len(order)]
        leaf_below[leaf] = below
        leaf_above[below] = leaf
    full = [0, *[leaf for leaf in pile if leaf <= first_missing]]
    gap = full[full.index(first_missing) - 1]  # the first missing leaf sits directly below this one
    return leaf_below, leaf_above, gap


@pytest.mark.parametrize("shape", SMALL_SHAPES)
def test_only_the_mirror_about_leaf_n_ever_counts(shape):
    """Every centre the definition counts is the mirror whose axis is leaf N's position."""
    for pile in piles_of(shape):
        length = len(pile) + 1
        axis = [0, *pile].index(len(pile))
        for centre in counted_centres(pile):
            assert (2 * centre - 1 - axis) % length == 0, (pile, centre)


def test_the_lemma_was_put_to_work():
    """The shapes above include many foldings that do count."""
    assert sum(len(counted_centres(pile)) for shape in SMALL_SHAPES for pile in piles_of(shape)) > 100


@pytest.mark.parametrize("shape", SMALL_SHAPES)
def test_mirror_weight_is_the_definition(shape):
    """The consumer's one-mirror predicate against the definition's every-centre count."""
    for pile in piles_of(shape):
        n = len(pile)
        values = np.array([0, *pile], dtype=np.int64)
        assert mirror_weight(values, n) == mirror_centres(pile), pile


@pytest.mark.parametrize("shape", SMALL_SHAPES)
def test_the_gate_never_drops_a_folding_that_counts(shape):
    """Folding by folding: a counting pile, or a pile whose reflection counts, passes the gate."""
    if len(piles_of(shape)[0]) < 3:
        pytest.skip("the kernel gates only maps of 3 or more leaves")
    passed = dropped = 0
    for pile in piles_of(shape):
        leaf_below, leaf_above, gap = node_arrays(pile)
        mask = np.uint64(1) << np.uint64(gap)
        direct = mirror_gate(leaf_below, leaf_above, mask, False)
        both = mirror_gate(leaf_below, leaf_above, mask, True)
        if mirror_centres(pile) > 0:
            assert direct == mask, pile
        if mirror_centres(reflected(pile)) > 0:
            assert both == mask, pile
        passed += int(both == mask)
        dropped += int(both != mask)
        if both == mask and len(pile) >= 5:
            # The walk calls the gate only at the gaps of leaf N - 1 that this picks out beforehand.
            parent_below, parent_above, second_last_gap = node_arrays(pile, missing=2)
            picked = second_last_gate_gaps(parent_below, parent_above, True)
            assert (int(picked) >> second_last_gap) & 1, pile
    if len(piles_of(shape)[0]) >= 8:
        assert dropped > passed  # and it really drops most of them


SHAPES_BY_FAMILY = [(1, 14), (1, 15), (2, 7), (7, 2), (3, 4), (4, 3), (4, 4), (2, 2, 3), (3, 2, 2), (2, 2, 2, 2), (2, 3, 2)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("halve", [True, False])
@pytest.mark.parametrize("shape", SHAPES_BY_FAMILY)
def test_gate_on_and_off_agree(shape, halve, threads):
    gated = count_folds(shape, threads=threads, halve=halve, gate=True, walk="lunnon")
    full = count_folds(shape, threads=threads, halve=halve, gate=False)
    assert gated.folds_total == full.folds_total
    assert gated.symmetric_folds == full.symmetric_folds
    assert gated.sender.pushed == gated.sender.consumed
    assert gated.sender.gated < full.sender.gated  # the gate really held most of the stream back
    # The full stream carries every completion: with halving, each walked one stands for two.
    assert full.sender.gated * (2 if halve else 1) * full.leaves == full.folds_total


@pytest.mark.parametrize("shape", [(1, 6), (2, 4), (3, 3), (2, 2, 2), (1, 9), (2, 5), (3, 2, 2)])
def test_full_stream_against_the_brute_force(shape):
    result = count_folds(shape, threads=2, gate=False)
    assert (result.folds_total, result.symmetric_folds) == brute_force_counts(shape)


@pytest.mark.parametrize("strip", [17, 18])
def test_gated_strips_against_the_oracle(strip):
    """Longer strips than the other tests reach, where the gate matters most."""
    result = count_folds((1, strip), threads=2, walk="lunnon")
    assert result.folds_total == VALUES["A000136"][strip]
    assert result.symmetric_folds == -(-VALUES["A001010"][strip - 1] // 2)
