"""Knuth's estimator against the oracle, and the commands that use it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from mapfold.estimate import estimate_count, likely_over
from mapfold.oeis import VALUES

#: A001418(8), the 8 x 8 map: published by the 2023 replication, not (yet) in the OEIS b-file.
FOLDS_8X8 = 162_403_827_553_180_928


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((2, 14), VALUES["A001415"][14]),
        ((1, 20), VALUES["A000136"][20]),
        ((5, 5), VALUES["A001418"][5]),
    ],
)
@pytest.mark.parametrize("walk", ["orbit", "lunnon"])
def test_folds_estimate_within_a_factor_of_2_from_a_short_sample(shape, expected, walk):
    # 0.6 s of probes (the command's default is 3 s) already gives these within a few percent.
    estimate = estimate_count(shape, threads=2, walk=walk, seconds=0.6)
    assert expected / 2 <= estimate.folds_estimate <= expected * 2
    assert estimate.nodes_estimate > 0 and estimate.seconds_estimate > 0


def test_8x8_within_a_factor_of_10():
    estimate = estimate_count((8, 8), threads=2, timed=False, seconds=1.0)
    assert FOLDS_8X8 / 10 <= estimate.folds_estimate <= FOLDS_8X8 * 10


def test_the_orbit_walk_estimate_sees_the_smaller_tree():
    """3x3x3's 48 symmetries (x2 for turning over) cut the tree the default count walks."""
    orbit = estimate_count((3, 3, 3), threads=1, seconds=0.5, timed=False)
    lunnon = estimate_count((3, 3, 3), threads=1, seconds=0.5, timed=False, walk="lunnon")
    assert orbit.nodes_estimate < lunnon.nodes_estimate / 8
    assert VALUES["A195646"][3] / 2 <= orbit.folds_estimate <= VALUES["A195646"][3] * 2


def test_tiny_maps_are_exact():
    assert estimate_count((1,), seconds=0.1).folds_estimate == 1
    assert estimate_count((2,), seconds=0.1).folds_estimate == 2


def test_small_counts_are_not_flagged_and_8x8_is():
    assert likely_over((2, 5), 2, 3600) is None
    assert likely_over((3, 3, 3), 2, 3600) is None
    assert likely_over((8, 8), 2, 3600) > 3600


def test_estimate_command_json():
    completed = subprocess.run(
        [sys.executable, "-m", "mapfold", "estimate", "2x12", "--seconds", "1", "--json", "--threads", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert {"folds_estimate", "nodes_estimate", "seconds_estimate"} <= set(document)
    assert VALUES["A001415"][12] / 2 <= document["folds_estimate"] <= VALUES["A001415"][12] * 2


@pytest.mark.parametrize("arguments", [["2x"], ["2x5", "--seconds", "0"], ["2x5", "--threads", "0"]])
def test_estimate_command_refuses_bad_input(arguments):
    command = [sys.executable, "-m", "mapfold", "estimate", *arguments]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert len(completed.stderr.strip().splitlines()) == 1 and "Traceback" not in completed.stderr


def test_count_warns_before_a_long_count_and_suggests_a_checkpoint():
    process = subprocess.Popen(
        [sys.executable, "-m", "mapfold", "count", "8x8", "--no-progress", "--threads", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stderr.readline()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert "mapfold: note:" in first_line and "--checkpoint" in first_line
    assert process.returncode == 130


def test_a_small_count_says_nothing_on_stderr():
    completed = subprocess.run(
        [sys.executable, "-m", "mapfold", "count", "2x5", "--no-progress"], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0 and completed.stderr == ""
