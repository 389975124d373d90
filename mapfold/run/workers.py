"""The unit runner: the jitted worker loops over a list of tasks, and the threads that run them.

Shared by both fronts: the local front (``mapfold.run.local``) runs them over every pending task
on this machine's threads; the Dask front (``mapfold.run.cluster``) runs them over one unit's tasks
on a worker. Each worker thread makes one call into a jitted ``nogil`` loop that claims tasks with
an atomic counter (so no thread waits for another, and the GIL is never taken), walks each one, and
ticks the progress bar from inside nopython code:

* the default walks (``OrbitRun``): ``_work_through_mirror_subset`` pushes every folding the mirror
  walk builds into a ``LeafBelowSender``, whose consumer thread checks each one
  (``MirroredFoldingsCheck``); then ``_work_through_orbit_subset`` counts the orbit walk's cycles;
* Lunnon's walk (``run_task_subset``, ``_work_through_tasks``): the kernel, pushing the nodes its
  gate lets through when the symmetric total is wanted.

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

from mapfold.jit.atomics import atomic_add, atomic_load_acquire, atomic_store_release
from mapfold.results import SenderCounts, WorkerError
from mapfold.run.consumer import MirroredFoldingsCheck, mirror_centre_weight
from mapfold.run.sender import LeafBelowSender, SenderError
from mapfold.walks.lunnon import walk_subtree
from mapfold.walks.mirror import walk_mirror_subtree
from mapfold.walks.mirror_wide import walk_mirror_subtree_wide
from mapfold.walks.orbit import walk_orbit_subtree
from mapfold.walks.orbit_wide import walk_orbit_subtree_wide
from mapfold.walks.pile import WALK_ABORTED, cycle_above, pile_above

#: After an interrupt, how long the runner waits for workers to return. Only a worker still
#: inside numba's first compilation (which cannot be cut short) takes longer: it is left to
#: finish on its own (it then sees the stop flag at once) rather than holding up the exit.
_INTERRUPT_PATIENCE_SECONDS = 1.0


#: ``_claim``'s answer when every pending task has been handed out (``WALK_ABORTED`` is the other).
_NONE_LEFT = -2


@njit(nogil=True, cache=True, inline="always")
def _claim(next_task, pending, stop_flag) -> int:
    """The next index into ``pending`` for this worker, ``_NONE_LEFT``, or ``WALK_ABORTED`` once stopped.

    Every worker loop claims this way: one atomic add, so no worker waits for another, and a look at
    the stop flag between tasks (the walks look at it themselves between dead ends).
    """
    if atomic_load_acquire(stop_flag, 0) != 0:
        return WALK_ABORTED
    claim = atomic_add(next_task, 0, 1)
    if claim >= pending.shape[0]:
        return _NONE_LEFT
    return claim


@njit(nogil=True, cache=True, inline="always")
def _publish_mirror_task(sender, lane, task, found, task_pushed, task_lane, task_found) -> None:
    """Mark a finished mirror task: the rows its lane had published, the lane, then (released last) its foldings.

    ``OrbitRun.take_finished`` reads ``task_found`` first: a value there means the other two are set.
    """
    task_pushed[task] = sender.rows_written(lane)
    task_lane[task] = lane
    atomic_store_release(task_found, task, found)


@njit(nogil=True, cache=True)
def _acquired_copy(values: np.ndarray) -> np.ndarray:
    """A copy of ``values`` read entry by entry with acquire loads (the other side of ``_publish_mirror_task``).

    x86 keeps plain loads in order anyway; a weakly ordered processor (ARM) might otherwise show a
    task's foldings before the lane marks its worker wrote first.
    """
    copy = np.empty_like(values)
    for index in range(values.shape[0]):
        copy[index] = atomic_load_acquire(values, index)
    return copy


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
    gate,
) -> int:
    """One worker's whole share of Lunnon's walk: claim pending tasks until none are left; return their completions.

    Each finished task's completions go to ``task_completions[task]``. The bar moves by
    ``task_work[claim]``, the task's estimated size. Returns ``WALK_ABORTED`` as soon as a walk
    stops early.
    """
    leaves_total = task_rows.shape[1] - 1
    leaf_below = np.empty(leaves_total + 1, dtype=np.uint8)
    leaf_above = np.zeros(leaves_total + 1, dtype=np.uint8)
    gap_masks = np.zeros(leaves_total + 2, dtype=np.uint64)
    completions = 0
    while True:
        claim = _claim(next_task, pending, stop_flag)
        if claim < 0:
            return completions if claim == _NONE_LEFT else WALK_ABORTED
        task = pending[claim]
        leaf_below[:] = task_rows[task]
        pile_above(leaf_below, leaf_above)
        found = walk_subtree(
            connection_graph, leaf_below, leaf_above, placed_leaves, gap_masks, stop_flag, halved, sender, lane, gate
        )
        if found == WALK_ABORTED:
            return WALK_ABORTED
        completions += found
        task_completions[task] = found
        progress.update(task_work[claim])


def lunnon_share(plan, pending, task_work, sender, task_completions):
    """Each worker's whole share of Lunnon's walk over ``plan``'s tasks, for ``run_workers``."""
    tasks = plan.lunnon_tasks
    next_task = np.zeros(1, dtype=np.int64)

    def share(index: int, bar, stop_flag: np.ndarray) -> int:
        return _work_through_tasks(
            plan.connection_graph,
            tasks.leaf_below,
            pending,
            tasks.placed_leaves,
            plan.halved,
            next_task,
            stop_flag,
            bar,
            task_work,
            sender,
            index,
            task_completions,
            plan.gate,
        )

    return share


