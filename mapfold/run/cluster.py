"""The Dask front: the same count spread over a Dask distributed cluster.

The client plans the deterministic task lists (as a local count asking for as many tasks would; a
big cluster asks for more, ``plan.tasks.cluster_min_tasks``), orders the pending tasks by their estimated
size, largest first, and cuts them into units that shrink towards the end (``_deal_units``), many
more than the cluster has threads. Each unit is one Dask task running on a worker with the
same jitted ``nogil`` worker loops as a local count (``mapfold.run.workers``, one thread per unit),
returning every task's result. The client journals each unit's tasks as their results arrive (the
same journal as a local count, so either can resume the other) and sums them as Python ints. A
worker that dies loses only its running units; Dask runs them again elsewhere, and the client takes
each unit's result exactly once.

The orbit walk (Lunnon's walk, the local reference walk, does not run here):

- units of orbit tasks (``plan.tasks.plan_orbit_tasks``, ordered by the
  planner's estimates, ``plan.probe.orbit_task_nodes``), ``run_orbit_unit`` returning each task's complete cycles
  (the client multiplies by the task's orbit weight); with the symmetric total, units of mirror
  tasks (``plan.tasks.plan_mirror_tasks``), submitted first, each run by ``run_mirror_unit`` with the
  worker's own ``LeafBelowSender`` and consumer thread, which tests every folding built.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from mapfold.plan.tasks import mirror_task_digest, orbit_task_digest, plan_mirror_tasks, plan_orbit_tasks
from mapfold.results import WorkerError
from mapfold.run.task_results import TaskResults

#: A long count gets at least this many units per worker thread, so a lost worker costs little.
UNITS_PER_THREAD = 16

#: Estimated tree nodes (about 10 s of one thread) below which a unit need not be cut smaller for
#: the sake of a lost worker: a short count gets fewer, larger units.
MAX_UNIT_NODES = 5.0e8

#: The fewest estimated tree nodes worth a unit of their own (about 40 ms of one thread; a unit costs
#: the scheduler about 3 ms and its worker under 1 ms), unless the count is too small to give every
#: worker thread a unit that size.
MIN_UNIT_NODES = 2.0e6


def cluster_threads(client) -> int:
    """Worker threads of the cluster now (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def _deal_units(weights: np.ndarray, threads: int) -> list[np.ndarray]:
    """Positions of the tasks (by estimated size ``weights``, in tree nodes) cut into units.

    Guided self-scheduling: the tasks are sorted largest first and cut, in that order, into units
    that shrink as the work left shrinks: each holds ``1 / (2 * threads)`` of the work still
    undealt, at most ``max(MAX_UNIT_NODES, total / (UNITS_PER_THREAD * threads))`` and at least
    ``MIN_UNIT_NODES`` (or a thread's share of a count smaller than that). Dask hands out units in
    the order they were submitted, so the large units and tasks start first and the small ones
    fill the end, when a thread that finishes early takes the next small unit instead of idling
    while another thread walks a large one. On 2 x 14 (a 0.6 s count) round-robin units of equal
    estimated size finished 20% apart; the estimates are Knuth probes, good in sum but not to 1%.
    """
    order = np.argsort(-weights, kind="stable")  # largest first: no long task left for the end
    cumulative = np.cumsum(weights[order], dtype=np.float64)
    total = float(cumulative[-1]) if len(cumulative) else 0.0
    if not total > 0:  # no sizes to go by (the estimator gives at least 1 a task): a unit a thread
        return [part for part in np.array_split(order, min(threads, len(order))) if len(part)] if len(order) else []
    largest = max(MAX_UNIT_NODES, total / (UNITS_PER_THREAD * threads))
    smallest = min(MIN_UNIT_NODES, total / threads)
    units: list[np.ndarray] = []
    start, dealt = 0, 0.0
    while start < len(order):
        target = min(largest, max((total - dealt) / (2 * threads), smallest))
        # The unit ends at the first task that takes it to its target (always at least one task).
        stop = int(np.searchsorted(cumulative, dealt + target, side="left")) + 1
        stop = min(len(order), max(stop, start + 1))
        units.append(order[start:stop])
        start, dealt = stop, float(cumulative[stop - 1])
    return units


def _run_units(
    client,
    submissions: list[tuple[Any, tuple, np.ndarray, float]],
    digest: str,
    take,
    progress: bool,
    progress_file: IO[str] | None,
    stop_event: threading.Event | None,
    description: str,
    tasks_total: int,
    tasks_done: Callable[[], int],
    bar_unit: str = " nodes",
) -> None:
    """Submit ``(function, leading arguments, unit's journal task indices, estimated work)`` units; gather them.

    Each unit's results ``[(task, completions, centres), ...]`` must name exactly its tasks; they
    go to ``take`` (which journals them), once per unit (a unit Dask runs again after a worker died
    is still one future). The bar on the client moves by each unit's estimated work.

    Raises
    ------
    CountInterrupted
        When ``stop_event`` is set: the units left are cancelled; finished ones are in the journal.
    WorkerError
        When a unit fails (after Dask's retries) or returns other tasks than it was given.
    """
    from tqdm import tqdm

    from mapfold.results import CountInterrupted

    run_id = uuid.uuid4().hex[:12]
    units: dict[Any, tuple[np.ndarray, float]] = {}  # future of each unit not yet taken -> (tasks, work)
    done_units: queue.SimpleQueue = queue.SimpleQueue()
    # One ``client.map`` per run of units with the same function and leading arguments: one
    # message to the scheduler instead of one a unit (each costs it milliseconds of CPU). Dask runs
    # a map's tasks in their order; ``fifo_timeout=0`` puts each map after the one before (by
    # default, maps within 100 ms share a priority and interleave).
    start = 0
    while start < len(submissions):
        function, arguments = submissions[start][:2]
        stop = start + 1
        while stop < len(submissions) and submissions[stop][:2] == (function, arguments):
            stop += 1
        batch = submissions[start:stop]
        for future, (_, _, unit_tasks, work) in zip(
            client.map(
                function,
                *([argument] * len(batch) for argument in arguments),
                [unit_tasks for _, _, unit_tasks, _ in batch],
                key=[f"mapfold-unit-{digest[:12]}-{run_id}-{index}" for index in range(start, stop)],  # no earlier run's
                pure=False,
                retries=2,
                fifo_timeout=0,
            ),
            batch,
            strict=True,
        ):
            units[future] = (unit_tasks, work)
            future.add_done_callback(done_units.put)  # finished, failed or cancelled
        start = stop
    bar = tqdm(
        total=sum(work for _, work in units.values()),
        file=progress_file if progress_file is not None else sys.stderr,
        disable=not progress,
        unit=bar_unit,
        unit_scale=True,
        smoothing=0.0,
        desc=description,
    )
    lost: set[Any] = set()  # reported done, then lost with their worker before we took them
    try:
        while units:
            if stop_event is not None and stop_event.is_set():
                raise KeyboardInterrupt
            try:
                # Wakes as soon as a unit finishes (a poll every 50 ms cost a small count 25 ms on
                # average); the timeout bounds how long a stop event or a lost unit waits.
                finished = [done_units.get(timeout=0.1)]
            except queue.Empty:
                finished = []
            while not done_units.empty():
                finished.append(done_units.get())
            finished += [future for future in lost if future.done()]  # lost units Dask has run again since
            for future in finished:
                lost.discard(future)
                if future not in units:
                    continue  # taken already: each unit's result counts once
                if not future.done():
                    # Lost: it finished, then its worker died before the result came here, and Dask
                    # runs it again. (Its done-callback would fire at once again: look each round.)
                    lost.add(future)
                    continue
                unit_tasks, work = units.pop(future)
                results = _unpack(_unit_result(client, future))
                if sorted(task for task, _, _ in results) != sorted(unit_tasks.tolist()):
                    raise WorkerError("a unit returned results for other tasks than it was given")
                take(results)
                # Let the cluster forget the result: a held result is recomputed when its worker
                # dies, so a dead worker would cost every unit it ever finished, not its running ones.
                future.release()
                bar.update(work)
    except BaseException as error:
        with contextlib.suppress(Exception):  # a closed client cannot cancel; the error says why
            client.cancel(list(units))
        if isinstance(error, KeyboardInterrupt):
            raise CountInterrupted(tasks_done(), tasks_total) from None
        raise
    finally:
        bar.close()


def _unit_result(client, future) -> Any:
    """A finished unit's packed result; ``WorkerError`` with one line when it failed or cannot be had."""
    lost_scheduler = "lost the connection to the Dask scheduler"
    if future.status == "cancelled":
        if client.status != "running":  # Dask could not reconnect, cancelled everything, closed
            raise WorkerError(lost_scheduler)
        raise WorkerError("a unit was cancelled on the cluster (by another client, a restart, or a lost connection)")
    if future.status != "finished":
        raise WorkerError(f"a unit failed on the cluster: {future.exception()!r}")
    try:
        return future.result()
    except (concurrent.futures.CancelledError, OSError) as error:  # the scheduler went away meanwhile
        raise WorkerError(lost_scheduler if client.status != "running" else f"a unit's result was lost: {error!r}") from None


def _pack(tasks, completions, centres) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A unit's results as three ``int64`` arrays (``centres`` may be ``None``).

    Dask moves arrays back to the client ten times faster than a list of thousands of tuples
    (about 15 ms against 170 ms for 5,000 tasks), which on a small count was a third of its time.
    """
    as_array = lambda values: np.asarray(values, dtype=np.int64)  # noqa: E731
    return as_array(tasks), as_array(completions), None if centres is None else as_array(centres)


def _unpack(packed: tuple[np.ndarray, np.ndarray, np.ndarray | None]) -> list[tuple[int, int, int | None]]:
    """``[(task, completions, centres or None), ...]`` from ``_pack``'s arrays, as Python ints."""
    tasks, completions, centres = packed
    centre_values = centres.tolist() if centres is not None else [None] * len(tasks)
    return list(zip(tasks.tolist(), completions.tolist(), centre_values, strict=True))


@functools.lru_cache(maxsize=4)
def _orbit_planned(sides: tuple[int, ...], min_tasks: int, route: int = 1) -> tuple[Any, str]:
    """The orbit task list and its digest, made once per worker process, map, plan and route."""
    orbit_tasks = plan_orbit_tasks(sides, min_tasks, route=route)
    return orbit_tasks, orbit_task_digest(orbit_tasks)


@functools.lru_cache(maxsize=4)
def _mirror_planned(sides: tuple[int, ...]) -> tuple[Any, str]:
    """The mirror task list and its digest, made once per worker process and map."""
    mirror_tasks = plan_mirror_tasks(sides)
    return mirror_tasks, mirror_task_digest(mirror_tasks)


def run_orbit_unit(
    sides: tuple[int, ...], min_tasks: int, digest: str, unit_tasks: np.ndarray, route: int = 1
) -> tuple[np.ndarray, np.ndarray, None]:
    """Worker side: walk one unit of orbit tasks; its tasks and their cycles, before the orbit weight (``_pack``).

    The worker plans the list itself (``plan.tasks.plan_orbit_tasks(sides, min_tasks)``, once per
    process). ``digest`` is the client's orbit task-list digest: a worker whose list differs
    (another mapfold version) refuses the unit instead of counting the wrong tasks.
    """
    from mapfold.run.workers import OrbitRun

    orbit_tasks, orbit_digest = _orbit_planned(tuple(sides), int(min_tasks), int(route))
    if orbit_digest != digest:
        raise RuntimeError("this worker plans another orbit task list (another mapfold version?)")
    run = OrbitRun(orbit_tasks, np.asarray(unit_tasks, dtype=np.int64), None, [], threads=1)
    run.run()
    found, _ = run.take_finished()
    return _pack([task for task, _ in found], [cycles for _, cycles in found], None)


def run_mirror_unit(
    sides: tuple[int, ...], digest: str, offset: int, unit_tasks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Worker side: walk one unit of mirror tasks with this worker's own sender and consumer thread.

    ``unit_tasks`` are journal indices (``offset`` + mirror task); returns them with their foldings
    and centres (``_pack``), every folding tested by the consumer (``run.workers.MirroredFoldingsCheck``).
    """
    from mapfold.run.workers import OrbitRun

    mirror_tasks, mirror_digest = _mirror_planned(tuple(sides))
    if mirror_digest != digest:
        raise RuntimeError("this worker plans another mirror task list (another mapfold version?)")
    pending = np.asarray(unit_tasks, dtype=np.int64) - offset
    run = OrbitRun(None, [], mirror_tasks, pending, threads=1)
    run.run()
    _, found = run.take_finished()
    if len(found) != len(pending):
        raise RuntimeError("the consumer did not check every mirror task of the unit")
    return _pack([offset + task for task, _, _ in found], [foldings for _, foldings, _ in found], [c for _, _, c in found])


def count_orbit_on_cluster(
    results: TaskResults,
    client,
    threads: int,
    progress: bool,
    progress_file: IO[str] | None,
    stop_event: threading.Event | None,
    route: int = 1,
) -> None:
    """Client side: run the tasks ``results`` lacks on ``client``'s cluster; fill them in (and the journal).

    Mirror units go first (they are small, and each needs its worker's consumer thread); the orbit
    tasks follow, cut by ``_deal_units`` from the planner's size estimates for ``threads``, the
    cluster's worker threads (``cluster_threads``). Each worker plans the lists again
    (``plan.tasks.plan_orbit_tasks(sides, min_tasks)``) and checks their digest. Without the fold
    total, the mirror walk is all the work: more mirror units.

    Raises
    ------
    CountInterrupted
        When ``stop_event`` is set: the units are cancelled; finished ones are in the journal.
    """
    from mapfold.plan.probe import orbit_task_nodes

    plan = results.plan
    sides = tuple(plan.sides)
    orbit_pending, mirror_pending = results.orbit_pending(), results.mirror_pending()
    submissions: list[tuple[Any, tuple, np.ndarray, float]] = []
    if len(mirror_pending):
        digest = mirror_task_digest(plan.mirror_tasks)
        # Beside the orbit walk, about 1% of the work: one unit per thread. Alone (or all that is left),
        # the whole work: many units, so a thread that finishes early takes another instead of idling.
        units_per_thread = 1 if len(orbit_pending) else UNITS_PER_THREAD
        unit_count = min(len(mirror_pending), threads * units_per_thread)
        offset = plan.journal_task("mirror", 0)
        for start in range(unit_count):
            unit = mirror_pending[start::unit_count]
            submissions.append((run_mirror_unit, (sides, digest, offset), offset + unit, float(len(unit))))
    digest = orbit_task_digest(plan.orbit_tasks) if plan.folds else mirror_task_digest(plan.mirror_tasks)
    if len(orbit_pending):
        weights = orbit_task_nodes(plan.orbit_tasks, orbit_pending)
        # One function object for every unit (units are grouped by it); route 2 travels in it.
        orbit_unit = run_orbit_unit if route == 1 else functools.partial(run_orbit_unit, route=route)
        for unit in _deal_units(weights, threads):
            submissions.append((orbit_unit, (sides, plan.min_tasks, digest), orbit_pending[unit], float(weights[unit].sum())))
    if not submissions:
        return
    _run_units(
        client,
        submissions,
        digest,
        results.record,
        progress,
        progress_file,
        stop_event,
        "cluster orbit walk (estimated tree nodes)" if len(orbit_pending) else "cluster mirror walk",
        plan.task_count,
        lambda: results.done,
        " nodes" if len(orbit_pending) else " tasks",  # mirror units weigh their number of tasks
    )


def connect(address: str, timeout_seconds: float = 10.0):
    """A ``distributed.Client`` for the scheduler at ``address``; ``OSError`` with one line when it is unusable.

    ``tcp://HOST:PORT`` or ``tls://HOST:PORT`` (Dask's own configuration supplies the TLS
    certificates). A plain TCP connection is tried first (3 s at most), so a wrong host or port
    fails at once and cleanly, before Dask's client starts its retries.
    """
    import re
    import socket

    match = re.fullmatch(r"(tcp|tls)://(\[[^\]]+\]|[^:/\s]+):(\d{1,5})", address)
    if match is None:
        raise OSError(f"scheduler address {address!r} is not tcp://HOST:PORT or tls://HOST:PORT")
    host, port = match.group(2).strip("[]"), int(match.group(3))
    try:
        with socket.create_connection((host, port), timeout=3.0):
            pass
    except OSError as error:
        raise OSError(f"cannot reach the Dask scheduler at {address}: {error.strerror or error}") from None
    from distributed import Client

    started = time.monotonic()
    try:
        return Client(address, timeout=timeout_seconds, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise OSError(f"no Dask scheduler answered at {address} ({time.monotonic() - started:.0f} s): {error}") from None
