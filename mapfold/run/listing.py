"""Every folding of a map, in a fixed order, streamed out of the jitted walk: ``iter_foldings``.

How the rows travel
-------------------
The normalised walk (Lunnon's, ``mapfold.walks.lunnon.walk_subtree``) is split into tasks, the
nodes at one depth in walk order (``mapfold.plan.tasks.split_tasks``). Worker threads claim tasks
in that order with an atomic counter and walk each one inside nopython code, pushing every node
that lacks only its last leaf, with the mask of its completions, into their own lane of a
``LeafBelowSender`` (a single-producer ring). There is no consumer thread: the thread that
iterates (the caller of ``iter_foldings``) is the consumer. It takes the lanes' rows in task order
in jitted ``nogil`` code (``_take_in_order``) and expands each node into its foldings, every
rotation of every completion (``mapfold.walks.listing.expand_node``), straight into the array it
hands out. No Python object is made per folding.

Why the order is the same for any number of threads
----------------------------------------------------
A worker publishes, when it claims a task, which lane the task's rows will go to
(``task_lane``), and when it finishes it, how many rows its lane had published by then
(``task_end``). A lane carries its tasks' rows one task after another, in increasing task order
(tasks are claimed in order). So the consumer can emit task 0's rows, then task 1's, and so on:
the rows of the next task are always at the front of its lane, everything before them having
belonged to earlier tasks, already emitted. The concatenation of the tasks in walk order is the
depth-first order of the whole walk, so the listing is the same whatever the split and the threads.

A lane whose tasks are not yet due fills up and its producer waits (the sender's backpressure);
the lanes are large enough that this rarely idles a worker, and memory stays bounded.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence

import numpy as np
from numba import njit

from mapfold.jit.atomics import atomic_add, atomic_load_acquire, atomic_store_release, sleep_microseconds
from mapfold.jit.bits import popcount
from mapfold.plan.tasks import split_tasks
from mapfold.results import WorkerError
from mapfold.run.sender import LeafBelowSender, lane_published, lane_taken, release_rows
from mapfold.shape import ShapeError, counted_sides, format_shape, parse_shape, validate_shape
from mapfold.walks.connection_graph import make_connection_graph
from mapfold.walks.listing import expand_node
from mapfold.walks.lunnon import walk_subtree
from mapfold.walks.pile import WALK_ABORTED, pile_above

#: The most leaves a listed map may have (Lunnon's walk keeps each gap set in one 64-bit word).
LISTED_LEAVES = 64
#: The walk is split into about this many tasks (whatever the threads: the order does not depend
#: on the split, and many small tasks keep every lane's backlog short).
LISTING_TASKS = 4096
#: Nodes each lane holds: a lane this deep lets a worker run far ahead of the task being emitted.
_LANE_SLOTS = 1 << 16
#: Rows per array ``iter_foldings`` yields by default.
DEFAULT_BATCH = 1 << 16
#: ``foldings`` refuses maps with more foldings than this (each is a row of N bytes).
FOLDINGS_LIMIT = 10_000_000
#: The consumer's waits, in microseconds: between looks at empty lanes (doubling up to the
#: longest), how long it waits to fill a batch it has begun, and how long before it goes back to
#: Python with nothing (so that the caller can notice an interrupt or a failed worker).
_WAIT_FIRST = 20
_WAIT_LONGEST = 1000
_PATIENCE_WITH_ROWS = 2000
_PATIENCE_EMPTY = 8000
#: ``_take_in_order``'s answer once every task has been emitted and nothing was written.
_ALL_EMITTED = -1


@njit(nogil=True, cache=True)
def _list_tasks(connection_graph, task_rows, placed_leaves, next_task, stop_flag, sender, lane, task_lane, task_end) -> int:
    """One worker's whole share: claim tasks in order, walk each one, push its nodes on ``lane``.

    ``task_lane[task]`` is published (release) when the task is claimed, ``task_end[task]`` (the
    rows the lane had published when the task ended) when it is done. Returns 0, or
    ``WALK_ABORTED`` once the stop flag is set or the sender gives up.
    """
    leaves_total = task_rows.shape[1] - 1
    leaf_below = np.empty(leaves_total + 1, dtype=np.uint8)
    leaf_above = np.zeros(leaves_total + 1, dtype=np.uint8)
    gap_masks = np.zeros(leaves_total + 2, dtype=np.uint64)
    while True:
        if stop_flag[0] != 0:
            return WALK_ABORTED
        task = atomic_add(next_task, 0, 1)
        if task >= task_rows.shape[0]:
            return 0
        atomic_store_release(task_lane, task, lane)
        leaf_below[:] = task_rows[task]
        pile_above(leaf_below, leaf_above)
        found = walk_subtree(
            connection_graph, leaf_below, leaf_above, placed_leaves, gap_masks, stop_flag, False, sender, lane, False
        )
        if found == WALK_ABORTED:
            return WALK_ABORTED
        atomic_store_release(task_end, task, sender.rows_written(lane))


@njit(nogil=True, cache=True)
def _take_in_order(rows, last_leaf_gaps, cursors, task_lane, task_end, next_emitted, out, cycle, stop_flag) -> int:
    """Expand the lanes' nodes into ``out`` in task order; return the rows written.

    ``next_emitted[0]`` is the first task not yet wholly emitted (moved on here). Returns as soon
    as ``out`` has no room for the next node, after a short wait when the lanes run dry with rows
    in hand, after a longer one with none (0), at once when the stop flag is set, and
    ``_ALL_EMITTED`` when every task is done and emitted.
    """
    leaves_total = rows.shape[1] - 1
    slots = last_leaf_gaps.shape[1]
    tasks_total = task_lane.shape[0]
    written = 0
    waited = 0
    wait = _WAIT_FIRST
    while True:
        if stop_flag[0] != 0:
            return written
        task = next_emitted[0]
        if task >= tasks_total:
            return written if written > 0 else _ALL_EMITTED
        lane = atomic_load_acquire(task_lane, task)
        if lane >= 0:
            # The lane's count first, the task's end second: rows counted before the task was seen
            # unfinished are all the task's own (its next task cannot have begun yet).
            published = lane_published(cursors, lane)
            end = atomic_load_acquire(task_end, task)
            ready_until = end if end >= 0 else published
            read = lane_taken(cursors, lane)
            taken = read
            while taken < ready_until:
                slot = taken & (slots - 1)
                gaps = last_leaf_gaps[lane, slot]
                if written + popcount(gaps) * leaves_total > out.shape[0]:
                    break
                written += expand_node(rows[lane * slots + slot], gaps, cycle, out, written)
                taken += 1
            if taken > read:
                release_rows(cursors, lane, taken)  # the slots are free again
            if taken < ready_until:
                return written  # ``out`` is full
            if end >= 0:
                next_emitted[0] = task + 1
                continue
            if taken > read:
                waited = 0
                wait = _WAIT_FIRST
                continue
        if waited >= (_PATIENCE_WITH_ROWS if written > 0 else _PATIENCE_EMPTY):
            return written
        sleep_microseconds(wait)
        waited += wait
        wait = min(2 * wait, _WAIT_LONGEST)


def resolve_shape(shape: str | Sequence[int]) -> tuple[int, ...]:
    """The sides of ``shape``, text (``"2x5"``) or a sequence of sides; ``ShapeError`` if it is not a map."""
    sides = parse_shape(shape) if isinstance(shape, str) else tuple(shape)
    validate_shape(sides)
    if math.prod(sides) > LISTED_LEAVES:
        # The listing streams Lunnon's walk, whose gap sets are one 64-bit word.
        raise ShapeError(f"shape {format_shape(sides)}: mapfold lists the foldings of maps of at most {LISTED_LEAVES} leaves")
    return sides


class _Listing:
    """One run of the listing: the tasks, the sender's lanes, the worker threads, the consumer's state."""

    def __init__(self, sides: tuple[int, ...], threads: int, capacity: int) -> None:
        counted = counted_sides(sides)
        self.leaves_total = math.prod(counted)
        graph = make_connection_graph(counted)
        self.tasks = split_tasks(graph, 1, False, tasks_per_thread=LISTING_TASKS)
        tasks_total = len(self.tasks)
        self.threads = max(1, min(threads, tasks_total))
        self.stop_flag = np.zeros(1, dtype=np.int64)
        self.sender = LeafBelowSender(
            self.leaves_total + 1, None, lanes=self.threads, slots=_LANE_SLOTS, stop_flag=self.stop_flag
        )
        self.task_lane = np.full(tasks_total, -1, dtype=np.int64)
        self.task_end = np.full(tasks_total, -1, dtype=np.int64)
        self.next_emitted = np.zeros(1, dtype=np.int64)
        self.capacity = max(capacity, self.leaves_total * self.leaves_total)  # room for any node's foldings
        self.cycle = np.zeros(2 * self.leaves_total, dtype=np.uint8)
        self.errors: list[BaseException] = []
        next_task = np.zeros(1, dtype=np.int64)

        def work(lane: int) -> None:
            try:
                _list_tasks(
                    graph,
                    self.tasks.leaf_below,
                    self.tasks.placed_leaves,
                    next_task,
                    self.stop_flag,
                    self.sender,
                    lane,
                    self.task_lane,
                    self.task_end,
                )
            except BaseException as error:  # noqa: BLE001 - raised on the consumer's thread
                self.errors.append(error)
                self.stop_flag[0] = 1

        self.workers = [
            threading.Thread(target=work, args=(lane,), name=f"mapfold-lister-{lane}", daemon=True)
            for lane in range(self.threads)
        ]
        for worker in self.workers:
            worker.start()

    def take(self) -> np.ndarray | None:
        """The next rows in order (possibly none yet), or ``None`` once every folding has been taken."""
        out = np.empty((self.capacity, self.leaves_total), dtype=np.uint8)
        sender = self.sender
        written = _take_in_order(
            sender.rows,
            sender.last_leaf_gaps,
            sender.cursors,
            self.task_lane,
            self.task_end,
            self.next_emitted,
            out,
            self.cycle,
            self.stop_flag,
        )
        if self.errors:
            raise WorkerError(f"a worker thread failed: {self.errors[0]!r}") from self.errors[0]
        if written == _ALL_EMITTED:
            return None
        return out[:written]

    def stop(self) -> None:
        """Stop the workers and wait for them (each sees the stop flag within milliseconds)."""
        self.stop_flag[0] = 1
        for worker in self.workers:
            worker.join()
        self.sender.close()


def iter_foldings(
    shape: str | Sequence[int],
    *,
    limit: int | None = None,
    threads: int | None = None,
    batch: int = DEFAULT_BATCH,
) -> Iterator[np.ndarray]:
    """Every folding of a map, as batches of piles, in a fixed order.

    Parameters
    ----------
    shape
        The map: text such as ``"2x5"`` (one number ``"7"`` is a 1 x 7 strip) or its sides, ``(2, 5)``.
    limit
        Stop after this many foldings (the first ones of the full order); ``None`` for all of them.
    threads
        Worker threads walking the tree; by default the CPUs this process may use. The foldings and
        their order are the same for any number.
    batch
        The most rows in one yielded array.

    Yields
    ------
    numpy.ndarray
        ``uint8`` arrays of shape ``(rows, N)``, ``N`` the map's leaves: each row is one folding,
        the pile read from the top down, leaves numbered ``1 .. N`` with the first side varying
        fastest (leaf ``m`` has coordinate ``(m - 1) // (p1 ... p(i-1)) % pi`` along side ``i``).
        Each array is the caller's to keep.

    Raises
    ------
    ShapeError
        For a shape that is not a map of at most ``MAX_LEAVES`` leaves.
    ValueError
        For a negative ``limit``, or ``threads`` or ``batch`` below 1.

    Notes
    -----
    The order is Lunnon's depth-first walk of the foldings with leaf 1 on top, each one followed
    by its other rotations (the pile turned so that the leaf below leaf 1 is on top, then the next,
    and so on): rows ``k N`` have leaf 1 on top. It depends on the map alone, not on ``threads``
    or ``batch``. Closing the generator (``close()``, or leaving a ``for`` loop and dropping it)
    stops the worker threads and waits for them.

    Examples
    --------
    >>> import mapfold
    >>> sum(len(rows) for rows in mapfold.iter_foldings("2x3"))
    60
    """
    sides = resolve_shape(shape)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a whole number of at least 0, got {limit!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a whole number of at least 1, got {threads!r}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a whole number of at least 1, got {batch!r}")
    return _iterate(sides, limit, threads, batch)


def _iterate(sides: tuple[int, ...], limit: int | None, threads: int | None, batch: int) -> Iterator[np.ndarray]:
    """The generator behind ``iter_foldings`` (its arguments already checked)."""
    remaining = limit
    if remaining == 0:
        return
    leaves_total = math.prod(sides)
    if leaves_total == 1:
        yield np.ones((1, 1), dtype=np.uint8)  # one leaf: one folding, and no walk to run
        return
    if threads is None:
        from mapfold.run.cpus import available_cpus

        threads = available_cpus()
    listing = _Listing(sides, threads, batch)
    try:
        while True:
            rows = listing.take()
            if rows is None:
                return
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                if remaining is not None:
                    chunk = chunk[:remaining]
                    remaining -= len(chunk)
                yield chunk
                if remaining == 0:
                    return
    finally:
        listing.stop()


def foldings(shape: str | Sequence[int], *, threads: int | None = None) -> np.ndarray:
    """Every folding of a small map in one array, in ``iter_foldings``'s order.

    Parameters
    ----------
    shape
        The map: text such as ``"2x3"`` or its sides, ``(2, 3)``.
    threads
        Worker threads; the result is the same for any number.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(foldings, N)``: one folding a row, the pile from the top down.

    Raises
    ------
    ShapeError
        For a shape that is not a map of at most ``MAX_LEAVES`` leaves.
    ValueError
        When the map has more than ``FOLDINGS_LIMIT`` foldings (use ``iter_foldings`` to stream them).

    Examples
    --------
    >>> import mapfold
    >>> mapfold.foldings("1x3").shape
    (6, 3)
    """
    from mapfold.oeis import known_folds

    sides = resolve_shape(shape)
    known = known_folds(counted_sides(sides))
    too_many = f"a {format_shape(sides)} map has more than {FOLDINGS_LIMIT:,} foldings; stream them with iter_foldings"
    if known is not None and known[2] > FOLDINGS_LIMIT:
        raise ValueError(too_many)
    parts: list[np.ndarray] = []
    total = 0
    generator = iter_foldings(sides, limit=FOLDINGS_LIMIT + 1, threads=threads, batch=DEFAULT_BATCH)
    try:
        for rows in generator:
            total += len(rows)
            if total > FOLDINGS_LIMIT:
                raise ValueError(too_many)
            parts.append(rows)
    finally:
        generator.close()
    if not parts:
        return np.zeros((0, math.prod(sides)), dtype=np.uint8)
    return np.concatenate(parts)
