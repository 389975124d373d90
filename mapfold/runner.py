"""The runner: split the tree, start worker threads over the tasks, gather the totals.

Each worker thread makes one call into ``_work_through_tasks``, a jitted ``nogil`` loop that claims
tasks with an atomic counter (so no thread waits for another, and the GIL is never taken), walks
each one with the kernel, and ticks the progress bar from inside nopython code. When the symmetric
total is wanted, the workers also push every node missing only its last leaf into a
``LeafBelowSender``, whose consumer thread gathers the symmetric total as the walk goes.

Failures end the run with an error: a worker that raises, a consumer that raises (producers waiting
on a full ring are released), or an interrupt, each sets the shared stop flag that every walk
checks, and the run raises instead of returning a partial total.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import IO, Any

import numpy as np
from numba import njit
from numba_progress import ProgressBar

from mapfold.atomics import atomic_add
from mapfold.connection_graph import make_connection_graph
from mapfold.kernel import WALK_ABORTED, walk_subtree
from mapfold.sender import LeafBelowSender, SenderError
from mapfold.shape import counted_sides, validate_shape
from mapfold.symmetry import SymmetricTotal
from mapfold.tasks import TASKS_PER_THREAD, pile_above, split_tasks


@dataclass(frozen=True)
class SenderCounts:
    """What went through the ``LeafBelowSender`` in one run."""

    pushed: int
    consumed: int
    slots: int
    #: Completions the consumer received and tested (the gate lets through only those that could
    #: count; with the gate off, every completion).
    gated: int


@dataclass(frozen=True)
class CountResult:
    """The totals of one count, with how they were computed (the fields of ``--json``)."""

    shape: list[int]
    leaves: int
    folds_total: int
    symmetric_folds: int | None
    a007822_index: int | None
    threads: int
    tasks: int
    elapsed_seconds: float
    version: str
    sender: SenderCounts | None

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready values."""
        return asdict(self)


class WorkerError(RuntimeError):
    """A worker thread failed; no total is reported."""


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def a007822_index(shape: tuple[int, ...]) -> int | None:
    """``n`` when the map is a 1 x 2n strip (its symmetric total is A007822(n)), else ``None``."""
    sides = counted_sides(shape)
    if len(sides) == 1 and sides[0] % 2 == 0:
        return sides[0] // 2
    return None


@njit(nogil=True, cache=True)
def _work_through_tasks(
    connection_graph, task_rows, placed_leaves, halved, next_task, stop_flag, progress, sender, lane, gate
) -> int:
    """One worker's whole share: claim tasks until none are left; return their completions.

    Returns ``WALK_ABORTED`` as soon as a walk stops early.
    """
    leaves_total = task_rows.shape[1] - 1
    leaf_below = np.empty(leaves_total + 1, dtype=np.uint8)
    leaf_above = np.zeros(leaves_total + 1, dtype=np.uint8)
    gap_masks = np.zeros(leaves_total + 2, dtype=np.uint64)
    completions = 0
    while True:
        if stop_flag[0] != 0:
            return WALK_ABORTED
        task = atomic_add(next_task, 0, 1)
        if task >= task_rows.shape[0]:
            return completions
        leaf_below[:] = task_rows[task]
        pile_above(leaf_below, leaf_above)
        found = walk_subtree(
            connection_graph, leaf_below, leaf_above, placed_leaves, gap_masks, stop_flag, halved, sender, lane, gate
        )
        if found == WALK_ABORTED:
            return WALK_ABORTED
        completions += found
        progress.update(1)


