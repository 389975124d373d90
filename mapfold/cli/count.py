"""``mapfold count``: parse the options, run the count, render the totals.

Only the standard library, Typer, rich and ``mapfold.limits`` load with this module: ``mapfold
--help`` stays quick, and the count's own modules (numba and the walks) load when it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from mapfold.cli.common import check_threads, duration, fail, sides_or_fail, stderr, stdout
from mapfold.limits import CLUSTER_TASKS_PER_THREAD, MAX_TASKS, MAX_THREADS, MIN_TASKS, SENDER_MAX_BYTES, THREADS_PER_CPU_CAP
from mapfold.oeis import counted_folds, known_folds, known_symmetric
from mapfold.results import CountInterrupted, CountResult, WorkerError
from mapfold.run.journal import JournalError, JournalWriteError, check_journal_path
from mapfold.shape import MAX_LEAVES, counted_sides, format_shape

#: How the command presents itself in ``mapfold --help``.
SETTINGS = dict(
    short_help="Count the foldings of a map (e.g. 2x5).",
    help=(
        "Count the foldings of a map, e.g. 2x5, 3x3x3, or 7 (a 1 x 7 strip). "
        f"Maps of at most {MAX_LEAVES} leaves (the product of the sides). "
        "Also reports the symmetric total (for a 1 x 2n strip, OEIS A007822(n))."
    ),
)

ShapeArgument = Annotated[
    str, typer.Argument(metavar="SHAPE", help="Sides joined by 'x' (2x5, 2X5, 3x3x3); one number n is a 1 x n strip.")
]
ThreadsOption = Annotated[
    Optional[int],
    typer.Option(
        "--threads",
        "-t",
        help=(
            f"Worker threads, 1 to {MAX_THREADS}; by default the CPUs this process may use (its affinity mask, "
            f"lowered to its CPU quota). More than {THREADS_PER_CPU_CAP} per usable CPU (at least 64) run as that "
            f"many. The symmetric total's buffers take at most {SENDER_MAX_BYTES >> 20} MiB whatever the count."
        ),
        show_default="the usable CPUs",
        metavar="N",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of a table.")]
SymmetricOption = Annotated[
    bool,
    typer.Option(
        "--symmetric/--no-symmetric",
        help=(
            "Gather the symmetric total (OEIS A007822 for a 1 x 2n strip). The mirror walk builds "
            "only the foldings that can count, so it adds about 0-7% to the fold count's time."
        ),
    ),
]
SymmetricOnlyOption = Annotated[
    bool,
    typer.Option(
        "--symmetric-only",
        help=(
            "Count the symmetric total alone, with the mirror walk, and skip the fold total (null in --json). "
            "The mirror walk grows far more slowly than the fold count, so this reaches strips whose fold "
            "total is out of reach: 1x36 (A007822(18)) in under two minutes on 2 cores. Not with "
            "--no-symmetric or --min-tasks."
        ),
    ),
]
ProgressOption = Annotated[
    Optional[bool],
    typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.", show_default="when stderr is a terminal"),
]
CheckpointOption = Annotated[
    Optional[str],
    typer.Option(
        "--checkpoint",
        metavar="FILE",
        help=(
            "Journal finished tasks to FILE (created if absent) and resume from it: after Ctrl-C, SIGTERM or a "
            "crash, the same command goes on where it stopped. A finished journal prints its result again."
        ),
    ),
]
MinTasksOption = Annotated[
    Optional[int],
    typer.Option(
        "--min-tasks",
        metavar="N",
        help=(
            f"Plan the count as at least N tasks (1 to {MAX_TASKS}). Deeper lists hold smaller tasks, which a large "
            "cluster needs to finish together, for 5-10% more walking. A journal resumes with its own number."
        ),
        show_default=f"{MIN_TASKS}, or {CLUSTER_TASKS_PER_THREAD} per worker thread of a --scheduler cluster",
    ),
]
SchedulerOption = Annotated[
    Optional[str],
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help=(
            "Run the count on a Dask cluster: the scheduler's address, tcp://HOST:8786 (or tls://..., with Dask's "
            "own security configuration). Every worker needs mapfold installed. See README, 'Clusters', and docs/cluster.md."
        ),
    ),
]
RouteOption = Annotated[
    Optional[int],
    typer.Option(
        "--route",
        hidden=True,  # for checking a new count a second way (docs/frontier.md), not everyday use
        help="The orbit walk's route, 1 or 2: a second, independent walk of the same map. A journal keeps its own.",
    ),
]


def count(
    shape: ShapeArgument,
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
    symmetric: SymmetricOption = True,
    symmetric_only: SymmetricOnlyOption = False,
    progress: ProgressOption = None,
    checkpoint: CheckpointOption = None,
    min_tasks: MinTasksOption = None,
    scheduler: SchedulerOption = None,
    route: RouteOption = None,
) -> None:
    """Count the foldings of a map."""
    sides = _checked_options(shape, threads, symmetric, symmetric_only, min_tasks, checkpoint)
    if route is not None and route not in (1, 2):
        raise fail(f"--route must be 1 or 2, got {route}", 2)
    if route == 2 and symmetric_only:
        raise fail("--route 2 is a route of the fold walk; --symmetric-only runs the mirror walk alone", 2)
    client = None
    if scheduler is not None:
        from mapfold.run.cluster import connect

        try:
            client = connect(scheduler)
        except OSError as error:
            raise fail(str(error), 2) from None

    def note_a_long_count() -> None:
        """Before a count without a journal: say so when it will take over an hour (cheap for small maps)."""
        # The estimate is the fold walk's; the mirror walk alone has none (see README).
        if checkpoint is None and client is None and not symmetric_only:
            from mapfold.estimate import likely_over

            seconds = likely_over(sides, threads, seconds=3600.0)
            if seconds is not None:
                stderr.print(
                    f"mapfold: note: this count will take about {duration(seconds)} on this machine "
                    "(`mapfold estimate` says more); consider --checkpoint FILE so that it can be resumed",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )

    options = {
        "threads": threads,
        "symmetric": symmetric,
        "progress": sys.stderr.isatty() if progress is None else progress,
        "checkpoint": checkpoint,
        "client": client,
        "min_tasks": min_tasks,
        "folds": not symmetric_only,
        "route": route,
    }
    try:
        resume = shlex.join(
            ["mapfold", "count", shape, "--checkpoint", checkpoint or ""]
            + (["--symmetric-only"] if symmetric_only else [])
            + ([] if symmetric else ["--no-symmetric"])
            + (["--route", str(route)] if route is not None else [])
        )
        with _signals_set_event() as (interrupted, exit_code), _failures_reported(checkpoint, resume, interrupted, exit_code):
            result = _count_answering_interrupts(sides, interrupted, exit_code, note_a_long_count, options)
    finally:
        if client is not None:
            client.close()
    if as_json:
        print(json.dumps(result.to_dict()))
    else:
        stdout.print(_table(result))
    sys.stdout.flush()


def _checked_options(shape: str, threads, symmetric: bool, symmetric_only: bool, min_tasks, checkpoint) -> tuple[int, ...]:
    """The map's sides, once every option is in range and goes with the others (else exit 2)."""
    sides = sides_or_fail(shape)
    check_threads(threads)
    if min_tasks is not None and not 1 <= min_tasks <= MAX_TASKS:
        raise fail(f"--min-tasks must be between 1 and {MAX_TASKS}, got {min_tasks}", 2)
    if symmetric_only and not symmetric:
        raise fail("--symmetric-only counts the symmetric total; it cannot go with --no-symmetric", 2)
    if symmetric_only and min_tasks is not None:
        raise fail("--min-tasks plans the fold walk's tasks; --symmetric-only runs the mirror walk alone", 2)
    if checkpoint is not None:
        try:
            check_journal_path(checkpoint)  # a device or a FIFO: refused before anything reads it or connects
        except JournalError as error:
            raise fail(str(error), 2) from None
    return sides


