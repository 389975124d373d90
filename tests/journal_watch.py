"""Stopping a count part-way, once its journal holds some finished tasks (for the resume tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def journaled_tasks(journal: Path) -> int:
    """Task lines in ``journal`` (every line after the header), 0 before it exists."""
    if not journal.exists():
        return 0
    return max(0, journal.read_text().count("\n") - 1)


def stop_once_journaled(journal: Path, tasks: int) -> threading.Event:
    """An event for ``count_folds(stop_event=...)``, set once ``journal`` holds ``tasks`` finished tasks.

    A thread watches the file every 10 ms until the event is set; set it yourself when the count
    ends some other way, so the thread ends too.
    """
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if journaled_tasks(journal) >= tasks:
                stop.set()
            time.sleep(0.01)

    threading.Thread(target=watch, daemon=True).start()
    return stop


def interrupt_once_journaled(journal: Path, tasks: int, count: Callable[[threading.Event], object]) -> None:
    """Run ``count(stop_event)``, stopping it once ``journal`` holds ``tasks`` finished tasks; it must raise KeyboardInterrupt."""
    stop = stop_once_journaled(journal, tasks)
    try:
        with pytest.raises(KeyboardInterrupt):
            count(stop)
    finally:
        stop.set()
