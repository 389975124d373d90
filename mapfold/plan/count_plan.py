"""A count resolved before it runs: which walks, which task lists, what the journal records.

``plan_count`` takes what was asked (a shape, the totals wanted, a walk, a number of tasks, the
header of an existing journal) and either refuses it with one error or returns a frozen
``CountPlan``. The runners (``mapfold.run.local``, ``mapfold.run.cluster``) only execute a plan:
they never decide which walk runs or re-derive where a task sits in the journal.

The journal numbers the orbit walk's tasks ``0 .. orbit_count - 1`` and the mirror walk's after
them (mirror task ``i`` is journal task ``orbit_count + i``); ``CountPlan.journal_task`` and
``CountPlan.task_of`` are the only places that mapping is written.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mapfold.plan.tasks import (
    MAX_TASKS,
    MIN_TASKS,
    TaskSet,
    mirror_task_digest,
    orbit_task_digest,
    plan_mirror_tasks,
    plan_orbit_tasks,
    plan_tasks,
    split_tasks,
)
from mapfold.shape import ShapeError, counted_sides, format_shape, validate_shape
from mapfold.walks.orbit import ONE_WORD_LEAVES

#: The walks a count may use: the orbit walk (with the mirror walk for the symmetric total), the
#: default; and Lunnon's walk, the reference the tests and the bench hold the orbit walk against.
WALKS = ("orbit", "lunnon")


class PlanError(ValueError):
    """A request that cannot be planned: options that do not go together."""


class JournalMismatch(PlanError):
    """The existing journal is of another count than the one asked for.

    The message reads after the journal's path: ``f"{path} {error}"``.
    """


@dataclass(frozen=True)
class CountPlan:
    """Everything a runner needs to execute one count, decided up front.

    Attributes
    ----------
    shape
        The shape as asked (sides of 1 included), for the result.
    sides
        The sides that count (``counted_sides``); their product is ``leaves_total``.
    leaves_total
        Leaves of the map.
    walk
        ``"orbit"`` or ``"lunnon"``.
    symmetric, folds
        Which totals the count gives.
    orbit_tasks, mirror_tasks
        The orbit walk's task list (``None`` when the fold total is off or Lunnon's walk runs) and
        the mirror walk's (``None`` when the symmetric total is off or Lunnon's walk runs).
    min_tasks
        The number of tasks the orbit list was planned for (``None`` when there is no orbit list).
    lunnon_tasks, connection_graph, halved, gate
        Lunnon's walk: its task list, its connection graph, whether it walks half the tree, and
        whether it sends the consumer only completions that could be mirror images of themselves.
    route
        The orbit walk's route, 1 or 2 (``mapfold.walks.group``).
    """

    shape: tuple[int, ...]
    sides: tuple[int, ...]
    leaves_total: int
    walk: str
    symmetric: bool
    folds: bool
    orbit_tasks: Any = None
    mirror_tasks: Any = None
    min_tasks: int | None = None
    lunnon_tasks: TaskSet | None = None
    connection_graph: np.ndarray | None = None
    halved: bool = False
    gate: bool = True
    route: int = 1

    @property
    def orbit_count(self) -> int:
        """Orbit tasks in the plan."""
        return len(self.orbit_tasks) if self.orbit_tasks is not None else 0

    @property
    def mirror_count(self) -> int:
        """Mirror tasks in the plan."""
        return len(self.mirror_tasks) if self.mirror_tasks is not None else 0

    @property
    def task_count(self) -> int:
        """All tasks of the count (what the result reports)."""
        if self.walk == "lunnon":
            return len(self.lunnon_tasks) if self.lunnon_tasks is not None else 0
        return self.orbit_count + self.mirror_count

    def journal_task(self, kind: str, task: int) -> int:
        """The journal's index of ``task`` of the ``"orbit"`` or ``"mirror"`` list."""
        return task if kind == "orbit" else self.orbit_count + task

    def task_of(self, journal_task: int) -> tuple[str, int]:
        """The list (``"orbit"`` or ``"mirror"``) and position of a journal index."""
        if journal_task < self.orbit_count:
            return "orbit", journal_task
        return "mirror", journal_task - self.orbit_count

    def journal_header(self, version: str) -> dict[str, Any]:
        """The header of this count's journal (format 2, the orbit walk; see ``mapfold.run.journal``)."""
        if self.walk != "orbit":
            raise PlanError("only the orbit walk keeps a journal; Lunnon's walk is the local reference walk")
        return {
            "mapfold": version,
            "walk": "orbit",
            "shape": list(self.sides),
            "leaves": self.leaves_total,
            "symmetric": self.symmetric,
            # Only without the fold total (journals from before the option still resume); a
            # journal of both totals has orbit tasks, so the two never take each other's file.
            **({"folds": False} if not self.folds else {}),
            "task_depth": self.orbit_tasks.placed_leaves if self.folds else None,
            "tasks": self.task_count,
            "orbit_tasks": self.orbit_count,
            "task_digest": orbit_task_digest(self.orbit_tasks) if self.folds else None,
            # Only route 2: journals of route 1 keep the header they always had.
            **({"route": self.route} if self.route != 1 else {}),
            # Only when not the default: journals from before the option still resume.
            **({"orbit_min_tasks": self.min_tasks} if self.folds and self.min_tasks != MIN_TASKS else {}),
            "mirror_tasks": self.mirror_count,
            "mirror_digest": mirror_task_digest(self.mirror_tasks),
        }


