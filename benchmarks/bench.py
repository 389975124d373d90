"""The benchmark that ``make bench`` runs: mapfold against a peer package, a plain C walk, and its own goals.

Figures (a ratio below 1 means mapfold is faster; each row shows both medians, the figure and its goal):

1. mapfold, 1 thread, no symmetric total, against the peer's fastest fold route (``countFolds``);
2. mapfold on 2 threads against 1 thread (the speedup, 1-thread median / 2-thread median);
3. mapfold with the symmetric total against without it, 2 threads;
4. mapfold's default (every CPU, symmetric on) against the peer's symmetric route (``countFoldsSymmetric``);
5. mapfold, 1 thread, no symmetric total, against ``plain_walk.c`` (Lunnon's plain walk in C);
6. whole-process wall time of ``mapfold count 2x5`` with a warm and with an empty numba cache;
7. peak memory (max RSS) of ``mapfold count 2x14 --no-progress`` as a whole process;
8. whole-process wall time of ``mapfold count 1x24`` (A007822(12)) with the symmetric total against
   ``--no-symmetric`` (one run each: a long count);
9. the warm ``mapfold count 2x5`` split: interpreter start, imports (the slowest named), numba cache
   loading, the count, and the whole process;
10. ``--checkpoint`` against none, 2 threads, 2x15 with and without the symmetric total;
11. ``mapfold estimate`` at its default time against the oracle (2x16, 6x6);
12. the progress bar's ETA when it first shows 10% of 2x15 against the time that really remained;
13. a Dask LocalCluster of 2 worker processes x 1 thread against local 2 threads, 2x14 (compute time,
    symmetric off and on), and 14. the cost per unit of scheduling (empty units);
15. the orbit walk against Lunnon's walk (``count_folds(walk=...)``, no symmetric total) on 1 and 2
    threads, side by side, with the issue-8 goals (6x6 <= 10 s on 2 threads, 2x14 <= 2 s on 1 thread,
    2x2x2x2x2x2 <= 0.5 s on 2 threads, 3x3x3 at least 8x faster). Lunnon's walk on 6x6 is timed once.
16. ``mapfold list 1x16 --format npy -o FILE`` on 2 threads as a whole process (wall time <= 4 s and
    peak memory <= 300 MiB, one run after a warm-up), and ``mapfold list 8x8 --limit 5`` (<= 5 s); the
    npy's rows are checked against the OEIS total, and ``list 1x12`` must give the same bytes on 1 and
    2 threads.
17. mapfold against ``sym_fold.cpp`` (johnowhitaker/map_folding, MIT: the public symmetry-reduced C++
    solver of square maps), 6x6 fold total on 1 and 2 threads, goal <= 1.0 (issue 18). The repository
    holds none of its code: the figure is measured only when a copy of ``sym_fold.cpp`` is on this
    machine (``$MAPFOLD_SYM_FOLD_SOURCE``: the file or a clone of the repository; else
    ``benchmarks/build/map_folding/`` or ``benchmarks/build/sym_fold.cpp``), built at bench time into
    ``benchmarks/build/``, timed by the ``total_s`` it reports itself; otherwise the bench says why and
    skips it.

Every timing is a median of ``--repeats`` runs (default 3) taken after a warm-up that compiles everything;
mapfold is timed in this process around ``mapfold.count_folds``, the peer in its own process by
``peer.py`` (its own virtual environment, ``benchmarks/.peer-venv``, Python 3.13), the C walk by the
seconds it reports itself. Every total is checked against the OEIS values in ``mapfold.oeis`` and
against the other programs' totals; any difference is printed as a loud MISMATCH and makes the exit
status 1. Progress goes to stderr, the table to stdout, everything to ``benchmarks/results.json``.

Usage: ``python benchmarks/bench.py [--quick] [--repeats N] [--skip-peer] [--baseline REV]``
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import glob
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCHMARKS_DIR.parent
BUILD_DIR = BENCHMARKS_DIR / "build"
PLAIN_WALK_SOURCE = BENCHMARKS_DIR / "plain_walk.c"
PLAIN_WALK_BINARY = BUILD_DIR / "plain_walk"
SYM_FOLD_BINARY = BUILD_DIR / "sym_fold"
#: Where figure 17 looks for a copy of ``sym_fold.cpp`` (a file, or a folder holding it), after
#: ``$MAPFOLD_SYM_FOLD_SOURCE``.
SYM_FOLD_ENVIRONMENT = "MAPFOLD_SYM_FOLD_SOURCE"
SYM_FOLD_SOURCES = (BUILD_DIR / "map_folding", BUILD_DIR / "sym_fold.cpp")
#: Figure 17: (full run, ``--quick``) square map, and the goal for mapfold / sym_fold.
SYM_FOLD_SHAPES: tuple[Shape, Shape] = ((6, 6), (4, 4))
SYM_FOLD_GOAL = 1.0
PEER_SCRIPT = BENCHMARKS_DIR / "peer.py"
PEER_VENV_DIR = BENCHMARKS_DIR / ".peer-venv"
PEER_PACKAGE = "mapFolding"
RESULTS_PATH = BENCHMARKS_DIR / "results.json"

#: Longest any one child process (a peer run, a C walk, a mapfold command) may take.
CHILD_TIMEOUT_SECONDS = 1200

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ShapePlan:
    """The shapes of every figure, for a full run or a ``--quick`` smoke test."""

    versus_peer_folds: tuple[Shape, ...]
    thread_scaling: tuple[Shape, ...]
    symmetric_cost: tuple[Shape, ...]
    versus_peer_symmetric: tuple[Shape, ...]
    versus_plain_walk: tuple[Shape, ...]
    startup: Shape
    peak_memory: Shape
    long_strip: Shape


FULL_PLAN = ShapePlan(
    versus_peer_folds=((2, 13), (5, 5), (3, 8), (1, 20)),
    # The orbit walk made 2x13 and 1x20 a tenth of a second: too little work to see two threads scale.
    thread_scaling=((2, 15), (1, 22)),
    symmetric_cost=((1, 20), (2, 12), (6, 6)),
    versus_peer_symmetric=((1, 18), (1, 20)),
    versus_plain_walk=((2, 13),),
    startup=(2, 5),
    peak_memory=(2, 14),
    long_strip=(1, 24),
)

QUICK_PLAN = ShapePlan(
    versus_peer_folds=((2, 9), (3, 5), (1, 14)),
    thread_scaling=((2, 9), (1, 14)),
    symmetric_cost=((1, 14), (2, 9)),
    versus_peer_symmetric=((1, 12), (1, 14)),
    versus_plain_walk=((2, 9),),
    startup=(2, 5),
    peak_memory=(2, 9),
    long_strip=(1, 16),
)

#: Figure 10 (orbit walk against Lunnon's walk): the maps, full run and ``--quick``.
ORBIT_WALK_SHAPES: tuple[Shape, ...] = ((6, 6), (3, 3, 3), (2, 2, 2, 2, 2, 2), (2, 14))
ORBIT_WALK_QUICK_SHAPES: tuple[Shape, ...] = ((3, 4), (2, 2, 2, 2), (2, 7))
#: Figure 10 goals: (map, threads) -> the most seconds the orbit walk may take.
ORBIT_WALK_SECONDS_GOALS: dict[tuple[Shape, int], float] = {((6, 6), 2): 10.0, ((2, 14), 1): 2.0, ((2, 2, 2, 2, 2, 2), 2): 0.5}
#: Figure 10 goals: map -> the largest ratio orbit / Lunnon allowed.
ORBIT_WALK_RATIO_GOALS: dict[Shape, float] = {(3, 3, 3): 1 / 8}


# ----------------------------------------------------------------------------------------------------------------------
# Small helpers


def say(message: str) -> None:
    """A progress line on stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def shape_text(shape: Shape) -> str:
    """``(2, 13)`` -> ``"2x13"``."""
    return "x".join(str(side) for side in shape)


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return float(statistics.median(values))


