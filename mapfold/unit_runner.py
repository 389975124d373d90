"""The unit runner: the jitted worker loop over a list of tasks, and the threads that run it.

Shared by both fronts: the local front (``mapfold.local_front``) runs it over every pending task on
this machine's threads; the Dask front (``mapfold.dask_front``) runs it over one unit's tasks on a
worker. Each worker thread makes one call into ``_work_through_tasks``, a jitted ``nogil`` loop that
claims tasks with an atomic counter (so no thread waits for another, and the GIL is never taken),
walks each one with the kernel, and ticks the progress bar from inside nopython code. When the
symmetric total is wanted, the workers also push the nodes the kernel's gate lets through into a
``LeafBelowSender``, whose consumer thread gathers the symmetric centres as the walk goes.

Failures end the run with an error: a worker that raises, a consumer that raises (producers waiting
on a full ring are released), or an interrupt, each sets the shared stop flag that every walk
checks, and the run raises instead of returning a partial total.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
from numba import njit
from numba_progress import ProgressBar

from mapfold.atomics import atomic_add, atomic_store_release
from mapfold.kernel import WALK_ABORTED, walk_subtree
from mapfold.results import WorkerError
from mapfold.sender import _CURSOR_WIDTH, _WRITTEN, LeafBelowSender, SenderError
from mapfold.task_accounting import TaskSymmetricTotal
from mapfold.tasks import pile_above

#: After an interrupt, how long the runner waits for workers to return. Only a worker still
#: inside numba's first compilation (which cannot be cut short) takes longer: it is left to
#: finish on its own (it then sees the stop flag at once) rather than holding up the exit.
_INTERRUPT_PATIENCE_SECONDS = 1.0


@njit(nogil=True, cache=True)
def _work_through_tasks(
    connection_graph,
    task_rows,
    pending,
    placed_leaves,
    halved,
    next_task,
    stop_flag,
    progress,
    task_work,
    sender,
    lane,
    task_completions,
    task_pushed,
    task_lane,
    gate,
) -> int:
    """One worker's whole share: claim pending tasks until none are left; return their completions.

    Each finished task's completions go to ``task_completions[task]`` (published last, with a
    release store: a value there means the task is done) after ``task_pushed[task]`` (the rows
    this worker's lane had published when the task ended) and ``task_lane[task]``. The bar moves by
    ``task_work[claim]``, the task's estimated size. Returns ``WALK_ABORTED`` as soon as a walk
    stops early.
    """
    leaves_total = task_rows.shape[1] - 1
    leaf_below = np.empty(leaves_total + 1, dtype=np.uint8)
    leaf_above = np.zeros(leaves_total + 1, dtype=np.uint8)
    gap_masks = np.zeros(leaves_total + 2, dtype=np.uint64)
    completions = 0
    while True:
        if stop_flag[0] != 0:
            return WALK_ABORTED
        claim = atomic_add(next_task, 0, 1)
        if claim >= pending.shape[0]:
            return completions
        task = pending[claim]
        leaf_below[:] = task_rows[task]
        pile_above(leaf_below, leaf_above)
        found = walk_subtree(
            connection_graph, leaf_below, leaf_above, placed_leaves, gap_masks, stop_flag, halved, sender, lane, gate
        )
        if found == WALK_ABORTED:
            return WALK_ABORTED
        completions += found
        if sender is not None:
            task_pushed[task] = sender.cursors[lane * _CURSOR_WIDTH + _WRITTEN]
        task_lane[task] = lane
        atomic_store_release(task_completions, task, found)
        progress.update(task_work[claim])


def run_task_subset(connection_graph, tasks, pending, halved, threads, symmetric, gate):
    """Count the listed tasks (a Dask unit, say) and return each one's completions and centres.

    Returns
    -------
    tuple
        ``(completions, centres)``: ``int64`` arrays in the order of ``pending`` (``centres`` is
        ``None`` without the symmetric total).
    """
    handler = TaskSymmetricTotal(tasks.leaf_below, tasks.placed_leaves, with_reflections=halved) if symmetric else None
    sender = LeafBelowSender(tasks.leaf_below.shape[1], handler, lanes=threads) if symmetric else None
    task_completions = np.full(len(tasks), -1, dtype=np.int64)
    scratch = np.zeros(len(tasks), dtype=np.int64)
    try:
        _run_workers(
            connection_graph,
            tasks.leaf_below,
            pending,
            tasks.placed_leaves,
            halved,
            threads,
            sender,
            False,
            None,
            None,
            np.zeros(1, dtype=np.int64),
            np.ones(len(pending), dtype=np.uint64),
            task_completions,
            scratch,
            scratch.copy(),
            lambda: None,
            gate,
        )
    finally:
        if sender is not None:
            sender.close()
    if (task_completions[pending] < 0).any():
        raise WorkerError("a task was left unfinished")
    if sender is not None and sender.pushed != sender.consumed:
        raise SenderError(f"the sender lost rows: {sender.pushed} pushed, {sender.consumed} consumed")
    return task_completions[pending], (handler.centres[pending].copy() if handler is not None else None)


def _run_workers(
    connection_graph,
    task_rows,
    pending,
    placed_leaves,
    halved,
    threads,
    sender,
    progress,
    progress_file,
    stop_event,
    next_task,
    task_work,
    task_completions,
    task_pushed,
    task_lane,
    poll,
    gate,
    stop_flag=None,
    run_share=None,
    bar_description: str = "walk (estimated tree nodes)",
) -> int:
    """Run ``threads`` workers over the pending tasks; return the summed completions or raise.

    ``stop_flag`` (shared with the sender's waiting producers) is made here when not given.
    ``run_share(index, bar, next_task, stop_flag) -> int``, when given, replaces Lunnon's
    ``_work_through_tasks`` as each worker's whole share (the orbit walk's loop); it returns
    ``WALK_ABORTED`` when it stopped early.
    """
    if stop_flag is None:
        stop_flag = np.zeros(1, dtype=np.int64)
    results: list[int | None] = [None] * threads
    errors: list[BaseException] = []
    threads = min(threads, max(1, len(pending)))

    with ProgressBar(
        total=int(task_work.sum()),
        file=progress_file if progress_file is not None else sys.stderr,
        disable=not progress,
        unit=" nodes",
        unit_scale=True,
        smoothing=0.0,  # the ETA from the average rate of the whole run, not the last few updates
        desc=bar_description,
        leave=True,
    ) as bar:
        # Workers wait for every thread to exist before they walk: a thread started while hundreds of
        # others are busy can take tens of milliseconds to run at all.
        all_started = threading.Event()

        def work(index: int) -> None:
            all_started.wait()
            try:
                if run_share is not None:
                    results[index] = run_share(index, bar, next_task, stop_flag)
                    return
                results[index] = _work_through_tasks(
                    connection_graph,
                    task_rows,
                    pending,
                    placed_leaves,
                    halved,
                    next_task,
                    stop_flag,
                    bar,
                    task_work,
                    sender,
                    index,
                    task_completions,
                    task_pushed,
                    task_lane,
                    gate,
                )
            except BaseException as error:  # noqa: BLE001 - reported by the runner below
                errors.append(error)
                stop_flag[0] = 1

        workers = [
            threading.Thread(target=work, args=(index,), name=f"mapfold-worker-{index}", daemon=True) for index in range(threads)
        ]
        started: list[threading.Thread] = []
        last_poll = time.monotonic()
        try:
            for worker in workers:
                try:
                    worker.start()
                except RuntimeError as error:  # the system refused another thread
                    raise WorkerError(f"could not start worker thread {len(started) + 1} of {threads}: {error}") from error
                started.append(worker)
                if stop_event is not None and stop_event.is_set():
                    raise KeyboardInterrupt
            all_started.set()
            for worker in workers:
                # Short joins keep the main thread able to take Ctrl-C, to notice a failed consumer,
                # and to journal finished tasks.
                while worker.is_alive():
                    worker.join(0.05)
                    if sender is not None and sender.failed:
                        stop_flag[0] = 1
                    if stop_event is not None and stop_event.is_set():
                        raise KeyboardInterrupt
                    if time.monotonic() - last_poll > 0.1:
                        poll()
                        last_poll = time.monotonic()
        except BaseException as error:
            stop_flag[0] = 1
            all_started.set()  # workers still waiting to begin see the stop flag and return
            if isinstance(error, KeyboardInterrupt):
                deadline = time.monotonic() + _INTERRUPT_PATIENCE_SECONDS
                for worker in started:
                    worker.join(max(0.0, deadline - time.monotonic()))
            else:
                for worker in started:
                    worker.join()
            raise

    if errors:
        raise WorkerError(f"a worker thread failed: {errors[0]!r}") from errors[0]
    if sender is not None:
        sender.check()
    results = results[:threads]
    if any(result is None or result == WALK_ABORTED for result in results):
        raise WorkerError("a worker stopped before finishing its tasks")
    return sum(int(result) for result in results)