def plan_count(
    shape: tuple[int, ...] | list[int],
    *,
    symmetric: bool = True,
    folds: bool = True,
    walk: str | None = None,
    min_tasks: int | None = None,
    default_min_tasks: int = MIN_TASKS,
    split: tuple[int, int] | None = None,
    halve: bool = True,
    gate: bool = True,
    journal: dict[str, Any] | None = None,
    route: int | None = None,
) -> CountPlan:
    """Resolve a request into a ``CountPlan``, or refuse it.

    Parameters
    ----------
    shape
        The map's sides.
    symmetric, folds
        The totals wanted (``folds=False``: the symmetric total alone, by the mirror walk).
    walk
        ``"orbit"``, ``"lunnon"`` or ``None`` (the orbit walk, or Lunnon's when ``halve`` or
        ``gate`` is switched off: those switches exist to check Lunnon's walk).
    min_tasks
        Plan the orbit list for at least this many tasks; default: the journal's number, else
        ``default_min_tasks`` (a cluster asks for more).
    split
        ``(threads, tasks_per_thread)``: split for this run's threads instead of the deterministic
        lists (experiments only; never with a journal).
    halve, gate
        Lunnon's walk's switches (see ``mapfold.walks.lunnon``).
    journal
        The header of the existing journal the count resumes (``mapfold.run.journal.journal_header``).
    route
        The orbit walk's route, 1 or 2; default: the journal's, else 1.

    Raises
    ------
    ShapeError
        For a shape that is not a map or is too large.
    PlanError
        For options that do not go together.
    JournalMismatch
        When ``journal`` is of another count.
    """
    shape = tuple(shape)
    validate_shape(shape)
    walk = _resolve_walk(walk, halve, gate, journal)
    _check_totals(walk, symmetric, folds, min_tasks, journal)
    if split is not None and (journal is not None or min_tasks is not None):
        raise PlanError("a split for this run's threads replaces the deterministic task list; no journal, no min_tasks")
    sides = counted_sides(shape)
    leaves_total = int(np.prod(sides))
    if walk == "lunnon" and leaves_total > ONE_WORD_LEAVES:
        raise ShapeError(
            f"shape {format_shape(shape)}: Lunnon's walk counts maps of at most {ONE_WORD_LEAVES} leaves; "
            "the orbit walk (the default) counts any map"
        )
    route = _resolve_route(route, walk, journal)
    common = {
        "shape": shape,
        "sides": sides,
        "leaves_total": leaves_total,
        "walk": walk,
        "symmetric": symmetric,
        "folds": folds,
        "route": route,
    }
    if walk == "orbit":
        min_tasks = _resolve_min_tasks(min_tasks, journal, default_min_tasks) if folds else None
    if leaves_total == 1:
        return CountPlan(**common)
    if walk == "lunnon":
        return _plan_lunnon(common, split, halve, gate)
    if split is None:
        orbit_tasks = plan_orbit_tasks(sides, min_tasks, route=route) if folds else None
        mirror_tasks = plan_mirror_tasks(sides) if symmetric else None
    else:
        from mapfold.walks.mirror import split_mirror_tasks
        from mapfold.walks.orbit import make_orbit_plan, split_orbit_tasks

        threads, per_thread = split
        orbit_tasks = split_orbit_tasks(make_orbit_plan(sides, route=route), threads, per_thread) if folds else None
        mirror_tasks = split_mirror_tasks(sides, max(1, threads) * per_thread) if symmetric else None
    return CountPlan(**common, orbit_tasks=orbit_tasks, mirror_tasks=mirror_tasks, min_tasks=min_tasks)