@contextlib.contextmanager
def _signals_set_event() -> Iterator[tuple[threading.Event, Any]]:
    """Ctrl-C and SIGTERM only set an event that the runner polls, for the length of the block.

    A KeyboardInterrupt raised wherever the main thread happens to be can be swallowed (numba
    compiling, a ``__del__``), and the run would go on. A second Ctrl-C does not wait for anything
    (a journal on disk is whole up to its last line). Yields the event and the exit status to use.
    """
    interrupted = threading.Event()
    received: list[int] = []

    def on_signal(signum, frame) -> None:
        if interrupted.is_set() and signum == signal.SIGINT:
            os.write(2, b"mapfold: error: interrupted; no total\n")
            os._exit(130)
        received.append(signum)
        interrupted.set()

    def exit_code() -> int:
        return 143 if received and received[0] == signal.SIGTERM else 130

    in_main_thread = threading.current_thread() is threading.main_thread()  # where signals can be handled
    previous_handlers = (
        {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
    )
    try:
        yield interrupted, exit_code
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _failures_reported(checkpoint: str | None, resume: str, interrupted: threading.Event, exit_code) -> Iterator[None]:
    """Turn every way a count can fail into one line on stderr and its exit status (``resume``: the command that resumes it)."""
    from mapfold.run.sender import SenderError

    try:
        yield
    except KeyboardInterrupt as error:
        if checkpoint is not None and isinstance(error, CountInterrupted):
            raise fail(
                f"interrupted; {error.tasks_done} of {error.tasks_total} tasks done and journaled in {checkpoint}; "
                "run the same command again to resume",
                exit_code(),
            ) from None
        raise fail("interrupted; no total (use --checkpoint FILE to make a count resumable)", exit_code()) from None
    except JournalWriteError as error:
        # A failed run, not bad input: the journal keeps every task written before the failure.
        what = "the disk is full" if error.disk_full else "writing to it failed"
        raise fail(
            f"checkpoint {checkpoint}: {what} ({error.strerror}); no total. The tasks journaled before it are kept: "
            f"run `{resume}` again once there is room",
            1,
        ) from None
    except JournalError as error:
        raise fail(str(error), 2) from None
    except (WorkerError, SenderError) as error:
        if interrupted.is_set():  # the interrupt came first or together: it is what the user needs to hear
            raise fail("interrupted; no total", exit_code()) from None
        if checkpoint is not None:
            resume = f"tasks finished before it are in {checkpoint}: run the same command to resume"
            raise fail(f"{error}; no total ({resume})", 1) from None
        raise fail(str(error), 1) from None
    except MemoryError:
        raise fail("out of memory; no total (try fewer --threads, or a smaller map)", 1) from None
    except OSError as error:
        raise fail(f"checkpoint {checkpoint}: {error.strerror or error}", 2) from None


#: After Ctrl-C, how long the count may take to stop before the command ends without it: only
#: numba compiling (which nothing can cut short) takes longer.
_INTERRUPT_GRACE_SECONDS = 1.0


def _count_answering_interrupts(
    sides: tuple[int, ...], interrupted: threading.Event, exit_code, before, options: dict[str, Any]
) -> CountResult:
    """``count_folds(sides, **options)`` on a thread of its own, so that the main thread answers Ctrl-C even while numba compiles.

    ``before()`` runs first on that thread. The count stops by itself once it sees ``interrupted``;
    if it has not within ``_INTERRUPT_GRACE_SECONDS`` (it is compiling), the process ends with
    ``exit_code()`` without it.
    """
    outcome: dict[str, Any] = {}

    def counting() -> None:
        try:
            import mapfold.count  # here, not at the top: ``--help`` need not load numba

            before()
            outcome["result"] = mapfold.count.count_folds(sides, stop_event=interrupted, **options)
        except BaseException as error:  # noqa: BLE001 - re-raised on the main thread below
            outcome["error"] = error

    counter = threading.Thread(target=counting, name="mapfold-count", daemon=True)
    counter.start()
    while counter.is_alive():
        counter.join(0.05)
        if interrupted.is_set() and counter.is_alive():
            counter.join(_INTERRUPT_GRACE_SECONDS)
            if counter.is_alive():
                stderr.print("mapfold: error: interrupted; no total", markup=False, highlight=False, soft_wrap=True)
                sys.stderr.flush()
                os._exit(exit_code())  # the count is inside numba's compiler: no clean way to wait for it
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _walk_name(result: CountResult) -> str:
    """Which walks gave the totals, as the table says it."""
    if result.walk == "orbit":
        if result.folds_total is None:
            return "mirror (symmetric only)"
        return "orbit" + (" + mirror (symmetric)" if result.symmetric_folds is not None else "")
    return "Lunnon's"


def _table(result: CountResult) -> Table:
    """The human-readable form of a result."""
    table = Table(title=f"mapfold {format_shape(result.shape)}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("shape", format_shape(result.shape))
    table.add_row("leaves", str(result.leaves))
    table.add_row("foldings", f"{result.folds_total:,}" if result.folds_total is not None else "not counted (--symmetric-only)")
    if result.symmetric_folds is not None:
        label = "symmetric foldings"
        if result.a007822_index is not None:
            label += f" = A007822({result.a007822_index})"
        table.add_row(label, f"{result.symmetric_folds:,}")
    sides = counted_sides(tuple(result.shape))
    for what, value, known in (
        ("foldings", result.folds_total, known_folds(sides)),
        ("symmetric", result.symmetric_folds, known_symmetric(sides)),
    ):
        if known is not None and value is not None:
            sequence, index, expected = known
            verdict = "matches" if value == expected else "DIFFERS"
            table.add_row(f"OEIS {sequence}({index})", f"{expected:,} ({what}: {verdict})")
    counted = counted_folds(sides)
    if counted is not None and result.folds_total is not None:
        # Our own earlier count, not an oracle: say whether this run repeats it, never "matches".
        sequence, index, term = counted
        verdict = "the same" if result.folds_total == term.value else "DIFFERENT"
        table.add_row(f"{sequence}({index}) by mapfold", f"{term.value:,} (ours, not OEIS: {verdict})")
    table.add_row("walk", _walk_name(result))
    table.add_row("threads", str(result.threads))
    table.add_row("tasks", str(result.tasks))
    table.add_row("seconds", f"{result.elapsed_seconds:.3f}")
    return table
