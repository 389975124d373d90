"""Shared test helpers: the OEIS b-files beside the repository are the oracle."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_OEIS = Path(__file__).resolve().parents[2] / "shared" / "oeis"


def read_b_file(sequence: str) -> dict[int, int]:
    """``{n: a(n)}`` from ``../shared/oeis/bNNNNNN.txt``."""
    values: dict[int, int] = {}
    for line in (SHARED_OEIS / f"b{sequence[1:]}.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            index, value = line.split()
            values[int(index)] = int(value)
    return values


@pytest.fixture(scope="session")
def oracle():
    """Reads b-files from ../shared/oeis; the tests that need them are skipped where it is absent."""
    if not SHARED_OEIS.is_dir():
        pytest.skip("../shared/oeis is not beside the repository")
    return read_b_file


def pytest_collection_finish(session):
    """Warn when ``--dist loadgroup`` would deal a group's tests to both processes.

    pytest-xdist groups by a suffix it adds to each marked test's id; pytest 9.2 silently drops it
    (pytest-xdist issue 1386), and then two processes compile the same walks side by side.
    """
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [item.nodeid for item in session.items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        import warnings

        warnings.warn(f"xdist_group is ignored by this pytest ({len(lost)} tests, e.g. {lost[0]}): see pyproject", stacklevel=1)
