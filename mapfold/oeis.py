"""Known values of the map-folding sequences, copied from the OEIS b-files, and the terms counted here.

mapfold shows the known value beside a count it reproduces, so a user sees at once that the count
checks out. Tests compare these copies with the b-files themselves.

``COUNTED_HERE`` holds terms that are in none of those b-files and that mapfold counted itself, each
by two routes that agree. They are claims, not oracles: no test asserts them, ``known_folds`` never
returns them, and the table shows them as "by mapfold ... (ours, not OEIS)", never as a match.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Sequence id -> what a(n) is.
DESCRIPTIONS: dict[str, str] = {
    "A000136": "foldings of a 1 x n strip of stamps",
    "A001415": "foldings of a 2 x n map",
    "A001416": "foldings of a 3 x n map",
    "A001417": "foldings of the n-dimensional 2 x 2 x ... x 2 map",
    "A195646": "foldings of the n-dimensional 3 x 3 x ... x 3 map",
    "A001418": "foldings of an n x n map",
    "A007822": "symmetric foldings of 2n+1 stamps: the symmetric total of 1 x 2n",
    "A001010": "symmetric foldings of n blank stamps",
    "A000682": "semi-meanders: the symmetric total of 1 x (2n-1)",
}

#: Sequence id -> {n: a(n)}.
VALUES: dict[str, dict[int, int]] = {
    "A000136": {
        1: 1,
        2: 2,
        3: 6,
        4: 16,
        5: 50,
        6: 144,
        7: 462,
        8: 1392,
        9: 4536,
        10: 14060,
        11: 46310,
        12: 146376,
        13: 485914,
        14: 1557892,
        15: 5202690,
        16: 16861984,
        17: 56579196,
        18: 184940388,
        19: 622945970,
        20: 2050228360,
        21: 6927964218,
        22: 22930109884,
        23: 77692142980,
        24: 258360586368,
        25: 877395996200,
        26: 2929432171328,
        27: 9968202968958,
        28: 33396290888520,
        29: 113837957337750,
        30: 382529558584860,
        31: 1305930965874738,
        32: 4399810249916608,
        33: 15041167138186200,
        34: 50792348938045444,
        35: 173850561915497530,
        36: 588281158939722984,
        37: 2015766450596782386,
        38: 6833567596791502388,
        39: 23438785044156653184,
        40: 79590472666266655680,
        41: 273238606399218084680,
        42: 929219488943246987640,
        43: 3192705159389711876360,
        44: 10872417992391235435408,
        45: 37384929247793935264200,
    },
    "A001415": {
        0: 1,
        1: 2,
        2: 8,
        3: 60,
        4: 320,
        5: 1980,
        6: 10512,
        7: 60788,
        8: 320896,
        9: 1787904,
        10: 9381840,
        11: 51081844,
        12: 266680992,
        13: 1429703548,
        14: 7432424160,
        15: 39409195740,
        16: 204150606976,
        17: 1073644675448,
        18: 5545305620064,
        19: 28980175671212,
        20: 149302889205120,
    },
    "A001416": {
        0: 1,
        1: 6,
        2: 60,
        3: 1368,
        4: 15552,
        5: 201240,
        6: 2016432,
        7: 21582624,
        8: 201060768,
        9: 1944012744,
        10: 17257455960,
        11: 156760071600,
        12: 1346073913440,
        13: 11734199738820,
        14: 98420246759688,
    },
    "A001417": {
        0: 1,
        1: 2,
        2: 8,
        3: 96,
        4: 4608,
        5: 798720,
        6: 361267200,
        7: 362794844160,
    },
    "A195646": {
        0: 1,
        1: 6,
        2: 1368,
        3: 85109616,
    },
    "A001418": {
        1: 1,
        2: 8,
        3: 1368,
        4: 300608,
        5: 186086600,
        6: 123912532224,
        7: 129950723279272,
    },
    "A007822": {
        1: 1,
        2: 1,
        3: 3,
        4: 9,
        5: 28,
        6: 89,
        7: 287,
        8: 935,
        9: 3072,
        10: 10157,
        11: 33767,
        12: 112736,
        13: 377836,
        14: 1270203,
        15: 4282311,
        16: 14470629,
        17: 49005732,
        18: 166261653,
        19: 565055147,
        20: 1923186472,
        21: 6554868916,
        22: 22367933148,
        23: 76417819396,
        24: 261335128098,
        25: 894597454360,
        26: 3064970675173,
    },
    "A001010": {
        1: 1,
        2: 2,
        3: 2,
        4: 4,
        5: 6,
        6: 8,
        7: 18,
        8: 20,
        9: 56,
        10: 48,
        11: 178,
        12: 132,
        13: 574,
        14: 348,
        15: 1870,
        16: 1008,
        17: 6144,
        18: 2812,
        19: 20314,
        20: 8420,
        21: 67534,
        22: 24396,
        23: 225472,
        24: 74756,
        25: 755672,
        26: 222556,
        27: 2540406,
        28: 693692,
        29: 8564622,
        30: 2107748,
        31: 28941258,
        32: 6656376,
        33: 98011464,
        34: 20548932,
        35: 332523306,
        36: 65573260,
        37: 1130110294,
        38: 205022836,
        39: 3846372944,
        40: 659806116,
        41: 13109737832,
        42: 2084555444,
        43: 44735866296,
        44: 6755838520,
        45: 152835638792,
        46: 21530048864,
        47: 522670256196,
        48: 70191679696,
        49: 1789194908720,
        50: 225340936256,
        51: 6129941350346,
        52: 738385405108,
    },
    "A000682": {
        1: 1,
        2: 1,
        3: 2,
        4: 4,
        5: 10,
        6: 24,
        7: 66,
        8: 174,
        9: 504,
        10: 1406,
        11: 4210,
        12: 12198,
        13: 37378,
        14: 111278,
        15: 346846,
        16: 1053874,
        17: 3328188,
        18: 10274466,
        19: 32786630,
        20: 102511418,
        21: 329903058,
        22: 1042277722,
        23: 3377919260,
        24: 10765024432,
        25: 35095839848,
        26: 112670468128,
        27: 369192702554,
        28: 1192724674590,
        29: 3925446804750,
        30: 12750985286162,
        31: 42126805350798,
        32: 137494070309894,
        33: 455792943581400,
        34: 1493892615824866,
        35: 4967158911871358,
        36: 16341143303881194,
        37: 54480174340453578,
        38: 179830726231355326,
        39: 600994488311709056,
        40: 1989761816656666392,
        41: 6664356253639465480,
        42: 22124273546267785420,
        43: 74248957195109578520,
        44: 247100408917982623532,
        45: 830776205506531894760,
    },
}


def known_folds(sides: tuple[int, ...]) -> tuple[str, int, int] | None:
    """The OEIS entry that gives the fold total of a map with these sides, if one does.

    Parameters
    ----------
    sides
        The map's sides with every side of 1 dropped (``counted_sides``); order does not matter.

    Returns
    -------
    tuple or None
        ``(sequence id, n, a(n))``, or ``None`` when no copied b-file covers the map.
    """
    ordered = sorted(sides)
    candidates: list[tuple[str, int]] = []
    if len(ordered) == 1:
        candidates.append(("A000136", ordered[0]))
    if len(ordered) == 2 and ordered[0] in (2, 3):
        candidates.append(("A001415" if ordered[0] == 2 else "A001416", ordered[1]))
    if len(ordered) == 2 and ordered[0] == ordered[1]:
        candidates.append(("A001418", ordered[0]))
    if all(side == 2 for side in ordered):
        candidates.append(("A001417", len(ordered)))
    if all(side == 3 for side in ordered):
        candidates.append(("A195646", len(ordered)))
    for sequence, index in candidates:
        value = VALUES[sequence].get(index)
        if value is not None:
            return sequence, index, value
    return None


def known_symmetric(sides: tuple[int, ...]) -> tuple[str, int, int] | None:
    """The OEIS entry that gives the symmetric total of a 1 x M strip (M >= 2), if one does.

    For M = 2n it is A007822(n); for M = 2n + 1 it is A000682(n + 1) (both ceil(A001010(M - 1) / 2)).
    """
    if len(sides) != 1 or sides[0] < 2:
        return None
    strip = sides[0]
    sequence, index = ("A007822", strip // 2) if strip % 2 == 0 else ("A000682", (strip + 1) // 2)
    value = VALUES[sequence].get(index)
    return (sequence, index, value) if value is not None else None


@dataclass(frozen=True)
class CountedTerm:
    """A term that mapfold counted and no copied b-file holds.

    Attributes
    ----------
    value
        a(n), as both routes counted it.
    how
        One line: the routes, the version and where the record is.
    """

    value: int
    how: str


#: Sequence id -> {n: the term as mapfold counted it}. See the module docstring.
COUNTED_HERE: dict[str, dict[int, CountedTerm]] = {
    "A001417": {
        8: CountedTerm(
            value=787_334_257_704_960,
            how=(
                "counted by mapfold 0.2.0 on 2026-12-03 by two routes that agree (4,511 and 8,854 tasks; "
                "campaigns/README.md); the OEIS b-file ends at a(7)"
            ),
        ),
    },
}


def counted_folds(sides: tuple[int, ...]) -> tuple[str, int, CountedTerm] | None:
    """The term mapfold counted for a map with these sides (``COUNTED_HERE``), if there is one.

    Parameters
    ----------
    sides
        As for ``known_folds``.

    Returns
    -------
    tuple or None
        ``(sequence id, n, CountedTerm)``; ``None`` where no counted term covers the map, and
        always where ``known_folds`` has an OEIS value.
    """
    if known_folds(sides) is not None:
        return None
    ordered = sorted(sides)
    candidates = []
    if ordered and all(side == 2 for side in ordered):
        candidates.append(("A001417", len(ordered)))
    if ordered and all(side == 3 for side in ordered):
        candidates.append(("A195646", len(ordered)))
    for sequence, index in candidates:
        term = COUNTED_HERE.get(sequence, {}).get(index)
        if term is not None:
            return sequence, index, term
    return None
