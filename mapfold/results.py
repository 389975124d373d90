"""The result types of a count, shared by the local front (threads) and the Dask front."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SenderCounts:
    """What went through the ``LeafBelowSender`` in one run."""

    pushed: int
    consumed: int
    slots: int
    #: Completions the consumer received and tested (the gate lets through only those that could
    #: count; with the gate off, every completion).
    gated: int


@dataclass(frozen=True)
class CountResult:
    """The totals of one count, with how they were computed (the fields of ``--json``)."""

    shape: list[int]
    leaves: int
    #: ``None`` when only the symmetric total was counted (``count_folds(folds=False)``).
    folds_total: int | None
    symmetric_folds: int | None
    a007822_index: int | None
    threads: int
    tasks: int
    elapsed_seconds: float
    version: str
    sender: SenderCounts | None
    tasks_resumed: int = 0
    #: ``"lunnon"`` (Lunnon's walk, both totals) or ``"orbit"`` (the orbit walk for the fold total,
    #: the mirror walk for the symmetric total).
    walk: str = "lunnon"

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready values."""
        return asdict(self)


class WorkerError(RuntimeError):
    """A worker thread failed; no total is reported."""


class CountInterrupted(KeyboardInterrupt):
    """The count was stopped (Ctrl-C, SIGTERM, ``stop_event``) after every thread had stopped.

    ``tasks_done`` of ``tasks_total`` tasks are finished and, with a checkpoint, in the journal.
    """

    def __init__(self, tasks_done: int, tasks_total: int) -> None:
        super().__init__(f"interrupted after {tasks_done} of {tasks_total} tasks")
        self.tasks_done = tasks_done
        self.tasks_total = tasks_total
