"""``mapfold draw``: a picture of one folding, as SVG or as text on the terminal."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.text import Text

from mapfold.cli.common import fail, stdout
from mapfold.draw import FoldingError, check_pile, parse_pile, svg_picture, text_picture
from mapfold.shape import ShapeError, counted_sides, format_shape, parse_shape

#: How the command presents itself in ``mapfold --help``.
SETTINGS = dict(
    name="draw",
    short_help="Draw one folding of a map: the pile from its sides and the flat map.",
    help=(
        "Draw one folding of a map: the pile seen from its sides, each leaf a bar in pile order and each crease an "
        "arc on the edge of the pile where it lies (a strip has two edges, a 2-D map four, so two views), and the "
        "flat map with its leaf numbers. Choose the folding by its place in `mapfold list`'s order (--index, from "
        "0) or give the pile itself (--pile, leaves from the top down). SVG with -o FILE.svg; otherwise text."
    ),
)


def draw(
    shape: Annotated[
        str, typer.Argument(metavar="SHAPE", help="Sides joined by 'x' (2x3, 2X3, 2x2x2); one number n is a 1 x n strip.")
    ],
    index: Annotated[
        Optional[int],
        typer.Option("--index", "-i", metavar="K", help="The folding at place K (from 0) of `mapfold list SHAPE`'s order."),
    ] = None,
    pile: Annotated[
        Optional[str],
        typer.Option("--pile", "-p", metavar="LEAVES", help="The folding itself: its leaves from the top down, e.g. '1 2 4 3'."),
    ] = None,
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", metavar="FILE.svg", help="Write an SVG picture to FILE.svg.")
    ] = None,
) -> None:
    """Draw one folding of a map."""
    try:
        sides = counted_sides(parse_shape(shape))
    except ShapeError as error:
        raise fail(str(error), 2) from None
    if (index is None) == (pile is None):
        raise fail("give exactly one of --index K and --pile LEAVES", 2)
    if output is not None and not output.lower().endswith(".svg"):
        raise fail(f"-o {output}: the picture is SVG; name the file FILE.svg", 2)
    if pile is not None:
        try:
            chosen = parse_pile(pile)
            check_pile(sides, chosen)
        except FoldingError as error:
            raise fail(str(error), 2) from None
    else:
        chosen = _folding_at(sides, index)
    if output is not None:
        try:
            with open(output, "w", encoding="utf-8") as file:
                file.write(svg_picture(sides, chosen, shape))
        except OSError as error:
            raise fail(f"cannot write {output}: {error.strerror or error}", 1) from None
        return
    for line in text_picture(sides, chosen, shape):
        stdout.print(Text(line), soft_wrap=True)


def _folding_at(sides: tuple[int, ...], index: int) -> tuple[int, ...]:
    """The folding at ``index`` of the listing order; a one-line error (exit 2) when there is none."""
    from mapfold.oeis import known_folds
    from mapfold.run.listing import iter_foldings

    known = known_folds(sides)
    if index < 0:
        raise fail(f"--index counts from 0, got {index}", 2)
    if known is not None and index >= known[2]:
        raise fail(
            f"--index {index} is out of range: a {format_shape(sides)} map has {known[2]:,} foldings (0..{known[2] - 1:,})", 2
        )
    from mapfold.run.listing import resolve_shape

    try:
        resolve_shape(sides)
    except ShapeError as error:
        raise fail(str(error), 2) from None
    seen = 0
    for rows in iter_foldings(sides, limit=index + 1):
        if seen + len(rows) > index:
            return tuple(int(leaf) for leaf in rows[index - seen])
        seen += len(rows)
    raise fail(f"--index {index} is out of range: a {format_shape(sides)} map has {seen:,} foldings (0..{seen - 1:,})", 2)
