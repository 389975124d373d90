"""The ``mapfold`` command line: parse, call the library, render. Nothing else lives here."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from mapfold import __version__
from mapfold.estimate import estimate_count, likely_over
from mapfold.journal import JournalError
from mapfold.oeis import known_folds, known_symmetric
from mapfold.runner import CountInterrupted, CountResult, WorkerError, count_folds
from mapfold.sender import SenderError
from mapfold.shape import MAX_LEAVES, ShapeError, counted_sides, format_shape, parse_shape

app = typer.Typer(
    name="mapfold",
    help="Count the distinct foldings of p1 x p2 x ... x pd maps, exactly, on every core.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
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
        print(f"mapfold {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Count the distinct foldings of p1 x p2 x ... x pd maps, exactly, on every core."""


@app.command(
    help=(
        "Count the foldings of a map, e.g. 2x5, 3x3x3, or 7 (a 1 x 7 strip). "
        f"Maps of at most {MAX_LEAVES} leaves (the product of the sides). "
        "Also reports the symmetric total (for a 1 x 2n strip, OEIS A007822(n))."
    )
)
def count(
    shape: Annotated[str, typer.Argument(help="Sides joined by 'x' (2x5, 2X5, 3x3x3); one number n is a 1 x n strip.")],
    threads: Annotated[
        Optional[int], typer.Option("--threads", "-t", help="Worker threads [default: the CPUs this process may use].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of a table.")] = False,
    symmetric: Annotated[
        bool,
        typer.Option(
            "--symmetric/--no-symmetric",
            help=(
                "Gather the symmetric total (OEIS A007822 for a 1 x 2n strip). A gate in the kernel "
                "sends only the foldings that can count, so it adds a fraction of the fold count's time."
            ),
        ),
    ] = True,
    progress: Annotated[
        Optional[bool],
        typer.Option("--progress/--no-progress", help="Show a progress bar on stderr [default: when stderr is a terminal]."),
    ] = None,
    checkpoint: Annotated[
        Optional[str],
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help=(
                "Journal finished tasks to FILE (created if absent) and resume from it: after Ctrl-C, SIGTERM or a "
                "crash, the same command goes on where it stopped. A finished journal prints its result again."
            ),
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
    show_progress = sys.stderr.isatty() if progress is None else progress
    client = None
    if scheduler is not None:
        from mapfold.dask_front import connect

        try:
            client = connect(scheduler)
        except OSError as error:
            raise _fail(str(error), 2) from None
    if checkpoint is None and client is None:
        hours = likely_over(sides, threads, seconds=3600.0)
        if hours is not None:
            _stderr.print(
                f"mapfold: note: this count will take about {_duration(hours)} on this machine "
                "(`mapfold estimate` says more); consider --checkpoint FILE so that it can be resumed",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    # Ctrl-C and SIGTERM only set an event that the runner polls: a KeyboardInterrupt raised wherever
    # the main thread happens to be can be swallowed (numba compiling, a __del__), and the run would
    # go on. A second Ctrl-C exits at once (the journal is already on disk line by line).
    interrupted = threading.Event()
    received: list[int] = []

    def on_signal(signum, frame) -> None:
        if interrupted.is_set() and signum == signal.SIGINT:
            os.write(2, b"mapfold: error: interrupted again; exiting at once\n")
            os._exit(130)
        received.append(signum)
        interrupted.set()

    in_main_thread = threading.current_thread() is threading.main_thread()  # where signals can be handled
    previous_handlers = (
        {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
    )
    try:
        result = count_folds(
            sides,
            threads=threads,
            symmetric=symmetric,
            progress=show_progress,
            stop_event=interrupted,
            checkpoint=checkpoint,
            client=client,
        )
    except KeyboardInterrupt as error:
        code = 143 if received and received[0] == signal.SIGTERM else 130
        if checkpoint is not None and isinstance(error, CountInterrupted):
            raise _fail(
                f"interrupted; {error.tasks_done} of {error.tasks_total} tasks done and journaled in {checkpoint}; "
                "run the same command again to resume",
                code,
            ) from None
        raise _fail("interrupted; no total (use --checkpoint FILE to make a count resumable)", code) from None
    except JournalError as error:
        raise _fail(str(error), 2) from None
    except OSError as error:
        raise _fail(f"checkpoint {checkpoint}: {error.strerror or error}", 2) from None
    except (WorkerError, SenderError) as error:
        raise _fail(str(error), 1) from None
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        if client is not None:
            client.close()
    if as_json:
        print(json.dumps(result.to_dict()))
    else:
        _stdout.print(_table(result))


def _table(result: CountResult) -> Table:
    """The human-readable form of a result."""
    table = Table(title=f"mapfold {format_shape(result.shape)}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("shape", format_shape(result.shape))
    table.add_row("leaves", str(result.leaves))
    table.add_row("foldings", f"{result.folds_total:,}")
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
    table.add_row("threads", str(result.threads))
    table.add_row("tasks", str(result.tasks))
    table.add_row("seconds", f"{result.elapsed_seconds:.3f}")
    return table


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
        "The time is the walk's (the fold total; behind the kernel's gate the symmetric total adds little)."
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