def run_workers(
    share,
    threads: int,
    sender,
    bar_total: int,
    progress: bool,
    progress_file,
    stop_event,
    poll,
    stop_flag: np.ndarray,
    bar_description: str,
    bar_unit: str = " nodes",
) -> int:
    """Run ``threads`` workers, each making one call ``share(index, bar, stop_flag)``; return their sum or raise.

    A share is one worker's whole part of the run (a jitted loop that claims tasks until none are
    left) and returns ``WALK_ABORTED`` when it stopped early. ``stop_flag`` is shared with the
    sender's waiting producers; ``poll()`` is called every 0.1 s from this thread.
    """
    results: list[int | None] = [None] * threads
    errors: list[BaseException] = []

    with ProgressBar(
        total=bar_total,
        file=progress_file if progress_file is not None else sys.stderr,
        disable=not progress,
        unit=bar_unit,
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
                results[index] = share(index, bar, stop_flag)
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
    if any(result is None or result == WALK_ABORTED for result in results):
        raise WorkerError("a worker stopped before finishing its tasks")
    return sum(int(result) for result in results)


# The orbit walk and the mirror walk over lists of pending tasks, for both fronts.


@njit(nogil=True, cache=True)
def _work_through_orbit_subset(
    order,
    neighbours,
    jumps,
    constraint_start,
    prefix_masks,
    task_rows,
    placed,
    pending,
    next_task,
    stop_flag,
    progress,
    task_work,
    task_cycles,
) -> int:
    """One worker's share of the orbit walk: claim pending tasks until none are left.

    Each task's complete cycles go to ``task_cycles[task]`` (a release store: a value there means
    the task is done); the bar moves by ``task_work[task]``. Returns 0, or ``WALK_ABORTED`` as soon
    as a walk stops early.
    """
    leaves_total = task_rows.shape[1]
    leaf_below = np.empty(leaves_total, dtype=np.uint8)
    leaf_above = np.zeros(leaves_total, dtype=np.uint8)
    gap_masks = np.zeros(leaves_total + 1, dtype=np.uint64)
    while True:
        claim = _claim(next_task, pending, stop_flag)
        if claim < 0:
            return 0 if claim == _NONE_LEFT else WALK_ABORTED
        task = pending[claim]
        leaf_below[:] = task_rows[task]
        cycle_above(leaf_below, leaf_above, order[0])
        found = walk_orbit_subtree(
            order, neighbours, jumps, constraint_start, prefix_masks, leaf_below, leaf_above, placed, gap_masks, stop_flag
        )
        if found == WALK_ABORTED:
            return WALK_ABORTED
        atomic_store_release(task_cycles, task, found)
        progress.update(task_work[task])


@njit(nogil=True, cache=True)
def _work_through_mirror_subset(
    tables,
    task_rows,
    placed,
    pending,
    next_task,
    stop_flag,
    progress,
    sender,
    lane,
    task_found,
    task_pushed,
    task_lane,
) -> int:
    """One worker's share of the mirror walk: claim pending tasks, push every folding they hold.

    ``tables`` is ``MirrorPlan.tables()``. As ``_work_through_tasks``: ``task_found[task]`` (the
    self-mirrored foldings pushed; published last, with a release store) after ``task_pushed[task]``
    (the rows the lane had published when the task ended) and ``task_lane[task]``. Returns 0, or
    ``WALK_ABORTED``.
    """
    width = task_rows.shape[1]
    leaf_below = np.empty(width, dtype=np.uint8)
    leaf_above = np.zeros(width, dtype=np.uint8)
    gap_masks = np.zeros(width, dtype=np.uint64)
    row = np.zeros(width, dtype=np.uint8)
    while True:
        claim = _claim(next_task, pending, stop_flag)
        if claim < 0:
            return 0 if claim == _NONE_LEFT else WALK_ABORTED
        task = pending[claim]
        leaf_below[:] = task_rows[task]
        cycle_above(leaf_below, leaf_above, width - 1)
        found = walk_mirror_subtree(tables, leaf_below, leaf_above, placed, gap_masks, stop_flag, sender, lane, row)
        if found == WALK_ABORTED:
            return WALK_ABORTED
        _publish_mirror_task(sender, lane, task, found, task_pushed, task_lane, task_found)
        progress.update(1)


@njit(nogil=True, cache=True)
def _work_through_orbit_subset_wide(
    tables, task_rows, placed, pending, next_task, stop_flag, progress, task_work, task_cycles
) -> int:
    """``_work_through_orbit_subset`` for a wide plan (``walks.orbit_wide``; ``tables`` is ``OrbitPlan.tables()``)."""
    leaves_total = task_rows.shape[1]
    words = tables[4].shape[1]
    leaf_below = np.empty(leaves_total, dtype=task_rows.dtype)
    leaf_above = np.zeros(leaves_total, dtype=task_rows.dtype)
    gap_masks = np.zeros((leaves_total, words), dtype=np.uint64)
    scratch = np.zeros((2, words), dtype=np.uint64)
    while True:
        claim = _claim(next_task, pending, stop_flag)
        if claim < 0:
            return 0 if claim == _NONE_LEFT else WALK_ABORTED
        task = pending[claim]
        leaf_below[:] = task_rows[task]
        cycle_above(leaf_below, leaf_above, tables[0][0])
        found = walk_orbit_subtree_wide(tables, leaf_below, leaf_above, placed, gap_masks, scratch, stop_flag)
        if found == WALK_ABORTED:
            return WALK_ABORTED
        atomic_store_release(task_cycles, task, found)
        progress.update(task_work[task])


@njit(nogil=True, cache=True)
def _work_through_mirror_subset_wide(
    tables, task_rows, placed, pending, next_task, stop_flag, progress, sender, lane, task_found, task_pushed, task_lane
) -> int:
    """``_work_through_mirror_subset`` for a wide plan (``walks.mirror_wide``: complete rows are pushed)."""
    width = task_rows.shape[1]
    words = tables[6].shape[1]
    leaf_below = np.empty(width, dtype=task_rows.dtype)
    leaf_above = np.zeros(width, dtype=task_rows.dtype)
    gap_masks = np.zeros((width, words), dtype=np.uint64)
    scratch = np.zeros((1, words), dtype=np.uint64)
    row = np.zeros(width, dtype=task_rows.dtype)
    while True:
        claim = _claim(next_task, pending, stop_flag)
        if claim < 0:
            return 0 if claim == _NONE_LEFT else WALK_ABORTED
        task = pending[claim]
        leaf_below[:] = task_rows[task]
        cycle_above(leaf_below, leaf_above, width - 1)
        found = walk_mirror_subtree_wide(tables, leaf_below, leaf_above, placed, gap_masks, scratch, stop_flag, sender, lane, row)
        if found == WALK_ABORTED:
            return WALK_ABORTED
        _publish_mirror_task(sender, lane, task, found, task_pushed, task_lane, task_found)
        progress.update(1)


class OrbitRun:
    """One run of the orbit walk (fold total) and the mirror walk (symmetric total) over pending tasks.

    Shared by the local front (every pending task, this machine's threads, the journal polled as it
    goes) and the Dask front (one unit's tasks on a worker). Each worker thread first claims mirror
    tasks, pushing each folding through the ``LeafBelowSender`` to the consumer thread, which tests
    it (``MirroredFoldingsCheck``), then orbit tasks. Results are kept per task: ``cycles[task]``
    (-1 until done) and ``mirrored[task]``; ``take_finished`` hands over each finished task once.

    Parameters
    ----------
    orbit_tasks, orbit_pending
        The orbit task list (``walks.orbit.OrbitTasks``, or ``None`` for a run of mirror tasks
        alone) and the indices of the tasks to walk.
    mirror_tasks, mirror_pending
        The mirror task list (``walks.mirror.MirrorTasks``, or ``None`` without the symmetric total)
        and the indices to walk.
    threads
        Worker threads (sender lanes).
    sender_slots
        Rows in each lane of the sender.
    """

    def __init__(self, orbit_tasks, orbit_pending, mirror_tasks, mirror_pending, threads: int, sender_slots: int = 8192) -> None:
        self.orbit_tasks = orbit_tasks
        self.orbit_pending = np.asarray(orbit_pending, dtype=np.int64)
        self.mirror_tasks = mirror_tasks
        self.mirror_pending = np.asarray(mirror_pending if mirror_tasks is not None else [], dtype=np.int64)
        self.threads = max(1, threads)
        orbit_count = len(orbit_tasks) if orbit_tasks is not None else 0
        if orbit_count == 0 and len(self.orbit_pending):
            raise ValueError("orbit tasks pending without an orbit task list")
        self.cycles = np.full(orbit_count, -1, dtype=np.int64)
        mirror_count = len(mirror_tasks) if mirror_tasks is not None else 0
        self.mirrored = np.full(mirror_count, -1, dtype=np.int64)
        self.mirror_pushed = np.zeros(mirror_count, dtype=np.int64)
        self.mirror_lane = np.zeros(mirror_count, dtype=np.int64)
        self.handled = np.zeros(self.threads, dtype=np.int64)  # rows of each lane the consumer has checked
        leaves_total = (orbit_tasks if orbit_tasks is not None else mirror_tasks).plan.leaves_total
        self.weight = mirror_centre_weight(leaves_total)
        self._orbit_taken = np.zeros(orbit_count, dtype=bool)
        self._mirror_taken = np.zeros(mirror_count, dtype=bool)
        self.stop_flag = np.zeros(1, dtype=np.int64)
        self.check: MirroredFoldingsCheck | None = None
        self.sender: LeafBelowSender | None = None
        self.sender_counts: SenderCounts | None = None
        if len(self.mirror_pending):
            self.check = MirroredFoldingsCheck(self.weight, complete_rows=mirror_tasks.plan.wide)
            check = self.check

            def handle(rows: np.ndarray, last_leaf_gaps: np.ndarray) -> None:
                check(rows, last_leaf_gaps)
                # Only the consumer moves the read counters, before handing a batch over: now every
                # row up to them has been checked.
                self.handled[:] = rows_taken

            self.sender = LeafBelowSender(
                leaves_total + 1,
                handle,
                lanes=self.threads,
                slots=sender_slots,
                stop_flag=self.stop_flag,
                dtype=mirror_tasks.plan.order.dtype,
            )
            rows_taken = self.sender.rows_taken()  # the batches the consumer hands over come after this

    def run(self, progress=False, progress_file=None, stop_event=None, poll=lambda: None, task_work=None) -> None:
        """Walk every pending task; raise on any failure (and ``KeyboardInterrupt`` when stopped).

        ``task_work`` (``uint64`` per orbit task, its estimated nodes) drives the bar; ``poll()``
        is called every 0.1 s from this thread. The sender is closed (drained) before returning or
        raising ``KeyboardInterrupt``, so ``take_finished`` then sees every checked mirror task.
        """
        if task_work is None:
            task_work = np.ones(len(self.cycles), dtype=np.uint64)
        orbit = self.orbit_tasks
        next_mirror_task = np.zeros(1, dtype=np.int64)
        mirror = self.mirror_tasks

        next_task = np.zeros(1, dtype=np.int64)

        def run_share(index: int, bar, stop_flag: np.ndarray) -> int:
            if len(self.mirror_pending):
                status = (_work_through_mirror_subset_wide if mirror.plan.wide else _work_through_mirror_subset)(
                    mirror.plan.tables(),
                    mirror.leaf_below,
                    mirror.placed_leaves,
                    self.mirror_pending,
                    next_mirror_task,
                    stop_flag,
                    bar,
                    self.sender,
                    index,
                    self.mirrored,
                    self.mirror_pushed,
                    self.mirror_lane,
                )
                if status == WALK_ABORTED:
                    return WALK_ABORTED
            if not len(self.orbit_pending):
                return 0
            plan = orbit.plan
            if plan.wide:
                return _work_through_orbit_subset_wide(
                    plan.tables(),
                    orbit.leaf_below,
                    orbit.placed_leaves,
                    self.orbit_pending,
                    next_task,
                    stop_flag,
                    bar,
                    task_work,
                    self.cycles,
                )
            return _work_through_orbit_subset(
                plan.order,
                plan.neighbours,
                plan.jumps,
                plan.constraint_start,
                plan.prefix_masks,
                orbit.leaf_below,
                orbit.placed_leaves,
                self.orbit_pending,
                next_task,
                stop_flag,
                bar,
                task_work,
                self.cycles,
            )

        work = len(self.orbit_pending) + len(self.mirror_pending)
        if work == 0:
            self._close_sender()
            return
        interrupted = False
        try:
            run_workers(
                run_share,
                min(self.threads, max(len(self.orbit_pending), len(self.mirror_pending))),
                self.sender,
                # The bar's total: the orbit tasks' estimated nodes, and one for each (small) mirror task.
                int(task_work[self.orbit_pending].sum()) + len(self.mirror_pending),
                progress,
                progress_file,
                stop_event,
                poll,
                self.stop_flag,
                "orbit walk (estimated tree nodes)" if len(self.orbit_pending) else "mirror walk",
                " nodes" if len(self.orbit_pending) else " tasks",
            )
        except KeyboardInterrupt:
            interrupted = True
            raise
        except BaseException:
            if self.sender is not None:
                self.sender.abandon()  # no total: let the first error be the one raised
                self.sender = None
            raise
        finally:
            if interrupted and self.sender is not None:
                try:
                    self.sender.close()  # checks what the workers pushed, so finished tasks can be journaled
                except SenderError:
                    pass  # tasks whose rows failed the check are not handed over
                self.sender = None
        if (self.cycles[self.orbit_pending] < 0).any() or (self.mirrored[self.mirror_pending] < 0).any():
            raise WorkerError("a task was left unfinished")
        self._close_sender()

    def _close_sender(self) -> None:
        sender, self.sender = self.sender, None
        if sender is None:
            return
        sender.close()
        if sender.pushed != sender.consumed:
            raise SenderError(f"the sender lost rows: {sender.pushed} pushed, {sender.consumed} consumed")
        sent = int(self.mirrored[self.mirror_pending].sum())
        if self.check.completions != sent:
            raise WorkerError(f"the mirror walk sent {sent} foldings; the consumer checked {self.check.completions}")
        self.sender_counts = SenderCounts(sender.pushed, sender.consumed, sender.slots, self.check.completions)

    def take_finished(self) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]]]:
        """The tasks finished since the last call: ``[(orbit task, cycles)]``, ``[(mirror task, foldings, centres)]``.

        A mirror task counts as finished once the consumer has checked every row its worker pushed
        for it; its centres are then ``weight`` per folding (``MirroredFoldingsCheck``).
        """
        done = np.flatnonzero((self.cycles >= 0) & ~self._orbit_taken)
        self._orbit_taken[done] = True
        orbit = [(int(task), int(self.cycles[task])) for task in done]
        found = _acquired_copy(self.mirrored)  # read before the lanes' marks, which the worker wrote first
        ready = (found >= 0) & ~self._mirror_taken & (self.handled[self.mirror_lane] >= self.mirror_pushed)
        ready_tasks = np.flatnonzero(ready)
        self._mirror_taken[ready_tasks] = True
        mirror = [(int(task), int(found[task]), int(found[task]) * self.weight) for task in ready_tasks]
        return orbit, mirror
