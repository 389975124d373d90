"""The local front: split the tree, run the unit runner over it on this machine's threads, gather the totals.

The threads, the jitted worker loops and the sender live in ``mapfold.run.workers`` (shared with the
Dask front, ``mapfold.run.cluster``, which ``count_folds(client=...)`` hands the count to).

Two walks (``count_folds(walk=...)``), each over a deterministic task list so that a checkpoint
journal (``mapfold.run.journal``) can name its tasks by index: the orbit walk with the mirror walk (the
default: ``plan.tasks.plan_orbit_tasks``, ``plan.tasks.plan_mirror_tasks``, run by ``run.workers.OrbitRun``),
and Lunnon's walk (``plan.tasks.plan_tasks``).

Every task's result is kept apart (published by the worker with a release store), so that with
``checkpoint`` the main thread can append each finished task to the journal while the workers go
on. A task that pushed rows to the consumer (Lunnon's walk with the symmetric total, the mirror
walk) is journaled once the consumer has handled every row its worker pushed for it (the worker
notes its lane's written count when the task ends): in Lunnon's walk with the centres
``TaskSymmetricTotal`` attributed to it, in the mirror walk with the centres of its foldings, each
one checked by the consumer.
"""

from __future__ import annotations

import math
import operator
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from mapfold.plan.tasks import (
    MAX_TASKS,
    MIN_TASKS,
    cluster_min_tasks,
    mirror_task_digest,
    orbit_task_digest,
    plan_mirror_tasks,
    plan_orbit_tasks,
    plan_tasks,
    split_tasks,
    task_digest,
)
from mapfold.results import CountInterrupted, CountResult, SenderCounts, WorkerError
from mapfold.run.consumer import SymmetricTotal
from mapfold.run.cpus import available_cpus
from mapfold.run.journal import JOURNAL_FORMAT, Journal, JournalError, journal_header, journal_walk
from mapfold.run.sender import _CURSOR_WIDTH, _READ, LeafBelowSender, SenderError
from mapfold.run.task_accounting import TaskSymmetricTotal
from mapfold.run.workers import OrbitRun, _run_workers, lunnon_share, mirror_centre_weight
from mapfold.shape import ShapeError, counted_sides, format_shape, validate_shape
from mapfold.walks.connection_graph import make_connection_graph
from mapfold.walks.mirror import split_mirror_tasks
from mapfold.walks.orbit import ONE_WORD_LEAVES, make_orbit_plan, split_orbit_tasks

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
    min_tasks: int | None = None,
    folds: bool = True,
    route: int | None = None,
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
        done (so its rate and ETA hold when tasks differ in size by orders of magnitude); with
        ``folds=False``, by the mirror tasks done.
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
        A journal file (``mapfold.run.journal``): created, or resumed from; every finished task is
        appended to it durably as the count goes.
    notify
        Called with one-line notices (a torn journal line); default: printed on stderr.
    gate
        Lunnon's walk: send the consumer only the completions that could be mirror images of
        themselves (``mapfold.walks.self_mirror.mirror_gate``); ``False`` sends every completion (the full
        stream, for checking the gate and the mirror walk; it chooses Lunnon's walk). Totals do
        not depend on it.
    client
        A ``distributed.Client``: run the count on its Dask cluster instead of local threads
        (``mapfold.run.cluster``); ``threads`` is then ignored.
    walk
        ``"orbit"``: the symmetry-reduced walk of ``mapfold.walks.orbit`` for the fold total, and the
        mirror walk of ``mapfold.walks.mirror`` for the symmetric total; ``"lunnon"``: Lunnon's walk
        in leaf order, halved by turning the pile over, with the gated stream. Both run on local
        threads or a cluster, with or without a checkpoint. Default: the walk of the ``checkpoint``
        journal when it exists (a journal always resumes with the walk that wrote it; naming
        another raises ``JournalError``), else ``"orbit"`` (``"lunnon"`` with ``gate=False`` or
        ``halve=False``). Totals do not depend on it.
    min_tasks
        The orbit walk: plan its deterministic task list for at least this many tasks (deeper
        lists hold smaller tasks, which a large cluster needs to end together, for 5-10% more
        walking). Default: the ``checkpoint`` journal's number when it exists (a journal always
        resumes with its own list; naming another raises ``JournalError``), else ``MIN_TASKS``
        (4096), or ``plan.tasks.cluster_min_tasks`` (32 a worker thread) with ``client``. Totals do not
        depend on it.
    folds
        ``False``: count the symmetric total alone, with the mirror walk, and skip the fold total
        (``folds_total`` is ``None``). The mirror walk grows far more slowly than the fold walk, so
        this reaches strips whose fold total is out of reach (1 x 36, A007822(18), in under two
        minutes on two threads). Needs ``symmetric`` and the orbit walk.
    route
        The orbit walk's route: 1 (the default), or 2, a second walk of the same map that shares as
        little as possible with the first (another insertion order, another subgroup where the
        group is capped: other trees, other representatives; ``walks.group``), to check a new count
        a second way. Recorded in the journal's header (only when 2); default: the journal's.

    Returns
    -------
    CountResult

    Raises
    ------
    ShapeError
        For a shape that is not a map or is too large.
    JournalError
        When ``checkpoint`` is a journal of another count (or walk), or damaged.
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
    if walk not in (None, "orbit", "lunnon"):
        raise ValueError(f"walk must be 'orbit' or 'lunnon', got {walk!r}")
    existing = journal_header(checkpoint) if checkpoint is not None else None
    written_by = journal_walk(existing) if existing is not None else None
    if walk is None:
        # A journal resumes with the walk that wrote it; else the switches that exist to check
        # Lunnon's walk (its gate, its halving) choose it, and the orbit walk is the default.
        walk = written_by or ("orbit" if gate and halve else "lunnon")
    elif written_by is not None and walk != written_by:
        raise JournalError(
            f"{checkpoint} is a journal of the {written_by} walk, not the {walk} walk; "
            "resume it with the walk that wrote it (the default) or use another file"
        )
    if walk == "orbit" and not (gate and halve):
        raise ValueError("gate=False and halve=False are switches of Lunnon's walk; use walk='lunnon'")
    if walk == "lunnon" and math.prod(shape) > ONE_WORD_LEAVES:
        raise ShapeError(
            f"shape {format_shape(shape)}: Lunnon's walk counts maps of at most {ONE_WORD_LEAVES} leaves; "
            "the orbit walk (the default) counts any map"
        )
    journal_route = existing.get("route", 1) if existing is not None else None
    if route is None:
        route = journal_route or 1
    elif journal_route is not None and route != journal_route:
        raise JournalError(
            f"{checkpoint} is a journal of route {journal_route}, not route {route}; "
            "resume it with its own route (leave it unset) or use another file"
        )
    if route not in (1, 2):
        raise ValueError(f"route must be 1 or 2, got {route!r}")
    if route != 1 and walk != "orbit":
        raise ValueError("route 2 is a route of the orbit walk; Lunnon's walk has one")
    if existing is not None and walk == "orbit" and existing.get("folds", True) != folds:
        what = "the symmetric total alone" if folds else ("both totals" if existing.get("symmetric") else "the fold total alone")
        raise JournalError(
            f"{checkpoint} is a journal of {what}; resume it "
            f"{'with' if folds else 'without'} --symmetric-only (folds={not folds}) or use another file"
        )
    if not folds:
        if not symmetric:
            raise ValueError("folds=False counts the symmetric total alone; it needs symmetric=True")
        if written_by not in (None, "orbit"):
            raise JournalError(
                f"{checkpoint} is a journal of the {written_by} walk, which counts the fold total; "
                "resume it without --symmetric-only (folds=True)"
            )
        if walk != "orbit":
            # Lunnon's walk finds the symmetric foldings among all the foldings it walks.
            raise ValueError("folds=False needs the mirror walk of walk='orbit'; Lunnon's walk walks every folding")
        if min_tasks is not None:
            raise ValueError("min_tasks plans the orbit walk's tasks; folds=False walks the mirror walk alone")
    if min_tasks is not None:
        if walk != "orbit" and written_by is not None:
            raise JournalError(f"{checkpoint} is a journal of Lunnon's walk, which plans its own tasks; leave their number unset")
        if walk != "orbit":
            raise ValueError("min_tasks plans the orbit walk's tasks; Lunnon's walk has its own list")
        if tasks_per_thread is not None:
            raise ValueError("min_tasks plans the deterministic task list; leave tasks_per_thread unset")
        min_tasks = operator.index(min_tasks)  # a whole number (an int in the journal's header)
        if not 1 <= min_tasks <= MAX_TASKS:
            raise ValueError(f"min_tasks must be between 1 and {MAX_TASKS}, got {min_tasks}")
    # The journal's own number of tasks (absent: the default it was planned with).
    journal_min_tasks = None
    if existing is not None and walk == "orbit":
        journal_min_tasks = existing.get("orbit_min_tasks", MIN_TASKS)
        whole = isinstance(journal_min_tasks, int) and not isinstance(journal_min_tasks, bool)
        if not whole or not 1 <= journal_min_tasks <= MAX_TASKS:
            raise JournalError(f"{checkpoint}: its orbit_min_tasks {journal_min_tasks!r} is not a number of tasks")
    if journal_min_tasks is not None and min_tasks is not None and min_tasks != journal_min_tasks:
        raise JournalError(
            f"{checkpoint} was planned for at least {journal_min_tasks} tasks, not {min_tasks}; "
            "resume it with its own plan (leave the number of tasks unset) or use another file"
        )
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
        if client is not None:
            from mapfold.run.cluster import _cluster_threads

            threads = _cluster_threads(client)  # plans for them (``cluster_min_tasks``) and deals units to them
        if min_tasks is None:
            min_tasks = journal_min_tasks or (cluster_min_tasks(threads) if client is not None else MIN_TASKS)
        cycles, task_count, centres, sender_counts, tasks_resumed = _count_orbit_walks(
            sides,
            threads,
            symmetric,
            folds,
            sender_slots,
            progress,
            progress_file,
            tasks_per_thread,
            min_tasks,
            stop_event,
            checkpoint,
            client,
            notify,
            __version__,
            route,
        )
        completions = cycles  # each cycle is N foldings: any leaf may be on top
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
            # A format 1 journal (no ``walk`` key) is Lunnon's walk: it resumes with its own header.
            old_format = existing is not None and existing.get("format") == 1
            journal = Journal.open(
                checkpoint,
                {
                    "mapfold": __version__,
                    **({} if old_format else {"walk": "lunnon"}),
                    "shape": list(sides),
                    "leaves": leaves_total,
                    "halved": halved,
                    "symmetric": symmetric,
                    "task_depth": tasks.placed_leaves,
                    "tasks": task_count,
                    "task_digest": task_digest(tasks),
                },
                journal_format=1 if old_format else JOURNAL_FORMAT,
            )
            if journal.notice:
                notify(journal.notice)
        try:
            if client is not None:
                from mapfold.run.cluster import _cluster_threads, count_on_cluster

                threads = _cluster_threads(client)
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
        folds_total=completions * leaves_total if folds else None,
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
    sides,
    threads,
    symmetric,
    folds,
    sender_slots,
    progress,
    progress_file,
    tasks_per_thread,
    min_tasks,
    stop_event,
    checkpoint,
    client,
    notify,
    version,
    route=1,
) -> tuple[int, int, int | None, SenderCounts | None, int]:
    """The orbit walk's complete cycles (folds over ``N``) and, with ``symmetric``, the mirror walk's centres.

    The tasks are the deterministic lists of ``plan.tasks.plan_orbit_tasks`` (for ``min_tasks``) and
    ``plan.tasks.plan_mirror_tasks`` (whatever the threads, so a journal can name them; ``tasks_per_thread`` splits
    for this run's threads instead, without a journal). On local threads, each worker first claims
    mirror-walk tasks (``mapfold.walks.mirror``: the few foldings that can count towards the
    symmetric total, pushed through the sender to the consumer thread, which tests each one
    exactly), then orbit-walk tasks; with ``client``, both are cut into units for the Dask front.
    With ``checkpoint``, every finished task goes to the journal as the count goes. Without
    ``folds``, there are no orbit tasks: the mirror walk alone gives the symmetric total.

    Returns
    -------
    tuple
        ``(cycles, tasks, centres or None, sender counts or None, tasks resumed)``.
    """
    if tasks_per_thread is None:
        orbit_tasks = plan_orbit_tasks(sides, min_tasks, route=route) if folds else None
        mirror_tasks = plan_mirror_tasks(sides) if symmetric else None
    else:
        orbit_tasks = split_orbit_tasks(make_orbit_plan(sides, route=route), threads, tasks_per_thread) if folds else None
        mirror_tasks = split_mirror_tasks(sides, max(1, threads) * tasks_per_thread) if symmetric else None
    orbit_count = len(orbit_tasks) if orbit_tasks is not None else 0
    mirror_count = len(mirror_tasks) if mirror_tasks is not None else 0
    leaves_total = int(np.prod(sides))
    weight = mirror_centre_weight(leaves_total)
    cycles: dict[int, int] = {}  # orbit task -> its complete cycles
    mirrored: dict[int, tuple[int, int]] = {}  # mirror task -> (foldings, centres)
    journal = None
    if checkpoint is not None:
        journal = Journal.open(
            checkpoint,
            {
                "mapfold": version,
                "walk": "orbit",
                "shape": list(sides),
                "leaves": leaves_total,
                "symmetric": symmetric,
                # Only without the fold total (journals from before the option still resume); a
                # journal of both totals has orbit tasks, so the two never take each other's file.
                **({"folds": False} if not folds else {}),
                "task_depth": orbit_tasks.placed_leaves if folds else None,
                "tasks": orbit_count + mirror_count,
                "orbit_tasks": orbit_count,
                "task_digest": orbit_task_digest(orbit_tasks) if folds else None,
                # Only route 2: journals of route 1 keep the header they always had.
                **({"route": route} if route != 1 else {}),
                # Only when not the default: journals from before the option still resume.
                **({"orbit_min_tasks": min_tasks} if folds and min_tasks != MIN_TASKS else {}),
                "mirror_tasks": mirror_count,
                "mirror_digest": mirror_task_digest(mirror_tasks),
            },
        )
        if journal.notice:
            notify(journal.notice)
    try:
        if journal is not None:
            for task, found in journal.completions.items():
                centres = journal.centres[task]
                if task < orbit_count:
                    cycles[task] = found
                elif centres != found * weight:
                    raise JournalError(f"{journal.path}: mirror task {task} holds {centres} centres for {found} foldings")
                else:
                    mirrored[task - orbit_count] = (found, centres)
        resumed = len(cycles) + len(mirrored)
        if client is not None:
            from mapfold.run.cluster import count_orbit_on_cluster

            count_orbit_on_cluster(
                client,
                threads,
                sides,
                min_tasks,
                orbit_tasks,
                mirror_tasks,
                cycles,
                mirrored,
                journal,
                progress,
                progress_file,
                stop_event,
                route,
            )
            sender_counts = None
        else:
            sender_counts = _count_orbit_tasks(
                orbit_tasks,
                mirror_tasks,
                cycles,
                mirrored,
                threads,
                sender_slots,
                progress,
                progress_file,
                stop_event,
                journal,
            )
    finally:
        if journal is not None:
            journal.close()
    if len(cycles) != orbit_count or len(mirrored) != mirror_count:
        raise WorkerError("a task was left unfinished")
    # Python ints: a weight times a task's cycles, summed, may pass 2**63 on large maps.
    weights = orbit_tasks.weights.tolist() if folds else []
    total = sum(int(weights[task]) * found for task, found in cycles.items()) if folds else None
    centres = sum(found_centres for _, found_centres in mirrored.values()) if symmetric else None
    return total, orbit_count + mirror_count, centres, sender_counts, resumed