def output_tail(text: str | bytes | None, characters: int = 600) -> str:
    """The last characters of a child's output, for an error message."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return text.strip()[-characters:]


# ----------------------------------------------------------------------------------------------------------------------
# The oracle: OEIS values copied into mapfold.oeis


def compile_first(attempts: Sequence[list[str]], timeout: float) -> tuple[list[str] | None, str]:
    """Run each compiler command in turn until one succeeds: (that command, "") or (None, why the last failed).

    The bench tries ``-march=native`` first and falls back to a portable build where the compiler refuses it.
    """
    failure = "no compiler command to try"
    for command in attempts:
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.SubprocessError) as error:
            failure = str(error)
            continue
        if completed.returncode == 0:
            return command, ""
        failure = output_tail(completed.stderr)
    return None, failure


def load_oeis_values() -> dict[str, dict[int, int]]:
    """``mapfold.oeis.VALUES``, or an empty dict (and a loud warning) when it cannot be imported."""
    try:
        from mapfold.oeis import VALUES
    except ImportError as error:
        say(f"WARNING: no oracle, mapfold.oeis could not be imported ({error}); totals are only cross-checked")
        return {}
    return VALUES


def oracle_folds(values: dict[str, dict[int, int]], shape: Shape) -> int | None:
    """The OEIS fold total of a map, where a copied sequence covers it."""
    sides = sorted(side for side in shape if side > 1) or [1]
    candidates: list[tuple[str, int]] = []
    if len(sides) == 1:
        candidates.append(("A000136", sides[0]))
    if len(sides) == 2 and sides[0] == 2:
        candidates.append(("A001415", sides[1]))
    if len(sides) == 2 and sides[0] == 3:
        candidates.append(("A001416", sides[1]))
    if len(sides) == 2 and sides[0] == sides[1]:
        candidates.append(("A001418", sides[0]))
    if len(sides) >= 2 and all(side == 2 for side in sides):
        candidates.append(("A001417", len(sides)))
    if len(sides) >= 2 and all(side == 3 for side in sides):
        candidates.append(("A195646", len(sides)))
    for sequence, index in candidates:
        value = values.get(sequence, {}).get(index)
        if value is not None:
            return value
    return None


def oracle_symmetric(values: dict[str, dict[int, int]], shape: Shape) -> int | None:
    """The OEIS symmetric total of a 1 x M strip (A007822(M/2) for even M, A000682((M+1)/2) for odd M)."""
    sides = [side for side in shape if side > 1]
    if len(sides) != 1:
        return None
    strip = sides[0]
    if strip % 2 == 0:
        return values.get("A007822", {}).get(strip // 2)
    return values.get("A000682", {}).get((strip + 1) // 2)


# ----------------------------------------------------------------------------------------------------------------------
# Results


@dataclass
class Timing:
    """Repeated timings of one program on one map, with the totals it returned."""

    program: str
    shape: str
    seconds: list[float]
    folds: int | None = None
    symmetric: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def median_seconds(self) -> float:
        """The median of the timed runs."""
        return median(self.seconds)


@dataclass
class FigureRow:
    """One row of the final table: two measurements, the figure made of them and its goal."""

    figure: int
    title: str
    shape: str
    first_label: str
    first_value: float | None
    second_label: str
    second_value: float | None
    value: float | None
    value_kind: str
    goal: str
    met: bool | None
    note: str = ""

    @classmethod
    def single(cls, figure: int, title: str, shape: str, label: str, value: float | None, kind: str, limit: float) -> FigureRow:
        """A row of one measurement against an upper limit (figures 6 and 7)."""
        unit = "s" if kind == "seconds" else kind
        return cls(
            figure=figure,
            title=title,
            shape=shape,
            first_label=label,
            first_value=value,
            second_label="-",
            second_value=None,
            value=value,
            value_kind=kind,
            goal=f"<= {limit:g} {unit}",
            met=None if value is None else value <= limit,
        )


class Bench:
    """Runs the measurements, checks every total, and keeps the rows."""

    def __init__(self, repeats: int, quick: bool, skip_peer: bool) -> None:
        self.repeats = repeats
        self.quick = quick
        self.skip_peer = skip_peer
        self.baseline = "HEAD~1"  # figure 18's yardstick (``--baseline``)
        self.plan = QUICK_PLAN if quick else FULL_PLAN
        self.oeis_values = load_oeis_values()
        self.rows: list[FigureRow] = []
        self.timings: list[Timing] = []
        self.mismatches: list[str] = []
        self.checks_passed = 0
        self.notes: list[str] = []
        self.mapfold_cache: dict[tuple[Shape, int, bool], Timing] = {}
        self.peer_python: Path | None = None
        self.plain_walk: Path | None = None
        self.sym_fold: Path | None = None
        self.default_threads = 1

    # -- checking ----------------------------------------------------------------------------------------------------

    def check(self, what: str, got: int | None, expected: int | None, source: str) -> None:
        """Compare a total with an expected value; a difference is a loud MISMATCH."""
        if got is None or expected is None:
            return
        if got == expected:
            self.checks_passed += 1
            return
        self.report_mismatch(f"MISMATCH: {what} = {got}, but {source} says {expected}")

    def report_mismatch(self, message: str) -> None:
        """Record a difference between totals and print it loudly."""
        self.mismatches.append(message)
        say("!" * 100)
        say(message)
        say("!" * 100)

    def check_against_oracle(self, timing: Timing, shape: Shape) -> None:
        """Check a timing's totals against the OEIS values."""
        self.check(f"{timing.program} folds of {timing.shape}", timing.folds, oracle_folds(self.oeis_values, shape), "OEIS")
        self.check(
            f"{timing.program} symmetric total of {timing.shape}",
            timing.symmetric,
            oracle_symmetric(self.oeis_values, shape),
            "OEIS",
        )

    # -- set-up ------------------------------------------------------------------------------------------------------

    def build_plain_walk(self) -> None:
        """Compile ``plain_walk.c`` (with ``-march=native`` if the compiler takes it) and check it on small maps."""
        compiler = os.environ.get("CC", "cc")
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        attempts = (
            [compiler, "-O3", "-march=native", "-o", str(PLAIN_WALK_BINARY), str(PLAIN_WALK_SOURCE)],
            [compiler, "-O3", "-o", str(PLAIN_WALK_BINARY), str(PLAIN_WALK_SOURCE)],
        )
        command, failure = compile_first(attempts, timeout=120)
        if command is not None:
            say(f"compiled the plain C walk: {' '.join(command)}")
            self.plain_walk = PLAIN_WALK_BINARY
        if self.plain_walk is None:
            say(f"could not compile {PLAIN_WALK_SOURCE.name}; no C figures ({failure})")
            self.notes.append(f"plain_walk.c did not compile: {failure}")
            return
        for shape in ((2, 5), (3, 3), (1, 8), (2, 2, 2)):
            folds, _ = self.run_plain_walk(shape)
            self.check(f"plain_walk folds of {shape_text(shape)}", folds, oracle_folds(self.oeis_values, shape), "OEIS")

    def find_sym_fold_source(self) -> Path | None:
        """A copy of ``sym_fold.cpp`` on this machine, or ``None`` (the repository holds none)."""
        configured = os.environ.get(SYM_FOLD_ENVIRONMENT)
        candidates = ([Path(configured)] if configured else []) + list(SYM_FOLD_SOURCES)
        for candidate in candidates:
            source = candidate / "sym_fold.cpp" if candidate.is_dir() else candidate
            if source.is_file():
                return source
        return None

    def build_sym_fold(self) -> None:
        """Compile a local copy of ``sym_fold.cpp`` into ``benchmarks/build/`` and check it on 4x4 and 5x5."""
        source = self.find_sym_fold_source()
        if source is None:
            why = (
                f"figure 17 skipped: no copy of sym_fold.cpp (set {SYM_FOLD_ENVIRONMENT} to it or to a clone of "
                "johnowhitaker/map_folding, or put one in benchmarks/build/)"
            )
            say(why)
            self.notes.append(why)
            return
        compiler = os.environ.get("CXX", "c++")
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        common = ["-O3", "-std=c++17", "-pthread", "-o", str(SYM_FOLD_BINARY), str(source)]
        command, failure = compile_first(([compiler, "-march=native", *common], [compiler, *common]), timeout=300)
        if command is not None:
            say(f"compiled sym_fold from {source}: {' '.join(command)}")
            self.sym_fold = SYM_FOLD_BINARY
        if self.sym_fold is None:
            why = f"figure 17 skipped: {source} did not compile ({failure})"
            say(why)
            self.notes.append(why)
            return
        for side in (4, 5):
            folds, _ = self.run_sym_fold(side, 1)
            self.check(f"sym_fold folds of {side}x{side}", folds, oracle_folds(self.oeis_values, (side, side)), "OEIS")

    def run_sym_fold(self, side: int, threads: int) -> tuple[int | None, float | None]:
        """One run of sym_fold on a ``side`` x ``side`` map: (folds, the ``total_s`` it reports)."""
        if self.sym_fold is None:
            return None, None
        command = [str(self.sym_fold), str(side), str(threads)]
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=False)
            folds = int(completed.stdout.split()[0])
            seconds = float(completed.stderr.rsplit("total_s=", 1)[1].split()[0])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError) as error:
            say(f"sym_fold {side}x{side} failed: {error}")
            return None, None
        return folds, seconds

    def find_python313(self) -> Path | None:
        """A Python 3.13 interpreter: ``$PEER_PYTHON``, pyenv's, or one on the PATH."""
        candidates: list[str] = []
        if os.environ.get("PEER_PYTHON"):
            candidates.append(os.environ["PEER_PYTHON"])
        pyenv = shutil.which("pyenv")
        if pyenv:
            try:
                found = subprocess.run([pyenv, "which", "python3.13"], capture_output=True, text=True, timeout=30, check=False)
                if found.returncode == 0 and found.stdout.strip():
                    candidates.append(found.stdout.strip())
            except (OSError, subprocess.SubprocessError):
                pass
        pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
        candidates.extend(sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.13*", "bin", "python3.13")), reverse=True))
        on_path = shutil.which("python3.13")
        if on_path:
            candidates.append(on_path)
        for candidate in candidates:
            try:
                probe = subprocess.run(
                    [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=False,
                )
            except (OSError, subprocess.SubprocessError):
                continue
            if probe.returncode == 0 and probe.stdout.strip() == "3.13":
                return Path(candidate)
        return None

    def peer_importable(self, python: Path) -> bool:
        """Whether ``python`` can import the peer's counting entry points."""
        try:
            probe = subprocess.run(
                [str(python), "-c", "from mapFolding.basecamp import countFolds, countFoldsSymmetric"],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return probe.returncode == 0

    def set_up_peer(self) -> None:
        """Make ``benchmarks/.peer-venv`` with ``mapFolding`` installed, or say why there are no peer figures."""
        if self.skip_peer:
            say("--skip-peer: no peer figures")
            self.notes.append("peer skipped (--skip-peer)")
            return
        venv_python = PEER_VENV_DIR / "bin" / "python"
        if venv_python.exists() and self.peer_importable(venv_python):
            self.peer_python = venv_python
            say(f"peer venv ready: {PEER_VENV_DIR}")
            return
        python313 = self.find_python313()
        if python313 is None:
            self.give_up_on_peer("no Python 3.13 found (tried $PEER_PYTHON, pyenv, the PATH); mapFolding needs it")
            return
        say(f"making the peer venv with {python313} and installing {PEER_PACKAGE} (this takes a while the first time)")
        steps = (
            [str(python313), "-m", "venv", str(PEER_VENV_DIR)],
            [str(venv_python), "-m", "pip", "install", "--quiet", PEER_PACKAGE],
        )
        for command in steps:
            try:
                completed = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=False)
            except (OSError, subprocess.SubprocessError) as error:
                self.give_up_on_peer(f"{' '.join(command)} failed: {error}")
                return
            if completed.returncode != 0:
                self.give_up_on_peer(f"{' '.join(command)} failed: {output_tail(completed.stderr or completed.stdout)}")
                return
        if not self.peer_importable(venv_python):
            self.give_up_on_peer(f"{PEER_PACKAGE} installed but mapFolding.basecamp.countFolds cannot be imported")
            return
        self.peer_python = venv_python
        say(f"peer venv ready: {PEER_VENV_DIR}")

    def give_up_on_peer(self, reason: str) -> None:
        """Go on without peer figures, saying why."""
        say(f"NO PEER FIGURES: {reason}")
        self.notes.append(f"no peer figures: {reason}")
        self.peer_python = None

    def warm_up_mapfold(self) -> None:
        """Compile (or load from numba's cache) every kernel mapfold uses, on small maps."""
        from mapfold import count_folds

        started = time.perf_counter()
        for shape in ((2, 5), (1, 8)):
            for threads in (1, 2):
                for symmetric in (False, True):
                    result = count_folds(shape, threads=threads, symmetric=symmetric)
                    self.check(
                        f"mapfold warm-up folds of {shape_text(shape)}",
                        result.folds_total,
                        oracle_folds(self.oeis_values, shape),
                        "OEIS",
                    )
        self.default_threads = count_folds((2, 5)).threads
        say(f"mapfold warmed up in {time.perf_counter() - started:.1f} s (its default is {self.default_threads} threads)")

    # -- measuring ---------------------------------------------------------------------------------------------------

    def time_mapfold(self, shape: Shape, threads: int, symmetric: bool) -> Timing:
        """Median-ready timings of ``mapfold.count_folds`` in this process (cached: each setting runs once)."""
        key = (shape, threads, symmetric)
        if key in self.mapfold_cache:
            return self.mapfold_cache[key]
        from mapfold import count_folds

        program = f"mapfold {threads}t {'sym' if symmetric else 'nosym'}"
        timing = Timing(program=program, shape=shape_text(shape), seconds=[])
        reported: list[float] = []
        for run in range(self.repeats):
            gc.collect()
            started = time.perf_counter()
            result = count_folds(shape, threads=threads, symmetric=symmetric)
            seconds = time.perf_counter() - started
            timing.seconds.append(seconds)
            reported.append(result.elapsed_seconds)
            for what, got, previous in (
                ("folds", result.folds_total, timing.folds),
                ("symmetric total", result.symmetric_folds, timing.symmetric),
            ):
                if previous is not None:
                    self.check(f"{program} {what} of {timing.shape} (run {run + 1})", got, previous, "its first run")
            timing.folds = result.folds_total
            timing.symmetric = result.symmetric_folds
            say(f"{program} {timing.shape}: {seconds:.3f} s (run {run + 1}/{self.repeats})")
        timing.details = {"threads": threads, "symmetric": symmetric, "elapsed_seconds_reported": reported}
        self.check_against_oracle(timing, shape)
        self.mapfold_cache[key] = timing
        self.timings.append(timing)
        return timing

    def time_mapfold_walk(self, shape: Shape, threads: int, walk: str, repeats: int | None = None) -> Timing:
        """Timings of ``count_folds(shape, threads, symmetric=False, walk=walk)`` in this process."""
        from mapfold import count_folds

        program = f"mapfold {threads}t {walk}"
        timing = Timing(program=program, shape=shape_text(shape), seconds=[])
        for run in range(repeats or self.repeats):
            gc.collect()
            started = time.perf_counter()
            result = count_folds(shape, threads=threads, symmetric=False, walk=walk)
            seconds = time.perf_counter() - started
            if timing.folds is not None:
                self.check(
                    f"{program} folds of {timing.shape} (run {run + 1})", result.folds_total, timing.folds, "its first run"
                )
            timing.folds = result.folds_total
            timing.seconds.append(seconds)
            say(f"{program} {timing.shape}: {seconds:.3f} s (run {run + 1}/{repeats or self.repeats}, {result.tasks} tasks)")
        timing.details = {"threads": threads, "walk": walk}
        self.check_against_oracle(timing, shape)
        self.timings.append(timing)
        return timing

    def time_peer(self, route: str, shape: Shape) -> Timing | None:
        """Timings of the peer's route in its own process (``peer.py``), or ``None`` without a peer."""
        if self.peer_python is None:
            return None
        command = [
            str(self.peer_python),
            str(PEER_SCRIPT),
            "--route",
            route,
            "--shape",
            shape_text(shape),
            "--repeats",
            str(self.repeats),
        ]
        say(f"peer {route} {shape_text(shape)}: {self.repeats} run(s) after a warm-up ...")
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=False)
        except (OSError, subprocess.SubprocessError) as error:
            self.notes.append(f"peer {route} {shape_text(shape)} failed: {error}")
            say(f"peer {route} {shape_text(shape)} failed: {error}")
            return None
        lines = completed.stdout.strip().splitlines()
        try:
            report = json.loads(lines[-1]) if completed.returncode == 0 and lines else None
        except json.JSONDecodeError:
            report = None
        if report is None:
            failure = f"exit {completed.returncode}: {output_tail(completed.stderr or completed.stdout)}"
            self.notes.append(f"peer {route} {shape_text(shape)} failed: {failure}")
            say(f"peer {route} {shape_text(shape)} failed: {failure}")
            return None
        program = f"peer {route}"
        timing = Timing(program=program, shape=shape_text(shape), seconds=[float(value) for value in report["seconds"]])
        if route == "folds":
            timing.folds = int(report["result"])
        else:
            timing.symmetric = int(report["result"])
        timing.details = {key: report[key] for key in ("call", "version", "warmup_seconds", "results_agree") if key in report}
        if not report.get("results_agree", True):
            self.check(f"{program} {timing.shape}: repeated runs", 0, 1, "agreement between its repeats")
        say(f"peer {route} {timing.shape}: " + ", ".join(f"{value:.3f}" for value in timing.seconds) + " s")
        self.check_against_oracle(timing, shape)
        self.timings.append(timing)
        return timing

    def run_plain_walk(self, shape: Shape) -> tuple[int | None, float | None]:
        """One run of the C walk: (folds, its own compute seconds)."""
        if self.plain_walk is None:
            return None, None
        command = [str(self.plain_walk), *[str(side) for side in shape]]
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=False)
            report = json.loads(completed.stdout)
        except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as error:
            say(f"plain_walk {shape_text(shape)} failed: {error}")
            return None, None
        return int(report["folds"]), float(report["seconds"])

    def time_plain_walk(self, shape: Shape) -> Timing | None:
        """Timings of the C walk, by the compute seconds it measures itself."""
        if self.plain_walk is None:
            return None
        timing = Timing(program="plain_walk C", shape=shape_text(shape), seconds=[])
        for run in range(self.repeats):
            folds, seconds = self.run_plain_walk(shape)
            if folds is None or seconds is None:
                return None
            if timing.folds is not None:
                self.check(f"plain_walk folds of {timing.shape} (run {run + 1})", folds, timing.folds, "its first run")
            timing.folds = folds
            timing.seconds.append(seconds)
            say(f"plain_walk C {timing.shape}: {seconds:.3f} s (run {run + 1}/{self.repeats})")
        self.check_against_oracle(timing, shape)
        self.timings.append(timing)
        return timing

    def run_mapfold_command(self, arguments: list[str], numba_cache_dir: str | None) -> tuple[float, int, str]:
        """Run ``mapfold ARGS`` as a whole process: (wall seconds, max RSS in KiB, stdout).

        ``os.wait4`` gives the resource usage of exactly this child.
        """
        executable = Path(sys.prefix) / "bin" / "mapfold"
        if not executable.exists():
            executable = REPO_DIR / ".venv" / "bin" / "mapfold"
        environment = dict(os.environ)
        if numba_cache_dir is not None:
            environment["NUMBA_CACHE_DIR"] = numba_cache_dir
        with tempfile.TemporaryFile() as stdout_file, tempfile.TemporaryFile() as stderr_file:
            started = time.perf_counter()
            process = subprocess.Popen([str(executable), *arguments], stdout=stdout_file, stderr=stderr_file, env=environment)
            _, status, usage = os.wait4(process.pid, 0)
            wall_seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            stdout_file.seek(0)
            stderr_file.seek(0)
            stdout = stdout_file.read().decode(errors="replace")
            stderr = stderr_file.read().decode(errors="replace")
        if process.returncode != 0:
            raise RuntimeError(f"mapfold {' '.join(arguments)} exited {process.returncode}: {output_tail(stderr or stdout)}")
        return wall_seconds, int(usage.ru_maxrss), stdout

    # -- figures -----------------------------------------------------------------------------------------------------

    def add_ratio_row(
        self,
        figure: int,
        title: str,
        shape: Shape,
        first: Timing | None,
        second: Timing | None,
        goal_limit: float | None,
        goal_is_at_most: bool = True,
        value_kind: str = "ratio",
        invert: bool = False,
    ) -> None:
        """A row comparing two timings: first/second (or second/first with ``invert``) against a goal."""
        first_value = first.median_seconds if first else None
        second_value = second.median_seconds if second else None
        value: float | None = None
        if first_value is not None and second_value is not None:
            numerator, denominator = (second_value, first_value) if invert else (first_value, second_value)
            value = numerator / denominator if denominator > 0 else float("inf")
        met: bool | None = None
        goal = "(none for this map)"
        if goal_limit is not None:
            goal = f"{'<=' if goal_is_at_most else '>='} {goal_limit:g}"
            if value is not None:
                met = value <= goal_limit if goal_is_at_most else value >= goal_limit
        self.rows.append(
            FigureRow(
                figure=figure,
                title=title,
                shape=shape_text(shape),
                first_label=first.program if first else "-",
                first_value=first_value,
                second_label=second.program if second else "(not measured)",
                second_value=second_value,
                value=value,
                value_kind=value_kind,
                goal=goal,
                met=met,
            )
        )

    def figure_versus_peer_folds(self) -> None:
        """Figure 1: mapfold 1 thread, no symmetric total, against the peer's ``countFolds``."""
        for shape in self.plan.versus_peer_folds:
            ours = self.time_mapfold(shape, 1, False)
            theirs = self.time_peer("folds", shape)
            if theirs is not None:
                self.check(f"mapfold folds of {ours.shape}", ours.folds, theirs.folds, "the peer")
            self.add_ratio_row(1, "mapfold 1t vs peer countFolds", shape, ours, theirs, 0.67)

    def figure_thread_scaling(self) -> None:
        """Figure 2: the speedup of 2 threads over 1 thread (no symmetric total)."""
        for shape in self.plan.thread_scaling:
            one_thread = self.time_mapfold(shape, 1, False)
            two_threads = self.time_mapfold(shape, 2, False)
            self.check(f"mapfold 2t folds of {two_threads.shape}", two_threads.folds, one_thread.folds, "mapfold 1t")
            self.add_ratio_row(
                2, "speedup 1t/2t", shape, one_thread, two_threads, 1.8, goal_is_at_most=False, value_kind="speedup"
            )

    def figure_symmetric_cost(self) -> None:
        """Figure 3: 2 threads with the symmetric total against without it."""
        for shape in self.plan.symmetric_cost:
            with_symmetric = self.time_mapfold(shape, 2, True)
            without_symmetric = self.time_mapfold(shape, 2, False)
            self.check(f"mapfold sym folds of {with_symmetric.shape}", with_symmetric.folds, without_symmetric.folds, "nosym")
            self.add_ratio_row(3, "symmetric on/off, 2t", shape, with_symmetric, without_symmetric, 1.3)
            self.check(
                f"mapfold symmetric total of {with_symmetric.shape}",
                with_symmetric.symmetric,
                oracle_symmetric(self.oeis_values, shape),
                "OEIS",
            )

    def figure_versus_peer_symmetric(self) -> None:
        """Figure 4: mapfold's default (every CPU, symmetric on) against the peer's ``countFoldsSymmetric``."""
        shapes = self.plan.versus_peer_symmetric
        for shape in shapes:
            ours = self.time_mapfold(shape, self.default_threads, True)
            theirs = self.time_peer("symmetric", shape)
            if theirs is not None:
                self.check(f"mapfold symmetric total of {ours.shape}", ours.symmetric, theirs.symmetric, "the peer")
            goal = 0.1 if shape == shapes[-1] else None
            self.add_ratio_row(4, f"mapfold default ({self.default_threads}t, sym) vs peer sym", shape, ours, theirs, goal)

    def figure_versus_plain_walk(self) -> None:
        """Figure 5: mapfold 1 thread, no symmetric total, against the plain C walk."""
        for shape in self.plan.versus_plain_walk:
            ours = self.time_mapfold(shape, 1, False)
            plain = self.time_plain_walk(shape)
            if plain is not None:
                self.check(f"mapfold folds of {ours.shape}", ours.folds, plain.folds, "plain_walk C")
            self.add_ratio_row(5, "mapfold 1t vs plain C walk", shape, ours, plain, 0.35)

    def figure_versus_sym_fold(self) -> None:
        """Figure 17: mapfold against sym_fold, one square map's fold total on 1 and 2 threads."""
        shape = SYM_FOLD_SHAPES[1] if self.quick else SYM_FOLD_SHAPES[0]
        if self.sym_fold is None:
            say(f"figure 17 (mapfold vs sym_fold, {shape_text(shape)}) skipped: sym_fold was not built")
            return
        for threads in (1, 2):
            ours, theirs = self.time_alternating_with_sym_fold(shape, threads)
            if theirs is not None:
                self.check(f"mapfold folds of {ours.shape}", ours.folds, theirs.folds, "sym_fold")
            self.add_ratio_row(17, f"mapfold vs sym_fold, {threads}t", shape, ours, theirs, SYM_FOLD_GOAL)

    def time_alternating_with_sym_fold(self, shape: Shape, threads: int) -> tuple[Timing, Timing | None]:
        """Figure 17's runs: a mapfold count, then a sym_fold run, ``repeats`` times over.

        Taking the two in turn, not three of one and then three of the other, puts a drift in the
        machine's speed (other work, the clock) on both sides: sym_fold alone was seen to vary from
        11.0 to 13.4 s on one thread within minutes.
        """
        from mapfold import count_folds

        # Named apart from ``time_mapfold``'s timings of the same setting (figure 3 times 6x6 too).
        ours = Timing(program=f"mapfold {threads}t nosym, in turn with sym_fold", shape=shape_text(shape), seconds=[])
        theirs: Timing | None = Timing(program=f"sym_fold {threads}t", shape=shape_text(shape), seconds=[])
        reported: list[float] = []
        for run in range(self.repeats):
            gc.collect()
            started = time.perf_counter()
            result = count_folds(shape, threads=threads, symmetric=False)
            ours.seconds.append(time.perf_counter() - started)
            reported.append(result.elapsed_seconds)
            if ours.folds is not None:
                what = f"{ours.program} folds of {ours.shape} (run {run + 1})"
                self.check(what, result.folds_total, ours.folds, "its first run")
            ours.folds = result.folds_total
            say(f"{ours.program} {ours.shape}: {ours.seconds[-1]:.3f} s (run {run + 1}/{self.repeats})")
            if theirs is None:
                continue
            folds, seconds = self.run_sym_fold(shape[0], threads)
            if folds is None or seconds is None:
                theirs = None
                continue
            if theirs.folds is not None:
                self.check(f"sym_fold folds of {theirs.shape} (run {run + 1})", folds, theirs.folds, "its first run")
            theirs.folds = folds
            theirs.seconds.append(seconds)
            say(f"{theirs.program} {theirs.shape}: {seconds:.3f} s (run {run + 1}/{self.repeats})")
        ours.details = {"threads": threads, "symmetric": False, "alternating_with": "sym_fold"}
        ours.details["elapsed_seconds_reported"] = reported
        self.check_against_oracle(ours, shape)
        self.timings.append(ours)
        if theirs is not None:
            theirs.details = {"threads": threads, "alternating_with": "mapfold"}
            self.check_against_oracle(theirs, shape)
            self.timings.append(theirs)
        return ours, theirs

    def figure_startup(self) -> None:
        """Figure 6: whole-process wall time of ``mapfold count 2x5``, warm numba cache and empty numba cache."""
        shape = self.plan.startup
        arguments = ["count", shape_text(shape)]
        expected = oracle_folds(self.oeis_values, shape)
        warm_seconds: list[float] = []
        cold_seconds: list[float] = []
        try:
            with tempfile.TemporaryDirectory(prefix="mapfold-bench-warm-cache-") as warm_cache:
                say(f"mapfold {' '.join(arguments)}: warming a fresh numba cache ...")
                self.run_mapfold_command(arguments, warm_cache)
                for run in range(self.repeats):
                    seconds, _, stdout = self.run_mapfold_command(arguments, warm_cache)
                    self.check_printed_total(arguments, stdout, expected)
                    warm_seconds.append(seconds)
                    say(f"mapfold {' '.join(arguments)} (warm cache): {seconds:.3f} s (run {run + 1}/{self.repeats})")
            for run in range(self.repeats):
                with tempfile.TemporaryDirectory(prefix="mapfold-bench-empty-cache-") as empty_cache:
                    seconds, _, stdout = self.run_mapfold_command(arguments, empty_cache)
                self.check_printed_total(arguments, stdout, expected)
                cold_seconds.append(seconds)
                say(f"mapfold {' '.join(arguments)} (empty cache): {seconds:.3f} s (run {run + 1}/{self.repeats})")
        except (OSError, RuntimeError) as error:
            say(f"startup figure failed: {error}")
            self.notes.append(f"startup figure failed: {error}")
        for label, seconds, limit in (("warm numba cache", warm_seconds, 1.0), ("empty numba cache", cold_seconds, 15.0)):
            value = median(seconds) if seconds else None
            self.timings.append(Timing(program=f"mapfold count ({label})", shape=shape_text(shape), seconds=seconds))
            self.rows.append(
                FigureRow.single(
                    6, f"process wall, {label}", shape_text(shape), f"mapfold {' '.join(arguments)}", value, "seconds", limit
                )
            )

    def figure_startup_split(self) -> None:
        """Figure 9: where the warm ``mapfold count 2x5`` process spends its time.

        Interpreter start (``python -c pass``), imports (``import mapfold.cli.app``, the slowest top-level
        import named from ``-X importtime``), numba cache loading (the first count in a process less
        the second, which reuses the loaded code), the count itself (the second), and the whole
        process as figure 6 runs it. Each part is the median of the repeats, with a warm cache.
        """
        shape = self.plan.startup
        shape_name = shape_text(shape)
        python = str(Path(sys.prefix) / "bin" / "python")
        probe = (
            "import json, os, sys, time\n"
            "started = time.perf_counter()\n"
            "from mapfold.cli.app import run\n"
            "imported = time.perf_counter()\n"
            "sys.stdout = open(os.devnull, 'w')\n"
            f"run(['count', '{shape_name}'])\n"
            "first = time.perf_counter()\n"
            f"run(['count', '{shape_name}'])\n"
            "second = time.perf_counter()\n"
            "print(json.dumps([imported - started, first - imported, second - first]), file=sys.stderr)\n"
        )
        parts: dict[str, list[float]] = {
            "interpreter start": [],
            "imports": [],
            "numba cache loading": [],
            "the count": [],
            "whole": [],
        }
        slowest = ""
        try:
            with tempfile.TemporaryDirectory(prefix="mapfold-bench-split-cache-") as cache:
                environment = dict(os.environ, NUMBA_CACHE_DIR=cache)
                self.run_mapfold_command(["count", shape_name], cache)  # fill the cache
                for _ in range(self.repeats):
                    started = time.perf_counter()
                    subprocess.run([python, "-c", "pass"], check=True, env=environment)
                    parts["interpreter start"].append(time.perf_counter() - started)
                    probed = subprocess.run([python, "-c", probe], check=True, env=environment, capture_output=True, text=True)
                    imports, first, second = json.loads(probed.stderr.strip().splitlines()[-1])
                    parts["imports"].append(imports)
                    parts["numba cache loading"].append(max(0.0, first - second))
                    parts["the count"].append(second)
                    parts["whole"].append(self.run_mapfold_command(["count", shape_name], cache)[0])
                profile = subprocess.run(
                    [python, "-X", "importtime", "-c", "import mapfold.cli.app"],
                    check=True,
                    env=environment,
                    capture_output=True,
                    text=True,
                )
            # The slowest import outside mapfold: the largest cumulative time of any other module
            # (the outermost module of a package is the one that carries its whole load).
            others = []
            for line in profile.stderr.splitlines():
                fields = line.split("|")
                if len(fields) == 3 and fields[1].strip().isdigit() and not fields[2].strip().startswith("mapfold"):
                    others.append((int(fields[1]), fields[2].strip()))
            if others:
                microseconds, name = max(others)
                slowest = f"slowest import: {name} {microseconds / 1e6:.3f} s"
        except (OSError, RuntimeError, subprocess.CalledProcessError, ValueError) as error:
            say(f"startup split figure failed: {error}")
            self.notes.append(f"startup split figure failed: {error}")
        for label, seconds in parts.items():
            value = median(seconds) if seconds else None
            say(f"mapfold count {shape_name} warm, {label}: {format_seconds(value)}")
            if label == "whole":
                row = FigureRow.single(9, "warm process, whole", shape_name, f"mapfold count {shape_name}", value, "seconds", 1.0)
            else:
                row = FigureRow(9, f"warm process, {label}", shape_name, label, value, "-", None, value, "seconds", "-", None)
            self.rows.append(dataclasses.replace(row, note=slowest if label == "imports" else ""))

    def check_printed_total(self, arguments: list[str], stdout: str, expected: int | None) -> None:
        """Check that the table ``mapfold count`` printed shows the expected fold total."""
        if expected is None:
            return
        shown = f"{expected:,}"
        if shown in stdout:
            self.checks_passed += 1
        else:
            self.report_mismatch(f"MISMATCH: mapfold {' '.join(arguments)} did not print the OEIS total {shown}: {stdout!r}")

    def figure_peak_memory(self) -> None:
        """Figure 7: peak memory (max RSS) of ``mapfold count 2x14 --no-progress`` as a whole process.

        Measured on a second run: the first may compile what no earlier figure ran (the command line's
        long-count check), and numba's compiler alone takes about 100 MB.
        """
        shape = self.plan.peak_memory
        arguments = ["count", shape_text(shape), "--no-progress"]
        say(f"mapfold {' '.join(arguments)}: peak memory (one run after a warm-up run) ...")
        value: float | None = None
        note = ""
        try:
            self.run_mapfold_command(arguments, None)  # warm the numba cache
            seconds, max_rss_kib, stdout = self.run_mapfold_command(arguments, None)
            self.check_printed_total(arguments, stdout, oracle_folds(self.oeis_values, shape))
            value = max_rss_kib * 1024 / 1e6
            note = f"one run, {seconds:.1f} s wall"
            say(f"mapfold {' '.join(arguments)}: max RSS {value:.1f} MB in {seconds:.1f} s")
        except (OSError, RuntimeError) as error:
            say(f"peak memory figure failed: {error}")
            self.notes.append(f"peak memory figure failed: {error}")
        row = FigureRow.single(7, "peak memory (max RSS)", shape_text(shape), f"mapfold {' '.join(arguments)}", value, "MB", 300)
        self.rows.append(dataclasses.replace(row, note=note))

    def figure_long_strip(self) -> None:
        """Figure 8: whole-process ``mapfold count 1x24`` with the symmetric total against ``--no-symmetric``."""
        shape = self.plan.long_strip
        timings: dict[bool, Timing] = {}
        for symmetric in (True, False):
            arguments = ["count", shape_text(shape), "--no-progress", "--json"] + ([] if symmetric else ["--no-symmetric"])
            say(f"mapfold {' '.join(arguments)} (one run) ...")
            timing = Timing(program=f"mapfold process {'sym' if symmetric else 'nosym'}", shape=shape_text(shape), seconds=[])
            try:
                seconds, _, stdout = self.run_mapfold_command(arguments, None)
                report = json.loads(stdout)
                timing.seconds.append(seconds)
                timing.folds = int(report["folds_total"])
                self.check(
                    f"mapfold process folds of {timing.shape}", timing.folds, oracle_folds(self.oeis_values, shape), "OEIS"
                )
                if symmetric:
                    timing.symmetric = int(report["symmetric_folds"])
                    expected = oracle_symmetric(self.oeis_values, shape)
                    self.check(f"mapfold process symmetric total of {timing.shape}", timing.symmetric, expected, "OEIS")
                say(f"mapfold {' '.join(arguments)}: {seconds:.2f} s")
            except (OSError, RuntimeError, ValueError, KeyError) as error:
                say(f"long strip figure failed: {error}")
                self.notes.append(f"long strip figure failed: {error}")
            self.timings.append(timing)
            timings[symmetric] = timing
        measured = {symmetric: timing if timing.seconds else None for symmetric, timing in timings.items()}
        self.add_ratio_row(8, "process sym/nosym", shape, measured[True], measured[False], 1.3)

    def figure_orbit_walk(self) -> None:
        """Figure 15: the orbit walk against Lunnon's walk, 1 and 2 threads, no symmetric total."""
        for shape in ORBIT_WALK_QUICK_SHAPES if self.quick else ORBIT_WALK_SHAPES:
            for threads in (1, 2):
                orbit = self.time_mapfold_walk(shape, threads, "orbit")
                # Lunnon's walk on 6x6 takes minutes a run: once is enough to see the ratio.
                lunnon = self.time_mapfold_walk(shape, threads, "lunnon", repeats=1 if shape == (6, 6) else None)
                self.check(f"orbit walk folds of {orbit.shape}", orbit.folds, lunnon.folds, "Lunnon's walk")
                self.add_ratio_row(15, f"orbit/Lunnon walk, {threads}t", shape, orbit, lunnon, ORBIT_WALK_RATIO_GOALS.get(shape))
                limit = ORBIT_WALK_SECONDS_GOALS.get((shape, threads))
                if limit is not None:
                    self.rows.append(
                        FigureRow.single(
                            15,
                            f"orbit walk, {threads}t",
                            shape_text(shape),
                            orbit.program,
                            orbit.median_seconds,
                            "seconds",
                            limit,
                        )
                    )

    def figures(self) -> list[tuple[tuple[int, ...], Callable[[], None]]]:
        """Every figure method with the figure numbers its docstring names, in the order they run."""
        methods = (
            self.figure_versus_peer_folds,
            self.figure_thread_scaling,
            self.figure_symmetric_cost,
            self.figure_versus_peer_symmetric,
            self.figure_versus_plain_walk,
            self.figure_versus_sym_fold,
            self.figure_startup,
            self.figure_startup_split,
            self.figure_peak_memory,
            self.figure_long_strip,
            self.figure_checkpoint_cost,
            self.figure_estimate_error,
            self.figure_eta_accuracy,
            self.figure_cluster,
            self.figure_orbit_walk,
            self.figure_listing,
            self.figure_frontier,
            self.figure_versus_baseline,
        )
        numbered = []
        for method in methods:
            # "Figure 17: ..." or "Figures 13-14: ...": the numbers before the colon.
            heading = (method.__doc__ or "").split(":", 1)[0]
            numbers = tuple(int(number) for number in re.findall(r"\d+", heading))
            if len(numbers) == 2 and "-" in heading:
                numbers = tuple(range(numbers[0], numbers[1] + 1))
            numbered.append((numbers, method))
        return numbered

    def run(self, only: set[int] | None = None) -> None:
        """Set up, warm up, and measure every figure (or those numbered in ``only``)."""
        chosen = [method for numbers, method in self.figures() if only is None or only & set(numbers)]
        needs = {method.__name__ for method in chosen}
        if "figure_versus_plain_walk" in needs:
            self.build_plain_walk()
        if "figure_versus_sym_fold" in needs:
            self.build_sym_fold()
        if needs & {"figure_versus_peer_folds", "figure_versus_peer_symmetric"}:
            self.set_up_peer()
        self.warm_up_mapfold()
        for method in chosen:
            method()

    def figure_listing(self) -> None:
        """Figure 16: ``mapfold list`` as a whole process: 1x16 to npy on 2 threads (time, memory), 8x8 --limit 5."""
        import numpy as np

        with tempfile.TemporaryDirectory(prefix="mapfold-bench-list-") as directory:
            target = Path(directory) / "strip.npy"
            arguments = ["list", "1x16", "--format", "npy", "-o", str(target), "--threads", "2", "--no-progress"]
            say(f"mapfold {' '.join(arguments)} (a warm-up run, then one timed) ...")
            seconds: float | None = None
            mebibytes: float | None = None
            try:
                self.run_mapfold_command(arguments, None)
                seconds, max_rss_kib, _ = self.run_mapfold_command(arguments, None)
                mebibytes = max_rss_kib / 1024
                rows = np.load(target, mmap_mode="r").shape[0]
                self.check("mapfold list 1x16 rows", rows, oracle_folds(self.oeis_values, (1, 16)), "OEIS")
                say(f"mapfold list 1x16 npy: {seconds:.2f} s, max RSS {mebibytes:.0f} MiB")
            except (OSError, RuntimeError, ValueError) as error:
                self.notes.append(f"list figure failed: {error}")
            title = "list 1x16 --format npy, 2t, process"
            self.rows.append(FigureRow.single(16, title, "1x16", "mapfold list", seconds, "seconds", 4))
            self.rows.append(FigureRow.single(16, "peak memory of that run", "1x16", "mapfold list", mebibytes, "MiB", 300))
        limited: float | None = None
        try:
            limited, _, stdout = self.run_mapfold_command(["list", "8x8", "--limit", "5", "--no-progress"], None)
            self.check("mapfold list 8x8 --limit 5 lines", len(stdout.splitlines()), 5, "--limit")
            outputs = [self.run_mapfold_command(["list", "1x12", "--threads", str(threads)], None)[2] for threads in (1, 2)]
            self.check("mapfold list 1x12 output on 2 threads equals 1 thread", int(outputs[0] == outputs[1]), 1, "1 thread")
        except (OSError, RuntimeError) as error:
            self.notes.append(f"list figure failed: {error}")
        self.rows.append(FigureRow.single(16, "list 8x8 --limit 5, process", "8x8", "mapfold list", limited, "seconds", 5))

    def figure_frontier(self) -> None:
        """Figure 19: ``mapfold count 2x2x2x2x2x2x2`` (128 leaves, past one 64-bit word) on 2 threads: time and memory."""
        shape = (2,) * 6 if self.quick else (2,) * 7
        arguments = ["count", shape_text(shape), "--threads", "2", "--json", "--no-progress"]
        seconds: float | None = None
        mebibytes: float | None = None
        try:
            self.run_mapfold_command(arguments, None)  # compiles the wide walks on a first run
            seconds, max_rss_kib, stdout = self.run_mapfold_command(arguments, None)
            mebibytes = max_rss_kib / 1024
            self.check(
                f"mapfold folds of {shape_text(shape)}",
                json.loads(stdout)["folds_total"],
                oracle_folds(self.oeis_values, shape),
                "OEIS",
            )
            say(f"mapfold {' '.join(arguments)}: {seconds:.2f} s, max RSS {mebibytes:.0f} MiB")
        except (OSError, RuntimeError, ValueError, KeyError) as error:
            self.notes.append(f"frontier figure failed: {error}")
        self.rows.append(FigureRow.single(19, "count, 2t, process", shape_text(shape), "mapfold count", seconds, "seconds", 60))
        self.rows.append(
            FigureRow.single(19, "peak memory of that run", shape_text(shape), "mapfold count", mebibytes, "MiB", 1024)
        )

    def figure_versus_baseline(self) -> None:
        """Figure 18: this tree against an earlier commit (``--baseline``), side by side, alternating runs.

        One-thread fold counts of 2x15 and 5x6 (the walks must not be slower: goal <= 1.03), and the
        whole process of ``mapfold --help`` and ``mapfold count 2x5`` (start-up).
        """
        import baseline

        if not self.baseline:
            self.notes.append("no baseline figures (--baseline '' was given)")
            return
        try:
            folder = baseline.checkout(self.baseline)
        except (OSError, subprocess.SubprocessError) as error:
            self.notes.append(f"no baseline figures: cannot check out {self.baseline}: {error}")
            return
        say(f"baseline {self.baseline}: {folder}")
        count = (
            "import json, sys, mapfold; r = mapfold.count_folds(eval(sys.argv[1]), threads=1, symmetric=False); "
            "print(json.dumps([r.folds_total, r.elapsed_seconds]))"
        )
        for shape in ((2, 10), (3, 4)) if self.quick else ((2, 15), (5, 6)):
            sides: dict[str, Timing] = {}
            for label, where in (("this tree", None), ("baseline", folder)):
                sides[label] = Timing(program=f"mapfold 1t nosym ({label})", shape=shape_text(shape), seconds=[])
                baseline.run(where, ["-c", count, repr(shape)])  # compile or load the cache first
            for _ in range(max(3, self.repeats)):
                for label, where in (("this tree", None), ("baseline", folder)):
                    folds, seconds = json.loads(baseline.run(where, ["-c", count, repr(shape)]).stdout)
                    self.check(f"{label} folds of {shape_text(shape)}", folds, oracle_folds(self.oeis_values, shape), "OEIS")
                    sides[label].seconds.append(seconds)
            self.timings.extend(sides.values())
            self.add_ratio_row(18, f"walk 1t vs {self.baseline}", shape, sides["this tree"], sides["baseline"], 1.03)
        for arguments, limit in ((["--help"], 0.3), (["count", "2x5"], 0.8)):
            sides = {}
            for label, where in (("this tree", None), ("baseline", folder)):
                sides[label] = Timing(program=f"mapfold {' '.join(arguments)} ({label})", shape="-", seconds=[])
                baseline.run(where, ["-m", "mapfold", *arguments])
            for _ in range(5):
                for label, where in (("this tree", None), ("baseline", folder)):
                    started = time.perf_counter()
                    baseline.run(where, ["-m", "mapfold", *arguments])
                    sides[label].seconds.append(time.perf_counter() - started)
            self.timings.extend(sides.values())
            title = f"process {' '.join(arguments)}, median of 5"
            self.rows.append(FigureRow.single(18, title, "-", "this tree", sides["this tree"].median_seconds, "seconds", limit))
            self.add_ratio_row(18, f"{title} vs {self.baseline}", (1,), sides["this tree"], sides["baseline"], None)

    # -- long counts (issue 10): checkpoint cost, estimate error, ETA ------------------------------------------------

    def figure_checkpoint_cost(self) -> None:
        """Figure 10: ``--checkpoint`` against none, 2 threads, runs interleaved (2x15, symmetric total off and on)."""
        from mapfold import count_folds

        # 2x15: with the orbit walk 2x14 is half a second, where fixed costs swamp the journal's.
        cases = (((2, 9), False), ((2, 9), True)) if self.quick else (((2, 15), False), ((2, 15), True))
        with tempfile.TemporaryDirectory(prefix="mapfold-bench-journal-") as directory:
            for symmetric in (False, True):  # compile (or load) the checkpointed paths before any clock runs
                count_folds((2, 5), threads=2, symmetric=symmetric, checkpoint=Path(directory) / f"warm-{symmetric}")
        for shape, symmetric in cases:
            plain = Timing(program=f"mapfold 2t {'sym' if symmetric else 'nosym'}", shape=shape_text(shape), seconds=[])
            journaled = Timing(program=f"{plain.program} --checkpoint", shape=shape_text(shape), seconds=[])
            for run in range(self.repeats):
                for timing in (plain, journaled):
                    with tempfile.TemporaryDirectory(prefix="mapfold-bench-journal-") as directory:
                        checkpoint = Path(directory) / "journal" if timing is journaled else None
                        gc.collect()
                        started = time.perf_counter()
                        result = count_folds(shape, threads=2, symmetric=symmetric, checkpoint=checkpoint)
                        timing.seconds.append(time.perf_counter() - started)
                    timing.folds, timing.symmetric = result.folds_total, result.symmetric_folds
                    say(f"{timing.program} {timing.shape}: {timing.seconds[-1]:.3f} s (run {run + 1}/{self.repeats})")
                self.check(f"checkpointed folds of {journaled.shape}", journaled.folds, plain.folds, "no checkpoint")
                self.check(f"checkpointed symmetric of {journaled.shape}", journaled.symmetric, plain.symmetric, "no checkpoint")
            self.check_against_oracle(journaled, shape)
            self.timings.extend((plain, journaled))
            self.add_ratio_row(10, "--checkpoint / none, 2t", shape, journaled, plain, 1.03)

    def figure_estimate_error(self) -> None:
        """Figure 11: ``mapfold estimate`` at its default time against the oracle (|estimate / oracle - 1|)."""
        from mapfold.estimate import estimate_count

        estimate_count((2, 5), seconds=0.1)  # compile (or load) the probes and the timed walk first
        for shape in ((2, 10), (4, 4)) if self.quick else ((2, 16), (6, 6)):
            expected = oracle_folds(self.oeis_values, shape)
            started = time.perf_counter()
            estimate = estimate_count(shape, threads=self.default_threads)
            error = abs(estimate.folds_estimate / expected - 1) if expected else None
            say(f"estimate {shape_text(shape)}: {estimate.folds_estimate:.4g} against {expected}: error {error:.3f}")
            row = FigureRow.single(
                11, "estimate error (folds), default time", shape_text(shape), "mapfold estimate", error, "fraction", 0.3
            )
            spent = time.perf_counter() - started
            note = f"{spent:.1f} s, {estimate.probes} probes, stated spread {estimate.folds_relative_error:.3f}"
            self.rows.append(dataclasses.replace(row, note=note))

    def figure_eta_accuracy(self) -> None:
        """Figure 12: the progress bar's ETA when it first shows 10% of 2x15, against the time that really remained."""
        import re

        from mapfold import count_folds

        shape = (2, 9) if self.quick else (2, 15)

        class StampedBar:
            """A file for the bar that notes when each update was written."""

            def __init__(self) -> None:
                self.writes: list[tuple[float, str]] = []

            def write(self, text: str) -> int:
                self.writes.append((time.perf_counter(), text))
                return len(text)

            def flush(self) -> None:
                pass

        count_folds((2, 5), threads=1, symmetric=False, progress=True, progress_file=StampedBar())  # warm up
        bar = StampedBar()
        count_folds(shape, threads=1, symmetric=False, progress=True, progress_file=bar)
        finished = time.perf_counter()
        value: float | None = None
        note = "the bar never showed 10%"
        for stamp, text in bar.writes:
            match = re.search(r"(\d+)%\|.*\[(?:(\d+):)?(\d+):(\d+)<(?:(\d+):)?(\d+):(\d+)", text)
            if match and int(match.group(1)) >= 10:
                hours, minutes, seconds = (int(match.group(index) or 0) for index in (5, 6, 7))
                shown = 3600 * hours + 60 * minutes + seconds
                remaining = finished - stamp
                value = shown / remaining if remaining > 0 else None
                note = f"at {match.group(1)}%: ETA shown {shown} s, {remaining:.1f} s really remained"
                break
        say(f"ETA figure {shape_text(shape)}: {note}")
        row = FigureRow.single(
            12, "ETA shown at 10% / true remaining, 1t", shape_text(shape), "mapfold count --progress", value, "ratio", 1.3
        )
        met = None if value is None else 0.7 <= value <= 1.3
        self.rows.append(dataclasses.replace(row, goal="0.7 .. 1.3", met=met, note=note))

    # -- the Dask front (issue 11) -----------------------------------------------------------------------------------

    def figure_cluster(self) -> None:
        """Figures 13-14: LocalCluster 2 workers x 1 thread against local 2 threads; scheduling cost per empty unit."""
        try:
            from distributed import Client, LocalCluster
        except ImportError as error:
            self.notes.append(f"no cluster figures: {error}")
            return
        import numpy as np

        from mapfold import count_folds

        # 2x14 carries the goals; 2x15 (a 3 s count) shows the cluster's cost is fixed, not proportional.
        shapes = [(2, 9)] if self.quick else [(2, 14), (2, 15)]
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            count_folds((2, 6), client=client)  # workers load the compiled code
            for shape, (symmetric, goal) in itertools.product(shapes, ((False, 1.15), (True, 1.2))):
                local = Timing(program=f"mapfold 2t {'sym' if symmetric else 'nosym'}", shape=shape_text(shape), seconds=[])
                remote = Timing(
                    program=f"LocalCluster 2x1 {'sym' if symmetric else 'nosym'}", shape=shape_text(shape), seconds=[]
                )
                # A 0.6 s count on a shared 2-core machine varies by 10-20% from run to run: more
                # alternating runs for it than elsewhere, so the median ratio says something.
                repeats = self.repeats if self.quick or shape != (2, 14) else max(self.repeats, 7)
                for run in range(repeats):
                    for timing in (remote, local):
                        gc.collect()
                        started = time.perf_counter()
                        if timing is remote:
                            result = count_folds(shape, client=client, symmetric=symmetric)
                        else:
                            result = count_folds(shape, threads=2, symmetric=symmetric)
                        timing.seconds.append(time.perf_counter() - started)
                        timing.folds, timing.symmetric = result.folds_total, result.symmetric_folds
                        say(f"{timing.program} {timing.shape}: {timing.seconds[-1]:.3f} s (run {run + 1}/{repeats})")
                self.check(f"cluster folds of {shape_text(shape)}", remote.folds, local.folds, "local")
                self.check(f"cluster symmetric of {shape_text(shape)}", remote.symmetric, local.symmetric, "local")
                self.check_against_oracle(remote, shape)
                self.timings.extend((remote, local))
                self.add_ratio_row(13, "LocalCluster 2x1 / local 2t", shape, remote, local, goal if shape != (2, 15) else None)
            # Empty units of the default walk: what one unit costs the scheduler, the comms and the
            # worker's call, and nothing else.
            from mapfold.plan.tasks import MIN_TASKS
            from mapfold.run.cluster import _orbit_planned, run_orbit_unit

            _, digest = _orbit_planned((2, 6), MIN_TASKS)
            units = 200
            started = time.perf_counter()
            futures = [
                client.submit(
                    run_orbit_unit, (2, 6), MIN_TASKS, digest, np.empty(0, dtype=np.int64), pure=False, key=f"empty-{index}"
                )
                for index in range(units)
            ]
            client.gather(futures)
            per_unit = (time.perf_counter() - started) / units
            say(f"empty units: {1000 * per_unit:.2f} ms each")
            row = FigureRow.single(14, "scheduling cost per empty unit", "-", f"{units} empty units", per_unit, "seconds", 0.05)
            self.rows.append(dataclasses.replace(row, goal="measured", met=None))


