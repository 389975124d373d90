"""How big is a count before it starts: Knuth's random-probe estimator of the walk's tree.

D. E. Knuth, "Estimating the efficiency of backtrack programs", Math. Comp. 29 (1975): walk from a
node down one random path, choosing each child with equal probability, and multiply the numbers of
children met on the way. The product at depth ``k`` is an unbiased estimate of the number of nodes
at depth ``k``; summed over the path it estimates the nodes of the whole subtree, and times the
completions at the second-to-last leaf it estimates the foldings. Many probes, averaged, give the
estimate; their spread gives its standard error.

The probes use the kernel's own gap function (``mapfold.walks.lunnon.usable_gaps``) on the same
normalised, halved walk, so they see exactly the tree the count walks. Time is estimated the same
way with the real kernel: a probe stops at a depth where subtrees take about a millisecond, walks
that subtree with ``walk_subtree`` and times it; the product of children times that time estimates
the time of the whole walk on one thread.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numba import njit

from mapfold.jit.bits import popcount
from mapfold.oeis import known_folds
from mapfold.plan.probe import probe_tree, random_gap
from mapfold.plan.probe_wide import orbit_descend_wide, orbit_probes_wide
from mapfold.shape import counted_sides, validate_shape
from mapfold.walks.connection_graph import make_connection_graph
from mapfold.walks.lunnon import usable_gaps, walk_subtree
from mapfold.walks.orbit import ONE_WORD_LEAVES, orbit_gaps
from mapfold.walks.pile import cycle_above, insert_leaf, pile_above

_ONE = np.uint64(1)
#: Subtrees timed with the real kernel hold about this many nodes (about a millisecond of walk or less).
_TIMED_SUBTREE_NODES = 3.0e4
#: Probes per jitted batch (the Python loop between batches only looks at the clock).
_PROBE_BATCH = 2048


@njit(nogil=True, cache=True)
def _descend(connection_graph, leaf_below, leaf_above, depth, halved) -> float:
    """Put leaves 2 .. ``depth`` on a random path from the root; the product of children, or 0 at a dead end."""
    leaves_total = leaf_below.shape[0] - 1
    leaf_below[:] = 0
    leaf_below[0] = 1
    leaf_below[1] = 0
    pile_above(leaf_below, leaf_above)
    product = 1.0
    for leaf in range(2, depth + 1):
        gaps = usable_gaps(connection_graph, leaf, leaf_below, halved)
        if gaps == 0 or leaf > leaves_total:
            return 0.0
        product *= popcount(gaps)
        insert_leaf(leaf_below, leaf_above, leaf, random_gap(gaps))
    return product


@dataclass(frozen=True)
class Estimate:
    """What ``mapfold estimate`` reports (the fields of its ``--json``)."""

    shape: list[int]
    leaves: int
    folds_estimate: float
    folds_relative_error: float
    nodes_estimate: float
    seconds_estimate: float | None
    seconds_relative_error: float | None
    threads: int
    probes: int
    timed_subtrees: int
    sample_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The estimate as plain JSON-ready values."""
        return asdict(self)


def _tree(shape):
    shape = tuple(shape)
    validate_shape(shape)
    sides = counted_sides(shape)
    leaves_total = int(np.prod(sides)) if sides else 1
    # Lunnon's walk (the only user of the connection graph) keeps one-word masks: 64 leaves at most.
    graph = make_connection_graph(sides) if 1 < leaves_total <= ONE_WORD_LEAVES else None
    return shape, leaves_total, graph


