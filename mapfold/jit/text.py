"""Rows of small numbers written as text in jitted code: how ``mapfold list`` prints millions of piles.

Formatting a row with Python (``" ".join``, ``json.dumps``) costs a microsecond or more a row; the
list of a 1 x 16 strip has 16.9 million. Here a whole batch becomes one ``uint8`` buffer of ASCII in
one call, which the writer hands to the file as it is.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mapfold.jit import cache as jit_cache

jit_cache.install()  # before any cache=True function is defined

_ZERO = 48  # ord("0")
_NEWLINE = 10


def text_bytes_bound(rows: int, width: int, opening: bytes, separator: bytes, closing: bytes) -> int:
    """Bytes ``write_rows_as_text`` may need for ``rows`` rows of ``width`` values below 1000."""
    return rows * (width * (3 + len(separator)) + len(opening) + len(closing) + 1)


@njit(nogil=True, cache=True)
def write_rows_as_text(rows: np.ndarray, opening: np.ndarray, separator: np.ndarray, closing: np.ndarray, out: np.ndarray) -> int:
    """Write each row as ``opening v1 separator v2 ... closing`` and a newline; return the bytes used.

    Values are written in decimal without leading zeros and must be below 1000; ``out`` must hold
    ``text_bytes_bound`` bytes.
    """
    used = 0
    for row in range(rows.shape[0]):
        for index in range(opening.shape[0]):
            out[used] = opening[index]
            used += 1
        for column in range(rows.shape[1]):
            if column > 0:
                for index in range(separator.shape[0]):
                    out[used] = separator[index]
                    used += 1
            value = int(rows[row, column])
            if value >= 100:
                out[used] = _ZERO + value // 100
                used += 1
            if value >= 10:
                out[used] = _ZERO + (value // 10) % 10
                used += 1
            out[used] = _ZERO + value % 10
            used += 1
        for index in range(closing.shape[0]):
            out[used] = closing[index]
            used += 1
        out[used] = _NEWLINE
        used += 1
    return used
