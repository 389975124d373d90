"""Knuth's probes on the wide orbit walk's tree (``walks.orbit_wide``): maps past 64 leaves.

The same estimators as ``plan.probe`` and ``estimate`` (their docstrings have the argument), with
each gap set spread over several words; the random gap is the ``k``-th set bit, ``k`` uniform.
``tables`` is always ``OrbitPlan.tables()`` of a wide plan.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mapfold.walks.orbit_wide import mask_count, nth_gap, wide_orbit_gaps
from mapfold.walks.pile import cycle_above, insert_leaf


@njit(nogil=True, cache=True, inline="always")
def _random_wide_gap(masks, row, shift, count) -> int:
    """A uniformly chosen gap of ``masks[row]``, which holds ``count`` (at least 1)."""
    return nth_gap(masks, row, shift, np.random.randint(0, count))


@njit(nogil=True, cache=True)
def orbit_subtree_weights_wide(tables, task_rows, placed_leaves, probes):
    """``plan.probe.orbit_subtree_weights`` on the wide walk: estimated nodes below each task (at least 1)."""
    order = tables[0]
    shift = tables[5]
    words = tables[4].shape[1]
    leaves_total = task_rows.shape[1]
    weights = np.ones(task_rows.shape[0], dtype=np.float64)
    leaf_below = np.empty(leaves_total, dtype=task_rows.dtype)
    leaf_above = np.zeros(leaves_total, dtype=task_rows.dtype)
    gaps = np.zeros((1, words), dtype=np.uint64)
    scratch = np.zeros(words, dtype=np.uint64)
    np.random.seed(12345)
    for task in range(task_rows.shape[0]):
        nodes = 0.0
        for _ in range(probes):
            leaf_below[:] = task_rows[task]
            cycle_above(leaf_below, leaf_above, order[0])
            product = 1.0
            # The walk counts the last leaf's gaps without placing it: its nodes stop one short.
            for position in range(placed_leaves, leaves_total - 1):
                if not wide_orbit_gaps(tables, position, leaf_below, gaps, 0, scratch):
                    break
                count = mask_count(gaps, 0)
                product *= count
                nodes += product
                insert_leaf(leaf_below, leaf_above, order[position], _random_wide_gap(gaps, 0, shift, count))
        weights[task] = 1.0 + nodes / probes
    return weights


@njit(nogil=True, cache=True)
def orbit_probes_wide(tables, task_rows, weights, placed, probes, seed, level_sums, fold_sums):
    """``estimate._orbit_probes`` on the wide walk: probes from uniformly chosen tasks."""
    if seed >= 0:
        np.random.seed(seed)
    order = tables[0]
    shift = tables[5]
    words = tables[4].shape[1]
    leaves_total = task_rows.shape[1]
    leaf_below = np.empty(leaves_total, dtype=task_rows.dtype)
    leaf_above = np.zeros(leaves_total, dtype=task_rows.dtype)
    gaps = np.zeros((1, words), dtype=np.uint64)
    scratch = np.zeros(words, dtype=np.uint64)
    for probe in range(probes):
        task = np.random.randint(0, task_rows.shape[0])
        leaf_below[:] = task_rows[task]
        cycle_above(leaf_below, leaf_above, order[0])
        product = float(task_rows.shape[0])
        cycles = 0.0
        for position in range(placed, leaves_total):
            wide_orbit_gaps(tables, position, leaf_below, gaps, 0, scratch)
            count = mask_count(gaps, 0)
            if position == leaves_total - 1:
                cycles = product * count * weights[task]
                break
            if count == 0:
                break
            product *= count
            level_sums[position + 1] += product
            insert_leaf(leaf_below, leaf_above, order[position], _random_wide_gap(gaps, 0, shift, count))
        fold_sums[probe] = cycles


@njit(nogil=True, cache=True)
def orbit_descend_wide(tables, task_rows, placed, depth, leaf_below, leaf_above) -> float:
    """``estimate._orbit_descend`` on the wide walk: a random path to ``depth`` leaves; its product, or 0."""
    order = tables[0]
    shift = tables[5]
    words = tables[4].shape[1]
    gaps = np.zeros((1, words), dtype=np.uint64)
    scratch = np.zeros(words, dtype=np.uint64)
    task = np.random.randint(0, task_rows.shape[0])
    leaf_below[:] = task_rows[task]
    cycle_above(leaf_below, leaf_above, order[0])
    product = float(task_rows.shape[0])
    for position in range(placed, depth):
        if not wide_orbit_gaps(tables, position, leaf_below, gaps, 0, scratch):
            return 0.0
        count = mask_count(gaps, 0)
        product *= count
        insert_leaf(leaf_below, leaf_above, order[position], _random_wide_gap(gaps, 0, shift, count))
    return product
