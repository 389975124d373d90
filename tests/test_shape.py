"""Shape parsing."""

from __future__ import annotations

import pytest

from mapfold.shape import MAX_LEAVES, ShapeError, counted_sides, parse_shape


@pytest.mark.parametrize(
    ("text", "sides"),
    [
        ("2x5", (2, 5)),
        ("2X5", (2, 5)),
        ("3x3x3", (3, 3, 3)),
        ("2x2x2x2x2", (2,) * 5),
        ("7", (1, 7)),
        ("1x7", (1, 7)),
        (" 4x4 ", (4, 4)),
    ],
)
def test_good_shapes(text, sides):
    assert parse_shape(text) == sides


@pytest.mark.parametrize("text", ["", "  ", "2x", "x3", "0x5", "2x-3", "2.5x3", "abc", "1x100000", "2x513", "+2x3", "2 x 3 x"])
def test_bad_shapes(text):
    with pytest.raises(ShapeError):
        parse_shape(text)


def test_the_leaf_limit_is_inclusive():
    assert parse_shape("32x32") == (32, 32)
    assert parse_shape("2x33") == (2, 33)
    assert MAX_LEAVES == 1024
    with pytest.raises(ShapeError, match="1025 leaves"):
        parse_shape("5x205")


def test_counted_sides_drop_sides_of_one():
    assert counted_sides((1, 7)) == (7,)
    assert counted_sides((1, 1)) == (1,)
    assert counted_sides((2, 1, 3)) == (2, 3)
