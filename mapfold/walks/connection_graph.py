"""Lunnon's connection graph: which leaf a walk around the pile visits next, per dimension.

Leaves are numbered 1..N in mixed radix with the first side varying fastest. For dimension ``d``,
leaf ``leaf`` and a leaf ``other <= leaf`` already in the pile, ``graph[d, leaf, other]`` is the leaf
joined to ``other`` by a crease of dimension ``d`` that a gap search for ``leaf`` must step to (or
``other`` itself when there is none). ``graph[d, leaf, leaf] == leaf`` means ``leaf`` has no
neighbour in dimension ``d`` among the leaves placed before it: that dimension does not constrain
it. Column 0 (the sentinel) stays 0, so a walk that reaches the sentinel yields gap 0.
"""

from __future__ import annotations

import numpy as np


def leaf_coordinates(sides: tuple[int, ...]) -> np.ndarray:
    """Coordinates (1-based) of every leaf: ``coordinates[d, leaf]``; column 0 is unused."""
    leaves_total = int(np.prod(sides))
    coordinates = np.zeros((len(sides), leaves_total + 1), dtype=np.int64)
    stride = 1
    for dimension, side in enumerate(sides):
        for leaf in range(1, leaves_total + 1):
            coordinates[dimension, leaf] = ((leaf - 1) // stride) % side + 1
        stride *= side
    return coordinates


def make_connection_graph(sides: tuple[int, ...]) -> np.ndarray:
    """Build the connection graph of a map with these sides.

    Parameters
    ----------
    sides
        The map's sides, each at least 1.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(len(sides), N + 1, N + 1)``; small so the walk's working set
        stays in the first-level cache.
    """
    leaves_total = int(np.prod(sides))
    coordinates = leaf_coordinates(sides)
    graph = np.zeros((len(sides), leaves_total + 1, leaves_total + 1), dtype=np.uint8)
    stride = 1  # leaves between neighbours along this dimension
    for dimension, side in enumerate(sides):
        for leaf in range(1, leaves_total + 1):
            for other in range(1, leaf + 1):
                same_parity = (coordinates[dimension, leaf] - coordinates[dimension, other]) % 2 == 0
                if same_parity:
                    # Step back along the dimension unless ``other`` is on its first row.
                    step_back = coordinates[dimension, other] != 1
                    graph[dimension, leaf, other] = other - stride if step_back else other
                else:
                    # Step forward unless ``other`` is on the last row or the step passes ``leaf``.
                    step_forward = coordinates[dimension, other] != side and other + stride <= leaf
                    graph[dimension, leaf, other] = other + stride if step_forward else other
        stride *= side
    return graph