def estimate_count(
    shape: tuple[int, ...] | list[int],
    threads: int = 1,
    seconds: float = 3.0,
    halve: bool = True,
    timed: bool = True,
    seed: int | None = None,
    walk: str = "orbit",
    route: int = 1,
) -> Estimate:
    """Estimate the foldings, the tree nodes and the time of a count, within about ``seconds``.

    Parameters
    ----------
    shape
        The map's sides.
    threads
        Threads the count would use; the time estimate is the one-thread time divided by them.
    seconds
        Rough budget: half for tree probes, half for timing the kernel (all for probes without ``timed``).
    halve
        Estimate the halved walk (the default count's).
    timed
        Also time the real kernel on random subtrees.
    seed
        Seed for numba's generator; ``None``: from the clock.
    walk
        ``"orbit"`` (the default count's walk, ``mapfold.walks.orbit``; ``halve`` does not apply) or
        ``"lunnon"`` (Lunnon's walk, halved with ``halve``; at most 64 leaves).
    route
        The orbit walk's route: 1, or 2 (``walks.group``).

    Returns
    -------
    Estimate
        ``folds_estimate`` counts every folding (as ``folds_total`` does); ``nodes_estimate`` the
        nodes the walk visits; ``seconds_estimate`` the walk time (the symmetric total's mirror walk
        adds about 1%).
    """
    if walk not in ("orbit", "lunnon"):
        raise ValueError(f"walk must be 'orbit' or 'lunnon', got {walk!r}")
    shape, leaves_total, graph = _tree(shape)
    if walk == "lunnon" and leaves_total > ONE_WORD_LEAVES:
        raise ValueError(f"Lunnon's walk counts maps of at most {ONE_WORD_LEAVES} leaves; the orbit walk has no limit")
    if leaves_total < 3:
        # One leaf folds one way, two leaves two ways: nothing to estimate.
        nothing = 0.0 if timed else None
        return Estimate(list(shape), leaves_total, float(leaves_total), 0.0, 1.0, nothing, nothing, threads, 0, 0, 0.0)
    rng_seed = int(seed if seed is not None else time.time_ns() % (1 << 31))
    if walk == "orbit":
        return _estimate_orbit_walk(shape, leaves_total, threads, seconds, timed, rng_seed, route)
    halved = halve and leaves_total >= 3
    started = time.perf_counter()
    probe_budget = seconds / 2 if timed else seconds
    level_sums = np.zeros(leaves_total + 1, dtype=np.float64)
    fold_sums = np.zeros(_PROBE_BATCH, dtype=np.float64)
    root = np.zeros(leaves_total + 1, dtype=np.uint8)
    root[0], root[1] = 1, 0

    def probe_batch(seed: int) -> np.ndarray:
        probe_tree(graph, root, 1, halved, _PROBE_BATCH, seed, level_sums, fold_sums)
        return fold_sums

    probes, mean, folds_relative = _gather_probes(probe_batch, rng_seed, started, probe_budget)
    nodes_by_level = level_sums / probes
    nodes_by_level[1] = 1.0  # the root
    leaf_below = np.zeros(leaves_total + 1, dtype=np.uint8)
    leaf_above = np.zeros(leaves_total + 1, dtype=np.uint8)
    gap_masks = np.zeros(leaves_total + 2, dtype=np.uint64)
    stop_flag = np.zeros(1, dtype=np.int64)

    def descend(depth: int) -> float:
        return _descend(graph, leaf_below, leaf_above, depth, halved)

    def walk_below(depth: int) -> None:
        walk_subtree(graph, leaf_below, leaf_above, depth, gap_masks, stop_flag, halved, None, 0, False)

    timing = _time_subtrees(nodes_by_level, 2, descend, walk_below, seconds - probe_budget) if timed else (None, None, 0)
    # A normalised completion of the halved walk stands for this many foldings.
    scale = leaves_total * (2 if halved else 1)
    return _make_estimate(shape, leaves_total, mean * scale, folds_relative, nodes_by_level, timing, threads, probes, started)


