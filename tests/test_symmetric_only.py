"""The symmetric total alone (``count_folds(folds=False)``, ``--symmetric-only``): the mirror walk, no fold walk."""

from __future__ import annotations

import json

import pytest
from journal_watch import interrupt_once_journaled
from typer.testing import CliRunner

from mapfold import count_folds
from mapfold.cli.app import app
from mapfold.oeis import VALUES
from mapfold.run.journal import JournalError

runner = CliRunner()


@pytest.mark.parametrize("half", range(1, 15))
def test_even_strips_give_a007822(oracle, half):
    result = count_folds((1, 2 * half), folds=False)
    assert result.folds_total is None
    assert result.symmetric_folds == oracle("A007822")[half]


@pytest.mark.parametrize("half", range(1, 11))
def test_odd_strips_give_a000682(oracle, half):
    # A 1 x (2n+1) strip's symmetric total is A000682(n + 1) (MAPFOLDING.md).
    assert count_folds((1, 2 * half + 1), folds=False).symmetric_folds == oracle("A000682")[half + 1]


@pytest.mark.parametrize("shape", [(2, 5), (3, 3), (2, 2, 2), (3, 4), (2, 6), (4, 4), (2, 2, 3), (1,), (1, 1)])
def test_other_maps_agree_with_lunnons_walk(shape):
    # Lunnon's walk tests every folding it walks with the filter: an independent route to the total.
    alone = count_folds(shape, folds=False)
    assert alone.folds_total is None
    assert alone.symmetric_folds == count_folds(shape, walk="lunnon").symmetric_folds


def test_it_needs_the_symmetric_total_and_the_orbit_walk():
    with pytest.raises(ValueError, match="symmetric"):
        count_folds((2, 5), folds=False, symmetric=False)
    with pytest.raises(ValueError, match="mirror walk"):
        count_folds((2, 5), folds=False, walk="lunnon")
    with pytest.raises(ValueError, match="min_tasks"):
        count_folds((2, 5), folds=False, min_tasks=5000)


def test_an_interrupted_count_resumes_and_journals_stay_apart(tmp_path):
    count_folds((1, 9), folds=False, checkpoint=tmp_path / "warm-up.journal")  # compiled before the stop
    journal = tmp_path / "1x30.journal"
    interrupt_once_journaled(
        journal, 10, lambda stop: count_folds((1, 30), threads=2, folds=False, checkpoint=journal, stop_event=stop)
    )
    assert json.loads(journal.read_text().splitlines()[0])["folds"] is False
    # A count of both totals must not take this journal, nor this count another's.
    with pytest.raises(JournalError, match="symmetric total alone"):
        count_folds((1, 30), checkpoint=journal)
    result = count_folds((1, 30), threads=1, folds=False, checkpoint=journal)
    assert 0 < result.tasks_resumed < result.tasks
    assert result.symmetric_folds == VALUES["A007822"][15]
    both = tmp_path / "both.journal"
    count_folds((1, 12), checkpoint=both)
    with pytest.raises(JournalError, match="both totals"):
        count_folds((1, 12), folds=False, checkpoint=both)


def test_the_command_line():
    result = runner.invoke(app, ["count", "1x24", "--symmetric-only", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["folds_total"] is None
    assert document["symmetric_folds"] == VALUES["A007822"][12]
    assert document["a007822_index"] == 12
    table = runner.invoke(app, ["count", "1x24", "--symmetric-only"]).stdout
    assert "not counted" in table and "matches" in table and "DIFFERS" not in table
    assert "mirror (symmetric only)" in table


@pytest.mark.parametrize(
    "arguments, words",
    [(["--no-symmetric"], "--no-symmetric"), (["--min-tasks", "5000"], "--min-tasks")],
)
def test_the_command_line_refuses_what_cannot_go_with_it(arguments, words):
    result = runner.invoke(app, ["count", "2x5", "--symmetric-only", *arguments])
    assert result.exit_code == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
