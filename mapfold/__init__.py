"""mapfold: exact, multithreaded counting of the foldings of p1 x p2 x ... x pd maps."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

__all__ = [
    "MAX_LEAVES",
    "CountResult",
    "SenderCounts",
    "ShapeError",
    "__version__",
    "count_folds",
    "foldings",
    "iter_foldings",
    "parse_shape",
]

#: Where each public name lives. They are imported on first use, not here: ``import mapfold``
#: stays cheap, so the command line is already running (and handling Ctrl-C) when numba loads.
_PUBLIC_HOMES = {
    "CountResult": "mapfold.results",
    "SenderCounts": "mapfold.results",
    "count_folds": "mapfold.count",
    "foldings": "mapfold.run.listing",
    "iter_foldings": "mapfold.run.listing",
    "MAX_LEAVES": "mapfold.shape",
    "ShapeError": "mapfold.shape",
    "parse_shape": "mapfold.shape",
}


def __getattr__(name: str) -> Any:
    if name in _PUBLIC_HOMES:
        value = getattr(importlib.import_module(_PUBLIC_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mapfold' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
