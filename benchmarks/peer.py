"""Time the PyPI package ``mapFolding`` (the peer that ``bench.py`` compares mapfold with).

Runs inside its own virtual environment (``benchmarks/.peer-venv``, Python 3.13), never in mapfold's.
Calls the peer's fastest routes, as its ``mapFolding.basecamp`` defines them:

- ``--route folds``: ``countFolds(shape, flow='theorem2Numba')``, the fold total;
- ``--route symmetric``: ``countFoldsSymmetric(shape, flow='theorem2Numba')``, the symmetric total
  (A007822(n) for a 1 x 2n strip).

One warm-up call on a small map of the same kind compiles (or loads from numba's cache) everything,
then each repeat is timed in-process with ``time.perf_counter()``. Prints one JSON line:
``{"route": ..., "shape": ..., "result": ..., "seconds": [...], ...}``.

Usage: ``peer.py --route folds --shape 2x13 --repeats 3``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

ROUTE_NAMES = ("folds", "symmetric")
PEER_FLOW = "theorem2Numba"


def parse_shape_text(text: str) -> tuple[int, ...]:
    """``"2x13"`` -> ``(2, 13)``; one number ``n`` is the strip ``(1, n)``."""
    sides = tuple(int(part) for part in text.lower().split("x"))
    if not sides or any(side < 1 for side in sides):
        raise argparse.ArgumentTypeError(f"not a map shape: {text!r}")
    return (1, sides[0]) if len(sides) == 1 else sides


def warmup_shape_for(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A small map that takes the same code path as ``shape`` (each side cut to at most 4)."""
    return tuple(min(side, 4) for side in shape)


def peer_counter(route: str) -> Callable[[tuple[int, ...]], int]:
    """The peer's counting call for ``route``, bound to its fastest flow."""
    from mapFolding.basecamp import countFolds, countFoldsSymmetric

    if route == "folds":
        return lambda shape: int(countFolds(shape, flow=PEER_FLOW))
    return lambda shape: int(countFoldsSymmetric(shape, flow=PEER_FLOW))


def peer_version() -> str:
    """The installed ``mapFolding`` version, or ``"unknown"``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mapFolding")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, warm up, time the repeats, print the JSON line."""
    parser = argparse.ArgumentParser(description="Time the mapFolding package's counting routes.")
    parser.add_argument("--route", choices=ROUTE_NAMES, required=True, help="folds: countFolds; symmetric: countFoldsSymmetric")
    parser.add_argument("--shape", type=parse_shape_text, required=True, help="map sides joined by x, e.g. 2x13")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the warm-up (default 3)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up call")
    arguments = parser.parse_args(argv)
    if arguments.repeats < 1:
        parser.error("--repeats must be at least 1")

    shape: tuple[int, ...] = arguments.shape
    count = peer_counter(arguments.route)

    warmup_seconds = None
    if not arguments.no_warmup:
        warmup_started = time.perf_counter()
        count(warmup_shape_for(shape))
        warmup_seconds = time.perf_counter() - warmup_started

    results: list[int] = []
    seconds: list[float] = []
    for _ in range(arguments.repeats):
        started = time.perf_counter()
        results.append(count(shape))
        seconds.append(time.perf_counter() - started)

    report = {
        "route": arguments.route,
        "shape": "x".join(str(side) for side in shape),
        "result": results[0],
        "results_agree": len(set(results)) == 1,
        "seconds": [round(value, 6) for value in seconds],
        "warmup_seconds": None if warmup_seconds is None else round(warmup_seconds, 6),
        "call": f"{'countFolds' if arguments.route == 'folds' else 'countFoldsSymmetric'}({shape}, flow={PEER_FLOW!r})",
        "version": peer_version(),
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
