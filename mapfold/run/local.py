"""The local runner: execute a ``CountPlan`` on this machine's threads.

The threads, the jitted worker loops and the sender live in ``mapfold.run.workers`` (shared with the
cluster runner, ``mapfold.run.cluster``). Two walks:

- the orbit walk with the mirror walk (the default; ``run.workers.OrbitRun``): every task's result
  is kept apart (``run.task_results.TaskResults``), so that the main thread appends each finished
  task to the journal while the workers go on. A mirror task is journaled once the consumer has
  checked every row its worker pushed for it.
- Lunnon's walk, the local reference walk the tests and the bench hold the orbit walk against: no
  journal, no cluster.
"""

from __future__ import annotations

import threading
from typing import IO

import numpy as np

from mapfold.limits import THREADS_PER_CPU_CAP
from mapfold.plan.count_plan import CountPlan
from mapfold.results import CountInterrupted, SenderCounts, WorkerError
from mapfold.run.consumer import SymmetricTotal
from mapfold.run.cpus import available_cpus
from mapfold.run.sender import LeafBelowSender, SenderError
from mapfold.run.task_results import TaskResults
from mapfold.run.workers import OrbitRun, lunnon_share, run_workers

#: However few the CPUs, this many threads are not capped (``limits.THREADS_PER_CPU_CAP``).
_FEWEST_THREADS_CAP = 64


def worker_threads(requested: int | None) -> int:
    """How many worker threads a run uses: ``requested`` (default: the usable CPUs), capped as above."""
    cpus = available_cpus()
    if requested is None:
        return cpus
    if requested < 1:
        raise ValueError("threads must be at least 1")
    return min(requested, max(_FEWEST_THREADS_CAP, THREADS_PER_CPU_CAP * cpus))


def count_orbit_locally(
    results: TaskResults,
    threads: int,
    sender_slots: int = 8192,
    progress: bool = False,
    progress_file: IO[str] | None = None,
    stop_event: threading.Event | None = None,
) -> SenderCounts | None:
    """Walk the orbit and mirror tasks ``results`` lacks on local threads; fill them in (and the journal).

    Each worker first claims mirror tasks (the few foldings that can count towards the symmetric
    total, pushed through the sender to the consumer thread, which tests each one exactly), then
    orbit tasks. Returns the sender's counts (``None`` without the symmetric total).

    Raises
    ------
    CountInterrupted
        After every thread has stopped and every finished task is in the journal.
    """
    plan = results.plan
    orbit_pending, mirror_pending = results.orbit_pending(), results.mirror_pending()
    if len(orbit_pending) == 0 and len(mirror_pending) == 0:
        return SenderCounts(0, 0, 0, 0) if plan.symmetric else None
    estimated = plan.orbit_tasks.estimated_nodes if plan.orbit_tasks is not None else None
    if estimated is not None and len(orbit_pending):
        # Largest first, by the planner's estimates: a large task claimed last leaves one thread
        # walking it alone at the end (2^8's largest task is 17% of its walk).
        orbit_pending = orbit_pending[np.argsort(-estimated[orbit_pending], kind="stable")]
    run = OrbitRun(plan.orbit_tasks, orbit_pending, plan.mirror_tasks, mirror_pending, threads, sender_slots)

    def poll() -> None:
        results.record_run(*run.take_finished())

    task_work = np.ones(plan.orbit_count, dtype=np.uint64)
    if progress and len(orbit_pending):
        from mapfold.plan.probe import orbit_task_nodes

        task_work[orbit_pending] = np.ceil(orbit_task_nodes(plan.orbit_tasks, orbit_pending)).astype(np.uint64)
    try:
        run.run(progress, progress_file, stop_event, poll, task_work)
    except KeyboardInterrupt:
        poll()  # every task finished (and checked) before the stop goes to the journal
        raise CountInterrupted(results.done, plan.task_count) from None
    poll()
    if run.sender_counts is None and plan.symmetric:
        return SenderCounts(0, 0, 0, 0)
    return run.sender_counts


def count_lunnon_locally(
    plan: CountPlan,
    threads: int,
    sender_slots: int = 8192,
    progress: bool = False,
    progress_file: IO[str] | None = None,
    stop_event: threading.Event | None = None,
) -> tuple[int, int | None, SenderCounts | None]:
    """Lunnon's walk over every task of ``plan``; return ``(folds total, symmetric total or None, sender counts)``.

    With the symmetric total, the walk pushes the completions its gate lets through (or all of
    them, without the gate) to the consumer thread (``SymmetricTotal``).
    """
    tasks = plan.lunnon_tasks
    pending = np.arange(len(tasks), dtype=np.int64)
    handler = SymmetricTotal(with_reflections=plan.halved) if plan.symmetric else None
    stop_flag = np.zeros(1, dtype=np.int64)  # shared by the walks and the sender's waiting producers
    sender = None
    if handler is not None:
        sender = LeafBelowSender(tasks.leaf_below.shape[1], handler, lanes=threads, slots=sender_slots, stop_flag=stop_flag)
    task_completions = np.full(len(tasks), -1, dtype=np.int64)
    if progress:
        from mapfold.plan.probe import subtree_weights

        # A few probes per task; fewer for huge lists (their sum is what the bar needs, and it
        # averages out), so that 8x8's 1.8 million tasks cost seconds, not a minute, up front.
        probes = max(1, min(8, 200_000 // len(pending)))
        weights = subtree_weights(plan.connection_graph, tasks.leaf_below, tasks.placed_leaves, plan.halved, probes)
        task_work = np.ceil(weights).astype(np.uint64)
    else:
        task_work = np.ones(len(pending), dtype=np.uint64)
    share = lunnon_share(plan, pending, task_work, sender, task_completions)
    try:
        run_workers(
            share,
            min(threads, len(pending)),
            sender,
            int(task_work.sum()),
            progress,
            progress_file,
            stop_event,
            lambda: None,
            stop_flag,
            "walk (estimated tree nodes)",
        )
    except KeyboardInterrupt:
        if sender is not None:
            sender.abandon()
        raise CountInterrupted(int((task_completions >= 0).sum()), len(tasks)) from None
    except BaseException:
        if sender is not None:
            sender.abandon()  # no total: leave buffered rows unread, and let the first error be the one raised
        raise
    if sender is not None:
        sender.close()
    if (task_completions < 0).any():
        raise WorkerError("a task was left unfinished")
    completions = int(task_completions.sum())
    if plan.halved:
        completions *= 2  # each completion walked stands for itself and its reflection
    if sender is None:
        return completions * plan.leaves_total, None, None
    if sender.pushed != sender.consumed:
        raise SenderError(f"the sender lost rows: {sender.pushed} pushed, {sender.consumed} consumed")
    sender_counts = SenderCounts(sender.pushed, sender.consumed, sender.slots, handler.completions)
    return completions * plan.leaves_total, handler.total, sender_counts
