"""How ``mapfold list`` writes its rows: text, JSON lines or ``.npy``, to stdout or a file that appears only when whole.

Loaded when the command runs, not with the command line (numpy is not needed for ``--help``).
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
from typing import BinaryIO

import numpy as np

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


class TextRows:
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
def output_file(path: str):
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


def progress_bar(total: int | None, show: bool | None):
    """A bar on stderr counting foldings, or ``None``: by default only on a terminal, for long lists."""
    if show is None:
        show = sys.stderr.isatty() and (total is None or total >= _BAR_THRESHOLD)
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=" foldings", unit_scale=True, file=sys.stderr, smoothing=0.0, desc="list", leave=True)


def write_all(batches, file: BinaryIO, format_name: str, bar, flush: bool) -> int:
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
    as_text = TextRows(as_json=format_name == "jsonl")
    for rows in batches:
        file.write(as_text(rows))
        if flush:
            file.flush()  # a reader sees each batch as soon as it is found (--limit on a big map)
        written += len(rows)
        if bar is not None:
            bar.update(len(rows))
    return written
