"""Splitting the tree into independent tasks: the nodes at one depth of the walk.

A task is the pile after the first ``depth`` leaves are placed (stored as its ``leaf_below`` row).
The subtrees below distinct nodes of one depth are disjoint and together hold every folding, so the
tasks divide the work without repeating any of it (unlike Lunnon's res/mod split, where every part
walks the whole tree above the split leaf again).

The depth is chosen from the tree itself, never from the number of threads (a checkpoint journal
names tasks by their place in the list, and a resumed run may use other threads or machines):
``plan_tasks`` goes one leaf deeper until there are at least ``MIN_TASKS`` tasks (enough for every
thread of a large machine to stay busy to the end) and, for big trees, until a task holds on average
at most ``MAX_NODES_PER_TASK`` nodes of the walk (seconds of work), as estimated by a fixed number of
seeded Knuth probes (``mapfold.estimate``), so the same map always gets the same list. The list is
capped at ``MAX_TASKS`` rows. ``split_tasks`` (tasks per thread) is kept for experiments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from mapfold.jit.bits import lowest_bit_index, popcount
from mapfold.limits import CLUSTER_TASKS_PER_THREAD, MAX_TASKS, MIN_TASKS
from mapfold.walks.lunnon import usable_gaps
from mapfold.walks.pile import insert_leaf, pile_above

#: Tasks wanted per worker thread before the splitter stops going deeper.
TASKS_PER_THREAD = 64
#: ... and deeper while the average task holds more nodes than this (about 10-60 s of one thread).
MAX_NODES_PER_TASK = 2.0e9
#: ... and never past this many bytes of task rows (a map of 1,024 leaves: 131,072 tasks).
MAX_TASK_BYTES = 256 << 20


def cluster_min_tasks(threads: int) -> int:
    """The fewest orbit tasks a count on ``threads`` cluster threads plans: ``MIN_TASKS``, or 32 a thread."""
    return min(MAX_TASKS, max(MIN_TASKS, CLUSTER_TASKS_PER_THREAD * threads))


#: Seeded probes behind the depth choice: fixed, so the plan is the same on every run.
_PLAN_PROBES = 4096
_PLAN_SEED = 20260101

_ONE = np.uint64(1)


@dataclass(frozen=True)
class TaskSet:
    """Nodes of the walk at one depth; each row of ``leaf_below`` is one task's pile."""

    leaf_below: np.ndarray
    placed_leaves: int

    def __len__(self) -> int:
        return int(self.leaf_below.shape[0])


@njit(nogil=True, cache=True)
def _children(connection_graph: np.ndarray, nodes: np.ndarray, placed_leaves: int, halved: bool) -> np.ndarray:
    """Every node one leaf deeper than ``nodes``: ``placed_leaves + 1`` placed, in walk order."""
    leaves_total = nodes.shape[1] - 1
    leaf = placed_leaves + 1
    child_counts = np.zeros(nodes.shape[0], dtype=np.int64)
    gap_sets = np.zeros(nodes.shape[0], dtype=np.uint64)
    for row in range(nodes.shape[0]):
        gap_sets[row] = usable_gaps(connection_graph, leaf, nodes[row], halved)
        child_counts[row] = popcount(gap_sets[row])
    children = np.zeros((child_counts.sum(), leaves_total + 1), dtype=nodes.dtype)
    leaf_below = np.zeros(leaves_total + 1, dtype=nodes.dtype)
    leaf_above = np.zeros(leaves_total + 1, dtype=nodes.dtype)
    child = 0
    for row in range(nodes.shape[0]):
        gaps = gap_sets[row]
        while gaps != 0:
            gap = lowest_bit_index(gaps)
            gaps &= gaps - _ONE
            leaf_below[:] = nodes[row]
            pile_above(leaf_below, leaf_above)
            insert_leaf(leaf_below, leaf_above, leaf, gap)
            children[child] = leaf_below
            child += 1
    return children


def root_node(leaves_total: int) -> np.ndarray:
    """The pile holding leaf 1 alone, just below the sentinel: the root of the normalised walk."""
    root = np.zeros((1, leaves_total + 1), dtype=np.uint8)
    root[0, 0] = 1
    root[0, 1] = 0
    return root


