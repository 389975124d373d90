"""Terms mapfold counted itself (``oeis.COUNTED_HERE``) are claims, never oracles.

No test here asserts such a value: these tests check that the claims stay apart from the OEIS
copies, and how a count is shown beside one.
"""

from __future__ import annotations

import io

from rich.console import Console

from mapfold.cli.count import _table
from mapfold.oeis import COUNTED_HERE, VALUES, counted_folds, known_folds
from mapfold.results import CountResult


def _shown(result: CountResult) -> str:
    console = Console(width=120, file=io.StringIO())
    console.print(_table(result))
    return console.file.getvalue()


def _result(shape: tuple[int, ...], folds: int) -> CountResult:
    return CountResult(
        shape=list(shape),
        leaves=2 ** len(shape),
        folds_total=folds,
        symmetric_folds=None,
        a007822_index=None,
        threads=2,
        tasks=1,
        elapsed_seconds=1.0,
        version="test",
        sender=None,
        walk="orbit",
    )


#: The side of the hypercube each counted sequence's a(n) is, n its dimensions.
SIDE_OF = {"A001417": 2, "A195646": 3}


def test_a_counted_term_is_never_an_oeis_value():
    for sequence, terms in COUNTED_HERE.items():
        assert sequence in VALUES
        for index, term in terms.items():
            assert index not in VALUES[sequence]  # a term the b-file has is checked against the b-file
            assert term.how
            sides = (SIDE_OF[sequence],) * index
            assert known_folds(sides) is None
            assert counted_folds(sides) == (sequence, index, term)


def test_counted_folds_stays_out_of_maps_the_oeis_covers():
    assert counted_folds((2,) * 7) is None
    assert counted_folds((2, 5)) is None
    assert counted_folds((3, 3, 3, 3)) is None  # no counted term


def test_the_table_shows_a_counted_term_as_ours_and_never_as_a_match():
    sequence, index, term = counted_folds((2,) * 8)
    same = _shown(_result((2,) * 8, term.value))
    assert f"{sequence}({index}) by mapfold" in same
    assert "(ours, not OEIS: the same)" in same
    assert "matches" not in same and "OEIS A001417(8)" not in same
    other = _shown(_result((2,) * 8, term.value + 1))
    assert "(ours, not OEIS: DIFFERENT)" in other
    assert "matches" not in other
