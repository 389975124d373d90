"""What every command shares: the consoles, the one-line error, the checks of a shape and a thread count, durations."""

from __future__ import annotations

import typer
from rich.console import Console

from mapfold.limits import MAX_THREADS
from mapfold.shape import ShapeError, parse_shape

stdout = Console()
stderr = Console(stderr=True)


def fail(message: str, code: int) -> typer.Exit:
    """Print a one-line error on stderr and return the Exit to raise."""
    stderr.print(f"mapfold: error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def duration(seconds: float) -> str:
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


def sides_or_fail(shape: str) -> tuple[int, ...]:
    """The sides of ``shape`` (``2x5``), or exit 2 with the parser's one line."""
    try:
        return parse_shape(shape)
    except ShapeError as error:
        raise fail(str(error), 2) from None


def check_threads(threads: int | None) -> None:
    """Exit 2 unless ``threads`` is unset or between 1 and ``MAX_THREADS``."""
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise fail(f"--threads must be between 1 and {MAX_THREADS}, got {threads}", 2)
