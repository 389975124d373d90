"""Every way the command line can end badly: one line on stderr (and at most one hint), the right status, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

import mapfold.cli.app as cli
import mapfold.count as count_module
from mapfold.run.sender import SenderError


def _mapfold(*arguments: str, stdout=subprocess.PIPE, env=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mapfold", *arguments], stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout, env=env
    )


@pytest.mark.parametrize(
    ("arguments", "hint"),
    [
        (["count", "2x5", "--threads", "abc"], "mapfold count --help"),
        (["count"], "mapfold count --help"),
        (["count", "2x5", "3"], "mapfold count --help"),
        (["count", "2x5", "--jsn"], "mapfold count --help"),
        (["count", "2x5", "--progress=yes"], "--help"),
        (["2x5"], "mapfold count 2x5"),
        (["bogus"], "mapfold --help"),
        (["--nope"], "mapfold --help"),
    ],
)
def test_every_usage_error_is_one_line_and_a_hint(arguments, hint):
    completed = _mapfold(*arguments)
    assert completed.returncode == 2
    lines = completed.stderr.splitlines()
    assert len(lines) == 2, completed.stderr
    assert lines[0].startswith("mapfold: error: ")
    assert lines[1].startswith("hint: ") and hint in lines[1]
    assert completed.stdout == ""


@pytest.mark.parametrize("arguments", [["--version"], ["count", "--help"], ["count", "2x3", "--json"], ["count", "2x3"]])
def test_a_full_disk_is_one_line_and_status_1(arguments):
    with open("/dev/full", "w") as full:
        completed = _mapfold(*arguments, stdout=full)
    assert completed.returncode == 1
    assert completed.stderr.splitlines() == ["mapfold: error: cannot write the output: No space left on device"]


def test_a_reader_that_went_away_ends_the_run_silently():
    reading, writing = os.pipe()
    os.close(reading)  # the reader is gone before the first write
    try:
        completed = _mapfold("count", "2x3", stdout=writing)
    finally:
        os.close(writing)
    assert completed.stderr == ""
    assert completed.returncode in (-signal.SIGPIPE, 141)


def test_count_help_shows_its_defaults_and_no_type_noise():
    completed = _mapfold("count", "--help")
    text = " ".join(completed.stdout.split())
    assert completed.returncode == 0
    assert "[default: (the usable CPUs)]" in text
    assert "[default: (when stderr is a terminal)]" in text
    assert "<bool>" not in text
    assert "64 MiB" in text  # the sender's memory bound


def test_ctrl_c_while_loading_numba_is_one_line():
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "mapfold", "count", "2x5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    for line in process.stderr:  # -X importtime reports each import as it finishes
        seen.append(line)
        if "numba.core" in line:
            break
    process.send_signal(signal.SIGINT)
    stdout, rest = process.communicate(timeout=60)
    stderr = [line for line in seen + rest.splitlines(keepends=True) if not line.startswith("import time:")]
    assert process.returncode == 130, "".join(stderr)
    # numba loads on the count's own thread once the command runs: the count's one line.
    assert "".join(stderr).strip() == "mapfold: error: interrupted; no total (use --checkpoint FILE to make a count resumable)"
    assert stdout == ""


def test_a_second_ctrl_c_does_not_wait(tmp_path):
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))  # a cold cache: the run starts with a long compile
    process = subprocess.Popen(
        [sys.executable, "-m", "mapfold", "count", "2x9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    time.sleep(3)  # loaded, compiling
    process.send_signal(signal.SIGINT)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    second = time.monotonic()
    stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - second < 2.5
    assert process.returncode == 130
    assert "Traceback" not in stderr and stdout == ""


def test_an_interrupt_outranks_a_consumer_that_failed_at_the_same_time(monkeypatch):
    def failing_after_interrupt(*arguments, stop_event, **options):
        stop_event.set()
        raise SenderError("the consumer thread failed: ZeroDivisionError()")

    monkeypatch.setattr(count_module, "count_folds", failing_after_interrupt)
    result = CliRunner().invoke(cli.app, ["count", "2x5"])
    assert result.exit_code == 130
    assert "interrupted" in result.stderr


def test_out_of_memory_is_one_line_and_status_1(monkeypatch):
    def exhausted(*arguments, **options):
        raise MemoryError

    monkeypatch.setattr(count_module, "count_folds", exhausted)
    result = CliRunner().invoke(cli.app, ["count", "2x5"])
    assert result.exit_code == 1
    assert result.stderr.startswith("mapfold: error: out of memory") and len(result.stderr.splitlines()) == 1


def test_ctrl_c_during_the_first_compilation_does_not_wait_for_it(tmp_path):
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))  # a cold cache: compiling takes 7-15 s
    process = subprocess.Popen(
        [sys.executable, "-m", "mapfold", "count", "2x9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    time.sleep(3)  # loaded, compiling
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - sent < 4
    assert process.returncode == 130
    assert stderr.strip() == "mapfold: error: interrupted; no total" and stdout == ""


def _exit_now_in_a_process(body: str) -> subprocess.CompletedProcess:
    script = "import atexit, sys, threading, time\nfrom mapfold.__main__ import _exit_now\n" + body
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)


def test_the_quick_exit_still_runs_every_exit_handler():
    # The command skips the interpreter's slow teardown; what a normal exit would run must still run.
    completed = _exit_now_in_a_process(
        "atexit.register(lambda: print('handler ran', flush=True))\nprint('answer', end='\\n')\n_exit_now(3)\n"
    )
    assert completed.returncode == 3
    assert completed.stdout.splitlines() == ["answer", "handler ran"]


def test_the_quick_exit_skips_the_teardown():
    # What it is for: no module teardown (``__del__`` of what is still alive), which numba's and
    # LLVM's objects make slow. A plain ``sys.exit`` would print the second line.
    completed = _exit_now_in_a_process(
        "class Sentinel:\n    def __del__(self):\n        print('torn down', flush=True)\n"
        "kept = Sentinel()\nprint('answer')\n_exit_now(0)\n"
    )
    assert completed.returncode == 0
    assert completed.stdout.splitlines() == ["answer"]


def test_the_quick_exit_waits_for_a_thread_a_normal_exit_would_wait_for():
    completed = _exit_now_in_a_process(
        "def late():\n    time.sleep(0.5)\n    print('thread done', flush=True)\n"
        "threading.Thread(target=late).start()\n_exit_now(4)\n"
    )
    assert completed.returncode == 4
    assert completed.stdout.splitlines() == ["thread done"]
