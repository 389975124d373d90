"""Symmetric totals against the oracles: ceil(A001010(M-1)/2) for 1 x M, and the 2-D values."""

from __future__ import annotations

import pytest

from mapfold import count_folds
from mapfold.oeis import VALUES


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("strip", range(2, 17))
def test_strip_symmetric_total(strip, threads):
    result = count_folds((1, strip), threads=threads)
    expected = -(-VALUES["A001010"][strip - 1] // 2)
    assert result.symmetric_folds == expected
    if strip % 2 == 0:
        assert result.symmetric_folds == VALUES["A007822"][strip // 2]
        assert result.a007822_index == strip // 2
    else:
        assert result.symmetric_folds == VALUES["A000682"][(strip + 1) // 2]
        assert result.a007822_index is None
    assert result.sender.pushed == result.sender.consumed > 0


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(("shape", "expected"), [((2, 5), 1), ((3, 3), 3)])
def test_two_dimensional_symmetric_totals(shape, expected, threads):
    """Values stated in MAPFOLDING.md for the same predicate."""
    result = count_folds(shape, threads=threads)
    assert result.symmetric_folds == expected
    assert result.sender.pushed == result.sender.consumed


def test_no_symmetric_skips_the_sender():
    result = count_folds((1, 8), threads=2, symmetric=False)
    assert result.symmetric_folds is None
    assert result.sender is None
    assert result.folds_total == VALUES["A000136"][8]


@pytest.mark.parametrize("shape", [(2, 6), (3, 4), (2, 2, 3), (1, 13)])
def test_symmetric_total_does_not_depend_on_threads_or_tasks(shape):
    results = {
        (threads, tasks_per_thread): count_folds(shape, threads=threads, tasks_per_thread=tasks_per_thread).symmetric_folds
        for threads in (1, 2, 3)
        for tasks_per_thread in (1, 64)
    }
    assert len(set(results.values())) == 1, results


@pytest.mark.parametrize("shape", [(2, 6), (6, 2), (3, 4), (4, 3), (1, 13), (1, 14), (2, 2, 3), (3, 2, 2), (4, 4), (2, 2, 2, 2)])
def test_halving_changes_no_total(shape):
    """The reflection shortcut against the whole walk: fold totals and symmetric totals alike."""
    whole = count_folds(shape, threads=2, halve=False, gate=False)
    halved = count_folds(shape, threads=2, halve=True, gate=False)
    assert halved.folds_total == whole.folds_total
    assert halved.symmetric_folds == whole.symmetric_folds
    assert halved.sender.pushed < whole.sender.pushed  # the shortcut really walked less