def split_tasks(connection_graph: np.ndarray, threads: int, halved: bool, tasks_per_thread: int = TASKS_PER_THREAD) -> TaskSet:
    """Choose a split depth and list its nodes.

    Parameters
    ----------
    connection_graph
        From ``make_connection_graph`` (at least 2 leaves).
    threads
        Worker threads that will share the tasks.
    halved
        Split the halved walk (leaf 3 below leaf 2 only); see ``mapfold.walks.lunnon``.
    tasks_per_thread
        Go deeper until there are at least this many tasks per thread, or only the last leaf is
        left to place.

    Returns
    -------
    TaskSet
        The nodes at the chosen depth (possibly none, when the map has no folding at that depth).
    """
    leaves_total = connection_graph.shape[1] - 1
    wanted = max(1, threads) * tasks_per_thread
    nodes = root_node(leaves_total)
    placed_leaves = 1
    while len(nodes) < wanted and placed_leaves < leaves_total - 1:
        deeper = _children(connection_graph, nodes, placed_leaves, halved)
        if len(deeper) == 0:
            break  # nothing below: the current (dead) nodes are the whole, trivial, tree
        nodes = deeper
        placed_leaves += 1
    return TaskSet(leaf_below=nodes, placed_leaves=placed_leaves)


def plan_tasks(connection_graph: np.ndarray, halved: bool, min_tasks: int = MIN_TASKS) -> TaskSet:
    """The deterministic task list: the same for every thread count, machine and run.

    Parameters
    ----------
    connection_graph
        From ``make_connection_graph`` (at least 2 leaves).
    halved
        Split the halved walk (leaf 3 below leaf 2 only); see ``mapfold.walks.lunnon``.
    min_tasks
        Go deeper until there are at least this many tasks (or only the last leaf is left).

    Returns
    -------
    TaskSet
        The nodes at the chosen depth; see the module docstring for how it is chosen.
    """
    from mapfold.plan.probe import probe_tree

    leaves_total = connection_graph.shape[1] - 1
    nodes = root_node(leaves_total)
    level_sums = np.zeros(leaves_total + 1, dtype=np.float64)
    probe_tree(connection_graph, nodes[0], 1, halved, _PLAN_PROBES, _PLAN_SEED, level_sums, np.zeros(_PLAN_PROBES))
    nodes_by_level = level_sums / _PLAN_PROBES
    placed_leaves = 1
    while placed_leaves < leaves_total - 1:
        nodes_below = float(nodes_by_level[placed_leaves + 1 :].sum())
        too_big = nodes_below / max(1, len(nodes)) > MAX_NODES_PER_TASK
        if len(nodes) >= min_tasks and not too_big:
            break
        if len(nodes) * max(1.0, nodes_by_level[placed_leaves + 1] / max(nodes_by_level[placed_leaves], 1.0)) > MAX_TASKS:
            break
        deeper = _children(connection_graph, nodes, placed_leaves, halved)
        if len(deeper) == 0 or len(deeper) > MAX_TASKS:
            break
        nodes = deeper
        placed_leaves += 1
    return TaskSet(leaf_below=nodes, placed_leaves=placed_leaves)


#: The mirror walk's deterministic task list: the first depth with at least this many nodes. The
#: walk is about 1% of a count, so its tasks only need to be many enough to share out. Alone
#: (``--symmetric-only``) it is the whole count: 1,570 tasks for a strip keep a few dozen
#: threads busy to the end, not a large cluster (a deeper list would change every journal's digest).
MIRROR_TASKS = 1024
#: Seeded probes per orbit task behind ``plan_orbit_tasks``'s depth choice.
_ORBIT_PLAN_PROBES = 4


