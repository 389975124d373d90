"""A yardstick for ``make bench``: an earlier commit of mapfold, run side by side with this tree.

``checkout(rev)`` puts the commit's files in ``benchmarks/build/baseline-<rev>`` (``git worktree``,
detached, made once per commit) and returns that folder; ``run(folder, code)`` runs Python code
with that folder first on ``sys.path``, in this interpreter's environment (the same numba, numpy
and Python), so the only difference between the two sides is mapfold's own code. Each side keeps
its own compiled-code cache (the cache is named after the sources' digest and folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCHMARKS_DIR.parent


def resolve(rev: str) -> str:
    """The full commit hash of ``rev`` in this repository."""
    return subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=REPO_DIR, capture_output=True, text=True, check=True
    ).stdout.strip()


def checkout(rev: str) -> Path:
    """A folder holding the files of commit ``rev`` (made once; ``benchmarks/build`` is ignored by git)."""
    commit = resolve(rev)
    folder = BENCHMARKS_DIR / "build" / f"baseline-{commit[:12]}"
    if not (folder / "mapfold" / "__init__.py").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "prune"], cwd=REPO_DIR, check=False)
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--force", str(folder), commit], cwd=REPO_DIR, capture_output=True, check=True
        )
    return folder


def run(folder: Path | None, arguments: list[str], timeout: float = 1800) -> subprocess.CompletedProcess:
    """``python ARGUMENTS`` with ``folder``'s mapfold first on the path (``None``: this tree's)."""
    home = folder if folder is not None else REPO_DIR
    environment = dict(os.environ)
    environment["PYTHONPATH"] = str(home)
    # ``-c`` and ``-m`` put the working folder first on the path, before PYTHONPATH: run in ``home``.
    completed = subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, env=environment, timeout=timeout, cwd=home
    )
    if completed.returncode != 0:
        raise RuntimeError(f"python {' '.join(arguments)} exited {completed.returncode}: {completed.stderr[-500:]}")
    return completed
