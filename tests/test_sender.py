"""The LeafBelowSender under stress: exactly once, whole, bounded, and no hang when the consumer fails."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from numba import njit

from mapfold.run.sender import LeafBelowSender, SenderError


@njit(nogil=True)
def _produce(sender, producer, count):
    """Push ``count`` distinct rows on lane ``producer``; each encodes its id in 7-bit chunks, filler and a checksum."""
    width = sender.rows.shape[1]
    row = np.empty(width, dtype=np.uint8)
    refused = 0
    for serial in range(count):
        identity = producer * 1_000_000 + serial
        for chunk in range(4):
            row[chunk] = (identity >> (7 * chunk)) & 0x7F
        for index in range(4, width - 1):
            row[index] = (identity * 31 + index) & 0x7F
        checksum = 0
        for index in range(width - 1):
            checksum += row[index]
        row[width - 1] = checksum & 0x7F
        if not sender.push(producer, row, np.uint64(identity)):
            refused += 1
    return refused


@njit(nogil=True)
def _count_torn(rows, gaps, identities):
    """Decode each row's id into ``identities``; return how many rows are not exactly as pushed."""
    torn = 0
    width = rows.shape[1]
    for row in range(rows.shape[0]):
        identity = 0
        for chunk in range(4):
            identity |= np.int64(rows[row, chunk]) << (7 * chunk)
        identities[row] = identity
        whole = identity == np.int64(gaps[row])
        checksum = 0
        for index in range(width - 1):
            checksum += rows[row, index]
            if index >= 4 and rows[row, index] != (identity * 31 + index) & 0x7F:
                whole = False
        if rows[row, width - 1] != checksum & 0x7F or not whole:
            torn += 1
    return torn


class _CheckingConsumer:
    """Decodes and checks every row; slow on purpose so producers meet a full ring."""

    def __init__(self, pause_seconds: float, fail_after_batches: int | None = None) -> None:
        self.seen: list[int] = []
        self.torn = 0
        self.batches = 0
        self.pause_seconds = pause_seconds
        self.fail_after_batches = fail_after_batches

    def __call__(self, rows: np.ndarray, gaps: np.ndarray) -> None:
        self.batches += 1
        if self.fail_after_batches is not None and self.batches > self.fail_after_batches:
            raise ZeroDivisionError("consumer broke")
        identities = np.empty(rows.shape[0], dtype=np.int64)
        self.torn += _count_torn(rows, gaps, identities)
        self.seen.extend(int(identity) for identity in identities)
        time.sleep(self.pause_seconds)


