"""``mapfold list``: every folding of a map, one per line (text, JSON lines) or one ``.npy`` array."""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import sys
import tempfile
from typing import Annotated, BinaryIO, Optional

import numpy as np
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
#: The ``.npy`` header takes this many bytes: room for any shape's dictionary, and a multiple of
#: 64 so that the rows that follow are aligned for memory-mapping. Written last, over zeros.
_NPY_HEADER_BYTES = 128
_NPY_MAGIC = b"\x93NUMPY\x01\x00"
#: Foldings below this count get no progress bar: they are listed before one could be read.
_BAR_THRESHOLD = 1_000_000


def npy_header(rows: int, width: int, dtype: np.dtype) -> bytes:
    """A version 1.0 ``.npy`` header of exactly ``_NPY_HEADER_BYTES`` bytes for a C-order ``(rows, width)`` array."""
    text = f"{{'descr': '{np.dtype(dtype).str}', 'fortran_order': False, 'shape': ({rows}, {width}), }}"
    body = _NPY_HEADER_BYTES - len(_NPY_MAGIC) - 2
    if len(text) + 1 > body:
        raise ValueError("the .npy header does not fit")  # cannot happen below 10**40 rows
    return _NPY_MAGIC + struct.pack("<H", body) + (text.ljust(body - 1) + "\n").encode("latin1")


def smallest_unsigned(largest: int) -> np.dtype:
    """The smallest unsigned integer dtype that holds ``largest``."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if largest <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


class _TextRows:
    """Batches of rows as ASCII: numbers separated by spaces, or one JSON array a line."""

    def __init__(self, as_json: bool) -> None:
        from mapfold.jit.text import text_bytes_bound, write_rows_as_text

        pieces = (b"[", b", ", b"]") if as_json else (b"", b" ", b"")
        self._pieces = tuple(np.frombuffer(piece, dtype=np.uint8) for piece in pieces)
        self._raw = pieces
        self._bound = text_bytes_bound
        self._write = write_rows_as_text
        self._buffer = np.empty(0, dtype=np.uint8)

    def __call__(self, rows: np.ndarray) -> memoryview:
        needed = self._bound(len(rows), rows.shape[1], *self._raw)
        if len(self._buffer) < needed:
            self._buffer = np.empty(needed, dtype=np.uint8)
        used = self._write(rows, *self._pieces, self._buffer)
        return memoryview(self._buffer[:used])


@contextlib.contextmanager
def _output_file(path: str):
    """A binary file that appears at ``path`` only when the block ends without error.

    The rows go to a temporary file beside ``path``, renamed over it at the end, so a list cut short
    (Ctrl-C, a full disk) never leaves a file that looks complete. A path that exists and is not a
    regular file (``/dev/null``, a named pipe) is written directly: there is nothing to rename.
    """
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "wb") as file:
            yield file
        return
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as an ordinary new file: mkstemp makes it private
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _progress_bar(total: int | None, show: bool | None):
    """A bar on stderr counting foldings, or ``None``: by default only on a terminal, for long lists."""
    if show is None:
        show = sys.stderr.isatty() and (total is None or total >= _BAR_THRESHOLD)
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=" foldings", unit_scale=True, file=sys.stderr, smoothing=0.0, desc="list", leave=True)


def _write_all(batches, file: BinaryIO, format_name: str, bar, flush: bool) -> int:
    """Write every batch to ``file`` in ``format_name``; return the rows written."""
    written = 0
    if format_name == "npy":
        file.write(bytes(_NPY_HEADER_BYTES))  # zeros: not a .npy until the real header goes over them
        for rows in batches:
            file.write(memoryview(np.ascontiguousarray(rows)))
            written += len(rows)
            if bar is not None:
                bar.update(len(rows))
        return written
    as_text = _TextRows(as_json=format_name == "jsonl")
    for rows in batches:
        file.write(as_text(rows))
        if flush:
            file.flush()  # a reader sees each batch as soon as it is found (--limit on a big map)
        written += len(rows)
        if bar is not None:
            bar.update(len(rows))
    return written


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
    from mapfold.oeis import known_folds
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
    leaves_total = int(np.prod(sides))
    bar = _progress_bar(total, progress)
    batches = iter_foldings(sides, limit=limit, threads=threads)
    try:
        with contextlib.closing(batches):
            if output is None or output == "-":
                _write_all(batches, sys.stdout.buffer, format_name, bar, flush=True)
                sys.stdout.buffer.flush()
                return
            opened = False
            try:
                with _output_file(output) as file:
                    opened = True
                    written = _write_all(batches, file, format_name, bar, flush=False)
                    if format_name == "npy":
                        file.seek(0)
                        file.write(npy_header(written, leaves_total, smallest_unsigned(leaves_total)))
            except OSError as error:
                # A file that cannot be made is a usage error; one that fails while written (a full disk) is not.
                raise fail(f"cannot write {output}: {error.strerror or error}", 1 if opened else 2) from None
    except KeyboardInterrupt:
        unwritten = f"; {output} was not written" if output not in (None, "-") else ""
        raise fail(f"interrupted; the list is incomplete{unwritten}", 130) from None
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