def count_folds(
    shape: tuple[int, ...] | list[int],
    threads: int | None = None,
    symmetric: bool = True,
    progress: bool = False,
    progress_file: IO[str] | None = None,
    tasks_per_thread: int = TASKS_PER_THREAD,
    sender_slots: int = 8192,
    halve: bool = True,
    stop_event: threading.Event | None = None,
    gate: bool = True,
) -> CountResult:
    """Count the foldings of a map, and its symmetric foldings, on several threads.

    Parameters
    ----------
    shape
        The map's sides, e.g. ``(2, 5)``; at most ``MAX_LEAVES`` leaves.
    threads
        Worker threads; default: the CPUs this process may use. Totals do not depend on it.
    symmetric
        Also gather the symmetric total through a ``LeafBelowSender`` and its consumer thread.
    progress
        Show a progress bar (tasks done, rate, ETA) on ``progress_file``.
    progress_file
        Where the bar is written; default ``sys.stderr``.
    tasks_per_thread
        How many tasks per thread the splitter aims for.
    sender_slots
        Rows in each worker's lane of the sender.
    halve
        Walk half the tree, one folding of each mirror pair (maps of 3 or more leaves); turning it
        off walks the whole tree, for checking the shortcut. Totals do not depend on it.
    stop_event
        Setting it (from a signal handler, say) stops every thread and raises
        ``KeyboardInterrupt``, as Ctrl-C does.
    gate
        Send the consumer only the completions that could be mirror images of themselves
        (``mapfold.symmetry.mirror_gate``); ``False`` sends every completion (the full stream, for
        checking the gate). Totals do not depend on it.

    Returns
    -------
    CountResult

    Raises
    ------
    ShapeError
        For a shape that is not a map or is too large.
    WorkerError, SenderError
        When a worker or the consumer fails; no partial total is returned.
    KeyboardInterrupt
        After stopping every thread, when interrupted.
    """
    from mapfold import __version__

    shape = tuple(shape)
    validate_shape(shape)
    if threads is None:
        threads = available_cpus()
    if threads < 1:
        raise ValueError("threads must be at least 1")
    started = time.perf_counter()
    sides = counted_sides(shape)
    leaves_total = int(np.prod(sides))

    if leaves_total == 1:
        # One leaf: one folding, nothing to split. The filter still decides its symmetry.
        task_count, completions = 0, 1
        symmetric_folds = None
        if symmetric:
            handler = SymmetricTotal()
            handler(np.zeros((1, 2), dtype=np.uint8), np.ones(1, dtype=np.uint64))
            symmetric_folds = handler.total
        sender_counts = SenderCounts(0, 0, 0, handler.completions) if symmetric else None
    else:
        halved = halve and leaves_total >= 3
        connection_graph = make_connection_graph(sides)
        tasks = split_tasks(connection_graph, threads, halved, tasks_per_thread)
        task_count = len(tasks)
        handler = SymmetricTotal(with_reflections=halved) if symmetric else None
        sender = LeafBelowSender(leaves_total + 1, handler, lanes=threads, slots=sender_slots) if symmetric else None
        try:
            completions = _run_workers(
                connection_graph,
                tasks.leaf_below,
                tasks.placed_leaves,
                halved,
                threads,
                sender,
                progress,
                progress_file,
                stop_event,
                gate,
            )
            if halved:
                completions *= 2  # each completion walked stands for itself and its reflection
        finally:
            if sender is not None:
                sender.close()
        symmetric_folds = handler.total if handler is not None else None
        sender_counts = (
            SenderCounts(sender.pushed, sender.consumed, sender.slots, handler.completions) if sender is not None else None
        )
        if sender is not None and sender.pushed != sender.consumed:
            raise SenderError(f"the sender lost rows: {sender.pushed} pushed, {sender.consumed} consumed")

    return CountResult(
        shape=list(shape),
        leaves=leaves_total,
        folds_total=completions * leaves_total,
        symmetric_folds=symmetric_folds,
        a007822_index=a007822_index(shape),
        threads=threads,
        tasks=task_count,
        elapsed_seconds=round(time.perf_counter() - started, 6),
        version=__version__,
        sender=sender_counts,
    )


def _run_workers(
    connection_graph, task_rows, placed_leaves, halved, threads, sender, progress, progress_file, stop_event, gate
) -> int:
    """Run ``threads`` workers over the tasks; return the summed completions or raise."""
    next_task = np.zeros(1, dtype=np.int64)
    stop_flag = np.zeros(1, dtype=np.int64)
    results: list[int | None] = [None] * threads
    errors: list[BaseException] = []

    with ProgressBar(
        total=len(task_rows),
        file=progress_file if progress_file is not None else sys.stderr,
        disable=not progress,
        unit="task",
        desc="folding",
        leave=True,
    ) as bar:

        def work(index: int) -> None:
            try:
                results[index] = _work_through_tasks(
                    connection_graph, task_rows, placed_leaves, halved, next_task, stop_flag, bar, sender, index, gate
                )
            except BaseException as error:  # noqa: BLE001 - reported by the runner below
                errors.append(error)
                stop_flag[0] = 1

        workers = [
            threading.Thread(target=work, args=(index,), name=f"mapfold-worker-{index}", daemon=True) for index in range(threads)
        ]
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                # Short joins keep the main thread able to take Ctrl-C and to notice a failed consumer.
                while worker.is_alive():
                    worker.join(0.05)
                    if sender is not None and sender.failed:
                        stop_flag[0] = 1
                    if stop_event is not None and stop_event.is_set():
                        raise KeyboardInterrupt
        except BaseException:
            stop_flag[0] = 1
            for worker in workers:
                worker.join()
            raise

    if errors:
        raise WorkerError(f"a worker thread failed: {errors[0]!r}") from errors[0]
    if sender is not None:
        sender.check()
    if any(result is None or result == WALK_ABORTED for result in results):
        raise WorkerError("a worker stopped before finishing its tasks")
    return sum(int(result) for result in results)
