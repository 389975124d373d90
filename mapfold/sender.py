"""``LeafBelowSender``: hand piles out of jitted ``nogil`` code to a Python consumer thread.

Worker threads walking the tree inside nopython code call ``sender.push(leaf_below, last_leaf_gaps)``
for every node whose only missing leaf is the last one; a consumer thread takes what they pushed in
batches and hands each batch to a handler (a Python callable that calls a jitted ``nogil``
function, so one Python call serves thousands of piles). No object mode is involved: the sender is
a numba extension type whose native form is four numpy arrays.

The ring
--------
A fixed ring of ``slots`` rows (bounded memory), shared by every producer and the one consumer, in
the style of Dmitry Vyukov's bounded queue: each slot has a sequence number, and the counters
``claimed`` (next position a producer may take) and ``consumed`` (next position the consumer reads)
only grow. For the slot of position ``p`` (``p % slots``):

- ``sequence == p``: the slot is free for position ``p``. A producer claims it with a
  compare-and-swap of ``claimed`` from ``p`` to ``p + 1``, so exactly one producer owns it;
- the owner writes the row, then *releases* ``sequence = p + 1``: the slot is published only after
  its contents are written, so the consumer can never read half an array;
- the consumer *acquires* ``sequence``; when it is ``p + 1`` it copies the row out and releases
  ``sequence = p + slots``: the slot is free for the position one lap later, never before it has
  been read, so a slow consumer makes producers wait (backpressure) instead of losing rows;
- ``sequence < p`` means the ring is full: the producer sleeps a few microseconds (releasing its
  core to the consumer) and tries again, unless the consumer has failed, in which case ``push``
  returns ``False`` and the producer's walk stops.

Every pushed row is therefore consumed exactly once, whole, in claim order per slot. ``pushed`` and
``consumed`` can be read after the run; after ``close()`` they are equal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
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

from mapfold.atomics import atomic_compare_exchange, atomic_load_acquire, atomic_store_release, sleep_microseconds

# Indices into the shared ``state`` array.
_CLAIMED = 0  # positions claimed by producers so far (= rows pushed, once every push returned)
_CONSUMED = 1  # positions the consumer has taken so far
_FAILED = 2  # non-zero once the consumer has failed: producers stop waiting for room
_STATE_SIZE = 8  # room to spare so the counters do not share a cache line with another array's end

#: How long a producer that found the ring full sleeps before it looks again.
_FULL_RING_WAIT_MICROSECONDS = 20
#: How long the consumer sleeps between looks at an empty ring, and how long it keeps looking
#: (without the GIL) before it goes back to Python to check whether the run is finishing.
_EMPTY_RING_WAIT_MICROSECONDS = 20
_EMPTY_RING_PATIENCE_MICROSECONDS = 2000

#: A batch handler: receives ``(rows, last_leaf_gaps)`` for the rows taken in one batch.
BatchHandler = Callable[[np.ndarray, np.ndarray], None]


class SenderError(RuntimeError):
    """The consumer thread failed; the run's results are not to be trusted."""


class LeafBelowSender:
    """A bounded ring carrying ``leaf_below`` rows from jitted producers to a consumer thread.

    Parameters
    ----------
    width
        Length of every pushed row (``leaves_total + 1`` for a ``leaf_below`` array).
    handler
        Called on the consumer thread with each batch: ``handler(rows, last_leaf_gaps)``, an
        ``int8`` array of shape ``(taken, width)`` and a ``uint64`` array of length ``taken``. The
        arrays are reused for the next batch, so the handler must not keep them.
    slots
        Rows the ring holds; producers wait when it is full.
    batch
        The most rows handed to the handler at once.

    Notes
    -----
    Use it as a context manager (or call ``close()``) once every producer has returned: ``close``
    lets the consumer drain what is left, joins it, and raises ``SenderError`` if it failed.
    """

    def __init__(self, width: int, handler: BatchHandler, slots: int = 8192, batch: int = 4096) -> None:
        if width < 1 or slots < 1 or batch < 1:
            raise ValueError("width, slots and batch must be positive")
        self.rows = np.zeros((slots, width), dtype=np.int8)
        self.last_leaf_gaps = np.zeros(slots, dtype=np.uint64)
        self.sequence = np.arange(slots, dtype=np.int64)
        self.state = np.zeros(_STATE_SIZE, dtype=np.int64)
        self._batch_rows = np.zeros((batch, width), dtype=np.int8)
        self._batch_gaps = np.zeros(batch, dtype=np.uint64)
        self._handler = handler
        self._finishing = threading.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._consumer = threading.Thread(target=self._consume, name="mapfold-consumer", daemon=True)
        self._consumer.start()

    @property
    def slots(self) -> int:
        """Rows the ring holds."""
        return int(self.rows.shape[0])

    @property
    def pushed(self) -> int:
        """Rows producers have pushed (claimed slots)."""
        return int(self.state[_CLAIMED])

    @property
    def consumed(self) -> int:
        """Rows the consumer has taken and handed on."""
        return int(self.state[_CONSUMED])

    @property
    def failed(self) -> bool:
        """Whether the consumer thread has stopped with an error."""
        return self._error is not None

    def _consume(self) -> None:
        try:
            while True:
                # Read the flag before looking at the ring: if it was already set, every producer
                # had returned, so an empty ring now means nothing more will come.
                finishing = self._finishing.is_set()
                taken = _take_ready(self.rows, self.last_leaf_gaps, self.sequence, self.state, self._batch_rows, self._batch_gaps)
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

    def close(self) -> None:
        """Drain every pushed row, join the consumer, and raise ``SenderError`` if it failed.

        Call it after the producers have returned. Calling it again does nothing more.
        """
        if not self._closed:
            self._closed = True
            self._finishing.set()
            self._consumer.join()
        self.check()

    def __enter__(self) -> LeafBelowSender:
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        if exc_type is None:
            self.close()
            return
        # Already failing: still stop the consumer, but let the first error be the one reported.
        try:
            self.close()
        except SenderError:
            pass


