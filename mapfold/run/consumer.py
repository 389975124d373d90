"""The consumer thread's side of the symmetric total: what it does with each batch of foldings.

The walks push foldings through a ``LeafBelowSender`` (``mapfold.run.sender``); the consumer
thread hands each batch here. The jitted tests of whether a folding is its own mirror image live
with the walks (``mapfold.walks.self_mirror``); this class only keeps the running sums.
"""

from __future__ import annotations

import numpy as np

from mapfold.walks.self_mirror import count_completions, count_mirror_centres


class SymmetricTotal:
    """Batch handler for a ``LeafBelowSender`` that gathers the symmetric total.

    Each call hands one batch to the jitted ``nogil`` ``count_mirror_centres`` on the consumer
    thread; the running sums are Python ints, so they cannot overflow however long the run.

    Parameters
    ----------
    with_reflections
        The walk was halved by reflection: count each folding's reflection too.

    Attributes
    ----------
    centres
        Sum of mirror centres so far.
    completions
        Completions received so far (each with its reflection when ``with_reflections``).
    """

    def __init__(self, with_reflections: bool = False) -> None:
        self.centres = 0
        self.completions = 0
        self.with_reflections = with_reflections

    def __call__(self, rows: np.ndarray, last_leaf_gaps: np.ndarray) -> None:
        self.centres += int(count_mirror_centres(rows, last_leaf_gaps, self.with_reflections))
        self.completions += int(count_completions(last_leaf_gaps))

    @property
    def total(self) -> int:
        """The symmetric total: ``(sum of centres + 1) // 2``."""
        return (self.centres + 1) // 2
