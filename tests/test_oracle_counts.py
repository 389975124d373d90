"""Fold totals against the OEIS b-files, with one and two threads.

The values come from the package's copy of the b-files (``mapfold.oeis``); ``test_oeis_copy``
checks that copy against ``../shared/oeis`` itself.
"""

from __future__ import annotations

import pytest

from mapfold import count_folds
from mapfold.oeis import VALUES


def _cases() -> list[tuple[tuple[int, ...], str, int]]:
    cases = []
    cases += [((1, n), "A000136", n) for n in range(1, 15)]
    cases += [((2, n), "A001415", n) for n in range(1, 10)]
    cases += [((3, n), "A001416", n) for n in range(1, 7)]
    cases += [((2,) * n, "A001417", n) for n in range(1, 6)]
    cases += [((n, n), "A001418", n) for n in range(1, 5)]
    cases += [((3,) * n, "A195646", n) for n in range(1, 4)]
    return cases


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(("shape", "sequence", "index"), _cases(), ids=lambda value: str(value))
def test_fold_total_matches_oeis(shape, sequence, index, threads):
    result = count_folds(shape, threads=threads, symmetric=False)
    assert result.folds_total == VALUES[sequence][index]
    assert isinstance(result.folds_total, int)


@pytest.mark.parametrize("shape", [(5, 2), (3, 2, 2), (4, 3), (2, 3, 2)])
def test_side_order_does_not_change_the_total(shape):
    """Foldings of a map do not depend on which side is named first (independent of any b-file)."""
    assert (
        count_folds(shape, threads=2, symmetric=False).folds_total
        == count_folds(tuple(sorted(shape)), threads=1, symmetric=False).folds_total
    )


@pytest.mark.parametrize("shape", [(1, 1, 7), (7, 1), (1, 2, 1, 5)])
def test_sides_of_one_count_as_absent(shape):
    sides = tuple(side for side in shape if side > 1)
    expected = VALUES["A000136"][sides[0]] if len(sides) == 1 else VALUES["A001415"][sides[1]]
    assert count_folds(shape, threads=2).folds_total == expected


def test_one_leaf_has_one_folding():
    assert count_folds((1, 1), threads=1).folds_total == 1
    assert count_folds((1,), threads=2).folds_total == 1
