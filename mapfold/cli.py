"""The ``mapfold`` command line: parse, call the library, render. Nothing else lives here.

Every way a run can end is one of: the result on stdout (exit 0); one line ``mapfold: error: ...``
on stderr, with at most one hint line, and exit 2 for a usage error, 1 for a failed run (a worker,
the consumer, memory, threads, an unwritable stdout) or 130 for Ctrl-C; or, when the reader of
stdout has gone away, a silent end by SIGPIPE, as for any Unix filter. Never a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Annotated, Any, Optional

import typer
import typer.main
from rich.console import Console
from rich.table import Table

from mapfold import __version__
from mapfold.estimate import estimate_count, likely_over
from mapfold.journal import JournalError
from mapfold.oeis import known_folds, known_symmetric
from mapfold.runner import THREADS_PER_CPU_CAP, CountInterrupted, CountResult, WorkerError, count_folds
from mapfold.sender import DEFAULT_MAX_BYTES, SenderError
from mapfold.shape import MAX_LEAVES, ShapeError, counted_sides, format_shape, parse_shape
from mapfold.tasks import CLUSTER_TASKS_PER_THREAD, MAX_TASKS, MIN_TASKS

app = typer.Typer(
    name="mapfold",
    help="Count the distinct foldings of p1 x p2 x ... x pd maps, exactly, on every core.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no markup to eat "[default: ...]", no "<bool>" beside flags
)

#: More threads than this is a typo, not a machine: each one gets its own stack and sender lane.
MAX_THREADS = 4096

_stdout = Console()
_stderr = Console(stderr=True)


def _fail(message: str, code: int) -> typer.Exit:
    """Print a one-line error on stderr and return the Exit to raise."""
    _stderr.print(f"mapfold: error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _show_version(value: bool) -> None:
    if value:
        print(f"mapfold {__version__}", flush=True)
        raise typer.Exit(0)


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Count the distinct foldings of p1 x p2 x ... x pd maps, exactly, on every core."""


@app.command(
    short_help="Count the foldings of a map (e.g. 2x5).",
    help=(
        "Count the foldings of a map, e.g. 2x5, 3x3x3, or 7 (a 1 x 7 strip). "
        f"Maps of at most {MAX_LEAVES} leaves (the product of the sides). "
        "Also reports the symmetric total (for a 1 x 2n strip, OEIS A007822(n))."
    ),
)
def count(
    shape: Annotated[
        str, typer.Argument(metavar="SHAPE", help="Sides joined by 'x' (2x5, 2X5, 3x3x3); one number n is a 1 x n strip.")
    ],
    threads: Annotated[
        Optional[int],
        typer.Option(
            "--threads",
            "-t",
            help=(
                f"Worker threads, 1 to {MAX_THREADS}; by default the CPUs this process may use (its affinity mask, "
                f"lowered to its CPU quota). More than {THREADS_PER_CPU_CAP} per usable CPU (at least 64) run as that "
                f"many. The symmetric total's buffers take at most {DEFAULT_MAX_BYTES >> 20} MiB whatever the count."
            ),
            show_default="the usable CPUs",
            metavar="N",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of a table.")] = False,
    symmetric: Annotated[
        bool,
        typer.Option(
            "--symmetric/--no-symmetric",
            help=(
                "Gather the symmetric total (OEIS A007822 for a 1 x 2n strip). The mirror walk builds "
                "only the foldings that can count, so it adds about 0-7% to the fold count's time."
            ),
        ),
    ] = True,
    symmetric_only: Annotated[
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
    ] = False,
    progress: Annotated[
        Optional[bool],
        typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.", show_default="when stderr is a terminal"),
    ] = None,
    checkpoint: Annotated[
        Optional[str],
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help=(
                "Journal finished tasks to FILE (created if absent) and resume from it: after Ctrl-C, SIGTERM or a "
                "crash, the same command goes on where it stopped, with the walk that wrote the journal. A finished "
                "journal prints its result again."
            ),
        ),
    ] = None,
    min_tasks: Annotated[
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
    ] = None,
    scheduler: Annotated[
        Optional[str],
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help=(
                "Run the count on a Dask cluster: the scheduler's address, tcp://HOST:8786 (or tls://..., with Dask's "
                "own security configuration). Every worker needs mapfold installed. See README, 'Counting on a cluster'."
            ),
        ),
    ] = None,
) -> None:
    """Count the foldings of a map."""
    try:
        sides = parse_shape(shape)
    except ShapeError as error:
        raise _fail(str(error), 2) from None
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise _fail(f"--threads must be between 1 and {MAX_THREADS}, got {threads}", 2)
    if min_tasks is not None and not 1 <= min_tasks <= MAX_TASKS:
        raise _fail(f"--min-tasks must be between 1 and {MAX_TASKS}, got {min_tasks}", 2)
    if symmetric_only and not symmetric:
        raise _fail("--symmetric-only counts the symmetric total; it cannot go with --no-symmetric", 2)
    if symmetric_only and min_tasks is not None:
        raise _fail("--min-tasks plans the fold walk's tasks; --symmetric-only runs the mirror walk alone", 2)
    show_progress = sys.stderr.isatty() if progress is None else progress
    client = None
    if scheduler is not None:
        from mapfold.dask_front import connect

        try:
            client = connect(scheduler)
        except OSError as error:
            raise _fail(str(error), 2) from None

    def note_a_long_count() -> None:
        """Before a count without a journal: say so when it will take over an hour (cheap for small maps)."""
        # The estimate is the fold walk's; the mirror walk alone has none (see README).
        if checkpoint is None and client is None and not symmetric_only:
            seconds = likely_over(sides, threads, seconds=3600.0)
            if seconds is not None:
                _stderr.print(
                    f"mapfold: note: this count will take about {_duration(seconds)} on this machine "
                    "(`mapfold estimate` says more); consider --checkpoint FILE so that it can be resumed",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )

    # Ctrl-C and SIGTERM only set an event that the runner polls: a KeyboardInterrupt raised wherever
    # the main thread happens to be can be swallowed (numba compiling, a __del__), and the run would
    # go on. A second Ctrl-C does not wait for anything (a journal on disk is whole up to its last line).
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
        result = _count_answering_interrupts(
            sides,
            threads,
            symmetric,
            show_progress,
            interrupted,
            checkpoint=checkpoint,
            client=client,
            exit_code=exit_code,
            before=note_a_long_count,
            min_tasks=min_tasks,
            folds=not symmetric_only,
        )
    except KeyboardInterrupt as error:
        if checkpoint is not None and isinstance(error, CountInterrupted):
            raise _fail(
                f"interrupted; {error.tasks_done} of {error.tasks_total} tasks done and journaled in {checkpoint}; "
                "run the same command again to resume",
                exit_code(),
            ) from None
        raise _fail("interrupted; no total (use --checkpoint FILE to make a count resumable)", exit_code()) from None
    except JournalError as error:
        raise _fail(str(error), 2) from None
    except (WorkerError, SenderError) as error:
        if interrupted.is_set():  # the interrupt came first or together: it is what the user needs to hear
            raise _fail("interrupted; no total", exit_code()) from None
        if checkpoint is not None:
            resume = f"tasks finished before it are in {checkpoint}: run the same command to resume"
            raise _fail(f"{error}; no total ({resume})", 1) from None
        raise _fail(str(error), 1) from None
    except MemoryError:
        raise _fail("out of memory; no total (try fewer --threads, or a smaller map)", 1) from None
    except OSError as error:
        raise _fail(f"checkpoint {checkpoint}: {error.strerror or error}", 2) from None
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        if client is not None:
            client.close()
    if as_json:
        print(json.dumps(result.to_dict()))
    else:
        _stdout.print(_table(result))
    sys.stdout.flush()


