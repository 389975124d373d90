"""The runner: split the tree, start worker threads over the tasks, gather the totals.

Each worker thread makes one call into ``_work_through_tasks``, a jitted ``nogil`` loop that claims
tasks with an atomic counter (so no thread waits for another, and the GIL is never taken), walks
each one with the kernel, and ticks the progress bar from inside nopython code. When the symmetric
total is wanted, the workers also push every node missing only its last leaf into a
``LeafBelowSender``, whose consumer thread gathers the symmetric total as the walk goes.

A count without the symmetric total runs the orbit walk instead (``mapfold.orbit_walk``): the same
workers and progress bar over tasks that each stand for a whole class of symmetric subtrees, each
task's count multiplied by its class size in Python integers at the end.

Failures end the run with an error: a worker that raises, a consumer that raises (producers waiting
on a full ring are released), or an interrupt, each sets the shared stop flag that every walk
checks, and the run raises instead of returning a partial total.
"""

from __future__ import annotations

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
from mapfold.cpus import available_cpus
from mapfold.kernel import WALK_ABORTED, walk_subtree
from mapfold.orbit_walk import make_orbit_plan, split_orbit_tasks, work_through_orbit_tasks
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
    walk: str = "lunnon"

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready values."""
        return asdict(self)


class WorkerError(RuntimeError):
    """A worker thread failed; no total is reported."""


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


#: A worker's completions are ``carries * _CARRY_AT + remainder``: the int64 remainder never wraps,
#: and the runner adds them up as exact Python ints.
_CARRY_AT = 1 << 62


@njit(nogil=True, cache=True)
def _work_through_tasks(
    connection_graph, task_rows, placed_leaves, halved, next_task, stop_flag, progress, sender, lane, gate, carry_at
) -> tuple[int, int]:
    """One worker's whole share: claim tasks until none are left; return ``(carries, remainder)``.

    Its completions are ``carries * carry_at + remainder`` (exact for any total, as each task's
    count is below ``carry_at``). Returns ``(WALK_ABORTED, 0)`` as soon as a walk stops early.
    """
    leaves_total = task_rows.shape[1] - 1
    leaf_below = np.empty(leaves_total + 1, dtype=np.uint8)
    leaf_above = np.zeros(leaves_total + 1, dtype=np.uint8)
    gap_masks = np.zeros(leaves_total + 2, dtype=np.uint64)
    carries = 0
    completions = 0
    while True:
        if stop_flag[0] != 0:
            return WALK_ABORTED, 0
        task = atomic_add(next_task, 0, 1)
        if task >= task_rows.shape[0]:
            return carries, completions
        leaf_below[:] = task_rows[task]
        pile_above(leaf_below, leaf_above)
        found = walk_subtree(
            connection_graph, leaf_below, leaf_above, placed_leaves, gap_masks, stop_flag, halved, sender, lane, gate
        )
        if found == WALK_ABORTED:
            return WALK_ABORTED, 0
        completions += found
        if completions >= carry_at:
            carries += 1
            completions -= carry_at
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
    walk: str | None = None,
) -> CountResult:
    """Count the foldings of a map, and its symmetric foldings, on several threads.

    Parameters
    ----------
    shape
        The map's sides, e.g. ``(2, 5)``; at most ``MAX_LEAVES`` leaves.
    threads
        Worker threads; default: the CPUs this process may use (its affinity mask and CPU quota).
        More than ``THREADS_PER_CPU_CAP`` per CPU (at least 64) are run as that many; the
        result's ``threads`` says how many ran. Totals do not depend on it.
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
        off walks the whole tree, for checking the shortcut. Totals do not depend on it. Lunnon's
        walk only: the orbit walk has turning the pile over in its group already.
    stop_event
        Setting it (from a signal handler, say) stops every thread and raises
        ``KeyboardInterrupt``, as Ctrl-C does.
    gate
        Send the consumer only the completions that could be mirror images of themselves
        (``mapfold.symmetry.mirror_gate``); ``False`` sends every completion (the full stream, for
        checking the gate). Totals do not depend on it.
    walk
        ``"orbit"``: the symmetry-reduced walk of ``mapfold.orbit_walk`` (fold total only);
        ``"lunnon"``: Lunnon's walk in leaf order, halved by turning the pile over (both totals).
        Default: ``"orbit"`` when ``symmetric`` is off, else ``"lunnon"``. Totals do not depend on it.

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
    threads = worker_threads(threads)
    if walk is None:
        walk = "lunnon" if symmetric else "orbit"
    if walk not in ("orbit", "lunnon"):
        raise ValueError(f"walk must be 'orbit' or 'lunnon', got {walk!r}")
    if walk == "orbit" and symmetric:
        raise ValueError("the orbit walk counts folds only; use symmetric=False or walk='lunnon'")
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
    elif walk == "orbit":
        completions, task_count = _count_orbit_cycles(sides, threads, progress, progress_file, tasks_per_thread, stop_event)
        symmetric_folds, sender_counts = None, None
    else:
        halved = halve and leaves_total >= 3
        connection_graph = make_connection_graph(sides)
        tasks = split_tasks(connection_graph, threads, halved, tasks_per_thread)
        task_count = len(tasks)
        handler = SymmetricTotal(with_reflections=halved) if symmetric else None
        stop_flag = np.zeros(1, dtype=np.int64)  # shared by the walks and the sender's waiting producers
        sender = (
            LeafBelowSender(leaves_total + 1, handler, lanes=threads, slots=sender_slots, stop_flag=stop_flag)
            if symmetric
            else None
        )
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
                stop_flag,
                _CARRY_AT,
            )
            if halved:
                completions *= 2  # each completion walked stands for itself and its reflection
        except BaseException:
            if sender is not None:
                sender.abandon()  # no total: leave buffered rows unread, and let the first error be the one raised
            raise
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
        walk=walk,
    )


