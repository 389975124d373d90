"""The local front: split the tree, run the unit runner over it on this machine's threads, gather the totals.

The threads, the jitted worker loop and the sender live in ``mapfold.unit_runner`` (shared with the
Dask front, ``mapfold.dask_front``, which ``count_folds(client=...)`` hands the count to).

Every task's completions are kept apart (``task_completions[task]``, published by the worker with a
release store), so that with ``checkpoint`` the main thread can append each finished task to the
journal (``mapfold.journal``) while the workers go on: with the symmetric total, a task is journaled
once the consumer has handled every row its worker pushed for it (the worker notes its lane's
written count when the task ends), with the centres ``TaskSymmetricTotal`` attributed to it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from mapfold.connection_graph import make_connection_graph
from mapfold.cpus import available_cpus
from mapfold.journal import Journal
from mapfold.kernel import WALK_ABORTED
from mapfold.mirror_walk import split_mirror_tasks, work_through_mirror_tasks
from mapfold.orbit_walk import make_orbit_plan, split_orbit_tasks, work_through_orbit_tasks
from mapfold.results import CountInterrupted, CountResult, SenderCounts, WorkerError
from mapfold.sender import _CURSOR_WIDTH, _READ, LeafBelowSender, SenderError
from mapfold.shape import counted_sides, validate_shape
from mapfold.symmetry import SymmetricTotal
from mapfold.task_accounting import TaskSymmetricTotal
from mapfold.tasks import TASKS_PER_THREAD, plan_tasks, split_tasks, task_digest
from mapfold.unit_runner import _run_workers

#: Worker threads beyond this many per usable CPU (and beyond ``_FEWEST_THREADS_CAP``) only slow a
#: run: thousands of runnable threads on a few cores spend their time queueing for the GIL and the
#: CPUs. More are run as this many; the totals never depend on the thread count.
THREADS_PER_CPU_CAP = 32
_FEWEST_THREADS_CAP = 64


def worker_threads(requested: int | None) -> int:
    """How many worker threads a run uses: ``requested`` (default: the usable CPUs), capped as above."""
    cpus = available_cpus()
    if requested is None:
        return cpus
    if requested < 1:
        raise ValueError("threads must be at least 1")
    return min(requested, max(_FEWEST_THREADS_CAP, THREADS_PER_CPU_CAP * cpus))


def a007822_index(shape: tuple[int, ...]) -> int | None:
    """``n`` when the map is a 1 x 2n strip (its symmetric total is A007822(n)), else ``None``."""
    sides = counted_sides(shape)
    if len(sides) == 1 and sides[0] % 2 == 0:
        return sides[0] // 2
    return None


def count_folds(
    shape: tuple[int, ...] | list[int],
    threads: int | None = None,
    symmetric: bool = True,
    progress: bool = False,
    progress_file: IO[str] | None = None,
    tasks_per_thread: int | None = None,
    sender_slots: int = 8192,
    halve: bool = True,
    stop_event: threading.Event | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    notify: Callable[[str], None] | None = None,
    gate: bool = True,
    client: Any = None,
    walk: str | None = None,
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
        Show a progress bar on ``progress_file``, driven by the estimated tree nodes of the tasks
        done (so its rate and ETA hold when tasks differ in size by orders of magnitude).
    progress_file
        Where the bar is written; default ``sys.stderr``.
    tasks_per_thread
        ``None`` (the default): the deterministic task list of ``plan_tasks``, the same whatever
        ``threads``. A number: split for that many tasks per thread instead (experiments only; not
        with ``checkpoint``).
    sender_slots
        Rows in each worker's lane of the sender.
    halve
        Lunnon's walk: walk half the tree, one folding of each mirror pair (maps of 3 or more
        leaves); ``False`` walks the whole tree, for checking the shortcut (and chooses Lunnon's
        walk). Totals do not depend on it.
    stop_event
        Setting it (from a signal handler, say) stops every thread and raises ``CountInterrupted``
        (a ``KeyboardInterrupt``), as Ctrl-C does; finished tasks are in the journal by then.
    checkpoint
        A journal file (``mapfold.journal``): created, or resumed from; every finished task is
        appended to it durably as the count goes.
    notify
        Called with one-line notices (a torn journal line); default: printed on stderr.
    gate
        Lunnon's walk: send the consumer only the completions that could be mirror images of
        themselves (``mapfold.symmetry.mirror_gate``); ``False`` sends every completion (the full
        stream, for checking the gate and the mirror walk; it chooses Lunnon's walk). Totals do
        not depend on it.
    client
        A ``distributed.Client``: run the count on its Dask cluster instead of local threads
        (``mapfold.dask_front``); ``threads`` is then ignored.
    walk
        ``"orbit"``: the symmetry-reduced walk of ``mapfold.orbit_walk`` for the fold total, and the
        mirror walk of ``mapfold.mirror_walk`` for the symmetric total (local threads, no
        checkpoint); ``"lunnon"``: Lunnon's walk in leaf order, halved by turning the pile over,
        with the gated stream (checkpoints, clusters). Default: ``"orbit"`` for a local count
        without a checkpoint (and with ``gate`` and ``halve``), else ``"lunnon"``. Totals do not
        depend on it.

    Returns
    -------
    CountResult

    Raises
    ------
    ShapeError
        For a shape that is not a map or is too large.
    JournalError
        When ``checkpoint`` is a journal of another count, or damaged.
    WorkerError, SenderError
        When a worker or the consumer fails; no partial total is returned.
    CountInterrupted
        After stopping every thread (and journaling every finished task), when interrupted.
    """
    from mapfold import __version__

    shape = tuple(shape)
    validate_shape(shape)
    threads = worker_threads(threads)
    if client is not None and tasks_per_thread is not None:
        raise ValueError("a cluster count uses the deterministic task list; leave tasks_per_thread unset")
    if checkpoint is not None and tasks_per_thread is not None:
        raise ValueError("a checkpointed count uses the deterministic task list; leave tasks_per_thread unset")
    if walk is None:
        # The switches that exist to check Lunnon's walk (its gate, its halving) choose it.
        walk = "orbit" if checkpoint is None and client is None and gate and halve else "lunnon"
    if walk not in ("orbit", "lunnon"):
        raise ValueError(f"walk must be 'orbit' or 'lunnon', got {walk!r}")
    if walk == "orbit" and (checkpoint is not None or client is not None):
        raise ValueError("the orbit walk runs on local threads, without a checkpoint; use walk='lunnon'")
    if walk == "orbit" and not (gate and halve):
        raise ValueError("gate=False and halve=False are switches of Lunnon's walk; use walk='lunnon'")
    if notify is None:

        def notify(message: str) -> None:
            print(f"mapfold: note: {message}", file=sys.stderr)

    started = time.perf_counter()
    sides = counted_sides(shape)
    leaves_total = int(np.prod(sides))
    tasks_resumed = 0

    if leaves_total == 1:
        # One leaf: one folding, nothing to split. The filter still decides its symmetry.
        task_count, completions = 0, 1
        symmetric_folds = None
        if symmetric:
            handler = SymmetricTotal()
            handler(np.zeros((1, 2), dtype=np.uint8), np.ones(1, dtype=np.uint64))
            symmetric_folds = handler.total
        sender_counts = SenderCounts(0, 0, 0, handler.completions) if symmetric else None
    elif walk == "orbit":
        completions, task_count, centres, sender_counts = _count_orbit_walks(
            sides, threads, symmetric, sender_slots, progress, progress_file, tasks_per_thread, stop_event
        )
        symmetric_folds = (centres + 1) // 2 if centres is not None else None
    else:
        halved = halve and leaves_total >= 3
        connection_graph = make_connection_graph(sides)
        if tasks_per_thread is None:
            tasks = plan_tasks(connection_graph, halved)
        else:
            tasks = split_tasks(connection_graph, threads, halved, tasks_per_thread)
        task_count = len(tasks)
        journal = None
        if checkpoint is not None:
            journal = Journal.open(
                checkpoint,
                {
                    "mapfold": __version__,
                    "shape": list(sides),
                    "leaves": leaves_total,
                    "halved": halved,
                    "symmetric": symmetric,
                    "task_depth": tasks.placed_leaves,
                    "tasks": task_count,
                    "task_digest": task_digest(tasks),
                },
            )
            if journal.notice:
                notify(journal.notice)
        try:
            if client is not None:
                from mapfold.dask_front import count_on_cluster

                threads = max(1, sum(client.nthreads().values()))
                completions, centres, tasks_resumed = count_on_cluster(
                    client, sides, connection_graph, tasks, halved, symmetric, gate, journal, progress, progress_file, stop_event
                )
                sender_counts = None
            else:
                completions, centres, sender_counts, tasks_resumed = _count_tasks(
                    connection_graph,
                    tasks,
                    halved,
                    threads,
                    symmetric,
                    sender_slots,
                    progress,
                    progress_file,
                    stop_event,
                    journal,
                    gate,
                )
        finally:
            if journal is not None:
                journal.close()
        if halved:
            completions *= 2  # each completion walked stands for itself and its reflection
        symmetric_folds = (centres + 1) // 2 if centres is not None else None

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
        tasks_resumed=tasks_resumed,
        walk=walk,
    )


