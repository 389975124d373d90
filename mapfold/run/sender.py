"""``LeafBelowSender``: hand piles out of jitted ``nogil`` code to a Python consumer thread.

Worker threads walking a tree inside nopython code call
``sender.push(lane, leaf_below, last_leaf_gaps)`` with a pile that lacks only its last leaf and the
gaps where that leaf completes it (the mirror walk sends each folding it builds so; Lunnon's walk
sends the nodes its gate lets through); a consumer thread takes what they pushed in batches and hands each batch to a handler (a
Python callable that calls a jitted ``nogil`` function, so one Python call serves thousands of
piles). No object mode is involved: the sender is a numba extension type whose native form is five
numpy arrays.

Lanes: one single-producer ring per worker
------------------------------------------
Each worker owns a lane (its index), a fixed ring of ``slots`` rows (bounded memory) that only it
writes and only the consumer reads. Each lane has two counters that only grow: ``written`` (rows
the producer has published) and ``read`` (rows the consumer has taken), on separate cache lines.

- The producer writes the row into slot ``written % slots``, then *releases* ``written + 1``: a
  row is published only after it is whole, so the consumer can never read half an array.
- The consumer *acquires* ``written``, copies rows ``read .. written - 1`` out, then *releases*
  ``read``: a slot is reused only after it has been read, so rows are never overwritten unread.
- ``written - read == slots`` means the lane is full: the producer sleeps (leaving its core to
  the consumer) and looks again (backpressure), each sleep twice as long as the last up to a
  millisecond, so that many waiting producers on few cores do not starve the consumer they wait
  for. It gives up, ``push`` returning ``False`` and the producer's walk stopping, as soon as the
  consumer has failed or the run's stop flag is set.

Memory: the lanes together hold at most ``max_bytes`` (default 64 MiB) whatever the number of
lanes: with many lanes, each gets fewer slots (at least ``_MIN_SLOTS``).

Why lanes rather than one shared ring: with a single producer per ring a push needs no
compare-and-swap and no shared counter, so it costs a copy of the row and one ordinary store;
producers never contend with each other, only with the consumer, once per batch.

Every pushed row is therefore consumed exactly once, whole, in order within its lane. ``pushed``
and ``consumed`` can be read after the run; after ``close()`` they are equal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from numba import from_dtype as numba_from_dtype
from numba import njit, types
from numba.core import cgutils
from numba.core.boxing import unbox_array
from numba.extending import (
    NativeValue,
    make_attribute_wrapper,
    models,
    overload_method,
    register_model,
    typeof_impl,
    unbox,
)

from mapfold.jit.atomics import atomic_load_acquire, atomic_store_release, copy_row, sleep_microseconds
from mapfold.limits import SENDER_MAX_BYTES

# Per-lane counters at ``cursors[lane * _CURSOR_WIDTH + counter]`` (flat, so the atomics index one
# element of a one-dimensional array): written and read on separate 64-byte cache lines, so the
# producer's stores and the consumer's stores never fight over one line.
_WRITTEN = 0  # rows the lane's producer has published
_READ_SEEN = 1  # the producer's last look at _READ (its own line: it need not look every push)
_READ = 8  # rows the consumer has taken from the lane
_CURSOR_WIDTH = 16

# Shared flags in ``state``.
_FAILED = 0  # non-zero once the consumer has failed: producers stop waiting for room
_FINISHING = 1  # non-zero once every producer has returned: the consumer stops waiting for rows
_STATE_SIZE = 8

#: How long a producer that found its lane full first sleeps before it looks again, and the
#: longest it sleeps between looks (the sleep doubles while the lane stays full).
_FULL_LANE_WAIT_MICROSECONDS = 20
_FULL_LANE_LONGEST_WAIT_MICROSECONDS = 1000
#: The most memory the lanes take together, and the fewest slots a lane gets to stay under it.
DEFAULT_MAX_BYTES = SENDER_MAX_BYTES
_MIN_SLOTS = 16
#: How long ``abandon`` waits for the consumer to put down the batch in hand.
_ABANDON_PATIENCE_SECONDS = 0.2
#: How long the consumer sleeps between looks at empty lanes (first, and at most: the wait doubles
#: while the lanes stay empty, so a consumer with little to do, as behind the kernel's gate, costs
#: the workers almost no CPU, while a busy one looks again within microseconds), and how long it
#: keeps looking (without the GIL) before it goes back to Python to check whether the run is
#: finishing.
_EMPTY_WAIT_MICROSECONDS = 20
_EMPTY_WAIT_MAX_MICROSECONDS = 1000
_EMPTY_PATIENCE_MICROSECONDS = 8000
#: The consumer prefers to wait for this many rows before taking any: each look at a lane moves
#: cache lines between cores, so fewer, larger batches cost the producers less.
_PREFERRED_BATCH = 256

#: A batch handler: receives ``(rows, last_leaf_gaps)`` for the rows taken in one batch.
BatchHandler = Callable[[np.ndarray, np.ndarray], None]


class SenderError(RuntimeError):
    """The consumer thread failed; the run's results are not to be trusted."""