def plan_orbit_tasks(
    sides: tuple[int, ...], min_tasks: int = MIN_TASKS, route: int = 1, corner_orbit: bool | None = None, **plan_options: Any
) -> Any:
    """The orbit walk's deterministic task list (``walks.orbit.OrbitTasks``): the same on every run.

    ``split_orbit_tasks`` for ``min_tasks`` tasks, whatever the threads; then, for big trees, one
    leaf deeper at a time while a task holds on average more than ``MAX_NODES_PER_TASK`` nodes of
    the walk (seeded probes, ``plan.probe.orbit_subtree_weights``), capped at ``MAX_TASKS`` tasks.
    Deeper tasks keep their ancestor's orbit weight.

    Parameters
    ----------
    sides
        The map's counted sides (at least 2 leaves).
    min_tasks
        Split for at least this many tasks.
    route
        1, or 2 for the second, independent route (``walks.group``): other trees, other orbits.
    corner_orbit
        As for ``walks.orbit.split_orbit_tasks`` (``None``: only where ``2^d``'s first orbit is too
        big to list).
    plan_options
        ``wide``, ``shift``, ``leaf_dtype`` for ``walks.orbit.make_orbit_plan`` (the tests force
        the wide path on small maps; a count chooses it past 64 leaves).

    Returns
    -------
    OrbitTasks
    """
    import dataclasses

    from mapfold.plan.probe import orbit_subtree_weights
    from mapfold.walks.orbit import make_orbit_plan, orbit_children, split_orbit_tasks

    plan = make_orbit_plan(tuple(sides), route=route, **plan_options)
    tasks = split_orbit_tasks(plan, 1, min_tasks, corner_orbit=corner_orbit)
    # On big maps the rows bound the list as much as their number does.
    max_tasks = min(MAX_TASKS, MAX_TASK_BYTES // (tasks.plan.leaves_total * tasks.plan.leaf_dtype.itemsize))
    while tasks.placed_leaves < tasks.plan.leaves_total - 1 and len(tasks) > 0:
        nodes = orbit_subtree_weights(tasks.plan, tasks.leaf_below, tasks.placed_leaves, _ORBIT_PLAN_PROBES)
        # Kept with the list: the fronts deal, order and weigh the tasks by it without probing again.
        tasks = dataclasses.replace(tasks, estimated_nodes=nodes)
        if float(nodes.sum()) / len(tasks) <= MAX_NODES_PER_TASK:
            break
        deeper, counts = orbit_children(tasks.plan, tasks.leaf_below, tasks.placed_leaves, max_tasks)
        if len(deeper) == 0 or len(deeper) > max_tasks:
            break
        tasks = dataclasses.replace(
            tasks,
            leaf_below=deeper,
            weights=np.repeat(tasks.weights, counts),
            placed_leaves=tasks.placed_leaves + 1,
            estimated_nodes=None,
        )
    return tasks


def plan_mirror_tasks(sides: tuple[int, ...], **plan_options: Any) -> Any:
    """The mirror walk's deterministic task list (``walks.mirror.MirrorTasks``): the same on every run.

    ``plan_options`` as for ``plan_orbit_tasks`` (the mirror walk has one route).
    """
    from mapfold.walks.mirror import split_mirror_tasks

    return split_mirror_tasks(tuple(sides), MIRROR_TASKS, **plan_options)


def _leaf_bytes(rows: np.ndarray) -> bytes:
    """The bytes a digest reads: one a leaf for ``uint8`` rows (as ever), two (little-endian) for ``uint16``."""
    if rows.dtype == np.uint8:
        return np.ascontiguousarray(rows, dtype=np.uint8).tobytes()
    return np.ascontiguousarray(rows, dtype="<u2").tobytes()


def orbit_task_digest(tasks: Any) -> str:
    """SHA-256 of an orbit task list: the insertion order, the depth, every row and every orbit weight, in order."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(f"orbit:{tasks.placed_leaves}:{tasks.leaf_below.shape[0]}:{tasks.leaf_below.shape[1]}:".encode())
    digest.update(_leaf_bytes(tasks.plan.order))
    digest.update(_leaf_bytes(tasks.leaf_below))
    digest.update(np.ascontiguousarray(tasks.weights, dtype="<i8").tobytes())
    return digest.hexdigest()


def mirror_task_digest(tasks: Any) -> str:
    """SHA-256 of a mirror task list (``None`` digests as no list): order, depth and every row."""
    import hashlib

    digest = hashlib.sha256()
    if tasks is None:
        digest.update(b"mirror:none")
        return digest.hexdigest()
    digest.update(f"mirror:{tasks.placed_leaves}:{tasks.leaf_below.shape[0]}:{tasks.leaf_below.shape[1]}:".encode())
    digest.update(_leaf_bytes(tasks.plan.order))
    digest.update(_leaf_bytes(tasks.leaf_below))
    return digest.hexdigest()