def _count_orbit_walks(
    sides, threads, symmetric, sender_slots, progress, progress_file, tasks_per_thread, stop_event
) -> tuple[int, int, int | None, SenderCounts | None]:
    """The orbit walk's complete cycles (folds over ``N``) and, with ``symmetric``, the mirror walk's centres.

    Each worker first claims mirror-walk tasks (``mapfold.mirror_walk``: the few foldings that can
    count towards the symmetric total, pushed through the sender to the consumer thread, which tests
    each one exactly), then orbit-walk tasks, so the consumer works while the fold count goes on.

    Returns
    -------
    tuple
        ``(cycles, tasks, centres or None, sender counts or None)``.
    """
    per_thread = tasks_per_thread or TASKS_PER_THREAD
    tasks = split_orbit_tasks(make_orbit_plan(sides), threads, per_thread)
    plan = tasks.plan  # the tasks' own order (see ``split_orbit_tasks``)
    results = np.full(len(tasks), -1, dtype=np.int64)  # -1: not done yet
    mirror_tasks = split_mirror_tasks(sides, max(1, threads) * per_thread) if symmetric else None
    mirror_count = len(mirror_tasks) if mirror_tasks is not None else 0
    next_mirror_task = np.zeros(1, dtype=np.int64)
    mirrored = np.zeros(threads, dtype=np.int64)  # self-mirrored foldings each worker sent
    handler = SymmetricTotal(with_reflections=False) if symmetric else None
    stop_flag = np.zeros(1, dtype=np.int64)
    sender = (
        LeafBelowSender(plan.leaves_total + 1, handler, lanes=threads, slots=sender_slots, stop_flag=stop_flag)
        if symmetric
        else None
    )

    def run_share(index: int, bar: Any, next_task: np.ndarray, stop_flag: np.ndarray) -> int:
        # The counts go to ``results``, one per task; the share returns only its status.
        if mirror_count:
            found = work_through_mirror_tasks(
                mirror_tasks.plan.tables(),
                mirror_tasks.leaf_below,
                mirror_tasks.placed_leaves,
                next_mirror_task,
                stop_flag,
                bar,
                sender,
                index,
            )
            if found == WALK_ABORTED:
                return WALK_ABORTED
            mirrored[index] = found
        return work_through_orbit_tasks(
            plan.order,
            plan.neighbours,
            plan.jumps,
            plan.constraint_start,
            plan.prefix_masks,
            tasks.leaf_below,
            tasks.placed_leaves,
            results,
            next_task,
            stop_flag,
            bar,
            task_work,
        )

    if progress:
        from mapfold.estimate import orbit_subtree_weights

        task_work = np.ceil(orbit_subtree_weights(plan, tasks.leaf_below, tasks.placed_leaves)).astype(np.uint64)
    else:
        task_work = np.ones(len(tasks), dtype=np.uint64)
    pending = np.arange(len(tasks), dtype=np.int64)
    interrupted = False
    try:
        _run_workers(
            None,
            tasks.leaf_below,
            pending,
            tasks.placed_leaves,
            False,
            threads,
            sender,
            progress,
            progress_file,
            stop_event,
            np.zeros(1, dtype=np.int64),
            # The bar's total: the orbit tasks' estimated nodes, and one for each (small) mirror task.
            np.append(task_work, np.ones(mirror_count, dtype=np.uint64)),
            None,
            None,
            None,
            lambda final=False: None,  # nothing to journal
            False,
            stop_flag,
            run_share=run_share,
            bar_description="orbit walk (estimated tree nodes)",
        )
    except KeyboardInterrupt:
        interrupted = True
        raise
    except BaseException:
        if sender is not None:
            sender.abandon()  # no total: let the first error be the one raised
            sender = None
        raise
    finally:
        if sender is not None:
            sender.close()
        if interrupted:
            raise CountInterrupted(int((results >= 0).sum()), len(tasks))
    if (results < 0).any():
        raise WorkerError("a task was left unfinished")
    # Python ints: a weight times a task's cycles, summed, may pass 2**63 on large maps.
    total = sum(int(weight) * int(cycles) for weight, cycles in zip(tasks.weights.tolist(), results.tolist(), strict=True))
    if sender is None:
        return total, len(tasks), None, None
    if sender.pushed != sender.consumed:
        raise SenderError(f"the sender lost rows: {sender.pushed} pushed, {sender.consumed} consumed")
    sent = int(mirrored.sum())
    # The consumer tests every folding on its own; each one the mirror walk built must count.
    weight = 2 if (plan.leaves_total + 1) % 2 == 0 else 1
    if handler.completions != sent or handler.centres != sent * weight:
        raise WorkerError(
            f"the mirror walk sent {sent} foldings; the consumer received {handler.completions} "
            f"and found {handler.centres} centres in them"
        )
    counts = SenderCounts(sender.pushed, sender.consumed, sender.slots, handler.completions)
    return total, len(tasks) + mirror_count, handler.centres, counts