#: After Ctrl-C, how long the count may take to stop before the command ends without it: only
#: numba compiling (which nothing can cut short) takes longer.
_INTERRUPT_GRACE_SECONDS = 1.0


def _count_answering_interrupts(
    sides,
    threads,
    symmetric,
    show_progress,
    interrupted: threading.Event,
    checkpoint=None,
    client=None,
    exit_code=lambda: 130,
    before=lambda: None,
    min_tasks=None,
    folds=True,
) -> CountResult:
    """``count_folds`` on a thread of its own, so that the main thread answers Ctrl-C even while numba compiles.

    The count stops by itself once it sees ``interrupted``; if it has not within
    ``_INTERRUPT_GRACE_SECONDS`` (it is compiling), the process ends with status 130 without it.
    """
    outcome: dict[str, Any] = {}

    def counting() -> None:
        try:
            before()
            outcome["result"] = count_folds(
                sides,
                threads=threads,
                symmetric=symmetric,
                progress=show_progress,
                stop_event=interrupted,
                checkpoint=checkpoint,
                client=client,
                min_tasks=min_tasks,
                folds=folds,
            )
        except BaseException as error:  # noqa: BLE001 - re-raised on the main thread below
            outcome["error"] = error

    counter = threading.Thread(target=counting, name="mapfold-count", daemon=True)
    counter.start()
    while counter.is_alive():
        counter.join(0.05)
        if interrupted.is_set() and counter.is_alive():
            counter.join(_INTERRUPT_GRACE_SECONDS)
            if counter.is_alive():
                _stderr.print("mapfold: error: interrupted; no total", markup=False, highlight=False, soft_wrap=True)
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
    table.add_row("walk", _walk_name(result))
    table.add_row("threads", str(result.threads))
    table.add_row("tasks", str(result.tasks))
    table.add_row("seconds", f"{result.elapsed_seconds:.3f}")
    return table


def _usage_exceptions() -> tuple[type[BaseException], type[BaseException], type[BaseException] | None]:
    """Click's ``UsageError``, ``ClickException`` and ``NoArgsIsHelpError``, wherever this Typer keeps click."""
    try:  # Typer 0.2x carries its own copy of click
        from typer._click.exceptions import ClickException, UsageError
    except ImportError:
        from click.exceptions import ClickException, UsageError
    no_args = next((cls for cls in UsageError.__subclasses__() if cls.__name__ == "NoArgsIsHelpError"), None)
    return UsageError, ClickException, no_args