def _count_orbit_cycles(sides, threads, progress, progress_file, tasks_per_thread, stop_event) -> tuple[int, int]:
    """The orbit walk's count of complete cycles (folds over ``N``), and its number of tasks."""
    tasks = split_orbit_tasks(make_orbit_plan(sides), threads, tasks_per_thread)
    plan = tasks.plan  # the tasks' own order (see ``split_orbit_tasks``)
    results = np.zeros(len(tasks), dtype=np.int64)

    def run_share(index: int, bar: Any, next_task: np.ndarray, stop_flag: np.ndarray) -> tuple[int, int]:
        status = work_through_orbit_tasks(
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
        )
        return status, 0  # the counts are in ``results``, one per task

    stop_flag = np.zeros(1, dtype=np.int64)
    _run_workers(
        None,
        tasks.leaf_below,
        tasks.placed_leaves,
        False,
        threads,
        None,
        progress,
        progress_file,
        stop_event,
        False,
        stop_flag,
        run_share=run_share,
    )
    # Python ints: a weight times a task's cycles, summed, may pass 2**63 on large maps.
    total = sum(int(weight) * int(cycles) for weight, cycles in zip(tasks.weights.tolist(), results.tolist(), strict=True))
    return total, len(tasks)


#: After an interrupt, how long the runner waits for workers to return. Only a worker still
#: inside numba's first compilation (which cannot be cut short) takes longer: it is left to
#: finish on its own (it then sees the stop flag at once) rather than holding up the exit.
_INTERRUPT_PATIENCE_SECONDS = 1.0


def _run_workers(
    connection_graph,
    task_rows,
    placed_leaves,
    halved,
    threads,
    sender,
    progress,
    progress_file,
    stop_event,
    gate,
    stop_flag,
    carry_at: int = _CARRY_AT,
    run_share=None,
) -> int:
    """Run ``threads`` workers over the tasks; return the summed completions or raise.

    ``run_share(index, bar, next_task, stop_flag) -> (carries, remainder)``, when given, replaces
    Lunnon's ``_work_through_tasks`` as each worker's whole share (the orbit walk's loop).
    """
    next_task = np.zeros(1, dtype=np.int64)
    results: list[tuple[int, int] | None] = [None] * threads
    errors: list[BaseException] = []

    with ProgressBar(
        total=len(task_rows),
        file=progress_file if progress_file is not None else sys.stderr,
        disable=not progress,
        unit="task",
        desc="folding",
        leave=True,
    ) as bar:
        # Workers wait for every thread to exist before they walk: a thread started while hundreds of
        # others are busy can take tens of milliseconds to run at all, and starting 4096 would take minutes.
        all_started = threading.Event()

        def work(index: int) -> None:
            all_started.wait()
            try:
                if run_share is not None:
                    results[index] = run_share(index, bar, next_task, stop_flag)
                else:
                    results[index] = _work_through_tasks(
                        connection_graph,
                        task_rows,
                        placed_leaves,
                        halved,
                        next_task,
                        stop_flag,
                        bar,
                        sender,
                        index,
                        gate,
                        carry_at,
                    )
            except BaseException as error:  # noqa: BLE001 - reported by the runner below
                errors.append(error)
                stop_flag[0] = 1

        workers = [
            threading.Thread(target=work, args=(index,), name=f"mapfold-worker-{index}", daemon=True) for index in range(threads)
        ]
        started: list[threading.Thread] = []
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
                # Short joins keep the main thread able to take Ctrl-C and to notice a failed consumer.
                while worker.is_alive():
                    worker.join(0.05)
                    if sender is not None and sender.failed:
                        stop_flag[0] = 1
                    if stop_event is not None and stop_event.is_set():
                        raise KeyboardInterrupt
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
    if any(result is None or result[0] == WALK_ABORTED for result in results):
        raise WorkerError("a worker stopped before finishing its tasks")
    return sum(int(carries) * carry_at + int(remainder) for carries, remainder in results)