def _count_orbit_tasks(
    orbit_tasks, mirror_tasks, cycles, mirrored, threads, sender_slots, progress, progress_file, stop_event, journal
) -> SenderCounts | None:
    """Walk, on local threads, the orbit and mirror tasks not in ``cycles`` and ``mirrored``; fill those in.

    Returns the sender's counts (``None`` without the symmetric total).
    """
    orbit_count = len(orbit_tasks) if orbit_tasks is not None else 0
    orbit_pending = np.array([task for task in range(orbit_count) if task not in cycles], dtype=np.int64)
    mirror_count = len(mirror_tasks) if mirror_tasks is not None else 0
    mirror_pending = np.array([task for task in range(mirror_count) if task not in mirrored], dtype=np.int64)
    if len(orbit_pending) == 0 and len(mirror_pending) == 0:
        return SenderCounts(0, 0, 0, 0) if mirror_tasks is not None else None
    run = OrbitRun(orbit_tasks, orbit_pending, mirror_tasks, mirror_pending, threads, sender_slots)

    def poll() -> None:
        orbit_done, mirror_done = run.take_finished()
        if journal is not None:
            journal.record(
                [(task, found, None) for task, found in orbit_done]
                + [(orbit_count + task, found, centres) for task, found, centres in mirror_done]
            )
        cycles.update(orbit_done)
        mirrored.update((task, (found, centres)) for task, found, centres in mirror_done)

    task_work = np.ones(orbit_count, dtype=np.uint64)
    if progress and len(orbit_pending):
        from mapfold.plan.probe import orbit_task_nodes

        weights = orbit_task_nodes(orbit_tasks, orbit_pending)
        task_work[orbit_pending] = np.ceil(weights).astype(np.uint64)
    try:
        run.run(progress, progress_file, stop_event, poll, task_work)
    except KeyboardInterrupt:
        poll()  # every task finished (and checked) before the stop goes to the journal
        raise CountInterrupted(len(cycles) + len(mirrored), orbit_count + mirror_count) from None
    poll()
    if run.sender_counts is None and mirror_tasks is not None:
        return SenderCounts(0, 0, 0, 0)
    return run.sender_counts


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
        from mapfold.plan.probe import subtree_weights

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
            lunnon_share(
                connection_graph,
                tasks.leaf_below,
                pending,
                tasks.placed_leaves,
                halved,
                next_task,
                task_work,
                sender,
                task_completions,
                task_pushed,
                task_lane,
                gate,
            ),
            min(threads, len(pending)),
            sender,
            int(task_work.sum()),
            progress,
            progress_file,
            stop_event,
            keeper.poll,
            stop_flag,
            "walk (estimated tree nodes)",
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
