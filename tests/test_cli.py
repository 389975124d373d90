"""The command line: output formats, bad input, exit codes."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest
from typer.testing import CliRunner

from mapfold import __version__
from mapfold.cli.app import app
from mapfold.oeis import VALUES

runner = CliRunner()

JSON_KEYS = {
    "shape",
    "leaves",
    "folds_total",
    "symmetric_folds",
    "a007822_index",
    "threads",
    "tasks",
    "elapsed_seconds",
    "version",
    "sender",
    "tasks_resumed",
    "walk",
}


def _mapfold(*arguments: str, stderr=subprocess.PIPE, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mapfold", *arguments], stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=timeout
    )


def test_table_shows_the_count():
    result = runner.invoke(app, ["count", "2x5", "--no-progress"])
    assert result.exit_code == 0
    assert "1,980" in result.stdout
    assert "A001415(5)" in result.stdout


def test_json_is_one_object_with_exactly_the_documented_keys():
    completed = _mapfold("count", "3x3x3", "--threads", "2", "--json")
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert set(document) == JSON_KEYS
    assert document["shape"] == [3, 3, 3]
    assert document["leaves"] == 27
    assert document["folds_total"] == VALUES["A195646"][3]
    assert document["threads"] == 2
    assert document["version"] == __version__
    assert set(document["sender"]) == {"pushed", "consumed", "slots", "gated"}
    assert document["sender"]["pushed"] == document["sender"]["consumed"]


def test_json_for_a_strip_names_its_a007822_index():
    result = runner.invoke(app, ["count", "1x12", "--json", "--no-progress"])
    document = json.loads(result.stdout)
    assert document["a007822_index"] == 6
    assert document["symmetric_folds"] == VALUES["A007822"][6]


def test_no_symmetric_in_json():
    result = runner.invoke(app, ["count", "2X5", "--json", "--no-symmetric"])
    document = json.loads(result.stdout)
    assert document["symmetric_folds"] is None
    assert document["sender"] is None
    assert document["folds_total"] == VALUES["A001415"][5]


@pytest.mark.parametrize("text", ["7", "1x7"])
def test_single_number_is_a_strip(text):
    document = json.loads(runner.invoke(app, ["count", text, "--json"]).stdout)
    assert document["folds_total"] == VALUES["A000136"][7]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "empty"),
        ("2x", "missing"),
        ("x3", "missing"),
        ("0x5", "0"),
        ("2x-3", "-3"),
        ("2.5x3", "2.5"),
        ("abc", "abc"),
        ("1x100000", "1024 leaves"),
        ("2x513", "1024 leaves"),
        ("2x5x", "missing"),
        ("2xx5", "missing"),
        ("99999999999999999999x2", "too large"),
    ],
)
def test_bad_shapes_exit_2_with_one_line(text, named):
    result = runner.invoke(app, ["count", text])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("mapfold: error:")
    assert named in lines[0]
    assert result.stdout == ""


def test_bad_shape_in_a_real_process_has_no_traceback():
    completed = _mapfold("count", "0x5")
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("threads", ["0", "-2", "100000"])
def test_impossible_thread_counts_are_refused(threads):
    result = runner.invoke(app, ["count", "2x3", "--threads", threads])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--threads" in result.stderr


def test_version_and_help():
    assert runner.invoke(app, ["--version"]).stdout.strip() == f"mapfold {__version__}"
    help_text = runner.invoke(app, ["count", "--help"]).stdout
    assert "1024 leaves" in help_text
    assert "--no-symmetric" in help_text


def test_json_stdout_stays_pure_with_a_forced_progress_bar():
    completed = _mapfold("count", "2x5", "--json", "--progress")
    assert completed.returncode == 0
    document = json.loads(completed.stdout)  # nothing but the object
    assert document["folds_total"] == VALUES["A001415"][5]
    assert re.search(r" (\S+)/\1 \[", completed.stderr), completed.stderr  # the bar reached its total
    assert "estimated tree nodes" in completed.stderr  # and says what it counts


def test_progress_bar_shows_when_stderr_is_a_terminal():
    controller, terminal = pty.openpty()
    # A terminal 100 columns wide, as a user's would be (a new pty reports 0 columns).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        completed = _mapfold("count", "2x6", "--json", stderr=terminal)
        os.close(terminal)
        terminal = -1
        seen = b""
        while select.select([controller], [], [], 1)[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    json.loads(completed.stdout)  # the object is whole
    assert re.search(rb" (\S+)/\1 \[", seen)
    assert b"100%" in seen


def test_interrupt_stops_every_thread_and_prints_no_total():
    process = subprocess.Popen(
        [sys.executable, "-m", "mapfold", "count", "2x17", "--threads", "2", "--json", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # 2x17 on 2 threads counts for about a minute, whatever the machine's cores: 3 s in it is loading
    # or counting, never done (2x15, a 2.5 s count, was sometimes finished by then, and the interrupt
    # came after its total).
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)  # no hang: the walks see the stop flag
    assert process.returncode == 130
    assert stdout == ""
    assert "interrupted" in stderr
    assert "Traceback" not in stderr


def test_the_table_names_the_walks():
    assert "orbit + mirror (symmetric)" in runner.invoke(app, ["count", "2x5"]).stdout
    without = runner.invoke(app, ["count", "2x5", "--no-symmetric"]).stdout
    assert "orbit" in without and "mirror" not in without
