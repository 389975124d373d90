"""Checkpoint paths that are not journals (devices, FIFOs, directories, huge files) and a disk that fills up.

Each refusal must come in one line with exit 2 and within seconds: the journal used to read
``/dev/zero`` to its end (1.3 GB in 6 s) and to block forever on ``/dev/full`` or a FIFO. A full
disk is a failed run (exit 1), and the journal it leaves resumes to the exact totals.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mapfold.cli.app import app
from mapfold.oeis import known_folds, known_symmetric
from mapfold.run import journal as journal_module
from mapfold.run.journal import MAX_LINE_BYTES, Journal, JournalError, JournalWriteError
from mapfold.shape import counted_sides, parse_shape

#: A refusal that reads or waits on nothing takes well under this, even on a loaded machine.
REFUSAL_SECONDS = 60


def _refused(checkpoint: str | Path) -> subprocess.CompletedProcess:
    """``mapfold count 2x3 --checkpoint PATH`` in its own process, which must end within seconds."""
    return subprocess.run(
        [sys.executable, "-m", "mapfold", "count", "2x3", "--checkpoint", str(checkpoint), "--json"],
        capture_output=True,
        text=True,
        timeout=REFUSAL_SECONDS,  # a hang (a FIFO, /dev/full) fails the test instead of the suite
    )


def _assert_one_line_refusal(completed: subprocess.CompletedProcess, *words: str) -> None:
    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("mapfold: error: ")
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(("device", "kind"), [("/dev/zero", "character device"), ("/dev/full", "character device")])
def test_a_device_is_refused_before_it_is_read_or_written(device, kind):
    if not os.path.exists(device):
        pytest.skip(f"no {device} on this system")
    _assert_one_line_refusal(_refused(device), device, kind, "not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "journal.fifo"
    os.mkfifo(fifo)
    _assert_one_line_refusal(_refused(fifo), str(fifo), "FIFO")


def test_a_directory_is_refused(tmp_path):
    _assert_one_line_refusal(_refused(tmp_path), str(tmp_path), "directory")
    assert list(tmp_path.iterdir()) == []  # nothing was created inside it


def test_a_symbolic_link_to_a_device_is_refused(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this system")
    link = tmp_path / "journal"
    link.symlink_to("/dev/zero")
    _assert_one_line_refusal(_refused(link), "character device")


def test_a_huge_file_without_a_newline_is_refused_and_left_as_it_is(tmp_path):
    big = tmp_path / "big"
    content = b"x" * (1 << 20)
    big.write_bytes(content)
    _assert_one_line_refusal(_refused(big), str(big), "not a mapfold journal", "64 KiB")
    assert big.read_bytes() == content


def test_the_journal_reads_no_more_than_a_line_of_a_file_that_is_not_one(tmp_path, monkeypatch):
    """In process: the refusal of a 1 MiB line reads at most ``MAX_LINE_BYTES + 1`` bytes of it."""
    big = tmp_path / "big"
    big.write_bytes(b"{" * (1 << 20))
    asked: list[int] = []
    real_read_line = journal_module._read_line

    def read_line(handle):
        line = real_read_line(handle)
        asked.append(len(line))
        return line

    monkeypatch.setattr(journal_module, "_read_line", read_line)
    assert journal_module.journal_header(big) is None
    with pytest.raises(JournalError, match="over 64 KiB"):
        Journal.open(big, {"tasks": 1})
    assert asked and max(asked) == MAX_LINE_BYTES + 1


def test_a_task_line_over_the_limit_is_refused(tmp_path):
    """A journal whose header is right but whose second line is huge: damaged, not resumed, left as it is."""
    header = {"mapfold": "test", "tasks": 4}
    path = tmp_path / "journal"
    Journal.open(path, header).close()
    with path.open("ab") as handle:
        handle.write(b" " * (2 * MAX_LINE_BYTES) + b"\n")
    size = path.stat().st_size
    with pytest.raises(JournalError, match="line 2 is over 64 KiB"):
        Journal.open(path, header)
    assert path.stat().st_size == size


class _DiskThatFills:
    """Stands in for an open journal's file (its header already written) with ``room`` bytes left on the disk.

    Like a real full disk, the write that reaches the end is cut short (it returns fewer bytes than
    asked) and the next one fails with ``ENOSPC``.
    """

    def __init__(self, file, room: int, failure: int = errno.ENOSPC) -> None:
        self.file = file
        self.room = room
        self.failure = failure

    def write(self, data) -> int:
        if self.room == 0:
            raise OSError(self.failure, os.strerror(self.failure))
        written = self.file.write(bytes(data[: self.room]))
        self.room -= written
        return written

    def fileno(self) -> int:
        return self.file.fileno()

    def close(self) -> None:
        self.file.close()


@pytest.fixture
def disk_that_fills(monkeypatch):
    """Every journal opened while it is in use writes to a ``_DiskThatFills``: ``room`` bytes after its header."""
    settings = {"room": 100, "failure": errno.ENOSPC}
    real_open = Journal.open.__func__

    def open_on_a_small_disk(cls, path, header):
        journal = real_open(cls, path, header)
        journal._file = _DiskThatFills(journal._file, settings["room"], settings["failure"])
        return journal

    monkeypatch.setattr(Journal, "open", classmethod(open_on_a_small_disk))
    return settings


def test_record_on_a_full_disk_raises_journal_write_error(tmp_path, disk_that_fills):
    path = tmp_path / "journal"
    journal = Journal.open(path, {"mapfold": "test", "tasks": 100})
    with pytest.raises(JournalWriteError) as raised:
        for task in range(100):
            journal.record([(task, 1000 + task, None)])
    journal.close()
    assert raised.value.errno == errno.ENOSPC and raised.value.disk_full
    text = path.read_bytes()
    assert not text.endswith(b"\n")  # the write that filled the disk left a torn line
    lines = text.split(b"\n")
    assert len(lines) >= 3  # the header, at least one whole task line, the torn one


@pytest.mark.parametrize(
    "arguments",
    [["1x14"], ["2x7", "--no-symmetric"], ["1x16", "--symmetric-only"]],
    ids=["both totals", "fold total", "symmetric only"],
)
def test_a_full_disk_fails_the_run_and_the_journal_resumes_to_the_oeis_totals(tmp_path, disk_that_fills, arguments):
    path = tmp_path / "journal"
    runner = CliRunner()
    command = ["count", *arguments, "--checkpoint", str(path), "--json", "--no-progress", "--threads", "2"]
    failed = runner.invoke(app, command)
    assert failed.exit_code == 1, failed.output
    assert failed.stdout == ""
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert "the disk is full" in lines[0]
    options = "".join(" " + option for option in arguments[1:])
    assert f"run `mapfold count {arguments[0]} --checkpoint {path}{options}` again" in lines[0]
    assert "once there is room" in lines[0]
    journaled = path.read_bytes()
    assert not journaled.endswith(b"\n")  # a torn last line, as a real full disk leaves
    whole_task_lines = journaled.count(b"\n") - 1
    assert whole_task_lines >= 1

    # Room again: the same command, with the real journal, drops the torn line and finishes.
    disk_that_fills["room"] = 1 << 30
    resumed = runner.invoke(app, command)
    assert resumed.exit_code == 0, resumed.output
    assert "ignored an incomplete last line" in resumed.stderr
    document = json.loads(resumed.stdout)
    assert document["tasks_resumed"] == whole_task_lines
    sides = counted_sides(parse_shape(arguments[0]))
    if "--symmetric-only" in arguments:
        assert document["folds_total"] is None
    else:
        assert document["folds_total"] == known_folds(sides)[2]
    if "--no-symmetric" in arguments:
        assert document["symmetric_folds"] is None
    else:
        assert document["symmetric_folds"] == known_symmetric(sides)[2]


def test_a_quota_that_runs_out_is_a_full_disk_too(tmp_path, disk_that_fills):
    disk_that_fills["room"] = 0
    disk_that_fills["failure"] = errno.EDQUOT
    path = tmp_path / "journal"
    failed = CliRunner().invoke(app, ["count", "2x5", "--no-symmetric", "--checkpoint", str(path), "--no-progress"])
    assert failed.exit_code == 1, failed.output
    assert "the disk is full" in failed.stderr
    assert f"mapfold count 2x5 --checkpoint {path} --no-symmetric" in failed.stderr
    assert path.read_bytes().count(b"\n") == 1  # only the header: no task was journaled


def test_another_write_error_is_a_failed_run_not_bad_input(tmp_path, disk_that_fills):
    disk_that_fills["room"] = 0
    disk_that_fills["failure"] = errno.EIO
    path = tmp_path / "journal"
    failed = CliRunner().invoke(app, ["count", "2x5", "--checkpoint", str(path), "--no-progress"])
    assert failed.exit_code == 1, failed.output
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and "writing to it failed" in lines[0]
