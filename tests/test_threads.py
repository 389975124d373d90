"""Totals do not depend on the thread count or the split; failures end the run with an error."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import mapfold.run.cpus as cpus
import mapfold.run.workers as workers  # where the worker threads call the jitted loop
from mapfold import count_folds
from mapfold.oeis import VALUES
from mapfold.results import WorkerError
from mapfold.run.cpus import available_cpus
from mapfold.run.local import THREADS_PER_CPU_CAP, worker_threads


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
    real = workers._work_through_tasks
    calls = []

    def failing_second_worker(*arguments):
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise MemoryError("worker exploded")
        return real(*arguments)

    monkeypatch.setattr(workers, "_work_through_tasks", failing_second_worker)
    started = time.monotonic()
    with pytest.raises(WorkerError, match="worker exploded"):
        count_folds((2, 8), threads=2, walk="lunnon")  # the orbit walk's loop: tests/test_orbit_walk.py
    assert time.monotonic() - started < 60


def test_stop_flag_aborts_a_walk():
    """A walk told to stop returns the abort marker instead of a partial count."""
    from mapfold.plan.tasks import root_node
    from mapfold.walks.connection_graph import make_connection_graph
    from mapfold.walks.lunnon import walk_subtree
    from mapfold.walks.pile import WALK_ABORTED

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


def test_a_thread_that_fails_to_start_ends_the_run_and_every_started_worker(monkeypatch):
    real_start = threading.Thread.start
    starts = []

    def refusing_second_worker(thread):
        if thread.name.startswith("mapfold-worker"):
            starts.append(thread.name)
            if len(starts) == 2:
                raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", refusing_second_worker)
    with pytest.raises(WorkerError, match="could not start worker thread 2 of 4"):
        # Hours of work on Lunnon's walk: a worker left running would show.
        count_folds((2, 2, 2, 2, 2, 2), threads=4, walk="lunnon")
    deadline = time.monotonic() + 10
    while any(t.name.startswith("mapfold-") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("mapfold-")]


def test_totals_are_exact_python_ints():
    """Each task's completions fit an int64; the runner sums them as Python ints, so no total wraps."""
    for threads in (1, 3):
        result = count_folds((2, 5), threads=threads, symmetric=False)
        assert type(result.folds_total) is int and result.folds_total == VALUES["A001415"][5]


def test_absurd_thread_counts_run_as_a_sane_number():
    result = count_folds((2, 5), threads=4096)
    assert result.folds_total == VALUES["A001415"][5]
    assert result.threads == worker_threads(4096) <= max(64, THREADS_PER_CPU_CAP * available_cpus())


def _cgroup_v2(tmp_path, limits: dict[str, str]):
    root = tmp_path / "cgroup"
    for folder, cpu_max in limits.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(cpu_max + "\n")
    membership = tmp_path / "self-cgroup"
    membership.write_text("0::/outer/inner\n")
    return str(root), str(membership)


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"outer/inner": "max 100000"}, None),
        ({"outer/inner": "150000 100000"}, 2),  # 1.5 CPUs' worth: two threads keep it busy
        ({"outer": "100000 100000", "outer/inner": "400000 100000"}, 1),  # the parent's limit is tighter
    ],
)
def test_cpu_quota_from_cgroup_v2(tmp_path, limits, expected):
    assert cpus.cpu_quota(*_cgroup_v2(tmp_path, limits)) == expected


def test_cpu_quota_from_cgroup_v1(tmp_path):
    folder = tmp_path / "cgroup" / "cpu,cpuacct" / "job"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("300000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    membership = tmp_path / "self-cgroup"
    membership.write_text("4:cpu,cpuacct:/job\n3:memory:/job\n")
    assert cpus.cpu_quota(str(tmp_path / "cgroup"), str(membership)) == 3


def test_the_default_thread_count_honours_the_cpu_quota(monkeypatch):
    monkeypatch.setattr(cpus, "cpu_quota", lambda *arguments: 1)
    assert cpus.available_cpus() == 1
    assert count_folds((2, 5)).threads == 1