_SHAPE_LIKE = re.compile(r"^\d+([xX]\d+)*$")


def _usage_hint(error: BaseException, argv: Sequence[str]) -> str:
    """The one hint line for a usage error."""
    message = error.format_message()
    stray = next((word for word in argv if _SHAPE_LIKE.match(word)), None)
    if "No such command" in message and stray is not None:
        return f"hint: to count the foldings of a {stray} map, run: mapfold count {stray}"
    context = getattr(error, "ctx", None)
    command_path = context.command_path if context is not None else "mapfold"
    return f"hint: see '{command_path} --help'"


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that what is still buffered cannot fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Parameters
    ----------
    argv
        The arguments after the program name.

    Returns
    -------
    int
        0, or the status of the error printed on stderr (2 usage, 1 failure, 130 interrupt).
    """
    if hasattr(signal, "SIGPIPE"):
        # A reader that has gone away (``mapfold count 2x9 | head -1``) ends us quietly, as it
        # would any Unix filter, instead of raising BrokenPipeError at some later write.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    argv = list(sys.argv[1:] if argv is None else argv)
    usage_error, click_exception, no_args_error = _usage_exceptions()
    try:
        try:
            status = typer.main.get_command(app).main(args=argv, prog_name="mapfold", standalone_mode=False)
        except SystemExit as exit_request:
            status = exit_request.code
        sys.stdout.flush()
        return status if isinstance(status, int) else 0
    except usage_error as error:
        if no_args_error is not None and isinstance(error, no_args_error):
            print(error.format_message(), file=sys.stderr)
            return 2
        message = " ".join(error.format_message().split())
        print(f"mapfold: error: {message}\n{_usage_hint(error, argv)}", file=sys.stderr)
        return 2
    except click_exception as error:
        print(f"mapfold: error: {' '.join(error.format_message().split())}", file=sys.stderr)
        return error.exit_code
    except MemoryError:
        print("mapfold: error: out of memory", file=sys.stderr)
        return 1
    except OSError as error:
        if error.errno == errno.EPIPE:
            _silence_stdout()
            return 141  # as if SIGPIPE had ended us (where there is no SIGPIPE to do it)
        _silence_stdout()
        print(f"mapfold: error: cannot write the output: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mapfold: error: interrupted", file=sys.stderr)
        return 130


def _duration(seconds: float) -> str:
    """A rough human duration: 40 s, 12 min, 5.3 h, 41 days, 3.2e+04 years."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    if seconds < 2 * 365 * 86400:
        return f"{seconds / 86400:.0f} days"
    return f"{seconds / (365.25 * 86400):.2g} years"


@app.command(
    help=(
        "Estimate a count before running it: the number of foldings, the nodes of the search tree and the time "
        "on this machine, from Knuth's random probes of the real tree and a timed sample of the real walk. "
        "The time is the fold walk's (the symmetric total's mirror walk adds about 1%)."
    )
)
def estimate(
    shape: Annotated[str, typer.Argument(help="Sides joined by 'x' (2x5, 2X5, 3x3x3); one number n is a 1 x n strip.")],
    threads: Annotated[
        Optional[int],
        typer.Option("--threads", "-t", help="Threads the count would use (default: the CPUs this process may use)."),
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", "-s", help="How long to sample (more: a tighter estimate).")] = 3.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of a table.")] = False,
) -> None:
    """Estimate the size and time of a count."""
    from mapfold.runner import available_cpus

    try:
        sides = parse_shape(shape)
    except ShapeError as error:
        raise _fail(str(error), 2) from None
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise _fail(f"--threads must be between 1 and {MAX_THREADS}, got {threads}", 2)
    if not 0.05 <= seconds <= 86400:
        raise _fail(f"--seconds must be between 0.05 and 86400, got {seconds}", 2)
    threads = threads if threads is not None else available_cpus()
    result = estimate_count(sides, threads=threads, seconds=seconds)
    if as_json:
        print(json.dumps(result.to_dict()))
        return
    table = Table(title=f"mapfold estimate {format_shape(result.shape)}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("leaves", str(result.leaves))
    table.add_row("foldings", f"~{result.folds_estimate:.3g} (+/- {100 * result.folds_relative_error:.1f}%)")
    known = known_folds(counted_sides(tuple(result.shape)))
    if known is not None:
        table.add_row(f"OEIS {known[0]}({known[1]})", f"{known[2]:,}")
    table.add_row("tree nodes walked", f"~{result.nodes_estimate:.3g}")
    if result.seconds_estimate is not None:
        spread = 100 * (result.seconds_relative_error or 0.0)
        table.add_row(f"time on {result.threads} threads", f"~{_duration(result.seconds_estimate)} (+/- {spread:.0f}%)")
    table.add_row("probes / timed subtrees", f"{result.probes:,} / {result.timed_subtrees:,}")
    _stdout.print(table)
