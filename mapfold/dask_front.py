"""The Dask front: the same count spread over a Dask distributed cluster.

The client plans the same deterministic task list as a local count (``mapfold.tasks.plan_tasks``),
orders the pending tasks by their estimated size (largest first, so the long ones do not finish
last), and cuts them into many more units than the cluster has threads. Each unit is one Dask task
running ``run_unit`` on a worker: the same jitted ``nogil`` worker loop as a local count (one thread
per unit, its own ``LeafBelowSender`` and consumer thread when the symmetric total is on), returning
every task's completions and symmetric centres. The client journals each unit's tasks as their
results arrive (the same journal as a local count, so either can resume the other) and sums them as
Python ints. A worker that dies loses only its running units; Dask runs them again elsewhere, and
the client takes each unit's result exactly once.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
import uuid
from typing import IO, Any

import numpy as np

from mapfold.connection_graph import make_connection_graph
from mapfold.tasks import TaskSet, plan_tasks

#: Units per worker thread of the cluster: enough that a lost worker or a slow unit costs little.
UNITS_PER_THREAD = 16


@functools.lru_cache(maxsize=4)
def _planned(sides: tuple[int, ...], halved: bool) -> tuple[np.ndarray, TaskSet]:
    """The connection graph and the task list, made once per worker process and map."""
    graph = make_connection_graph(sides)
    return graph, plan_tasks(graph, halved)


def run_unit(sides: tuple[int, ...], halved: bool, symmetric: bool, gate: bool, digest: str, unit_tasks: list[int]) -> list[Any]:
    """Worker side: count the tasks of one unit; ``[(task, completions, centres or None), ...]``.

    ``digest`` is the client's task-list digest: a worker whose plan differs (another mapfold
    version) refuses the unit instead of counting the wrong tasks.
    """
    from mapfold.runner import run_task_subset
    from mapfold.tasks import task_digest

    graph, tasks = _planned(tuple(sides), halved)
    if task_digest(tasks) != digest:
        raise RuntimeError("this worker plans another task list (another mapfold version?)")
    pending = np.asarray(unit_tasks, dtype=np.int64)
    completions, centres = run_task_subset(graph, tasks, pending, halved, 1, symmetric, gate)
    return [
        (int(task), int(completions[index]), None if centres is None else int(centres[index]))
        for index, task in enumerate(pending)
    ]


def count_on_cluster(
    client,
    sides: tuple[int, ...],
    graph: np.ndarray,
    tasks: TaskSet,
    halved: bool,
    symmetric: bool,
    gate: bool,
    journal,
    progress: bool,
    progress_file: IO[str] | None,
    stop_event: threading.Event | None,
) -> tuple[int, int | None, int]:
    """Client side: run the tasks the journal lacks on ``client``'s cluster.

    Returns
    -------
    tuple
        ``(completions, centres or None, tasks_resumed)`` over every task.

    Raises
    ------
    CountInterrupted
        When ``stop_event`` is set: the units are cancelled; finished ones are in the journal.
    """
    from tqdm import tqdm

    from mapfold.estimate import subtree_weights
    from mapfold.runner import CountInterrupted, WorkerError
    from mapfold.tasks import task_digest

    done_completions: dict[int, int] = dict(journal.completions) if journal is not None else {}
    done_centres: dict[int, int | None] = dict(journal.centres) if journal is not None else {}
    resumed = len(done_completions)
    pending = np.array([task for task in range(len(tasks)) if task not in done_completions], dtype=np.int64)
    digest = task_digest(tasks)
    if len(pending):
        probes = max(1, min(8, 200_000 // len(pending)))
        weights = subtree_weights(graph, tasks.leaf_below[pending], tasks.placed_leaves, halved, probes)
        order = np.argsort(-weights, kind="stable")  # largest first: no long unit left for the end
        threads = max(1, sum(client.nthreads().values()))
        unit_count = min(len(pending), UNITS_PER_THREAD * threads)
        # Deal the sorted tasks round-robin, so every unit gets a share of big and small ones.
        units = [order[start::unit_count] for start in range(unit_count)]
        run_id = uuid.uuid4().hex[:12]
        futures = {
            client.submit(
                run_unit,
                tuple(sides),
                halved,
                symmetric,
                gate,
                digest,
                [int(task) for task in pending[unit]],
                key=f"mapfold-unit-{digest[:12]}-{run_id}-{index}",  # never a key of an earlier run's unit
                pure=False,
                retries=2,
            ): float(weights[unit].sum())
            for index, unit in enumerate(units)
        }
        bar = tqdm(
            total=float(weights.sum()),
            file=progress_file if progress_file is not None else sys.stderr,
            disable=not progress,
            unit=" nodes",
            unit_scale=True,
            smoothing=0.0,
            desc="cluster walk (estimated tree nodes)",
        )
        remaining = set(futures)
        try:
            while remaining:
                if stop_event is not None and stop_event.is_set():
                    raise KeyboardInterrupt
                finished = [future for future in remaining if future.done()]
                if not finished:
                    time.sleep(0.05)  # nothing new: look at the stop event again soon
                    continue
                for future in finished:
                    remaining.discard(future)
                    if future.status != "finished":
                        raise WorkerError(f"a unit failed on the cluster: {future.exception()!r}")
                    results = future.result()
                    if journal is not None:
                        journal.record(results)
                    for task, completions, centres in results:
                        done_completions[task] = completions
                        done_centres[task] = centres
                    bar.update(futures[future])
        except BaseException as error:
            client.cancel(list(remaining))
            if isinstance(error, KeyboardInterrupt):
                raise CountInterrupted(len(done_completions), len(tasks)) from None
            raise
        finally:
            bar.close()
    if len(done_completions) != len(tasks):
        raise WorkerError("the cluster left tasks unfinished")
    completions = sum(done_completions.values())
    centres = sum(value or 0 for value in done_centres.values()) if symmetric else None
    return completions, centres, resumed


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
