"""The numbers that bound a count, in a module that imports nothing heavy.

The command line shows them in ``--help`` and checks options against them before numba is loaded;
the planner, the sender and the runners use the same values.
"""

from __future__ import annotations

#: The deterministic orbit task list goes at least this deep: tasks for 64 threads x 64.
MIN_TASKS = 4096
#: ... but never past this many tasks (each is a row of the pile and a journal line).
MAX_TASKS = 1 << 21
#: A cluster count plans at least this many orbit tasks per worker thread (``plan.tasks.cluster_min_tasks``):
#: the largest task bounds a cluster's run, and a deeper list holds smaller ones (6 x 6, each task
#: timed alone: the largest of 6,291 tasks is 1.1% of the work, the largest of 121,589 is 0.17%),
#: for 5-10% more walking.
CLUSTER_TASKS_PER_THREAD = 32
#: The most memory the sender's lanes take, whatever the threads (``run.sender.lane_slots``).
SENDER_MAX_BYTES = 64 << 20
#: Worker threads beyond this many per usable CPU (and beyond 64) only slow a run: thousands of
#: runnable threads on a few cores spend their time queueing for the GIL and the CPUs. More are run
#: as this many; the totals never depend on the thread count.
THREADS_PER_CPU_CAP = 32
#: More threads than this is a typo, not a machine: each one gets its own stack and sender lane.
MAX_THREADS = 4096