def _resolve_walk(walk: str | None, halve: bool, gate: bool, journal: dict[str, Any] | None) -> str:
    """The walk that runs: a journal's own, else the one asked for, else the default."""
    if walk not in (None, *WALKS):
        raise PlanError(f"walk must be 'orbit' or 'lunnon', got {walk!r}")
    if journal is not None and journal.get("walk") != "orbit":
        raise JournalMismatch(
            "is a journal of Lunnon's walk (written by mapfold 0.1.0 or earlier), which this mapfold no longer "
            "resumes; finish it with mapfold 0.1.0 or start a new journal"
        )
    if walk is None:
        walk = "orbit" if gate and halve else "lunnon"
    if walk == "orbit" and not (gate and halve):
        raise PlanError("gate=False and halve=False are switches of Lunnon's walk; use walk='lunnon'")
    if walk == "lunnon" and journal is not None:
        raise JournalMismatch("is a journal of the orbit walk, not Lunnon's walk; resume it with the orbit walk (the default)")
    return walk


def _resolve_route(route: int | None, walk: str, journal: dict[str, Any] | None) -> int:
    """The orbit walk's route: the journal's own (absent: 1), the one asked for, or 1."""
    planned = journal.get("route", 1) if journal is not None else None
    if planned is not None and (planned not in (1, 2) or isinstance(planned, bool)):
        raise JournalMismatch(f"has route {planned!r}, which is not a route (1 or 2)")
    if route is None:
        route = planned or 1
    elif planned is not None and route != planned:
        raise JournalMismatch(
            f"is a journal of route {planned}, not route {route}; "
            "resume it with its own route (leave it unset) or use another file"
        )
    if route not in (1, 2):
        raise PlanError(f"route must be 1 or 2, got {route!r}")
    if route != 1 and walk != "orbit":
        raise PlanError("route 2 is a route of the orbit walk; Lunnon's walk has one")
    return route


def _check_totals(walk: str, symmetric: bool, folds: bool, min_tasks: int | None, journal: dict[str, Any] | None) -> None:
    """Refuse totals and task numbers that do not go with the walk or the journal."""
    if journal is not None and journal.get("folds", True) != folds:
        what = "the symmetric total alone" if folds else ("both totals" if journal.get("symmetric") else "the fold total alone")
        raise JournalMismatch(
            f"is a journal of {what}; resume it {'with' if folds else 'without'} --symmetric-only "
            f"(folds={not folds}) or use another file"
        )
    if not folds:
        if not symmetric:
            raise PlanError("folds=False counts the symmetric total alone; it needs symmetric=True")
        if walk != "orbit":
            # Lunnon's walk finds the symmetric foldings among all the foldings it walks.
            raise PlanError("folds=False needs the mirror walk of walk='orbit'; Lunnon's walk walks every folding")
        if min_tasks is not None:
            raise PlanError("min_tasks plans the orbit walk's tasks; folds=False walks the mirror walk alone")
    if min_tasks is not None and walk != "orbit":
        raise PlanError("min_tasks plans the orbit walk's tasks; Lunnon's walk has its own list")


def _resolve_min_tasks(min_tasks: int | None, journal: dict[str, Any] | None, default: int) -> int:
    """The number of tasks the orbit list is planned for: the journal's own, the one asked for, or the default."""
    if min_tasks is not None:
        min_tasks = operator.index(min_tasks)  # a whole number (an int in the journal's header)
        if not 1 <= min_tasks <= MAX_TASKS:
            raise PlanError(f"min_tasks must be between 1 and {MAX_TASKS}, got {min_tasks}")
    if journal is None:
        return default if min_tasks is None else min_tasks
    # The journal's own number of tasks (absent: the default it was planned with).
    planned = journal.get("orbit_min_tasks", MIN_TASKS)
    if not isinstance(planned, int) or isinstance(planned, bool) or not 1 <= planned <= MAX_TASKS:
        raise JournalMismatch(f"has orbit_min_tasks {planned!r}, which is not a number of tasks")
    if min_tasks is not None and min_tasks != planned:
        raise JournalMismatch(
            f"was planned for at least {planned} tasks, not {min_tasks}; "
            "resume it with its own plan (leave the number of tasks unset) or use another file"
        )
    return planned


def _plan_lunnon(common: dict[str, Any], split: tuple[int, int] | None, halve: bool, gate: bool) -> CountPlan:
    """Lunnon's walk in leaf order: its connection graph and task list."""
    from mapfold.walks.connection_graph import make_connection_graph

    halved = halve and common["leaves_total"] >= 3
    connection_graph = make_connection_graph(common["sides"])
    if split is None:
        tasks = plan_tasks(connection_graph, halved)
    else:
        tasks = split_tasks(connection_graph, split[0], halved, split[1])
    return CountPlan(**common, lunnon_tasks=tasks, connection_graph=connection_graph, halved=halved, gate=gate)
