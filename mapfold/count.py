"""``count_folds``: the public entry point. Plan the count, then run it locally or on a cluster.

The plan (``mapfold.plan.count_plan``) decides everything up front: the walks, their task lists,
what the journal records. A runner executes it: ``mapfold.run.local`` on this machine's threads,
``mapfold.run.cluster`` on a Dask cluster. This module only joins the two and shapes the result.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from mapfold.plan.count_plan import CountPlan, JournalMismatch, PlanError, plan_count
from mapfold.plan.tasks import MIN_TASKS, cluster_min_tasks
from mapfold.results import CountResult, SenderCounts
from mapfold.run.consumer import SymmetricTotal
from mapfold.run.journal import Journal, JournalError, journal_header
from mapfold.run.local import count_lunnon_locally, count_orbit_locally, worker_threads
from mapfold.run.task_results import TaskResults
from mapfold.shape import validate_shape


def a007822_index(shape: tuple[int, ...]) -> int | None:
    """``n`` when the map is a 1 x 2n strip (its symmetric total is A007822(n)), else ``None``."""
    from mapfold.shape import counted_sides

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
    progress, progress_file
        Show a progress bar on ``progress_file`` (default ``sys.stderr``), driven by the estimated
        tree nodes of the tasks done; with ``folds=False``, by the mirror tasks done.
    tasks_per_thread
        ``None`` (the default): the deterministic task lists, the same whatever ``threads``. A
        number: split for that many tasks per thread instead (experiments only; not with
        ``checkpoint`` or ``client``).
    sender_slots
        Rows in each worker's lane of the sender.
    halve
        Lunnon's walk: walk half the tree; ``False`` walks it whole (and chooses Lunnon's walk).
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
        stream, for checking the gate and the mirror walk; it chooses Lunnon's walk).
    client
        A ``distributed.Client``: run the count on its Dask cluster instead of local threads
        (``mapfold.run.cluster``); ``threads`` is then ignored.
    walk
        ``"orbit"`` (the default): the symmetry-reduced walk of ``mapfold.walks.orbit`` for the
        fold total, and the mirror walk of ``mapfold.walks.mirror`` for the symmetric total, on
        local threads or a cluster, with or without a checkpoint. ``"lunnon"``: Lunnon's walk in
        leaf order, halved by turning the pile over, with the gated stream: the reference the
        tests and the bench hold the orbit walk against, on local threads only and without a
        checkpoint (chosen too by ``gate=False`` or ``halve=False``). Totals do not depend on it.
    route
        1 (the default), or 2: a second walk of the same map with another insertion order and
        subgroup (other trees, other representatives), to check a new count a second way.
    min_tasks
        The orbit walk: plan its task list for at least this many tasks (smaller tasks, which a
        large cluster needs to end together, for 5-10% more walking). Default: the journal's
        number, else ``MIN_TASKS`` (4096), or 32 a worker thread with ``client``.
    folds
        ``False``: the symmetric total alone, by the mirror walk (``folds_total`` is ``None``),
        which reaches strips whose fold total is out of reach (1 x 36 in under two minutes).

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

    validate_shape(tuple(shape))  # a bad shape is the first error, before threads, a cluster or a journal
    threads = worker_threads(threads)
    if client is not None:
        from mapfold.run.cluster import cluster_threads

        if walk == "lunnon" or not (gate and halve):
            raise ValueError("Lunnon's walk is the local reference walk; a cluster runs the orbit walk")
        threads = cluster_threads(client)  # plans for them (``cluster_min_tasks``) and deals units to them
    if tasks_per_thread is not None and (client is not None or checkpoint is not None):
        raise ValueError("a cluster or checkpointed count uses the deterministic task list; leave tasks_per_thread unset")
    existing = journal_header(checkpoint) if checkpoint is not None else None
    try:
        plan = plan_count(
            shape,
            symmetric=symmetric,
            folds=folds,
            walk=walk,
            min_tasks=min_tasks,
            default_min_tasks=cluster_min_tasks(threads) if client is not None else MIN_TASKS,
            split=(threads, tasks_per_thread) if tasks_per_thread is not None else None,
            halve=halve,
            gate=gate,
            journal=existing,
            route=route,
        )
    except JournalMismatch as error:
        raise JournalError(f"{checkpoint} {error}") from None
    if plan.walk == "lunnon" and checkpoint is not None:
        raise PlanError("Lunnon's walk is the local reference walk and keeps no journal; count with the orbit walk (the default)")
    runner = {"threads": threads, "sender_slots": sender_slots, "progress": progress, "progress_file": progress_file}
    return run_plan(plan, checkpoint=checkpoint, client=client, notify=notify, stop_event=stop_event, **runner)


def run_plan(
    plan: CountPlan,
    *,
    threads: int,
    checkpoint: str | os.PathLike[str] | None = None,
    client: Any = None,
    notify: Callable[[str], None] | None = None,
    stop_event: threading.Event | None = None,
    **runner: Any,
) -> CountResult:
    """Execute a plan: locally (``runner``: ``sender_slots``, ``progress``, ``progress_file``) or on ``client``.

    With ``checkpoint``, the orbit walk's journal is created or resumed for the run.
    """
    from mapfold import __version__

    started = time.perf_counter()
    if plan.leaves_total == 1:
        folds_total, symmetric_folds, sender_counts, resumed = _one_leaf(plan)
    elif plan.walk == "lunnon":
        folds_total, symmetric_folds, sender_counts = count_lunnon_locally(plan, threads, stop_event=stop_event, **runner)
        resumed = 0
    else:
        with _journal(plan, checkpoint, __version__, notify) as journal:
            results = TaskResults(plan, journal)
            if client is not None:
                from mapfold.run.cluster import count_orbit_on_cluster

                count_orbit_on_cluster(
                    results, client, threads, runner["progress"], runner["progress_file"], stop_event, plan.route
                )
                sender_counts = None
            else:
                sender_counts = count_orbit_locally(results, threads, stop_event=stop_event, **runner)
        folds_total, symmetric_folds = results.totals()
        resumed = results.resumed
    return CountResult(
        shape=list(plan.shape),
        leaves=plan.leaves_total,
        folds_total=folds_total,
        symmetric_folds=symmetric_folds,
        a007822_index=a007822_index(plan.shape),
        threads=threads,
        tasks=plan.task_count,
        elapsed_seconds=round(time.perf_counter() - started, 6),
        version=__version__,
        sender=sender_counts,
        tasks_resumed=resumed,
        walk=plan.walk,
    )


def _one_leaf(plan: CountPlan) -> tuple[int | None, int | None, SenderCounts | None, int]:
    """One leaf: one folding, nothing to split. The consumer's test still decides its symmetry."""
    if not plan.symmetric:
        return (1 if plan.folds else None), None, None, 0
    handler = SymmetricTotal()
    handler(np.zeros((1, 2), dtype=np.uint8), np.ones(1, dtype=np.uint64))
    return (1 if plan.folds else None), handler.total, SenderCounts(0, 0, 0, handler.completions), 0


@contextlib.contextmanager
def _journal(plan: CountPlan, checkpoint, version: str, notify: Callable[[str], None] | None) -> Iterator[Journal | None]:
    """The count's journal, open for the run (created or resumed), or ``None`` without ``checkpoint``."""
    if checkpoint is None:
        yield None
        return
    journal = Journal.open(checkpoint, plan.journal_header(version))
    try:
        if journal.notice:
            (notify or _note)(journal.notice)
        yield journal
    finally:
        journal.close()


def _note(message: str) -> None:
    print(f"mapfold: note: {message}", file=sys.stderr)
