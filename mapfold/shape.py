"""Parsing map shapes such as ``2x5``, ``3x3x3`` or ``7`` (a 1 x 7 strip)."""

from __future__ import annotations

import math
import re

#: The most leaves (unit squares) a map may have. Up to 64 the walks keep each set of gaps in one
#: 64-bit word; past it, in several (``walks.orbit_wide``), with leaves as ``uint16`` past 255. The
#: bound keeps the walk tables small (about 10 MiB on 2^10) and covers ``2^10``; counting is
#: another matter: 2 x 20 (40 leaves) and 2^7 (128) are about the limit of what can be counted.
MAX_LEAVES = 1024

_SIDE = re.compile(r"[0-9]+")


class ShapeError(ValueError):
    """The text does not describe a map that mapfold can count."""


def parse_shape(text: str) -> tuple[int, ...]:
    """Read a map shape written as sides joined by ``x``.

    Parameters
    ----------
    text
        ``"2x5"``, ``"2X5"``, ``"3x3x3"``; a single number ``"7"`` is a 1 x 7 strip.

    Returns
    -------
    tuple of int
        The sides as written (a single number becomes ``(1, n)``).

    Raises
    ------
    ShapeError
        With a one-line message naming the problem: empty text, a missing, non-integer, zero or
        negative side, or a map of more than ``MAX_LEAVES`` leaves.
    """
    cleaned = text.strip()
    if not cleaned:
        raise ShapeError("the shape is empty; write sides joined by 'x', for example 2x5")
    parts = cleaned.lower().split("x")
    sides: list[int] = []
    for position, part in enumerate(parts, start=1):
        part = part.strip()
        if not part:
            raise ShapeError(f"shape {text!r}: side {position} is missing; write sides joined by 'x', for example 2x5")
        if not _SIDE.fullmatch(part):
            raise ShapeError(f"shape {text!r}: side {part!r} is not a positive whole number")
        if len(part) > 6:
            # Bounds the work done on absurd input before the leaf limit below refuses it.
            raise ShapeError(f"shape {text!r}: side {part} is too large (at most {MAX_LEAVES} leaves in all)")
        side = int(part)
        if side == 0:
            raise ShapeError(f"shape {text!r}: a side of 0 is not a map")
        sides.append(side)
    if len(sides) == 1:
        sides.insert(0, 1)
    validate_shape(sides)
    return tuple(sides)


def validate_shape(sides: tuple[int, ...] | list[int]) -> None:
    """Raise ``ShapeError`` unless every side is a positive int and the map has at most ``MAX_LEAVES`` leaves."""
    if len(sides) == 0:
        raise ShapeError("the shape has no sides")
    for side in sides:
        if isinstance(side, bool) or not isinstance(side, int) or side < 1:
            raise ShapeError(f"shape {format_shape(sides)}: every side must be a positive whole number, got {side!r}")
    leaves_total = math.prod(sides)
    if leaves_total > MAX_LEAVES:
        raise ShapeError(
            f"shape {format_shape(sides)} has {leaves_total} leaves; mapfold counts maps of at most {MAX_LEAVES} leaves"
        )


def format_shape(sides: tuple[int, ...] | list[int]) -> str:
    """Write sides back as text, ``(2, 5)`` -> ``"2x5"``."""
    return "x".join(str(side) for side in sides)


def counted_sides(sides: tuple[int, ...]) -> tuple[int, ...]:
    """The sides the walk uses: a side of 1 joins no leaves, so it is dropped (``1x7`` counts as ``7``).

    Leaf numbering is unchanged by dropping it, so every total, the symmetric one included, is too.
    """
    kept = tuple(side for side in sides if side > 1)
    return kept if kept else (1,)