class LeafBelowSender:
    """Single-producer rings (lanes) carrying ``leaf_below`` rows from jitted workers to a consumer thread.

    Parameters
    ----------
    width
        Length of every pushed row (``leaves_total + 1`` for a ``leaf_below`` array).
    handler
        Called on the consumer thread with each batch: ``handler(rows, last_leaf_gaps)``, a
        ``uint8`` array of shape ``(taken, width)`` and a ``uint64`` array of length ``taken``. The
        arrays are reused for the next batch, so the handler must not keep them. ``None`` starts
        no consumer thread: the owner takes the rows itself, from ``rows``, ``last_leaf_gaps`` and
        ``cursors``, by the same protocol (``mapfold.run.listing`` takes them in task order).
    lanes
        Producers: each pushes to its own lane, ``0 .. lanes - 1``, and no two push to one lane.
    slots
        Rows each lane holds (rounded up to a power of two); a producer waits when its lane is full.
        Lowered (to a power of two, at least 16) when the lanes would take more than ``max_bytes``.
    batch
        The most rows handed to the handler at once.
    max_bytes
        The most memory the lanes' rows may take together.
    stop_flag
        A one-element ``int64`` array; once it is non-zero, producers waiting for room give up
        (``push`` returns ``False``). The runner passes its own, so an interrupt reaches them.
    dtype
        The rows' type: ``np.uint8`` (up to 255 leaves), or ``np.uint16`` for bigger maps.

    Notes
    -----
    Use it as a context manager (or call ``close()``) once every producer has returned: ``close``
    lets the consumer drain what is left, joins it, and raises ``SenderError`` if it failed.
    """

    def __init__(
        self,
        width: int,
        handler: BatchHandler | None,
        lanes: int = 1,
        slots: int = 8192,
        batch: int = 4096,
        max_bytes: int = DEFAULT_MAX_BYTES,
        stop_flag: np.ndarray | None = None,
        dtype: type = np.uint8,
    ) -> None:
        if width < 1 or lanes < 1 or slots < 1 or batch < 1:
            raise ValueError("width, lanes, slots and batch must be positive")
        slots = lane_slots(width * np.dtype(dtype).itemsize, lanes, slots, max_bytes)
        self.rows = np.zeros((lanes * slots, width), dtype=dtype)  # lane ``l`` is rows l*slots .. (l+1)*slots-1
        self.last_leaf_gaps = np.zeros((lanes, slots), dtype=np.uint64)
        self.cursors = np.zeros(lanes * _CURSOR_WIDTH, dtype=np.int64)
        self.state = np.zeros(_STATE_SIZE, dtype=np.int64)
        self.stop_flag = np.zeros(1, dtype=np.int64) if stop_flag is None else stop_flag
        self._batch_rows = np.zeros((batch, width), dtype=dtype)
        self._batch_gaps = np.zeros(batch, dtype=np.uint64)
        self._handler = handler
        self._finishing = threading.Event()
        self._abandoning = threading.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._consumer: threading.Thread | None = None
        if handler is not None:
            self._consumer = threading.Thread(target=self._consume, name="mapfold-consumer", daemon=True)
            self._consumer.start()

    @property
    def lanes(self) -> int:
        """Producers the sender was made for."""
        return int(self.last_leaf_gaps.shape[0])

    @property
    def slots(self) -> int:
        """Rows all the lanes hold together."""
        return int(self.rows.shape[0])

    @property
    def pushed(self) -> int:
        """Rows producers have published."""
        return int(self.cursors[_WRITTEN::_CURSOR_WIDTH].sum())

    @property
    def consumed(self) -> int:
        """Rows the consumer has taken and handed on."""
        return int(self.cursors[_READ::_CURSOR_WIDTH].sum())

    @property
    def failed(self) -> bool:
        """Whether the consumer thread has stopped with an error."""
        return self._error is not None

    def _consume(self) -> None:
        try:
            while not self._abandoning.is_set():
                # Read the flag before looking at the lanes: if it was already set, every producer
                # had returned, so empty lanes now mean nothing more will come.
                finishing = self._finishing.is_set()
                taken = _take_ready(self.rows, self.last_leaf_gaps, self.cursors, self.state, self._batch_rows, self._batch_gaps)
                if taken:
                    self._handler(self._batch_rows[:taken], self._batch_gaps[:taken])
                elif finishing:
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the thread that calls close()
            self._error = error
            self.state[_FAILED] = 1  # producers waiting for room give up instead of hanging

    def check(self) -> None:
        """Raise ``SenderError`` now if the consumer has failed."""
        if self._error is not None:
            raise SenderError(f"the consumer thread failed: {self._error!r}") from self._error

    def rows_taken(self) -> np.ndarray:
        """Rows the consumer has taken from each lane (a live view, one ``int64`` per lane).

        The consumer moves a lane's count before it hands the batch to the handler, and only it
        moves them: read inside the handler, every row up to these counts has been handled.
        """
        return self.cursors[_READ::_CURSOR_WIDTH]

    def close(self) -> None:
        """Drain every pushed row, join the consumer, and raise ``SenderError`` if it failed.

        Call it after the producers have returned. Calling it again does nothing more.
        """
        if not self._closed:
            self._closed = True
            self._finishing.set()
            self.state[_FINISHING] = 1  # a consumer waiting for rows inside _take_ready gives up at once
            if self._consumer is not None:
                self._consumer.join()
        self.check()

    def abandon(self) -> None:
        """Stop the consumer without handing on what is still buffered (the run has no total anyway).

        For the interrupt and failure paths: it never raises, and returns once the consumer has
        finished the batch in hand or after a moment, whichever is first (the consumer then stops
        on its own); producers still running give up waiting for room.
        """
        self.stop_flag[0] = 1
        self._abandoning.set()
        if not self._closed:
            self._closed = True
            self._finishing.set()
            self.state[_FINISHING] = 1  # a consumer waiting for rows inside _take_ready gives up at once
            # A batch in hand is not cut short; past a moment it finishes in the background.
            if self._consumer is not None:
                self._consumer.join(_ABANDON_PATIENCE_SECONDS)

    def __enter__(self) -> LeafBelowSender:
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        if exc_type is None:
            self.close()
            return
        # Already failing: stop the consumer without draining, and let the first error be the one reported.
        self.abandon()


