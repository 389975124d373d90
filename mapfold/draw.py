"""Pictures of one folding: the pile seen from its sides, and the flat map with its leaf numbers.

A folding is a pile: the leaves from the top down, numbered ``1 .. N`` in mixed radix, the first
side varying fastest. Folded flat, a leaf is mirrored along a dimension once per crease of that
dimension between it and leaf 1, so the crease between coordinates ``k`` and ``k + 1`` along
dimension ``d`` lies on one edge of the pile for even ``k`` and on the opposite edge for odd ``k``.
Seen from the side that shows dimension ``d``'s two edges, each leaf is a bar and each crease an
arc joining its two leaves on its edge; a valid folding is one whose arcs on one edge never cross
(two creases of one edge cross when their leaves interleave in the pile).

A strip has one dimension, so one view (left and right edges); a 2-D map has two (one for each
pair of opposite edges); a d-dimensional map has d.

Nothing here is jitted: a picture is one folding, and the checks are written for the messages.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass

from mapfold.shape import format_shape

#: The two edges of each dimension's view, for even and for odd crease coordinates.
_EDGE_NAMES = {0: ("right", "left"), 1: ("front", "back")}
#: Colours of the arcs, one per dimension (cycled).
_ARC_COLOURS = ("#c0392b", "#2471a3", "#1e8449", "#7d3c98", "#b9770e")


class FoldingError(ValueError):
    """The pile is not a permutation of the map's leaves, or two of its creases cross."""


@dataclass(frozen=True)
class Crease:
    """The crease joining ``low`` and ``high`` (``high = low + p1 ... p(d-1)``) along ``dimension`` (from 0).

    ``edge`` is the parity of ``low``'s coordinate along the dimension: creases of one dimension and
    one edge must not cross.
    """

    dimension: int
    low: int
    high: int
    edge: int

    def label(self) -> str:
        """``"3-5"``: the two leaves it joins."""
        return f"{self.low}-{self.high}"


def edge_name(dimension: int, edge: int) -> str:
    """The name of an edge of the pile: ``right``/``left`` (dimension 1), ``front``/``back`` (2), else ``3a``/``3b``..."""
    if dimension in _EDGE_NAMES:
        return _EDGE_NAMES[dimension][edge]
    return f"{dimension + 1}{'ab'[edge]}"


def leaf_coordinates(sides: tuple[int, ...], leaf: int) -> tuple[int, ...]:
    """Coordinates (from 0) of a leaf numbered from 1, the first side varying fastest."""
    rest = leaf - 1
    coordinates = []
    for side in sides:
        coordinates.append(rest % side)
        rest //= side
    return tuple(coordinates)


def creases(sides: tuple[int, ...]) -> list[Crease]:
    """Every crease of the map, dimension by dimension, in leaf order."""
    leaves_total = math.prod(sides)
    found = []
    stride = 1
    for dimension, side in enumerate(sides):
        for leaf in range(1, leaves_total + 1):
            coordinate = leaf_coordinates(sides, leaf)[dimension]
            if coordinate + 1 < side:
                found.append(Crease(dimension, leaf, leaf + stride, coordinate % 2))
        stride *= side
    return found


def parse_pile(text: str) -> tuple[int, ...]:
    """Read a pile written as leaf numbers from the top down: ``"1 2 4 3"``, ``"1,2,4,3"`` or ``"[1, 2, 4, 3]"``."""
    words = [word for word in re.split(r"[\s,]+", text.strip().strip("[]").strip()) if word]
    if not words:
        raise FoldingError("the pile is empty; give the leaves from the top down, e.g. --pile '1 2 4 3'")
    pile = []
    for word in words:
        if not (word.isascii() and word.isdigit()):
            raise FoldingError(f"the pile holds {word!r}, which is not a leaf number")
        pile.append(int(word))
    return tuple(pile)


