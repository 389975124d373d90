"""``mapfold draw`` and ``mapfold.draw``: the pictures, and the checks of a pile against a rule written here."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from test_listing import are_foldings, edge_pairs

from mapfold import foldings
from mapfold.cli.app import run
from mapfold.draw import FoldingError, check_pile, creases, svg_picture, text_picture

SVG = "{http://www.w3.org/2000/svg}"


def run_in_process(arguments: list[str]) -> int:
    """``mapfold.cli.app.run`` here (no interpreter to start), leaving this process's SIGPIPE handling as it was."""
    previous = signal.getsignal(signal.SIGPIPE)
    try:
        return run(arguments)
    finally:
        signal.signal(signal.SIGPIPE, previous)


def _mapfold(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mapfold", *arguments], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("sides", [(2, 3), (1, 5), (2, 2, 2)])
def test_check_pile_accepts_exactly_the_foldings_of_the_rule(sides):
    leaves_total = int(np.prod(sides))
    permutations = np.array(list(itertools.permutations(range(1, leaves_total + 1))), dtype=np.uint8)
    valid = are_foldings(sides, permutations)
    for pile, is_folding in zip(permutations.tolist(), valid.tolist(), strict=True):
        try:
            check_pile(sides, tuple(pile))
            accepted = True
        except FoldingError:
            accepted = False
        assert accepted == is_folding, pile


def test_a_crossing_names_two_creases_of_one_edge_that_really_interleave():
    with pytest.raises(FoldingError) as caught:
        check_pile((1, 4), (1, 3, 2, 4))
    assert "creases 1-2 and 3-4 cross" in str(caught.value)
    pile = (1, 3, 2, 4)
    position = {leaf: index for index, leaf in enumerate(pile)}
    pair = next(pair for pair in edge_pairs((4,)) if set(pair) == {1, 2, 3, 4})
    a, b, c, d = (position[leaf] for leaf in pair)
    assert min(a, b) < min(c, d) < max(a, b) < max(c, d)


def test_the_svg_has_a_bar_per_leaf_per_view_an_arc_per_crease_and_the_flat_map():
    sides = (2, 3)
    pile = tuple(int(leaf) for leaf in foldings("2x3")[11])
    root = ElementTree.fromstring(svg_picture(sides, pile))
    assert root.tag == f"{SVG}svg"
    rectangles = root.findall(f"{SVG}rect")
    assert len(rectangles) == 2 * 6 + 6  # two views of six bars, six cells of the flat map
    arcs = root.findall(f"{SVG}path")
    assert len(arcs) == len(creases(sides)) == 7
    labels = sorted(arc.find(f"{SVG}title").text for arc in arcs)
    assert labels == sorted(f"crease {crease.low}-{crease.high}" for crease in creases(sides))


def test_the_text_picture_shows_every_leaf_in_pile_order():
    pile = (1, 6, 5, 3, 4, 2)
    lines = text_picture((2, 3), pile)
    bars = [line for line in lines if "━━" in line]
    assert len(bars) == 12  # two views
    assert [int(line.split("━━")[1]) for line in bars[:6]] == list(pile)


def test_draw_index_is_the_list_row(tmp_path):
    listed = _mapfold("list", "2x3").stdout.splitlines()
    drawn = _mapfold("draw", "2x3", "--index", "17")
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.splitlines()[0].endswith(listed[17])
    target = tmp_path / "f.svg"
    assert _mapfold("draw", "2x3", "--pile", listed[17], "-o", str(target)).returncode == 0
    assert listed[17] in ElementTree.parse(target).getroot().find(f"{SVG}title").text


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["draw", "2x3", "--index", "60"], "60 foldings"),
        (["draw", "2x3", "--index", "-1"], "from 0"),
        (["draw", "2x3", "--pile", "1 2 3"], "missing"),
        (["draw", "2x3", "--pile", "1 2 3 4 5 5"], "twice"),
        (["draw", "2x3", "--pile", "1 2 3 4 5 9"], "not on a 2x3 map"),
        (["draw", "1x4", "--pile", "1 3 2 4"], "creases 1-2 and 3-4 cross"),
        (["draw", "2x3", "--pile", "one"], "not a leaf number"),
        (["draw", "2x2", "--pile", "1 2 3 \u00b2"], "not a leaf number"),  # a digit to str.isdigit, not to int
        (["draw", "2y3", "--index", "0"], "2y3"),
        (["draw", "2x3"], "exactly one"),
        (["draw", "2x3", "--index", "0", "--pile", "1 2"], "exactly one"),
        (["draw", "2x3", "--index", "0", "-o", "f.png"], "SVG"),
    ],
)
def test_bad_input_is_one_line_and_status_2(arguments, says, capsys):
    assert run_in_process(arguments) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("mapfold: error: ")
    assert says in captured.err
    assert captured.out == ""
