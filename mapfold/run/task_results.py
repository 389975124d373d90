"""The results of an orbit-walk count, task by task: what both runners fill in and the journal keeps.

Each orbit task's complete cycles, and each mirror task's self-mirrored foldings with their mirror
centres, are kept apart until the end, so that a count can be journaled as it goes, resumed from
its journal, and summed once (as Python ints, which cannot overflow) when every task is in.
"""

from __future__ import annotations

import numpy as np

from mapfold.plan.count_plan import CountPlan
from mapfold.results import WorkerError
from mapfold.run.consumer import mirror_centre_weight
from mapfold.run.journal import Journal, JournalError


class TaskResults:
    """Per-task results of one orbit-walk count (``plan.walk == "orbit"``).

    Parameters
    ----------
    plan
        The count's plan: its task lists and the journal's numbering of them.
    journal
        The open journal, or ``None``. Its finished tasks are taken in at once (checked), and every
        task finished from now on is appended to it by ``record``.
    """

    def __init__(self, plan: CountPlan, journal: Journal | None = None) -> None:
        self.plan = plan
        self.journal = journal
        self.weight = mirror_centre_weight(plan.leaves_total)
        self.cycles: dict[int, int] = {}  # orbit task -> its complete cycles
        self.mirrored: dict[int, tuple[int, int]] = {}  # mirror task -> (foldings, centres)
        if journal is not None:
            self._take(journal.completions.items(), journal.centres, JournalError, f"{journal.path}: ")
        self.resumed = self.done

    @property
    def done(self) -> int:
        """Tasks finished so far (resumed ones included)."""
        return len(self.cycles) + len(self.mirrored)

    def orbit_pending(self) -> np.ndarray:
        """Positions in the orbit list of the tasks not finished yet."""
        return np.array([task for task in range(self.plan.orbit_count) if task not in self.cycles], dtype=np.int64)

    def mirror_pending(self) -> np.ndarray:
        """Positions in the mirror list of the tasks not finished yet."""
        return np.array([task for task in range(self.plan.mirror_count) if task not in self.mirrored], dtype=np.int64)

    def record(self, finished: list[tuple[int, int, int | None]]) -> None:
        """Take finished tasks ``(journal task, completions, centres or None)``; append them to the journal first."""
        if not finished:
            return
        if self.journal is not None:
            self.journal.record(finished)
        self._take(((task, found) for task, found, _ in finished), {task: centres for task, _, centres in finished})

    def record_run(self, orbit_done: list[tuple[int, int]], mirror_done: list[tuple[int, int, int]]) -> None:
        """``record`` for ``OrbitRun.take_finished``'s lists, which number each list from 0."""
        self.record(
            [(self.plan.journal_task("orbit", task), found, None) for task, found in orbit_done]
            + [(self.plan.journal_task("mirror", task), found, centres) for task, found, centres in mirror_done]
        )

    def _take(self, completions, centres: dict[int, int | None], error=WorkerError, where: str = "") -> None:
        for task, found in completions:
            kind, position = self.plan.task_of(task)
            if kind == "orbit":
                self.cycles[position] = found
            elif centres[task] != found * self.weight:  # the consumer checked each folding; this checks the sum
                raise error(f"{where}mirror task {position} holds {centres[task]} centres for {found} foldings")
            else:
                self.mirrored[position] = (found, centres[task])

    def totals(self) -> tuple[int | None, int | None]:
        """``(folds total or None, symmetric total or None)``, once every task is in."""
        if len(self.cycles) != self.plan.orbit_count or len(self.mirrored) != self.plan.mirror_count:
            raise WorkerError("a task was left unfinished")
        folds = None
        if self.plan.folds:
            # Python ints: a weight times a task's cycles, summed, may pass 2**63 on large maps.
            weights = self.plan.orbit_tasks.weights.tolist()
            # Each cycle is N foldings: any leaf may be on top.
            folds = self.plan.leaves_total * sum(int(weights[task]) * found for task, found in self.cycles.items())
        symmetric = None
        if self.plan.symmetric:
            symmetric = (sum(centres for _, centres in self.mirrored.values()) + 1) // 2
        return folds, symmetric
