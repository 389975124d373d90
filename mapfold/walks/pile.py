"""The pile: a cyclic doubly linked list of leaves, and the operations every walk does on it.

``leaf_below[m]`` is the leaf just below leaf ``m`` and ``leaf_above[m]`` the one just above; the
walks keep both so that a leaf goes in or out in four stores. Lunnon's walk closes the cycle
through a sentinel leaf 0; the orbit and mirror walks number leaves from 0 and close it through
their first-placed leaf (see each walk's docstring).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mapfold.jit import cache as jit_cache

jit_cache.install()  # before any cache=True function is defined

#: Returned by a walk when it stopped early (stop flag, or a sender that was shut down).
WALK_ABORTED = -1


@njit(nogil=True, cache=True, inline="always")
def insert_leaf(leaf_below: np.ndarray, leaf_above: np.ndarray, leaf: int, gap: int) -> None:
    """Put ``leaf`` into the pile just below leaf ``gap``."""
    below = leaf_below[gap]
    leaf_above[leaf] = gap
    leaf_below[leaf] = below
    leaf_below[gap] = leaf
    leaf_above[below] = leaf


@njit(nogil=True, cache=True, inline="always")
def cycle_above(leaf_below: np.ndarray, leaf_above: np.ndarray, start: int) -> None:
    """Fill ``leaf_above`` for the cycle through ``start`` by following ``leaf_below`` round it."""
    leaf = start
    while True:
        below = leaf_below[leaf]
        leaf_above[below] = leaf
        leaf = below
        if leaf == start:
            break


@njit(nogil=True, cache=True, inline="always")
def remove_leaf(leaf_below: np.ndarray, leaf_above: np.ndarray, leaf: int) -> None:
    """Take ``leaf`` out of the pile, joining the leaves above and below it."""
    above = leaf_above[leaf]
    below = leaf_below[leaf]
    leaf_below[above] = below
    leaf_above[below] = above


@njit(nogil=True, cache=True, inline="always")
def pile_above(leaf_below: np.ndarray, leaf_above: np.ndarray) -> None:
    """Fill ``leaf_above`` for the leaves in the pile by following ``leaf_below`` round the cycle."""
    cycle_above(leaf_below, leaf_above, 0)  # Lunnon's piles are cycles through the sentinel