def _gather_probes(probe_batch: Any, rng_seed: int, started: float, budget: float) -> tuple[int, float, float]:
    """Run batches of probes for ``budget`` seconds (at least one batch).

    ``probe_batch(seed)`` runs ``_PROBE_BATCH`` probes (seeding numba's generator when ``seed`` is
    not -1) and returns each probe's fold estimate. Returns the probes run, their mean and its
    relative standard error.
    """
    probes, batch, total, squares = 0, 0, 0.0, 0.0
    while probes == 0 or time.perf_counter() - started < budget:
        fold_sums = probe_batch(rng_seed if batch == 0 else -1)
        batch += 1
        probes += _PROBE_BATCH
        total += float(fold_sums.sum())
        squares += float((fold_sums * fold_sums).sum())
    mean = total / probes
    variance = max(0.0, squares / probes - mean * mean)
    return probes, mean, (math.sqrt(variance / probes) / mean if mean > 0 else 0.0)


def _time_subtrees(
    nodes_by_level: np.ndarray, first_level: int, descend: Any, walk_below: Any, budget: float
) -> tuple[float, float, int]:
    """Time the real walk below random nodes at the depth where subtrees are about a millisecond.

    ``descend(depth)`` puts a random path down to ``depth`` leaves in place and returns its product
    of choices (0 at a dead end); ``walk_below(depth)`` walks the subtree below it. Returns the
    estimated one-thread seconds of the whole walk, its relative standard error and the samples.
    """
    leaves_total = nodes_by_level.shape[0] - 1
    depth = leaves_total - 1
    for level in range(first_level, leaves_total - 1):
        below = float(nodes_by_level[level:].sum()) / max(nodes_by_level[level], 1e-300)
        if below <= _TIMED_SUBTREE_NODES:
            depth = level
            break
    # Load the walk before the clock runs (its first call reads the compiled code from disk).
    if descend(leaves_total - 1) > 0:
        walk_below(leaves_total - 1)
    samples: list[float] = []
    started = time.perf_counter()
    while not samples or time.perf_counter() - started < budget:
        product = descend(depth)
        if product == 0.0:
            samples.append(0.0)
            continue
        tick = time.perf_counter()
        walk_below(depth)
        samples.append(product * (time.perf_counter() - tick))
    values = np.asarray(samples)
    one_thread = float(values.mean())
    relative = float(values.std() / math.sqrt(len(values)) / one_thread) if one_thread > 0 else 0.0
    return one_thread, relative, len(samples)


def _make_estimate(shape, leaves_total, folds, folds_relative, nodes_by_level, timing, threads, probes, started) -> Estimate:
    one_thread, seconds_relative, timed_subtrees = timing
    return Estimate(
        shape=list(shape),
        leaves=leaves_total,
        folds_estimate=folds,
        folds_relative_error=folds_relative,
        nodes_estimate=float(nodes_by_level.sum()),
        seconds_estimate=None if one_thread is None else one_thread / max(1, threads),
        seconds_relative_error=seconds_relative,
        threads=threads,
        probes=probes,
        timed_subtrees=timed_subtrees,
        sample_seconds=round(time.perf_counter() - started, 3),
    )


def _orbit_tasks(sides: tuple[int, ...], route: int = 1, tasks: int = 1) -> Any:
    """The orbit walk's representatives at its reduction depth, split on for ``tasks`` tasks."""
    from mapfold.walks.orbit import make_orbit_plan, split_orbit_tasks

    return split_orbit_tasks(make_orbit_plan(sides, route=route), 1, tasks)


#: The estimate's probes start from the nodes of a split for this many tasks (as a count's list):
#: the levels above are counted exactly, not sampled. 2^7, 2-second estimates (3 seeds each): from
#: the representatives alone 0.35-0.61 of the true fold total; from 4,096 tasks 0.82-1.39.
_ESTIMATE_TASKS = 4096


