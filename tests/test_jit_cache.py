"""numba's cache for mapfold: unwritable, damaged and stale caches never break or mislead a run.

Each test runs mapfold from a private copy of the package (so the cache folders, the sources and
the digest are the test's own) in a subprocess whose HOME and NUMBA_CACHE_DIR it chooses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mapfold
from mapfold.oeis import VALUES

PACKAGE = Path(mapfold.__file__).resolve().parent
FOLDS_2X5 = VALUES["A001415"][5]

# One test process makes the shared cold compile (``make test`` runs two: pytest-xdist).
pytestmark = pytest.mark.xdist_group("jit_cache")


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the mapfold package under ``tmp_path / "site"``, without compiled files."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "mapfold", ignore=shutil.ignore_patterns("__pycache__"))
    return site


@pytest.fixture(scope="module")
def compiled_copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One package copy whose cache holds the compiled 2x5 count: the cold compile the tests below share.

    Tests that edit its sources put them back (the cache is named after them and their folder).
    """
    root = tmp_path_factory.mktemp("compiled")
    site = root / "site"
    shutil.copytree(PACKAGE, site / "mapfold", ignore=shutil.ignore_patterns("__pycache__"))
    cache_dir = root / "cache"
    assert _count_2x5(site, cache_dir, root) == (FOLDS_2X5, "")
    return site, cache_dir


def _copy_of_the_cache(compiled_copy: tuple[Path, Path], tmp_path: Path) -> Path:
    """A test's own copy of the shared compiled cache, to damage or add to."""
    cache_dir = tmp_path / "cache"
    shutil.copytree(compiled_copy[1], cache_dir)
    return cache_dir


def _run(site: Path, cache_dir: Path | str, home: Path | str, *arguments: str) -> subprocess.CompletedProcess:
    return _python(site, cache_dir, home, "-m", "mapfold", *arguments)


def _python(site: Path, cache_dir: Path | str, home: Path | str, *arguments: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    environment.update(
        PYTHONPATH=str(site),
        PYTHONDONTWRITEBYTECODE="1",
        NUMBA_CACHE_DIR=str(cache_dir),
        HOME=str(home),
        XDG_CACHE_HOME=str(home),
    )
    return subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        cwd=site,
        timeout=120,
    )


def _count_2x5(site: Path, cache_dir, home) -> tuple[int, str]:
    # Lunnon's walk, named: the count runs walks/lunnon.py, which a test below edits (the default walk,
    # with or without a checkpoint, is the orbit walk of walks/orbit.py). Without the symmetric total
    # (no sender, no consumer): each cold compile here takes a third less, and the cache is the same.
    count = (
        "import json, mapfold; "
        "print(json.dumps(mapfold.count_folds((2, 5), threads=2, walk='lunnon', symmetric=False).to_dict()))"
    )
    completed = _python(site, cache_dir, home, "-c", count)
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    return json.loads(completed.stdout)["folds_total"], completed.stderr


def test_no_writable_cache_folder_warns_once_and_counts(package_copy: Path):
    blocker = package_copy / "a-file"  # folders "under" a regular file can never be made
    blocker.write_text("")
    (package_copy / "mapfold" / "__pycache__").write_text("")  # nor beside the sources
    version = _run(package_copy, blocker / "cache", blocker, "--version")
    assert version.returncode == 0 and version.stderr == ""
    folds, stderr = _count_2x5(package_copy, blocker / "cache", blocker)
    assert folds == FOLDS_2X5
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mapfold: warning: no writable cache folder"), stderr
    bad_shape = _run(package_copy, blocker / "cache", blocker, "count", "2x0")
    assert bad_shape.returncode == 2 and len(bad_shape.stderr.splitlines()) == 1


