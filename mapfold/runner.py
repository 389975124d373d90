"""Where a count runs, in one import: the names that used to live here, now split by what they are.

- ``mapfold.unit_runner``: the jitted worker loop over a list of tasks and the threads that run it;
- ``mapfold.local_front``: ``count_folds`` on this machine's threads (or, with ``client``, on Dask);
- ``mapfold.dask_front``: the Dask front (units, ``run_unit`` on the workers, the client's loop);
- ``mapfold.results``: ``CountResult``, ``SenderCounts`` and the errors.
"""

from __future__ import annotations

from mapfold.cpus import available_cpus
from mapfold.local_front import THREADS_PER_CPU_CAP, a007822_index, count_folds, worker_threads
from mapfold.results import CountInterrupted, CountResult, SenderCounts, WorkerError
from mapfold.unit_runner import run_task_subset

__all__ = [
    "CountInterrupted",
    "THREADS_PER_CPU_CAP",
    "CountResult",
    "SenderCounts",
    "WorkerError",
    "a007822_index",
    "available_cpus",
    "count_folds",
    "run_task_subset",
    "worker_threads",
]
