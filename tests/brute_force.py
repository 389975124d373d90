"""An independent brute-force reference for tiny maps (no numba, nothing from ``mapfold``).

It does not use Lunnon's gaps or connection graph. It lists the piles (orders of the leaves from
top to bottom) with leaf 1 on top and tests each one directly:

* Leaves are numbered 1..N in mixed radix, the first side varying fastest: leaf m has coordinate
  ``(m - 1) // P[d-1] % p[d]`` along dimension d (counted from 0), with ``P[d] = p[0] * ... * p[d]``.
* A crease joins leaves a and b = a + P[d-1] that are neighbours along dimension d.
* Folded flat, a leaf's extent along dimension d is mirrored once per crease of dimension d between
  it and leaf 1, so leaves whose coordinate along d is even keep their orientation along d and odd
  ones are reversed; creases of the other dimensions do not change it. Hence the crease between
  coordinates k and k+1 along d lies on the edge of the pile chosen by the parity of k alone (the
  coordinate of its lower-numbered leaf), whatever the leaf's position in the other dimensions.
  Creases of different dimensions, or of the same dimension on opposite edges, never meet.
* A pile is valid if and only if no two creases on the same edge (same dimension, same parity)
  interleave: with pos(a) < pos(b) and pos(c) < pos(d), not pos(a) < pos(c) < pos(b) < pos(d).
  Two creases on the same edge never share a leaf (the other crease at a leaf along d has the
  opposite parity), so the four positions are distinct.

A pile can be turned cyclically (its top leaf moved to the bottom) without making two creases
interleave, so the fold total is N times the number of valid piles with leaf 1 on top.
"""

from __future__ import annotations

from math import prod


def leaf_coordinates(sides: tuple[int, ...], leaf: int) -> list[int]:
    """Coordinates (from 0) of a leaf numbered from 1, the first side varying fastest."""
    coords = []
    rest = leaf - 1
    for side in sides:
        coords.append(rest % side)
        rest //= side
    return coords


def crease_classes(sides: tuple[int, ...]) -> list[list[tuple[int, int]]]:
    """Creases ``(a, b)``, ``b = a + P[d-1]``, grouped by edge: one group per (dimension, parity)."""
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    stride = 1
    for d, side in enumerate(sides):
        for a in range(1, prod(sides) + 1):
            k = leaf_coordinates(sides, a)[d]
            if k + 1 < side:
                groups.setdefault((d, k % 2), []).append((a, a + stride))
        stride *= side
    return [group for group in groups.values() if len(group) > 1]


def crease_pairs(sides: tuple[int, ...]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Every pair of distinct creases on the same edge: the pairs that must not interleave."""
    pairs = []
    for group in crease_classes(sides):
        for i, first in enumerate(group):
            for second in group[i + 1 :]:
                pairs.append((first, second))
    return pairs


def interleaved(a: int, b: int, c: int, d: int) -> bool:
    """Whether intervals (a, b) and (c, d), given as two positions each in any order, interleave."""
    a, b = min(a, b), max(a, b)
    c, d = min(c, d), max(c, d)
    return a < c < b < d or c < a < d < b


def valid_piles(sides: tuple[int, ...]):
    """Yield every valid pile with leaf 1 on top, as a list of leaves from the top.

    Depth first, one position at a time. A pair of creases is tested once at least three of its
    four leaves are placed: a leaf not yet placed will lie below all placed ones, so giving it
    position N (below everything) yields the same verdict as the complete pile would.
    """
    n = prod(sides)
    pairs = crease_pairs(sides)
    pairs_of_leaf: dict[int, list] = {leaf: [] for leaf in range(1, n + 1)}
    for pair in pairs:
        for leaf in {*pair[0], *pair[1]}:
            pairs_of_leaf[leaf].append(pair)
    position = {leaf: n for leaf in range(1, n + 1)}  # n = not placed yet
    pile: list[int] = []

    def fits(leaf: int) -> bool:
        for (a, b), (c, d) in pairs_of_leaf[leaf]:
            placed = sum(position[x] < n for x in (a, b, c, d))
            if placed >= 3 and interleaved(position[a], position[b], position[c], position[d]):
                return False
        return True

    def place(leaf: int):
        position[leaf] = len(pile)
        pile.append(leaf)
        if fits(leaf):
            if len(pile) == n:
                yield list(pile)
            else:
                for nxt in range(2, n + 1):
                    if position[nxt] == n:
                        yield from place(nxt)
        pile.pop()
        position[leaf] = n

    yield from place(1)


def mirror_centres(pile: list[int]) -> int:
    """How many centres the pile's difference sequence v is a mirror image about (MAPFOLDING.md).

    s_1 = 1, s_2, ..., s_N is the pile from the top and s_{N+1} = 0;
    v_0 = 1 and v_j = (s_{j+1} - s_j) mod N for j = 1..N; a centre c in 0..N counts if
    v[(c + k) mod (N+1)] == v[(c - 2 - k) mod (N+1)] for every k = 0 .. floor(N/2) - 1.
    """
    n = len(pile)
    s = [None, *pile, 0]  # s[1] .. s[n+1]
    v = [1] + [(s[j + 1] - s[j]) % n for j in range(1, n + 1)]
    m = n + 1
    return sum(all(v[(c + k) % m] == v[(c - 2 - k) % m] for k in range(n // 2)) for c in range(m))


def brute_force_counts(sides: tuple[int, ...]) -> tuple[int, int]:
    """``(folds_total, symmetric_total)`` of a map with these sides, by brute force."""
    sides = tuple(sides)
    n = prod(sides)
    piles = 0
    centres = 0
    for pile in valid_piles(sides):
        piles += 1
        centres += mirror_centres(pile)
    return n * piles, (centres + 1) // 2