def test_a_damaged_cache_is_recompiled_with_one_notice(compiled_copy: tuple[Path, Path], tmp_path: Path):
    package_copy = compiled_copy[0]
    cache_dir = _copy_of_the_cache(compiled_copy, tmp_path)
    assert _count_2x5(package_copy, cache_dir, tmp_path) == (FOLDS_2X5, "")  # served from the copied cache, quietly
    (folder,) = cache_dir.iterdir()
    indexes = sorted(folder.glob("*.nbi"))
    data = sorted(folder.glob("*.nbc"))
    assert indexes and data
    indexes[0].write_bytes(b"\x80garbage" * 10)
    data[0].write_bytes(data[0].read_bytes()[:100])  # truncated
    for damaged in data[1:]:
        damaged.write_bytes(os.urandom(len(damaged.read_bytes())))  # garbage of the right size
    folds, stderr = _count_2x5(package_copy, cache_dir, tmp_path)
    assert folds == FOLDS_2X5
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mapfold: note: damaged compiled-code cache"), stderr
    assert _count_2x5(package_copy, cache_dir, tmp_path) == (FOLDS_2X5, "")  # repaired by the recompile


def test_an_edit_to_an_inlined_module_is_never_served_stale(compiled_copy: tuple[Path, Path], tmp_path: Path):
    """The worker loop (run/workers.py) has the walk (walks/lunnon.py) compiled into it: editing lunnon.py alone must show."""
    package_copy = compiled_copy[0]
    cache_dir = _copy_of_the_cache(compiled_copy, tmp_path)
    assert _count_2x5(package_copy, cache_dir, tmp_path)[0] == FOLDS_2X5
    kernel = package_copy / "mapfold" / "walks" / "lunnon.py"
    source = kernel.read_text()
    assert "popcount(last_gaps)" in source
    try:
        # A deliberately wrong kernel (every completion counted twice): a fresh compile cannot give the true total.
        kernel.write_text(source.replace("popcount(last_gaps)", "2 * popcount(last_gaps)"))
        assert _count_2x5(package_copy, cache_dir, tmp_path)[0] == 2 * FOLDS_2X5
    finally:
        kernel.write_text(source)  # the shared copy's sources as they were
    assert _count_2x5(package_copy, cache_dir, tmp_path) == (FOLDS_2X5, "")  # the first folder is still good
    assert len(list(cache_dir.iterdir())) == 2  # nothing was deleted: each set of sources keeps its own


def test_every_cached_mapfold_function_uses_the_checked_cache():
    from numba.core.dispatcher import Dispatcher

    import mapfold.run.local  # noqa: F401 - imports every jitted module

    cached = [
        value
        for name, module in sys.modules.items()
        if name.startswith("mapfold.")
        for value in vars(module).values()
        if isinstance(value, Dispatcher) and value._cache.__class__.__name__ != "NullCache"
    ]
    assert cached
    assert {type(value._cache).__name__ for value in cached} <= {"MapfoldFunctionCache", "UncachedNotice"}


def test_sources_edited_after_loading_are_never_saved_under_either_digest(package_copy: Path, tmp_path: Path):
    """A process that read the sources before an edit must not save what it compiled."""
    cache_dir = tmp_path / "cache"
    script = (
        "import pathlib, sys\n"
        "import mapfold.run.local\n"  # the sources are read and the digest taken
        "kernel = pathlib.Path(mapfold.__file__).parent / 'walks' / 'lunnon.py'\n"
        "kernel.write_text(kernel.read_text() + '\\n# edited while running\\n')\n"
        "print(mapfold.count_folds((2, 5), threads=2, symmetric=False).folds_total)\n"
    )
    environment = dict(os.environ, PYTHONPATH=str(package_copy), PYTHONDONTWRITEBYTECODE="1", NUMBA_CACHE_DIR=str(cache_dir))
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, cwd=package_copy, timeout=120
    )
    assert "edited while running" not in (PACKAGE / "walks" / "lunnon.py").read_text(), "the test edited the real package"
    assert completed.returncode == 0, completed.stderr
    assert int(completed.stdout) == FOLDS_2X5
    assert "sources changed while it ran" in completed.stderr
    assert not list(cache_dir.rglob("*.nbc"))  # nothing saved anywhere
