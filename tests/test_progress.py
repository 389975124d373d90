"""The progress bar is driven from jitted code and reaches its total."""

from __future__ import annotations

import io
import re

from mapfold import count_folds


def test_bar_reaches_its_total_of_estimated_work():
    bar_file = io.StringIO()
    count_folds((2, 7), threads=2, progress=True, progress_file=bar_file)
    written = bar_file.getvalue()
    assert "estimated tree nodes" in written  # the bar says what it counts
    assert re.search(r" (\S+)/\1 \[", written)  # and reaches its total
    assert "100%" in written


def test_bar_work_follows_task_size():
    """Tasks of very different sizes move the bar by their estimated nodes, not by one each."""
    from mapfold.plan.probe import subtree_weights
    from mapfold.plan.tasks import plan_tasks
    from mapfold.walks.connection_graph import make_connection_graph

    graph = make_connection_graph((3, 5))
    tasks = plan_tasks(graph, True, min_tasks=64)
    weights = subtree_weights(graph, tasks.leaf_below, tasks.placed_leaves, True, probes=64)
    assert weights.max() > 10 * weights.min()


def test_no_bar_when_not_asked():
    bar_file = io.StringIO()
    count_folds((2, 5), threads=2, progress=False, progress_file=bar_file)
    assert bar_file.getvalue() == ""


def test_orbit_task_sizes_are_estimated():
    """The orbit walk's tasks differ in size too; the bar moves by their estimates."""
    from mapfold.plan.probe import orbit_subtree_weights
    from mapfold.walks.orbit import make_orbit_plan, split_orbit_tasks

    tasks = split_orbit_tasks(make_orbit_plan((3, 5)), 2, 64)
    weights = orbit_subtree_weights(tasks.plan, tasks.leaf_below, tasks.placed_leaves, probes=64)
    assert weights.min() >= 1
    assert weights.max() > 10 * weights.min()


def test_the_orbit_walk_bar_reaches_its_total():
    bar_file = io.StringIO()
    result = count_folds((3, 5), threads=2, progress=True, progress_file=bar_file)
    assert result.walk == "orbit"
    written = bar_file.getvalue()
    assert "orbit walk (estimated tree nodes)" in written
    assert re.search(r" (\S+)/\1 \[", written)
    assert "100%" in written
