"""The progress bar is driven from jitted code and reaches its total."""

from __future__ import annotations

import io

from mapfold import count_folds


def test_bar_reaches_the_number_of_tasks():
    bar_file = io.StringIO()
    result = count_folds((2, 7), threads=2, progress=True, progress_file=bar_file)
    written = bar_file.getvalue()
    assert f"{result.tasks}/{result.tasks}" in written
    assert "100%" in written


def test_no_bar_when_not_asked():
    bar_file = io.StringIO()
    count_folds((2, 5), threads=2, progress=False, progress_file=bar_file)
    assert bar_file.getvalue() == ""