def check_pile(sides: tuple[int, ...], pile: tuple[int, ...]) -> None:
    """Raise ``FoldingError`` unless ``pile`` is a folding of the map (each leaf once, no two creases crossing).

    Parameters
    ----------
    sides
        The map's sides.
    pile
        Leaf numbers from the top down.

    Raises
    ------
    FoldingError
        Naming the first problem: a leaf out of range, missing or repeated, or two creases that cross.
    """
    leaves_total = math.prod(sides)
    shape = format_shape(sides)
    for leaf in pile:
        if not 1 <= leaf <= leaves_total:
            raise FoldingError(f"leaf {leaf} is not on a {shape} map (its leaves are 1..{leaves_total})")
    seen: set[int] = set()
    for leaf in pile:
        if leaf in seen:
            raise FoldingError(f"leaf {leaf} is in the pile twice; a folding holds each of the {leaves_total} leaves once")
        seen.add(leaf)
    if len(pile) != leaves_total:
        missing = min(set(range(1, leaves_total + 1)) - seen)
        raise FoldingError(f"the pile has {len(pile)} leaves, a {shape} map {leaves_total}: leaf {missing} is missing")
    crossing = first_crossing(sides, pile)
    if crossing is not None:
        first, second = crossing
        raise FoldingError(
            f"not a folding: creases {first.label()} and {second.label()} cross "
            f"(both on the {edge_name(first.dimension, first.edge)} edge of the pile)"
        )


def first_crossing(sides: tuple[int, ...], pile: tuple[int, ...]) -> tuple[Crease, Crease] | None:
    """The first two creases of one edge whose leaves interleave in the pile, or ``None``."""
    position = {leaf: index for index, leaf in enumerate(pile)}
    by_edge: dict[tuple[int, int], list[tuple[int, int, Crease]]] = {}
    for crease in creases(sides):
        top, bottom = sorted((position[crease.low], position[crease.high]))
        by_edge.setdefault((crease.dimension, crease.edge), []).append((top, bottom, crease))
    for spans in by_edge.values():
        for index, (top, bottom, crease) in enumerate(spans):
            for other_top, other_bottom, other in spans[index + 1 :]:
                if top < other_top < bottom < other_bottom or other_top < top < other_bottom < bottom:
                    return crease, other
    return None


def arc_depths(spans: list[tuple[int, int]]) -> list[int]:
    """How far out each arc of one edge is drawn: 0 for one with no arc inside it, else one more than the deepest inside.

    ``spans`` are ``(top, bottom)`` pile positions of non-crossing creases, so arcs nest like brackets
    and drawing each at its depth keeps them apart.
    """
    order = sorted(range(len(spans)), key=lambda index: spans[index][1] - spans[index][0])
    depths = [0] * len(spans)
    for rank, index in enumerate(order):
        top, bottom = spans[index]
        inside = [depths[other] + 1 for other in order[:rank] if top < spans[other][0] and spans[other][1] < bottom]
        depths[index] = max(inside, default=0)
    return depths


@dataclass(frozen=True)
class View:
    """The pile seen from the side that shows one dimension's two edges: each edge's arcs with their depths."""

    dimension: int
    arcs: tuple[
        tuple[tuple[int, int, int, Crease], ...], tuple[tuple[int, int, int, Crease], ...]
    ]  # per edge: (top, bottom, depth, crease)


def views(sides: tuple[int, ...], pile: tuple[int, ...]) -> list[View]:
    """One view per dimension with a crease (a strip: one; a 2-D map: two)."""
    position = {leaf: index for index, leaf in enumerate(pile)}
    result = []
    for dimension, side in enumerate(sides):
        if side < 2:
            continue
        per_edge = []
        for edge in (0, 1):
            chosen = [crease for crease in creases(sides) if crease.dimension == dimension and crease.edge == edge]
            spans = [tuple(sorted((position[crease.low], position[crease.high]))) for crease in chosen]
            depths = arc_depths(spans)
            arcs = zip(spans, depths, chosen, strict=True)
            per_edge.append(tuple((top, bottom, depth, crease) for (top, bottom), depth, crease in arcs))
        result.append(View(dimension, (per_edge[0], per_edge[1])))
    return result


def flat_rows(sides: tuple[int, ...]) -> list[tuple[str, list[list[int]]]]:
    """The flat map as grids of leaf numbers: one grid (rows along side 2, columns along side 1) per slice of the other sides."""
    width = sides[0]
    height = sides[1] if len(sides) > 1 else 1
    rest = sides[2:]
    slices = []
    for index in range(math.prod(rest) if rest else 1):
        offset = index * width * height
        coordinates = leaf_coordinates(rest, index + 1) if rest else ()
        title = ", ".join(f"side {dimension + 3} at {coordinate + 1}" for dimension, coordinate in enumerate(coordinates))
        grid = [[offset + row * width + column + 1 for column in range(width)] for row in range(height)]
        slices.append((title, grid))
    return slices


