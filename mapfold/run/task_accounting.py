"""Symmetric sums per task, for the checkpoint journal, without touching the walk's hot path.

The workers push nodes missing only the last leaf to the consumer, as they always do, with nothing
added. A pushed pile tells which task it came from: the task is the pile of the first
``task_depth`` leaves, and taking the deeper leaves out of a pile (following its cycle and skipping
them) gives back exactly that task's pile. So the consumer hashes that restricted pile, finds the
task by binary search among the sorted task hashes (checking the row itself, so a hash collision
cannot misattribute), and runs the symmetric filter (``mapfold.walks.self_mirror``) over each run of rows of
one task in the batch (a lane's rows arrive in order, so runs are long), adding its centres to that
task. This costs the consumer one pass over each pushed pile and nothing at all to the workers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mapfold.walks.self_mirror import count_completions, count_mirror_centres

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@njit(nogil=True, cache=True, inline="always")
def _restricted_hash(row: np.ndarray, depth: int, scratch: np.ndarray) -> np.uint64:
    """Hash of the pile of leaves ``1 .. depth`` left when every deeper leaf is taken out of ``row``."""
    scratch[: depth + 1] = 0
    previous = 0
    leaf = np.int64(row[0])
    while leaf != 0:
        if leaf <= depth:
            scratch[previous] = leaf
            previous = leaf
        leaf = np.int64(row[leaf])
    scratch[previous] = 0
    value = _FNV_OFFSET
    for index in range(depth + 1):
        value = (value ^ np.uint64(scratch[index])) * _FNV_PRIME
    return value


@njit(nogil=True, cache=True)
def task_hashes(task_rows: np.ndarray, depth: int) -> np.ndarray:
    """The restricted-pile hash of every task row."""
    scratch = np.zeros(task_rows.shape[1], dtype=np.uint8)
    hashes = np.empty(task_rows.shape[0], dtype=np.uint64)
    for task in range(task_rows.shape[0]):
        hashes[task] = _restricted_hash(task_rows[task], depth, scratch)
    return hashes


@njit(nogil=True, cache=True)
def tasks_of_rows(rows, depth, task_rows, sorted_hashes, hash_order) -> np.ndarray:
    """The task index each pushed row belongs to (``-1`` if none: a bug, reported by the caller)."""
    scratch = np.zeros(rows.shape[1], dtype=np.uint8)
    found = np.full(rows.shape[0], -1, dtype=np.int64)
    for row in range(rows.shape[0]):
        value = _restricted_hash(rows[row], depth, scratch)
        position = np.searchsorted(sorted_hashes, value)
        while position < sorted_hashes.shape[0] and sorted_hashes[position] == value:
            task = hash_order[position]
            same = True
            for index in range(depth + 1):
                if task_rows[task, index] != scratch[index]:
                    same = False
                    break
            if same:
                found[row] = task
                break
            position += 1
    return found


@njit(nogil=True, cache=True)
def add_centres_by_task(rows, last_leaf_gaps, with_reflections, tasks, centres) -> int:
    """Add each row's mirror centres to ``centres[tasks[row]]``; return the batch's centres."""
    total = 0
    start = 0
    while start < rows.shape[0]:
        stop = start + 1
        while stop < rows.shape[0] and tasks[stop] == tasks[start]:
            stop += 1
        found = count_mirror_centres(rows[start:stop], last_leaf_gaps[start:stop], with_reflections)
        centres[tasks[start]] += found
        total += found
        start = stop
    return total


class TaskSymmetricTotal:
    """Batch handler that gathers the symmetric centres per task (``centres[task]``) and in all.

    Parameters
    ----------
    task_rows
        The task list's piles.
    depth
        Leaves placed in every task.
    with_reflections
        As for ``SymmetricTotal``.
    """

    def __init__(self, task_rows: np.ndarray, depth: int, with_reflections: bool) -> None:
        self._with_reflections = with_reflections
        self._total = 0
        self.completions = 0  # completions received (what the gate let through), as SymmetricTotal counts them
        self._task_rows = task_rows
        self._depth = depth
        hashes = task_hashes(task_rows, depth)
        self._hash_order = np.argsort(hashes, kind="stable").astype(np.int64)
        self._sorted_hashes = np.ascontiguousarray(hashes[self._hash_order])
        self.centres = np.zeros(task_rows.shape[0], dtype=np.int64)

    def __call__(self, rows: np.ndarray, last_leaf_gaps: np.ndarray) -> None:
        tasks = tasks_of_rows(rows, self._depth, self._task_rows, self._sorted_hashes, self._hash_order)
        if tasks.size and tasks.min() < 0:
            raise RuntimeError("a pushed pile belongs to no task")
        self._total += int(add_centres_by_task(rows, last_leaf_gaps, self._with_reflections, tasks, self.centres))
        self.completions += int(count_completions(last_leaf_gaps))

    @property
    def total_centres(self) -> int:
        """Centres gathered in this run, all tasks together."""
        return self._total
