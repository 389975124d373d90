"""``mapfold list``: every folding of a map, one per line (text, JSON lines) or one ``.npy`` array."""

from __future__ import annotations

import contextlib
import math
import os
import stat
import sys
from typing import Annotated, Optional

import typer

from mapfold.cli.common import check_threads, fail, sides_or_fail
from mapfold.limits import MAX_THREADS
from mapfold.shape import ShapeError, counted_sides

#: How the command presents itself in ``mapfold --help``.
SETTINGS = dict(
    name="list",
    short_help="List every folding of a map, one per line (e.g. 2x3).",
    help=(
        "List every folding of a map, e.g. 2x3 or 7 (a 1 x 7 strip): each folding is the pile read from the "
        "top down, leaves numbered 1..N in mixed radix with the first side varying fastest (on a 2x3 map, "
        "leaves 1 2 form the first row, 3 4 the second, 5 6 the third). The order is fixed, the same for any "
        "--threads: Lunnon's depth-first walk of the foldings with leaf 1 on top, each followed by its rotations."
    ),
)

FORMATS = ("text", "jsonl", "npy")


def list_foldings(
    shape: Annotated[
        str, typer.Argument(metavar="SHAPE", help="Sides joined by 'x' (2x3, 2X3, 2x2x2); one number n is a 1 x n strip.")
    ],
    format_name: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="text (numbers separated by spaces), jsonl (one JSON array a line) or npy (one (foldings, N) array; needs -o).",
        ),
    ] = "text",
    output: Annotated[
        Optional[str],
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to FILE (it appears only once the list is complete) instead of stdout."
        ),
    ] = None,
    limit: Annotated[
        Optional[int],
        typer.Option("--limit", metavar="K", help="Only the first K foldings of the order, written as soon as they are found."),
    ] = None,
    threads: Annotated[
        Optional[int],
        typer.Option(
            "--threads",
            "-t",
            metavar="N",
            help=f"Worker threads, 1 to {MAX_THREADS}; the output is the same for any.",
            show_default="the usable CPUs",
        ),
    ] = None,
    progress: Annotated[
        Optional[bool],
        typer.Option(
            "--progress/--no-progress", help="Show a progress bar on stderr.", show_default="on a terminal, for long lists"
        ),
    ] = None,
) -> None:
    """List every folding of a map."""
    from mapfold.cli.list_output import npy_header, output_file, progress_bar, smallest_unsigned, write_all
    from mapfold.oeis import known_folds
    from mapfold.results import WorkerError
    from mapfold.run.listing import iter_foldings, resolve_shape

    sides = sides_or_fail(shape)
    try:
        resolve_shape(sides)  # a map the listing's walk can take (at most 64 leaves)
    except ShapeError as error:
        raise fail(str(error), 2) from None
    if format_name not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, got {format_name!r}", 2)
    check_threads(threads)
    if limit is not None and limit < 0:
        raise fail(f"--limit must be at least 0, got {limit}", 2)
    if format_name == "npy" and (output is None or output == "-"):
        raise fail("--format npy writes a file: give it with -o FILE.npy", 2)
    if output is not None and output != "-" and os.path.isdir(output):
        raise fail(f"-o {output}: is a folder", 2)
    if format_name == "npy" and _is_terminal(output):
        raise fail(f"-o {output}: a terminal is no place for a binary .npy; give a file", 2)

    known = known_folds(counted_sides(sides))
    total = known[2] if known is not None else None
    if limit is not None:
        total = limit if total is None else min(total, limit)
    leaves_total = math.prod(sides)
    bar = progress_bar(total, progress)
    batches = iter_foldings(sides, limit=limit, threads=threads)
    try:
        with contextlib.closing(batches):
            if output is None or output == "-":
                write_all(batches, sys.stdout.buffer, format_name, bar, flush=True)
                sys.stdout.buffer.flush()
                return
            opened = False
            try:
                with output_file(output) as file:
                    opened = True
                    written = write_all(batches, file, format_name, bar, flush=False)
                    if format_name == "npy":
                        file.seek(0)
                        file.write(npy_header(written, leaves_total, smallest_unsigned(leaves_total)))
            except OSError as error:
                # A file that cannot be made is a usage error; one that fails while written (a full disk) is not.
                raise fail(f"cannot write {output}: {error.strerror or error}", 1 if opened else 2) from None
    except KeyboardInterrupt:
        unwritten = f"; {output} was not written" if output not in (None, "-") else ""
        raise fail(f"interrupted; the list is incomplete{unwritten}", 130) from None
    except WorkerError as error:  # a lister thread failed: no list, in one line
        unwritten = f"; {output} was not written" if output not in (None, "-") else ""
        raise fail(f"{error}; the list is incomplete{unwritten}", 1) from None
    finally:
        if bar is not None:
            bar.close()


def _is_terminal(path: str) -> bool:
    """Whether writing to ``path`` would write to a terminal (``/dev/tty``, ``/dev/stdout`` on a terminal)."""
    try:
        if not stat.S_ISCHR(os.stat(path).st_mode):
            return False  # only character devices can be terminals (and opening a pipe here could block)
        with open(path, "rb", buffering=0) as probe:
            return probe.isatty()
    except OSError:
        return False