# ---------------------------------------------------------------------------------------------
# Text (printed with rich on a terminal)


def view_title(dimension: int) -> str:
    """What one view shows: the creases of one side, on the pile's two edges for that side."""
    return f"creases of side {dimension + 1}: {edge_name(dimension, 1)} edge | {edge_name(dimension, 0)} edge"


def text_picture(sides: tuple[int, ...], pile: tuple[int, ...], shape_text: str | None = None) -> list[str]:
    """The folding as lines of text: each view of the pile (bars with their creases' arcs), then the flat map.

    ``shape_text`` names the map in the first line (default: the sides, ``2x3``).
    """
    name = shape_text or format_shape(sides)
    lines = [f"a folding of the {name} map, leaves from the top of the pile down: {' '.join(map(str, pile))}", ""]
    digits = len(str(max(pile)))
    for view in views(sides, pile):
        right, left = view.arcs  # edge 0 (even creases) on the right, edge 1 on the left
        left_width = 1 + max((depth for _, _, depth, _ in left), default=-1)
        right_width = 1 + max((depth for _, _, depth, _ in right), default=-1)
        left_cells = [[" "] * (2 * left_width) for _ in pile]
        right_cells = [[" "] * (2 * right_width) for _ in pile]
        for top, bottom, depth, _ in right:
            column = 2 * depth + 1
            _draw_arc(right_cells, top, bottom, column, "╮", "╯", range(column))
        for top, bottom, depth, _ in left:
            column = 2 * (left_width - depth - 1)
            _draw_arc(left_cells, top, bottom, column, "╭", "╰", range(column + 1, 2 * left_width))
        lines.append(view_title(view.dimension) + ":")
        for index, leaf in enumerate(pile):
            bar = f"━━ {leaf:>{digits}} ━━"
            lines.append("  " + "".join(left_cells[index]) + bar + "".join(right_cells[index]))
        lines.append("")
    lines.append("the flat map (leaf numbers; side 1 across, side 2 down):")
    for title, grid in flat_rows(sides):
        if title:
            lines.append(f"  {title}:")
        for row in grid:
            lines.append("  " + " ".join(f"{leaf:>{digits}}" for leaf in row))
    return lines


def _draw_arc(
    cells: list[list[str]], top: int, bottom: int, column: int, top_corner: str, bottom_corner: str, towards_bar: range
) -> None:
    """One crease's arc in a gutter: corners at its two leaves, a line between, joined to the bars."""
    cells[top][column] = top_corner
    cells[bottom][column] = bottom_corner
    for row in range(top + 1, bottom):
        cells[row][column] = "│"
    for other in towards_bar:
        cells[top][other] = "─"
        cells[bottom][other] = "─"


# ---------------------------------------------------------------------------------------------
# SVG

_BAR_WIDTH = 120
_PITCH = 22
_BAR_HEIGHT = 14
_ARC_STEP = 12
_MARGIN = 24
_CELL = 34


def svg_picture(sides: tuple[int, ...], pile: tuple[int, ...], shape_text: str | None = None) -> str:
    """The folding as an SVG document: each view of the pile beside the next, then the flat map below.

    ``shape_text`` names the map in the heading (default: the sides, ``2x3``).
    """
    name = html.escape(shape_text or format_shape(sides))
    heading = f"a folding of the {name} map, from the top of the pile down: {' '.join(map(str, pile))}"
    all_views = views(sides, pile)
    deepest = max((depth for view in all_views for arcs in view.arcs for _, _, depth, _ in arcs), default=0)
    reach = _ARC_STEP * (deepest + 2)
    panel_width = max(_BAR_WIDTH + 2 * reach, 170)
    parts = [f'<text x="{_MARGIN}" y="{_MARGIN}" class="heading">{heading}</text>']
    top_y = _MARGIN + 56
    x = _MARGIN
    for view in all_views:
        parts.extend(_svg_view(view, pile, x, top_y, panel_width))
        x += panel_width + _MARGIN
    map_y = top_y + _PITCH * len(pile) + 56
    map_parts, map_right, map_bottom = _svg_flat_map(sides, pile, map_y)
    parts.extend(map_parts)
    width = max(x, map_right, _MARGIN + 7 * len(heading)) + _MARGIN
    height = map_bottom + _MARGIN
    style = (
        "text{font-family:sans-serif;font-size:12px}.heading{font-size:14px}.title{font-size:13px;font-weight:bold}"
        ".small{font-size:10px;fill:#555}.leaf{fill:#f4ecd8;stroke:#7a6a4f}.cell{fill:#f4ecd8;stroke:#7a6a4f}"
        ".arc{fill:none;stroke-width:2}"
    )
    header = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>{heading}</title><style>{style}</style>"
    )
    return "\n".join([header, *parts, "</svg>"]) + "\n"