def _run_producers(sender, producers, count) -> list[int]:
    refused = [0] * producers

    def produce(index):
        refused[index] = _produce(sender, index, count)

    threads = [threading.Thread(target=produce, args=(index,)) for index in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a producer hung"
    return refused


@pytest.mark.parametrize(
    ("width", "count", "pause_seconds"),
    [
        (16, 3000, 0.0002),  # a slow consumer: producers keep meeting a full ring (backpressure)
        (1 << 20, 600, 0.0),  # rows that take long to write, read as soon as published (torn reads)
    ],
)
def test_every_row_arrives_exactly_once_and_whole(width, count, pause_seconds):
    producers = 4
    consumer = _CheckingConsumer(pause_seconds=pause_seconds)
    with LeafBelowSender(width, consumer, lanes=producers, slots=4, batch=3) as sender:
        refused = _run_producers(sender, producers, count)
    assert refused == [0] * producers
    expected = sorted(producer * 1_000_000 + serial for producer in range(producers) for serial in range(count))
    assert sorted(consumer.seen) == expected
    assert consumer.torn == 0
    assert sender.pushed == sender.consumed == producers * count
    assert sender.slots == 4 * producers


def test_a_failing_consumer_ends_the_run_without_a_hang():
    producers, count = 3, 5000
    consumer = _CheckingConsumer(pause_seconds=0.0, fail_after_batches=5)
    sender = LeafBelowSender(16, consumer, lanes=producers, slots=4, batch=2)
    outcome: dict[str, object] = {}

    def run():
        outcome["refused"] = _run_producers(sender, producers, count)
        try:
            sender.close()
        except SenderError as error:
            outcome["error"] = error

    runner = threading.Thread(target=run)
    started = time.monotonic()
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "the run hung after the consumer failed"
    assert time.monotonic() - started < 60
    assert isinstance(outcome.get("error"), SenderError)
    assert "consumer broke" in str(outcome["error"])
    assert sum(outcome["refused"]) > 0  # producers were released, not left waiting


@pytest.mark.parametrize(
    "walk, module, handler",
    [
        ("orbit", "mapfold.run.workers", "MirroredFoldingsCheck"),  # where the mirror walk makes its handler
        ("lunnon", "mapfold.run.local", "SymmetricTotal"),  # where Lunnon's walk makes its handler
    ],
)
def test_a_failing_consumer_ends_a_count_with_an_error(monkeypatch, walk, module, handler):
    import importlib

    from mapfold.count import count_folds

    class Broken:
        def __init__(self, *arguments, **keywords) -> None:
            pass

        def __call__(self, rows, gaps):
            raise ValueError("filter broke")

        total = None

    monkeypatch.setattr(importlib.import_module(module), handler, Broken)
    started = time.monotonic()
    with pytest.raises(SenderError, match="filter broke"):
        count_folds((1, 14), threads=2, sender_slots=4, walk=walk)
    assert time.monotonic() - started < 60


def test_close_is_idempotent_and_counters_match():
    consumer = _CheckingConsumer(pause_seconds=0.0)
    sender = LeafBelowSender(16, consumer, lanes=2, slots=8)
    _run_producers(sender, 2, 100)
    sender.close()
    sender.close()
    assert sender.pushed == sender.consumed == 200
    assert not sender.failed


def test_the_lanes_stay_within_their_memory_bound_whatever_the_lane_count():
    from mapfold.run.sender import DEFAULT_MAX_BYTES

    sender = LeafBelowSender(65, lambda rows, gaps: None, lanes=4096, slots=8192)
    try:
        assert sender.rows.nbytes + sender.last_leaf_gaps.nbytes <= DEFAULT_MAX_BYTES
        assert sender.slots // sender.lanes >= 16
    finally:
        sender.close()
    few = LeafBelowSender(65, lambda rows, gaps: None, lanes=2, slots=8192)
    assert few.slots == 2 * 8192  # few lanes keep every slot asked for
    few.close()


def test_a_producer_waiting_on_a_full_lane_sees_the_stop_flag():
    release = threading.Event()
    stop_flag = np.zeros(1, dtype=np.int64)
    sender = LeafBelowSender(16, lambda rows, gaps: release.wait(60), lanes=1, slots=16, stop_flag=stop_flag)
    refused = []
    producer = threading.Thread(target=lambda: refused.append(_produce(sender, 0, 10_000)))
    producer.start()
    producer.join(1.0)
    assert producer.is_alive(), "the producer should be waiting for room"
    stop_flag[0] = 1
    producer.join(5.0)
    stopped = not producer.is_alive()
    release.set()
    sender.abandon()
    producer.join(60)
    assert stopped, "a producer waiting on a full lane did not see the stop flag"
    assert refused and refused[0] > 0


def test_abandon_does_not_drain_the_buffered_rows():
    in_handler, release = threading.Event(), threading.Event()
    handled = []

    def blocking_handler(rows, gaps):
        handled.append(len(rows))
        in_handler.set()
        release.wait(60)

    sender = LeafBelowSender(16, blocking_handler, lanes=1, slots=1024)
    assert _produce(sender, 0, 1) == 0
    assert in_handler.wait(30)  # the consumer holds the first row
    assert _produce(sender, 0, 499) == 0  # buffered behind it
    sender.abandon()
    release.set()
    sender._consumer.join(30)
    assert not sender._consumer.is_alive()
    assert handled == [1]
