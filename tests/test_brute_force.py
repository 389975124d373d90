"""mapfold against an independent brute force (tests/brute_force.py) on tiny maps.

The brute force is first checked against the OEIS oracle and the symmetric values stated in
MAPFOLDING.md; then mapfold must agree with it on every shape of 2..8 leaves, in every order of
the sides (the symmetric total depends on the order: 2x3 -> 1 but 3x2 -> 0).
"""

from __future__ import annotations

import functools
import itertools
from math import prod

import pytest
from brute_force import brute_force_counts, crease_pairs, interleaved, valid_piles

from mapfold import count_folds

cached_brute_force = functools.lru_cache(maxsize=None)(brute_force_counts)


def ordered_factorizations(n: int) -> list[tuple[int, ...]]:
    """Every tuple of sides >= 2 whose product is n, in every order."""
    if n == 1:
        return [()]
    return [(first, *rest) for first in range(2, n + 1) if n % first == 0 for rest in ordered_factorizations(n // first)]


def small_shapes() -> list[tuple[int, ...]]:
    """Every shape of 2..8 leaves with sides >= 2, plus each with one side of 1 put in anywhere."""
    shapes: list[tuple[int, ...]] = []
    for n in range(2, 9):
        for sides in ordered_factorizations(n):
            shapes.append(sides)
            for at in range(len(sides) + 1):
                shapes.append((*sides[:at], 1, *sides[at:]))
    shapes += [(1, 1, 5), (1, 2, 1, 2)]
    return list(dict.fromkeys(shapes))


SMALL_SHAPES = small_shapes()
# Beyond 8 leaves, still fast for the pruned brute force (each well under a second).
LARGER_SHAPES = [(1, 9), (9, 1), (1, 10), (3, 3), (3, 1, 3), (2, 5), (5, 2)]


def shape_id(sides: tuple[int, ...]) -> str:
    return "x".join(map(str, sides))


# --- the brute force itself ---------------------------------------------------------------------


def every_valid_permutation(sides: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The unpruned definition: every order of all N leaves (any leaf on top) with no interleaving."""
    pairs = crease_pairs(sides)
    valid = []
    for pile in itertools.permutations(range(1, prod(sides) + 1)):
        pos = {leaf: i for i, leaf in enumerate(pile)}
        if not any(interleaved(pos[a], pos[b], pos[c], pos[d]) for (a, b), (c, d) in pairs):
            valid.append(pile)
    return valid


@pytest.mark.parametrize("sides", [(1, 4), (1, 6), (2, 2), (2, 3), (3, 2), (1, 2, 3), (3, 1, 2)], ids=shape_id)
def test_pruned_walk_is_the_definition_with_leaf_1_on_top(sides):
    """Pruning loses nothing, and the valid piles are closed under turning (N * leaf-1-on-top)."""
    everything = every_valid_permutation(sides)
    on_top = sorted(tuple(pile) for pile in valid_piles(sides))
    assert on_top == [pile for pile in everything if pile[0] == 1]
    assert len(everything) == prod(sides) * len(on_top)
    assert brute_force_counts(sides)[0] == len(everything)


@pytest.mark.parametrize("n", range(1, 11))
def test_brute_force_strip_totals(n, oracle):
    assert cached_brute_force((1, n))[0] == oracle("A000136")[n]


@pytest.mark.parametrize("n", range(1, 7))
def test_brute_force_2xn_totals(n, oracle):
    assert cached_brute_force((2, n))[0] == oracle("A001415")[n]
    assert cached_brute_force((n, 2))[0] == oracle("A001415")[n]


@pytest.mark.parametrize("n", range(1, 5))
def test_brute_force_3xn_totals(n, oracle):
    assert cached_brute_force((3, n))[0] == oracle("A001416")[n]


@pytest.mark.parametrize("dimensions", range(1, 4))
def test_brute_force_hypercube_totals(dimensions, oracle):
    assert cached_brute_force((2,) * dimensions)[0] == oracle("A001417")[dimensions]


@pytest.mark.parametrize("strip", range(2, 11))
def test_brute_force_strip_symmetric_totals(strip, oracle):
    expected = -(-oracle("A001010")[strip - 1] // 2)
    assert cached_brute_force((1, strip))[1] == expected
    if strip % 2 == 0:
        assert expected == oracle("A007822")[strip // 2]
    else:
        assert expected == oracle("A000682")[(strip + 1) // 2]


@pytest.mark.parametrize(("sides", "expected"), [((2, 5), 1), ((3, 3), 3)], ids=["2x5", "3x3"])
def test_brute_force_stated_symmetric_totals(sides, expected):
    """The two 2-D values MAPFOLDING.md states for the same predicate."""
    assert cached_brute_force(sides)[1] == expected


# --- mapfold against it --------------------------------------------------------------------------


# Lunnon's walk is compiled once, in one test process (``make test`` runs two): not twice at once.
@pytest.mark.parametrize("walk", ["orbit", pytest.param("lunnon", marks=pytest.mark.xdist_group("lunnon_compile"))])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("sides", SMALL_SHAPES + LARGER_SHAPES, ids=shape_id)
def test_mapfold_matches_brute_force(sides, threads, walk):
    """Both walks: the orbit walk with the mirror walk (the default), and Lunnon's with its gate."""
    folds_total, symmetric_total = cached_brute_force(sides)
    result = count_folds(sides, threads=threads, walk=walk)
    assert (result.folds_total, result.symmetric_folds) == (folds_total, symmetric_total)
