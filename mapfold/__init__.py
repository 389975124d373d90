"""mapfold: exact, multithreaded counting of the foldings of p1 x p2 x ... x pd maps."""

from __future__ import annotations

__version__ = "0.1.0"

from mapfold.jit_cache import drop_stale_compilations  # noqa: E402

drop_stale_compilations()  # before any jitted module is imported

from mapfold.runner import CountResult, SenderCounts, count_folds  # noqa: E402
from mapfold.shape import MAX_LEAVES, ShapeError, parse_shape  # noqa: E402

__all__ = ["MAX_LEAVES", "CountResult", "SenderCounts", "ShapeError", "__version__", "count_folds", "parse_shape"]