@njit(nogil=True, cache=True)
def _take_ready(
    rows: np.ndarray,
    last_leaf_gaps: np.ndarray,
    sequence: np.ndarray,
    state: np.ndarray,
    batch_rows: np.ndarray,
    batch_gaps: np.ndarray,
) -> int:
    """Copy out the published rows in order (at most a batch) and free their slots; return how many.

    When nothing is published yet it waits a little, without the GIL, so that a busy run is not
    slowed by a consumer asleep in Python; it returns 0 when its patience runs out.
    """
    slots = sequence.shape[0]
    position = state[_CONSUMED]
    taken = 0
    waited = 0
    while taken < batch_rows.shape[0]:
        slot = position % slots
        if atomic_load_acquire(sequence, slot) != position + 1:
            if taken > 0 or waited >= _EMPTY_RING_PATIENCE_MICROSECONDS:
                break  # not published yet: the batch ends here, in order
            sleep_microseconds(_EMPTY_RING_WAIT_MICROSECONDS)
            waited += _EMPTY_RING_WAIT_MICROSECONDS
            continue
        batch_rows[taken] = rows[slot]
        batch_gaps[taken] = last_leaf_gaps[slot]
        atomic_store_release(sequence, slot, position + slots)
        position += 1
        taken += 1
    atomic_store_release(state, _CONSUMED, position)
    return taken


# ---------------------------------------------------------------------------------------------
# The numba side: what a LeafBelowSender is inside nopython code.


class LeafBelowSenderType(types.Type):
    """Numba type of a ``LeafBelowSender``: the ring's arrays, nothing of the Python object."""

    def __init__(self) -> None:
        super().__init__(name="LeafBelowSender")


leaf_below_sender_type = LeafBelowSenderType()

_MEMBERS = [
    ("rows", types.Array(types.int8, 2, "C")),
    ("last_leaf_gaps", types.Array(types.uint64, 1, "C")),
    ("sequence", types.Array(types.int64, 1, "C")),
    ("state", types.Array(types.int64, 1, "C")),
]


@typeof_impl.register(LeafBelowSender)
def _typeof_sender(value, context) -> LeafBelowSenderType:
    return leaf_below_sender_type


@register_model(LeafBelowSenderType)
class _LeafBelowSenderModel(models.StructModel):
    def __init__(self, dmm, fe_type) -> None:
        super().__init__(dmm, fe_type, _MEMBERS)


for _name, _ in _MEMBERS:
    make_attribute_wrapper(LeafBelowSenderType, _name, _name)


@unbox(LeafBelowSenderType)
def _unbox_sender(typ, obj, c) -> NativeValue:
    """Native form of a sender: its four arrays, borrowed from the Python object that owns them."""
    sender = cgutils.create_struct_proxy(typ)(c.context, c.builder)
    for name, array_type in _MEMBERS:
        array_object = c.pyapi.object_getattr_string(obj, name)
        setattr(sender, name, unbox_array(array_type, array_object, c).value)
        c.pyapi.decref(array_object)
    is_error = cgutils.is_not_null(c.builder, c.pyapi.err_occurred())
    return NativeValue(sender._getvalue(), is_error=is_error)


@overload_method(LeafBelowSenderType, "push", jit_options={"nogil": True})
def _overload_push(sender, leaf_below, last_leaf_gaps):
    """``sender.push(leaf_below, last_leaf_gaps) -> bool``: publish one row, waiting for room."""

    def push(sender, leaf_below, last_leaf_gaps):
        # The arrays are always reached through ``sender.`` rather than held in locals: a local
        # array costs an atomic reference-count pair on every call, more than the push itself.
        slots = sender.sequence.shape[0]
        while True:
            position = atomic_load_acquire(sender.state, _CLAIMED)
            slot = position % slots
            free_for = atomic_load_acquire(sender.sequence, slot)
            if free_for == position:
                if atomic_compare_exchange(sender.state, _CLAIMED, position, position + 1):
                    break  # the slot is ours alone
            elif free_for < position:
                # Full ring: the consumer still has to read this slot's previous row.
                if atomic_load_acquire(sender.state, _FAILED) != 0:
                    return False
                sleep_microseconds(_FULL_RING_WAIT_MICROSECONDS)
            # else another producer claimed this position first: look again.
        for index in range(sender.rows.shape[1]):
            sender.rows[slot, index] = leaf_below[index]
        sender.last_leaf_gaps[slot] = last_leaf_gaps
        atomic_store_release(sender.sequence, slot, position + 1)  # publish, after the row is written
        return True

    return push
