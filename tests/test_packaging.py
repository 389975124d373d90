"""What pyproject.toml declares matches what the code needs and what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def _pyproject() -> str:
    return (REPOSITORY / "pyproject.toml").read_text()


def test_platforms_are_declared_and_windows_is_not_claimed():
    """The producers' wait calls libc usleep (mapfold/jit/atomics.py): POSIX only."""
    systems = re.findall(r'"Operating System :: ([^"]*)"', _pyproject())
    assert sorted(systems) == ["MacOS", "POSIX :: Linux"]
    assert '"usleep"' in (REPOSITORY / "mapfold" / "jit" / "atomics.py").read_text()


def test_ci_runs_the_oldest_and_newest_declared_python():
    text = _pyproject()
    oldest = re.search(r'requires-python = ">=(\d+\.\d+)"', text).group(1)
    declared = sorted(
        re.findall(r"Programming Language :: Python :: (\d+\.\d+)", text), key=lambda v: tuple(map(int, v.split(".")))
    )
    assert declared[0] == oldest
    ci = (REPOSITORY / ".ci" / "run").read_text()
    assert f"find_python {declared[0]}" in ci and f"find_python {declared[-1]}" in ci


def test_the_command_is_the_entry_point_that_handles_ctrl_c_while_loading():
    assert 'mapfold = "mapfold.__main__:main"' in _pyproject()
