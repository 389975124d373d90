"""Totals do not depend on the thread count or the split; failures end the run with an error."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import mapfold.unit_runner as runner  # where the worker threads call the jitted loop
from mapfold import count_folds
from mapfold.oeis import VALUES
from mapfold.runner import WorkerError


def test_thread_count_invariance_on_many_tasks():
    expected = VALUES["A001415"][8]
    for threads in (1, 2, 3, 4, 7):
        result = count_folds((2, 8), threads=threads, symmetric=False, tasks_per_thread=64)
        assert result.folds_total == expected
        assert result.tasks >= 64
        assert result.threads == threads


@pytest.mark.parametrize("tasks_per_thread", [1, 4, 1000])
def test_split_depth_does_not_change_the_total(tasks_per_thread):
    assert count_folds((3, 4), threads=2, symmetric=False, tasks_per_thread=tasks_per_thread).folds_total == VALUES["A001416"][4]


def test_more_threads_than_tasks():
    assert count_folds((1, 3), threads=8).folds_total == VALUES["A000136"][3]


def test_a_failing_worker_ends_the_run_with_an_error(monkeypatch):
    real = runner._work_through_tasks
    calls = []

    def failing_second_worker(*arguments):
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise MemoryError("worker exploded")
        return real(*arguments)

    monkeypatch.setattr(runner, "_work_through_tasks", failing_second_worker)
    started = time.monotonic()
    with pytest.raises(WorkerError, match="worker exploded"):
        count_folds((2, 8), threads=2)
    assert time.monotonic() - started < 60


def test_stop_flag_aborts_a_walk():
    """A walk told to stop returns the abort marker instead of a partial count."""
    from mapfold.connection_graph import make_connection_graph
    from mapfold.kernel import WALK_ABORTED, walk_subtree
    from mapfold.tasks import root_node

    graph = make_connection_graph((2, 9))
    leaf_below = root_node(18)[0].copy()
    leaf_above = leaf_below.copy()
    gap_masks = np.zeros(20, dtype=np.uint64)
    stop_flag = np.ones(1, dtype=np.int64)
    assert walk_subtree(graph, leaf_below, leaf_above, 1, gap_masks, stop_flag, False, None, 0, False) == WALK_ABORTED
    stop_flag[0] = 0
    leaf_below = root_node(18)[0].copy()
    assert (
        walk_subtree(graph, leaf_below, leaf_above, 1, gap_masks, stop_flag, False, None, 0, False) * 18 == VALUES["A001415"][9]
    )


def test_bad_thread_count_is_refused():
    with pytest.raises(ValueError):
        count_folds((2, 3), threads=0)