def _orbit_probe_functions(plan: Any) -> tuple[Any, Any]:
    """``(probes, descend)`` for the plan's walk, each taking ``plan.tables()`` first (one word or wide)."""
    if plan.wide:
        return orbit_probes_wide, orbit_descend_wide

    def probes(tables, *rest):
        return _orbit_probes(*tables, *rest)

    def descend(tables, *rest):
        return _orbit_descend(*tables, *rest)

    return probes, descend


@njit(nogil=True, cache=True)
def _orbit_probes(
    order, neighbours, jumps, constraint_start, prefix_masks, task_rows, weights, placed, probes, seed, level_sums, fold_sums
):
    """Knuth probes of the orbit walk's tree: each from a uniformly chosen task (so the product starts
    at the number of tasks). ``level_sums[k]`` gains the estimate of the nodes with ``k`` leaves
    placed; ``fold_sums[probe]`` the probe's estimate of the weighted complete cycles.
    """
    if seed >= 0:
        np.random.seed(seed)
    leaves_total = task_rows.shape[1]
    leaf_below = np.empty(leaves_total, dtype=np.uint8)
    leaf_above = np.zeros(leaves_total, dtype=np.uint8)
    for probe in range(probes):
        task = np.random.randint(0, task_rows.shape[0])
        leaf_below[:] = task_rows[task]
        cycle_above(leaf_below, leaf_above, order[0])
        product = float(task_rows.shape[0])
        cycles = 0.0
        for position in range(placed, leaves_total):
            gaps = orbit_gaps(order, neighbours, jumps, constraint_start, prefix_masks, position, leaf_below)
            if position == leaves_total - 1:
                cycles = product * popcount(gaps) * weights[task]
                break
            if gaps == 0:
                break
            product *= popcount(gaps)
            level_sums[position + 1] += product
            insert_leaf(leaf_below, leaf_above, order[position], random_gap(gaps))
        fold_sums[probe] = cycles


@njit(nogil=True, cache=True)
def _orbit_descend(
    order, neighbours, jumps, constraint_start, prefix_masks, task_rows, placed, depth, leaf_below, leaf_above
) -> float:
    """A random task, then random gaps down to ``depth`` leaves placed: the product of choices, or 0."""
    task = np.random.randint(0, task_rows.shape[0])
    leaf_below[:] = task_rows[task]
    cycle_above(leaf_below, leaf_above, order[0])
    product = float(task_rows.shape[0])
    for position in range(placed, depth):
        gaps = orbit_gaps(order, neighbours, jumps, constraint_start, prefix_masks, position, leaf_below)
        if gaps == 0:
            return 0.0
        product *= popcount(gaps)
        insert_leaf(leaf_below, leaf_above, order[position], random_gap(gaps))
    return product