def _svg_view(view: View, pile: tuple[int, ...], x: float, top_y: float, panel_width: float) -> list[str]:
    """One view: its title, a bar per leaf in pile order, and an arc per crease on its edge."""
    colour = _ARC_COLOURS[view.dimension % len(_ARC_COLOURS)]
    left_x = x + (panel_width - _BAR_WIDTH) / 2
    right_x = left_x + _BAR_WIDTH
    centre = x + panel_width / 2
    edges = f"{edge_name(view.dimension, 1)} edge | {edge_name(view.dimension, 0)} edge"
    parts = [
        f'<text x="{centre}" y="{top_y - 24}" text-anchor="middle" class="title">creases of side {view.dimension + 1}</text>',
        f'<text x="{centre}" y="{top_y - 10}" text-anchor="middle" class="small">{edges}</text>',
    ]
    for index, leaf in enumerate(pile):
        y = top_y + index * _PITCH
        parts.append(f'<rect x="{left_x}" y="{y}" width="{_BAR_WIDTH}" height="{_BAR_HEIGHT}" rx="3" class="leaf"/>')
        parts.append(f'<text x="{centre}" y="{y + _BAR_HEIGHT - 3}" text-anchor="middle">{leaf}</text>')
    for edge, arcs in enumerate(view.arcs):
        edge_x, outward = (right_x, 1) if edge == 0 else (left_x, -1)
        for top, bottom, depth, crease in arcs:
            y1 = top_y + top * _PITCH + _BAR_HEIGHT / 2
            y2 = top_y + bottom * _PITCH + _BAR_HEIGHT / 2
            bulge = edge_x + outward * _ARC_STEP * (depth + 1) * 1.6  # a cubic's reach is 3/4 of its control points'
            parts.append(
                f'<path d="M {edge_x} {y1} C {bulge} {y1} {bulge} {y2} {edge_x} {y2}" stroke="{colour}" class="arc">'
                f"<title>crease {crease.label()}</title></path>"
            )
    return parts


def _svg_flat_map(sides: tuple[int, ...], pile: tuple[int, ...], map_y: float) -> tuple[list[str], float, float]:
    """The flat map: a cell per leaf with its number and, small, its place in the pile. Returns the parts, right and bottom."""
    place = {leaf: index + 1 for index, leaf in enumerate(pile)}
    parts = [
        f'<text x="{_MARGIN}" y="{map_y - 24}" class="title">the flat map</text>',
        f'<text x="{_MARGIN}" y="{map_y - 10}" class="small">side 1 across, side 2 down; small: place in the pile</text>',
    ]
    map_x = _MARGIN
    bottom = map_y
    for title, grid in flat_rows(sides):
        if title:
            parts.append(f'<text x="{map_x}" y="{map_y + 4}" class="small">{html.escape(title)}</text>')
        grid_y = map_y + (12 if title else 0)
        for row_index, row in enumerate(grid):
            for column_index, leaf in enumerate(row):
                cell_x = map_x + column_index * _CELL
                cell_y = grid_y + row_index * _CELL
                parts.append(f'<rect x="{cell_x}" y="{cell_y}" width="{_CELL}" height="{_CELL}" class="cell"/>')
                parts.append(f'<text x="{cell_x + _CELL / 2}" y="{cell_y + _CELL / 2 + 4}" text-anchor="middle">{leaf}</text>')
                corner = f'x="{cell_x + _CELL - 3}" y="{cell_y + _CELL - 3}"'
                parts.append(f'<text {corner} text-anchor="end" class="small">{place[leaf]}</text>')
        map_x += len(grid[0]) * _CELL + _MARGIN
        bottom = max(bottom, grid_y + len(grid) * _CELL)
    return parts, map_x, bottom