# ----------------------------------------------------------------------------------------------------------------------
# Output


def format_value(value: float | None, kind: str) -> str:
    """A figure as text."""
    if value is None:
        return "-"
    if kind == "seconds":
        return f"{value:.3f} s"
    if kind in ("MB", "MiB"):
        return f"{value:.1f} {kind}"
    return f"{value:.3f}"


def format_seconds(value: float | None) -> str:
    """A median time as text."""
    return "-" if value is None else f"{value:.3f} s"


def render_table(rows: list[FigureRow]) -> str:
    """The rows as a plain, aligned text table."""
    header = ("#", "figure", "map", "A", "median A", "B", "median B", "value", "goal", "met")
    lines: list[tuple[str, ...]] = [header]
    for row in rows:
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        if row.value_kind in ("MB", "MiB"):
            first_median = format_value(row.first_value, row.value_kind)
        else:
            first_median = format_seconds(row.first_value)
        value_text = format_value(row.value, row.value_kind)
        if row.value_kind in ("ratio", "speedup"):
            value_text += f" {row.value_kind}"
        lines.append(
            (
                str(row.figure),
                row.title,
                row.shape,
                row.first_label,
                first_median,
                row.second_label,
                format_seconds(row.second_value),
                value_text,
                row.goal,
                met + (f" ({row.note})" if row.note else ""),
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    right_aligned = {0, 4, 6, 7}
    rendered: list[str] = []
    for index, line in enumerate(lines):
        cells = [
            cell.rjust(widths[column]) if column in right_aligned else cell.ljust(widths[column])
            for column, cell in enumerate(line)
        ]
        rendered.append("  ".join(cells).rstrip())
        if index == 0:
            rendered.append("  ".join("-" * width for width in widths))
    return "\n".join(rendered)


def environment_summary() -> dict[str, Any]:
    """What the numbers were measured on."""
    summary: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        import numba

        import mapfold

        summary["mapfold"] = mapfold.__version__
        summary["numba"] = numba.__version__
    except ImportError:
        pass
    return summary


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description="Benchmark mapfold against the peer package, a plain C walk and its goals.")
    parser.add_argument(
        "--baseline",
        default="HEAD~1",
        metavar="REV",
        help="the commit figure 18 compares this tree with, side by side (default HEAD~1; '' skips it)",
    )
    parser.add_argument("--quick", action="store_true", help="small maps and 1 repeat: a smoke test of about a minute")
    parser.add_argument(
        "--figures",
        default="",
        metavar="N,N",
        help="only these figures, by number (e.g. 17,18; default: all of them)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (default 3, or 1 with --quick)")
    parser.add_argument("--skip-peer", action="store_true", help="no peer venv, no peer figures")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help=f"where the JSON goes (default {RESULTS_PATH})")
    arguments = parser.parse_args(argv)
    if arguments.repeats is None:
        arguments.repeats = 1 if arguments.quick else 3
    if arguments.repeats < 1:
        parser.error("--repeats must be at least 1")
    try:
        arguments.figures = {int(number) for number in arguments.figures.split(",") if number.strip()} or None
    except ValueError:
        parser.error(f"--figures takes figure numbers separated by commas, not {arguments.figures!r}")
    return arguments


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 if any total differed from the oracle or another program."""
    arguments = parse_arguments(argv)
    environment = environment_summary()
    load = environment.get("load_average_at_start")
    if load and os.cpu_count() and load[0] > 0.5:
        say(f"note: load average {load[0]:.2f} at start; other work on this machine will colour the timings")
    started = time.perf_counter()
    bench = Bench(repeats=arguments.repeats, quick=arguments.quick, skip_peer=arguments.skip_peer)
    bench.baseline = arguments.baseline
    if arguments.figures is not None:
        numbered = {number for numbers, _ in bench.figures() for number in numbers}
        unknown = sorted(arguments.figures - numbered)
        if unknown:
            known = f"{min(numbered)}-{max(numbered)}"
            print(f"bench: no figure numbered {', '.join(map(str, unknown))} (there are {known})", file=sys.stderr)
            return 2
    bench.run(arguments.figures)
    total_seconds = time.perf_counter() - started
    environment["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    title = f"mapfold benchmark ({'quick' if arguments.quick else 'full'}, median of {arguments.repeats} run(s))"
    print(title)
    print("value: ratio = median A / median B (below 1: mapfold A is faster); speedup = median A / median B")
    print(render_table(bench.rows))
    if arguments.quick:
        print("quick run: the maps are too small for the ratios to mean anything; it only shows that everything runs")
    print(f"totals checked: {bench.checks_passed} agreed, {len(bench.mismatches)} MISMATCH(ES); {total_seconds:.0f} s in all")
    for note in bench.notes:
        print(f"note: {note}")
    for mismatch in bench.mismatches:
        print(f"!!! {mismatch}")

    results = {
        "mode": "quick" if arguments.quick else "full",
        "repeats": arguments.repeats,
        # A run of some figures (--figures) writes only those: say which, so it is not read as all of them.
        "figures": sorted(arguments.figures) if arguments.figures is not None else "all",
        "environment": environment,
        "rows": [asdict(row) for row in bench.rows],
        "timings": [
            asdict(timing) | {"median_seconds": timing.median_seconds if timing.seconds else None} for timing in bench.timings
        ],
        "checks_passed": bench.checks_passed,
        "mismatches": bench.mismatches,
        "notes": bench.notes,
        "total_seconds": round(total_seconds, 3),
    }
    try:
        arguments.output.write_text(json.dumps(results, indent=2) + "\n")
        say(f"wrote {arguments.output}")
    except OSError as error:
        say(f"could not write {arguments.output}: {error}")
    return 1 if bench.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