def _estimate_orbit_walk(
    shape, leaves_total: int, threads: int, seconds: float, timed: bool, rng_seed: int, route: int = 1
) -> Estimate:
    """``estimate_count`` for the orbit walk: the same estimators over its (reduced) tree."""
    from mapfold.walks.orbit import walk_orbit_subtree
    from mapfold.walks.orbit_wide import walk_orbit_subtree_wide

    started = time.perf_counter()
    tasks = _orbit_tasks(counted_sides(tuple(shape)), route, _ESTIMATE_TASKS)
    plan = tasks.plan
    tables = plan.tables()
    probe_walk, descend_walk = _orbit_probe_functions(plan)
    placed = tasks.placed_leaves
    probe_budget = seconds / 2 if timed else seconds
    level_sums = np.zeros(leaves_total + 1, dtype=np.float64)
    fold_sums = np.zeros(_PROBE_BATCH, dtype=np.float64)
    weights = tasks.weights.astype(np.float64)

    def probe_batch(seed: int) -> np.ndarray:
        probe_walk(tables, tasks.leaf_below, weights, placed, _PROBE_BATCH, seed, level_sums, fold_sums)
        return fold_sums

    probes, mean, folds_relative = _gather_probes(probe_batch, rng_seed, started, probe_budget)
    nodes_by_level = level_sums / probes
    nodes_by_level[placed] = len(tasks)
    leaf_below = np.zeros(leaves_total, dtype=plan.leaf_dtype)
    leaf_above = np.zeros(leaves_total, dtype=plan.leaf_dtype)
    stop_flag = np.zeros(1, dtype=np.int64)
    if plan.wide:
        words = plan.prefix_masks.shape[1]
        gap_masks = np.zeros((leaves_total, words), dtype=np.uint64)
        scratch = np.zeros((2, words), dtype=np.uint64)
    else:
        gap_masks = np.zeros(leaves_total + 1, dtype=np.uint64)

    def descend(depth: int) -> float:
        return descend_walk(tables, tasks.leaf_below, placed, depth, leaf_below, leaf_above)

    def walk_below(depth: int) -> None:
        if plan.wide:
            walk_orbit_subtree_wide(tables, leaf_below, leaf_above, depth, gap_masks, scratch, stop_flag)
        else:
            walk_orbit_subtree(*tables, leaf_below, leaf_above, depth, gap_masks, stop_flag)

    timing = _time_subtrees(nodes_by_level, placed, descend, walk_below, seconds - probe_budget) if timed else (None, None, 0)
    # The probes estimate weighted complete cycles; each cycle is ``N`` foldings.
    return _make_estimate(
        shape, leaves_total, mean * leaves_total, folds_relative, nodes_by_level, timing, threads, probes, started
    )


#: A count of at most this many foldings never takes ten minutes: the orbit walk gives 1.4e10 foldings
#: a second on 2 threads of the development machine on 6x6, its slowest family per folding, and more
#: on strips and cubes; 1e12 is about 70 s there, under 10 minutes even on one thread of a machine
#: four times slower. ``likely_over`` does not probe such a map.
_FOLDS_NEVER_LONG = 10**12
#: A floor on the walk's speed on one thread (nodes per second; this machine does 2e7 to 6e7): a
#: tree smaller than this times the limit cannot take longer, so ``likely_over`` stops there.
_SLOWEST_NODES_PER_SECOND = 5.0e6
_QUICK_PROBES = 512


def likely_over(shape: tuple[int, ...] | list[int], threads: int | None, seconds: float) -> float | None:
    """The estimated time of a count when it is likely over ``seconds``, else ``None``; cheap for small maps.

    A few hundred probes (a millisecond) bound the tree; only a tree that could take that long gets
    the one-second timed estimate.
    """
    from mapfold.run.cpus import available_cpus

    shape, leaves_total, _ = _tree(shape)
    if leaves_total < 3:
        return None
    known = known_folds(counted_sides(tuple(shape)))
    if known is not None and known[2] <= _FOLDS_NEVER_LONG and seconds >= 600:
        # No probe at all (it loads the estimator's compiled code: 0.2 s of a 0.9 s `count 2x5`).
        return None
    threads = threads if threads is not None else available_cpus()
    # The default count's walk: the orbit walk's tree.
    tasks = _orbit_tasks(counted_sides(tuple(shape)))
    plan = tasks.plan
    level_sums = np.zeros(leaves_total + 1, dtype=np.float64)
    probe_walk, _ = _orbit_probe_functions(plan)
    probe_walk(
        plan.tables(),
        tasks.leaf_below,
        tasks.weights.astype(np.float64),
        tasks.placed_leaves,
        _QUICK_PROBES,
        7,
        level_sums,
        np.zeros(_QUICK_PROBES),
    )
    nodes = len(tasks) + float(level_sums.sum()) / _QUICK_PROBES
    if nodes / threads < _SLOWEST_NODES_PER_SECOND * seconds / 10:  # a margin for a poor quick estimate
        return None
    estimate = estimate_count(shape, threads=threads, seconds=1.0)
    if estimate.seconds_estimate is not None and estimate.seconds_estimate > seconds:
        return estimate.seconds_estimate
    return None
