"""The ``mapfold`` command line: parse, call the library, render. Nothing else lives here."""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from mapfold import __version__
from mapfold.oeis import known_folds, known_symmetric
from mapfold.runner import CountResult, WorkerError, count_folds
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
) -> None:
    """Count the foldings of a map."""
    try:
        sides = parse_shape(shape)
    except ShapeError as error:
        raise _fail(str(error), 2) from None
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise _fail(f"--threads must be between 1 and {MAX_THREADS}, got {threads}", 2)
    show_progress = sys.stderr.isatty() if progress is None else progress
    # Ctrl-C only sets an event that the runner polls: a KeyboardInterrupt raised wherever the
    # main thread happens to be can be swallowed (numba compiling, a __del__), and the run would
    # go on.
    interrupted = threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()  # where signals can be handled
    previous_handler = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set()) if in_main_thread else None
    try:
        result = count_folds(sides, threads=threads, symmetric=symmetric, progress=show_progress, stop_event=interrupted)
    except KeyboardInterrupt:
        raise _fail("interrupted; no total", 130) from None
    except (WorkerError, SenderError) as error:
        raise _fail(str(error), 1) from None
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous_handler)
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