def lane_slots(width: int, lanes: int, slots: int, max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """Slots per lane: ``slots`` rounded up to a power of two, lowered to keep the lanes within ``max_bytes``."""
    slots = 1 << (slots - 1).bit_length()  # a power of two: the slot is a mask, not a division
    bytes_per_slot = width + np.dtype(np.uint64).itemsize  # the row and its last-leaf gap mask
    affordable = max(_MIN_SLOTS, max_bytes // (lanes * bytes_per_slot))
    while slots > affordable:
        slots //= 2
    return slots


@njit(nogil=True, cache=True)
def _take_ready(
    rows: np.ndarray,
    last_leaf_gaps: np.ndarray,
    cursors: np.ndarray,
    state: np.ndarray,
    batch_rows: np.ndarray,
    batch_gaps: np.ndarray,
) -> int:
    """Copy published rows out of every lane (at most a batch), free their slots; return how many.

    It waits a little, without the GIL, for a worthwhile batch (so that a busy run is not slowed by
    a consumer asleep in Python, nor by one snatching rows one at a time); it returns what there is
    when its patience runs out, possibly nothing.
    """
    lanes = last_leaf_gaps.shape[0]
    slots = last_leaf_gaps.shape[1]
    worthwhile = min(_PREFERRED_BATCH, batch_rows.shape[0], max(1, lanes * slots // 2))
    waited = 0
    wait = _EMPTY_WAIT_MICROSECONDS
    while True:
        ready = 0
        for lane in range(lanes):
            base = lane * _CURSOR_WIDTH
            ready += atomic_load_acquire(cursors, base + _WRITTEN) - cursors[base + _READ]
        if ready >= worthwhile or (ready > 0 and waited >= _EMPTY_PATIENCE_MICROSECONDS // 8):
            break
        if waited >= _EMPTY_PATIENCE_MICROSECONDS or atomic_load_acquire(state, _FINISHING) != 0:
            if ready > 0:
                break  # take the last rows now rather than wait for a batch that will not come
            return 0
        sleep_microseconds(wait)
        waited += wait
        wait = min(2 * wait, _EMPTY_WAIT_MAX_MICROSECONDS)
    taken = 0
    for lane in range(lanes):
        base = lane * _CURSOR_WIDTH
        read = cursors[base + _READ]
        written = atomic_load_acquire(cursors, base + _WRITTEN)
        while read < written and taken < batch_rows.shape[0]:
            slot = read & (slots - 1)
            for index in range(rows.shape[1]):  # element by element: a row view would cost a refcount pair
                batch_rows[taken, index] = rows[lane * slots + slot, index]
            batch_gaps[taken] = last_leaf_gaps[lane, slot]
            read += 1
            taken += 1
        atomic_store_release(cursors, base + _READ, read)  # the slots are free again
    return taken


# ---------------------------------------------------------------------------------------------
# The numba side: what a LeafBelowSender is inside nopython code.


class LeafBelowSenderType(types.Type):
    """Numba type of a ``LeafBelowSender``: its lanes' arrays, nothing of the Python object.

    One type per row dtype: ``uint8`` rows (maps of up to 255 leaves) compile to the same code as
    ever; ``uint16`` rows carry bigger maps.
    """

    def __init__(self, row_dtype=types.uint8) -> None:
        self.row_dtype = row_dtype
        super().__init__(name="LeafBelowSender" if row_dtype == types.uint8 else f"LeafBelowSender[{row_dtype}]")


leaf_below_sender_type = LeafBelowSenderType()


def _members(sender_type: LeafBelowSenderType) -> list:
    return [
        ("rows", types.Array(sender_type.row_dtype, 2, "C")),
        ("last_leaf_gaps", types.Array(types.uint64, 2, "C")),
        ("cursors", types.Array(types.int64, 1, "C")),
        ("state", types.Array(types.int64, 1, "C")),
        ("stop_flag", types.Array(types.int64, 1, "C")),
    ]


_MEMBERS = _members(leaf_below_sender_type)


@typeof_impl.register(LeafBelowSender)
def _typeof_sender(value, context) -> LeafBelowSenderType:
    if value.rows.dtype == np.uint8:
        return leaf_below_sender_type
    return LeafBelowSenderType(numba_from_dtype(value.rows.dtype))


@register_model(LeafBelowSenderType)
class _LeafBelowSenderModel(models.StructModel):
    def __init__(self, dmm, fe_type) -> None:
        super().__init__(dmm, fe_type, _members(fe_type))


for _name, _ in _MEMBERS:
    make_attribute_wrapper(LeafBelowSenderType, _name, _name)


@unbox(LeafBelowSenderType)
def _unbox_sender(typ, obj, c) -> NativeValue:
    """Native form of a sender: its five arrays, borrowed from the Python object that owns them."""
    sender = cgutils.create_struct_proxy(typ)(c.context, c.builder)
    for name, array_type in _members(typ):
        array_object = c.pyapi.object_getattr_string(obj, name)
        setattr(sender, name, unbox_array(array_type, array_object, c).value)
        c.pyapi.decref(array_object)
    is_error = cgutils.is_not_null(c.builder, c.pyapi.err_occurred())
    return NativeValue(sender._getvalue(), is_error=is_error)


@njit(nogil=True, cache=True)
def _wait_for_room(cursors: np.ndarray, state: np.ndarray, stop_flag: np.ndarray, base: int, written: int, slots: int) -> bool:
    """Wait until the consumer has freed a slot of the lane at ``base``; ``False`` if it failed or the run stops."""
    wait = _FULL_LANE_WAIT_MICROSECONDS
    while True:
        read = atomic_load_acquire(cursors, base + _READ)
        cursors[base + _READ_SEEN] = read
        if written - read < slots:
            return True
        if atomic_load_acquire(state, _FAILED) != 0 or atomic_load_acquire(stop_flag, 0) != 0:
            return False
        sleep_microseconds(wait)
        wait = min(2 * wait, _FULL_LANE_LONGEST_WAIT_MICROSECONDS)


@overload_method(LeafBelowSenderType, "push", jit_options={"nogil": True})
def _overload_push(sender, lane, leaf_below, last_leaf_gaps):
    """``sender.push(lane, leaf_below, last_leaf_gaps) -> bool``: publish one row on a lane, waiting for room."""

    def push(sender, lane, leaf_below, last_leaf_gaps):
        # The arrays are always reached through ``sender.`` rather than held in locals: a local
        # array costs an atomic reference-count pair on every call, more than the push itself.
        slots = sender.last_leaf_gaps.shape[1]
        base = lane * _CURSOR_WIDTH
        written = sender.cursors[base + _WRITTEN]
        if written - sender.cursors[base + _READ_SEEN] >= slots:
            # Full as far as this producer last knew: the slow path lives in its own function so
            # that this one stays a straight line.
            if not _wait_for_room(sender.cursors, sender.state, sender.stop_flag, base, written, slots):
                return False
        slot = written & (slots - 1)
        copy_row(sender.rows, lane * slots + slot, leaf_below)
        sender.last_leaf_gaps[lane, slot] = last_leaf_gaps
        atomic_store_release(sender.cursors, base + _WRITTEN, written + 1)  # publish, after the row is written
        return True

    return push


@overload_method(LeafBelowSenderType, "rows_written", jit_options={"nogil": True})
def _overload_rows_written(sender, lane):
    """``sender.rows_written(lane) -> int``: rows the lane's producer has published so far."""

    def rows_written(sender, lane):
        return sender.cursors[lane * _CURSOR_WIDTH + _WRITTEN]

    return rows_written


# For an owner that takes the rows itself (``handler=None``), from inside its own jitted code: the
# lane protocol without the lane layout.


@njit(nogil=True, cache=True, inline="always")
def lane_published(cursors: np.ndarray, lane: int) -> int:
    """Rows the lane's producer has published (an acquire load: those rows are whole)."""
    return atomic_load_acquire(cursors, lane * _CURSOR_WIDTH + _WRITTEN)


@njit(nogil=True, cache=True, inline="always")
def lane_taken(cursors: np.ndarray, lane: int) -> int:
    """Rows taken from the lane so far (only the one taker moves this count)."""
    return cursors[lane * _CURSOR_WIDTH + _READ]


@njit(nogil=True, cache=True, inline="always")
def release_rows(cursors: np.ndarray, lane: int, taken: int) -> None:
    """Mark the lane's rows up to ``taken`` as taken: their slots are free for the producer again."""
    atomic_store_release(cursors, lane * _CURSOR_WIDTH + _READ, taken)
