"""The consumer thread's side: what it does with each batch of foldings the walks send.

The walks push foldings through a ``LeafBelowSender`` (``mapfold.run.sender``); the consumer
thread hands each batch to one of these handlers: ``SymmetricTotal`` (Lunnon's walk: gather the
symmetric total) or ``MirroredFoldingsCheck`` (the mirror walk: test every folding it built). The
jitted tests of whether a folding is its own mirror image live with the walks
(``mapfold.walks.self_mirror``); the handlers keep the running sums, as Python ints.
"""

from __future__ import annotations

import numpy as np

from mapfold.walks.self_mirror import count_complete_mirror_centres, count_completions, count_mirror_centres


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


def mirror_centre_weight(leaves_total: int) -> int:
    """The centres of every folding that counts towards the symmetric total (``walks.self_mirror.mirror_weight``).

    A folding's cycle has ``N + 1`` items: 2 centres when that is even, 1 when odd.
    """
    return 2 if (leaves_total + 1) % 2 == 0 else 1


class MirroredFoldingsCheck:
    """Consumer-side handler for the mirror walk: tests every folding it built, exactly.

    Each folding must have ``weight`` mirror centres (``walks.self_mirror.count_mirror_centres``, the same
    predicate as Lunnon's walk uses); a batch where one does not raises, which ends the run with an
    error. So a mirror task whose rows have been handled holds ``weight`` centres per folding.
    """

    def __init__(self, weight: int, complete_rows: bool = False) -> None:
        self.weight = weight
        self.complete_rows = complete_rows  # the wide mirror walk's rows: each a complete pile, one folding
        self.completions = 0
        self.centres = 0

    def __call__(self, rows: np.ndarray, last_leaf_gaps: np.ndarray) -> None:
        if self.complete_rows:
            centres = int(count_complete_mirror_centres(rows))
        else:
            centres = int(count_mirror_centres(rows, last_leaf_gaps, False))
        completions = int(count_completions(last_leaf_gaps))
        if centres != completions * self.weight:
            raise RuntimeError(f"the mirror walk sent {completions} foldings with {centres} centres, not {self.weight} each")
        self.completions += completions
        self.centres += centres