def _count_tasks(
    connection_graph, tasks, halved, threads, symmetric, sender_slots, progress, progress_file, stop_event, journal, gate
):
    """Walk the tasks the journal does not hold; return (completions, centres or None, sender counts, resumed)."""
    task_total = len(tasks)
    resumed = journal.done if journal is not None else 0
    pending = np.array([task for task in range(task_total) if journal is None or task not in journal.completions], dtype=np.int64)
    completions = sum(journal.completions.values()) if journal is not None else 0
    centres = sum(value or 0 for value in journal.centres.values()) if journal is not None and symmetric else 0
    if len(pending) == 0:
        return completions, (centres if symmetric else None), (SenderCounts(0, 0, 0, 0) if symmetric else None), resumed

    if symmetric and journal is not None:
        handler = TaskSymmetricTotal(tasks.leaf_below, tasks.placed_leaves, with_reflections=halved)
    elif symmetric:
        handler = SymmetricTotal(with_reflections=halved)
    else:
        handler = None
    sender = None
    stop_flag = np.zeros(1, dtype=np.int64)  # shared by the walks and the sender's waiting producers
    handled = np.zeros(threads, dtype=np.int64)  # rows of each lane the handler has finished with
    if handler is not None:
        inner_handler = handler

        def handle(rows: np.ndarray, last_leaf_gaps: np.ndarray) -> None:
            inner_handler(rows, last_leaf_gaps)
            # The consumer moved the lanes' read counters before handing this batch over, and only
            # it moves them: now every row up to them has been handled.
            handled[:] = sender.cursors[_READ::_CURSOR_WIDTH]

        sender = LeafBelowSender(tasks.leaf_below.shape[1], handle, lanes=threads, slots=sender_slots, stop_flag=stop_flag)

    task_completions = np.full(task_total, -1, dtype=np.int64)
    task_pushed = np.zeros(task_total, dtype=np.int64)
    task_lane = np.zeros(task_total, dtype=np.int64)
    next_task = np.zeros(1, dtype=np.int64)
    keeper = _JournalKeeper(journal, pending, next_task, task_completions, task_pushed, task_lane, handled, handler, sender)
    if progress:
        from mapfold.estimate import subtree_weights

        # A few probes per task; fewer for huge lists (their sum is what the bar needs, and it
        # averages out), so that 8x8's 1.8 million tasks cost seconds, not a minute, up front.
        probes = max(1, min(8, 200_000 // len(pending)))
        weights = subtree_weights(connection_graph, tasks.leaf_below[pending], tasks.placed_leaves, halved, probes)
        task_work = np.ceil(weights).astype(np.uint64)
    else:
        task_work = np.ones(len(pending), dtype=np.uint64)
    interrupted = False
    try:
        _run_workers(
            connection_graph,
            tasks.leaf_below,
            pending,
            tasks.placed_leaves,
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
            keeper.poll,
            gate,
            stop_flag,
        )
    except KeyboardInterrupt:
        interrupted = True
        raise
    except BaseException:
        if sender is not None:
            sender.abandon()  # no total: leave buffered rows unread, and let the first error be the one raised
            sender = None
        raise
    finally:
        if sender is not None:
            try:
                sender.close()  # drains what the workers pushed, so finished tasks can be journaled
            finally:
                if interrupted and not sender.failed:
                    keeper.poll(final=True)
        elif interrupted:
            keeper.poll(final=True)
        if interrupted:
            done = resumed + int((task_completions[pending] >= 0).sum()) if journal is None else journal.done
            raise CountInterrupted(done, task_total)
    keeper.poll(final=True)
    if (task_completions[pending] < 0).any():
        raise WorkerError("a task was left unfinished")
    completions += int(task_completions[pending].sum())
    sender_counts = None
    if sender is not None:
        sender_counts = SenderCounts(sender.pushed, sender.consumed, sender.slots, handler.completions)
        if sender.pushed != sender.consumed:
            raise SenderError(f"the sender lost rows: {sender.pushed} pushed, {sender.consumed} consumed")
        centres += handler.total_centres if isinstance(handler, TaskSymmetricTotal) else handler.centres
    return completions, (centres if symmetric else None), sender_counts, resumed


class _JournalKeeper:
    """Appends finished tasks to the journal from the main thread while the workers run."""

    def __init__(self, journal, pending, next_task, task_completions, task_pushed, task_lane, handled, handler, sender) -> None:
        self.journal = journal
        self.pending = pending
        self.next_task = next_task
        self.task_completions = task_completions
        self.task_pushed = task_pushed
        self.task_lane = task_lane
        self.handled = handled
        self.handler = handler
        self.sender = sender
        self.scanned = 0  # claims already looked at
        self.outstanding: list[int] = []  # claimed tasks not journaled yet

    def poll(self, final: bool = False) -> None:
        """Journal every claimed task that is finished (and, with the symmetric total, fully handled)."""
        if self.journal is None:
            return
        claimed = min(int(self.next_task[0]), len(self.pending))
        self.outstanding.extend(int(task) for task in self.pending[self.scanned : claimed])
        self.scanned = claimed
        still: list[int] = []
        finished: list[tuple[int, int, int | None]] = []
        for task in self.outstanding:
            found = int(self.task_completions[task])
            if found < 0 or (self.sender is not None and self.handled[self.task_lane[task]] < self.task_pushed[task]):
                still.append(task)
                continue
            centres = int(self.handler.centres[task]) if self.sender is not None else None
            finished.append((task, found, centres))
        self.journal.record(finished)
        self.outstanding = still
