"""The checkpoint journal: finished tasks of a long count, so that an interrupted count resumes.

The file is JSON lines (one JSON object per line, UTF-8), readable without mapfold. Line 1 is the
header; then one line per finished task, in the order they finished: ``{"task": 17, "completions":
1234, "centres": 5}``, ``task`` being the index in the count's task list.

The header (format 2, the orbit walk): ``{"journal": "mapfold-checkpoint", "format": 2, "mapfold":
"0.2.0", "walk": "orbit", "shape": [2, 18], "leaves": 36, "symmetric": true, "task_depth": 9,
"tasks": 5120, "orbit_tasks": 4096, "task_digest": "<sha256>", "mirror_tasks": 1024,
"mirror_digest": "<sha256>"}`` (``plan.count_plan.CountPlan.journal_header``).

- Tasks ``0 .. orbit_tasks - 1`` are the orbit walk's (``plan.tasks.plan_orbit_tasks``; the digest
  covers the insertion order, every task's pile and its orbit weight): ``completions`` is the
  complete cycles below the task, ``centres`` is ``null``.
- Task ``orbit_tasks + i`` is mirror task ``i`` (``plan.tasks.plan_mirror_tasks``): ``completions``
  is the self-mirrored foldings it built, ``centres`` their centres, as the consumer checked them.
- The fold total is ``leaves * sum(weight * completions)`` over the orbit tasks, the symmetric
  total ``(sum(centres) + 1) // 2`` over the mirror tasks.
- A list planned for another number of tasks than ``plan.tasks.MIN_TASKS`` (``--min-tasks``, or a
  big cluster's ``plan.tasks.cluster_min_tasks``) adds ``"orbit_min_tasks": N``; a resumed count
  plans with it.
- The symmetric total alone (``--symmetric-only``) adds ``"folds": false``, with ``"orbit_tasks":
  0`` and ``null`` ``task_depth`` and ``task_digest``: every task is a mirror task.

Journals of Lunnon's walk (``"walk": "lunnon"``, or format 1 with no ``walk`` key) came from
mapfold 0.1.0 and earlier; this mapfold refuses them in one line that says so.

The runner appends the tasks that finished since its last look (every 0.1 s) in one write, flushed
and fsync'd (one fsync per task would cost milliseconds each), so a killed process loses the tasks
in flight and at most the last 0.1 s of finished ones. A last line without its newline (the process
died while writing it, or the disk filled up) is dropped with a one-line notice; anything else that does not parse, or a
header that does not match the count asked for, is refused.

The path must be a regular file or not exist: a device, a FIFO or a directory is refused before
anything is read or written (``/dev/zero`` would be read forever, ``/dev/full`` or a FIFO would
block). The file is read line by line, each line at most ``MAX_LINE_BYTES``: a file that is not a
journal is refused after its first 64 KiB, however big it is. A write, flush or fsync that fails
(the disk is full) raises ``JournalWriteError``: what was journaled before it stays, and a count
with the same journal resumes once there is room.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

JOURNAL_KIND = "mapfold-checkpoint"
JOURNAL_FORMAT = 2
#: The formats this version reads: 1 (Lunnon's walk, no ``walk`` key) and 2.
READABLE_FORMATS = (2,)


#: The longest line a journal holds (its header is a few hundred bytes, a task line under 100):
#: a longer one is not a journal's, and is not read on.
MAX_LINE_BYTES = 64 * 1024

#: The write errors that mean the disk (or the user's quota) is full, not that the file is wrong.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class JournalError(ValueError):
    """The journal cannot be used for this count (another shape, walk or version, damaged, or in use)."""


class JournalWriteError(OSError):
    """Appending to an open journal failed (most often: the disk is full); what was journaled before stays.

    A failed run, not bad input: the same count resumes from the journal once the cause is gone.
    """

    @property
    def disk_full(self) -> bool:
        """Whether the disk or the user's quota is full (``ENOSPC``, ``EDQUOT``)."""
        return self.errno in DISK_FULL_ERRNOS


def _kind_of_file(mode: int) -> str:
    """What a non-regular file is, in words, for the one-line refusal."""
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _not_regular(path: str | os.PathLike[str], mode: int) -> JournalError:
    return JournalError(
        f"{os.fspath(path)} is {_kind_of_file(mode)}, not a regular file; a checkpoint journal must be a file "
        "(a new path, or a journal this command wrote)"
    )


def check_journal_path(path: str | os.PathLike[str]) -> None:
    """Refuse a journal path that exists and is not a regular file (device, FIFO, directory, socket).

    Reads nothing and opens nothing, so it cannot block: call it before anything else touches the
    path. A path that does not exist (or cannot be looked at) passes: creating or opening it then
    says what is wrong.

    Raises
    ------
    JournalError
        When ``path`` (or what it links to) exists and is not a regular file.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode)


def _open_regular(path: str | os.PathLike[str], flags: int) -> int:
    """``os.open`` that refuses (and closes) anything but a regular file, and never blocks on a FIFO.

    ``check_journal_path`` has already looked; this closes the gap between that look and the open
    (the path replaced by a FIFO or a device in between).
    """
    descriptor = os.open(path, flags | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)  # no effect on a regular file's reads and writes; cleared for clarity
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _read_line(handle: BinaryIO) -> bytes:
    """The next line (with its newline), at most ``MAX_LINE_BYTES + 1`` bytes: longer means no journal line."""
    return handle.readline(MAX_LINE_BYTES + 1)


def _lock(handle: IO[Any], path: Path) -> None:
    """Lock the journal for this process (released when the file is closed, or the process dies)."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no lock, as before
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalError(f"{path} is in use by another running count") from None


def journal_header(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The header of the journal at ``path``, or ``None`` when there is no file, it is empty or not a journal.

    Read before opening, to choose the walk (and format) a resumed count must use; ``Journal.open``
    then checks the whole file, and refuses what is not a journal. Reads at most the first
    ``MAX_LINE_BYTES + 1`` bytes.

    Raises
    ------
    JournalError
        When ``path`` exists and is not a regular file (``check_journal_path``).
    """
    check_journal_path(path)
    try:
        descriptor = _open_regular(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    with open(descriptor, "rb") as handle:
        first = _read_line(handle)
    if not first.endswith(b"\n"):
        return None
    try:
        header = json.loads(first)
    except ValueError:  # not JSON, or not UTF-8
        return None
    if not isinstance(header, dict) or header.get("journal") != JOURNAL_KIND:
        return None
    return header


@dataclass
class Journal:
    """An open checkpoint journal: what it already holds, and a handle to append to it."""

    path: Path
    header: dict[str, Any]
    completions: dict[int, int] = field(default_factory=dict)
    centres: dict[int, int | None] = field(default_factory=dict)
    notice: str | None = None
    _file: IO[bytes] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], header: dict[str, Any]) -> Journal:
        """Create the journal with ``header``, or read an existing one and check that it is for this count.

        Raises
        ------
        JournalError
            When ``path`` is not a regular file, or the existing file is not a journal of this
            count, or is damaged before its last line.
        JournalWriteError
            When writing the header of a new journal fails (the disk is full).
        OSError
            When the file cannot be read or created.
        """
        path = Path(path)
        journal = cls(path=path, header=dict(header, journal=JOURNAL_KIND, format=JOURNAL_FORMAT))
        check_journal_path(path)
        # Open without truncating and lock before reading: two counts appending to one journal would
        # each walk every task the other has not journaled yet. Unbuffered: a failed write leaves
        # nothing in a buffer that a later flush (or close) could append out of place.
        descriptor = _open_regular(path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
        journal._file = open(descriptor, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        try:
            _lock(journal._file, path)
            if os.fstat(descriptor).st_size > 0 and not journal._holds_a_torn_header():
                journal._read(header)
            else:
                # A new journal, or one whose header write was cut short (the disk filled up, the
                # process died): nothing was journaled yet, so the header is written afresh.
                os.ftruncate(descriptor, 0)
                journal._write_line(journal.header)
        except BaseException:
            journal.close()
            raise
        return journal

    def _header_line(self) -> bytes:
        return (json.dumps(self.header, separators=(",", ":")) + "\n").encode("utf-8")

    def _holds_a_torn_header(self) -> bool:
        """Whether the file holds only the beginning of this count's own header line, and nothing else."""
        line = self._header_line()
        with open(_open_regular(self.path, os.O_RDONLY), "rb") as handle:
            content = handle.read(len(line))
        return len(content) < len(line) and line.startswith(content)

    def _read(self, wanted: dict[str, Any]) -> None:
        """Check the header against ``wanted`` and load the task lines, one line at a time."""
        with open(_open_regular(self.path, os.O_RDONLY), "rb") as handle:
            first = _read_line(handle)
            if len(first) > MAX_LINE_BYTES:
                raise JournalError(
                    f"{self.path} is not a mapfold journal (its first line is over {MAX_LINE_BYTES // 1024} KiB; left as it is)"
                )
            if not first.endswith(b"\n"):
                raise JournalError(f"{self.path} has no complete first line; not a mapfold journal (left as it is)")
            header = self._check_header(first, wanted)
            torn_at = self._read_tasks(handle, int(header["tasks"]), len(first))
        if torn_at is not None:
            # Only now that the whole file is known to be this count's journal: cut the torn line
            # away, so the lines appended next start on a line of their own.
            self.notice = f"{self.path}: ignored an incomplete last line (a write cut short); that task will be counted again"
            assert self._file is not None
            os.ftruncate(self._file.fileno(), torn_at)

    def _check_header(self, first: bytes, wanted: dict[str, Any]) -> dict[str, Any]:
        """The header line, parsed; refused unless it is a journal of the count ``wanted`` describes."""
        try:
            header = json.loads(first)
        except ValueError:  # not JSON, or not UTF-8
            raise JournalError(f"{self.path} is not a mapfold journal (its first line is not JSON)") from None
        if not isinstance(header, dict) or header.get("journal") != JOURNAL_KIND:
            raise JournalError(f"{self.path} is not a mapfold journal")
        if header.get("format") not in READABLE_FORMATS:
            raise JournalError(
                f"{self.path} is a journal in format {header.get('format')!r}, which this mapfold "
                f"(formats {', '.join(map(str, READABLE_FORMATS))}) cannot read; use the mapfold that wrote it"
            )
        expected = dict(wanted, journal=JOURNAL_KIND, format=JOURNAL_FORMAT)
        for key, value in expected.items():
            if header.get(key) != value:
                # A task list can change between versions (a new insertion order): name the one that wrote it.
                writer = f"mapfold {header['mapfold']}" if isinstance(header.get("mapfold"), str) else "the mapfold that wrote it"
                raise JournalError(
                    f"{self.path} is a journal of another count ({key} is {header.get(key)!r} there, {value!r} here); "
                    f"use another file, or resume it with the command and the {writer} that wrote it"
                )
        return header

    def _read_tasks(self, handle: BinaryIO, tasks: int, offset: int) -> int | None:
        """Load the task lines after the header (at byte ``offset``); return where a torn last line starts, if any."""
        number = 1
        while line := _read_line(handle):
            number += 1
            if not line.endswith(b"\n"):
                if len(line) > MAX_LINE_BYTES:
                    raise JournalError(f"{self.path}: line {number} is over {MAX_LINE_BYTES // 1024} KiB; not resuming from it")
                return offset  # a line cut short by the end of the file: the last one
            try:
                entry = json.loads(line)
                task = int(entry["task"])
                completions = int(entry["completions"])
                centres = entry["centres"]
                centres = None if centres is None else int(centres)
            except (KeyError, TypeError, ValueError):  # ValueError: not JSON, not UTF-8, not a number
                raise JournalError(f"{self.path}: line {number} is damaged; not resuming from it") from None
            if not 0 <= task < tasks or completions < 0:
                raise JournalError(f"{self.path}: line {number} names no task of this count")
            self.completions[task] = completions
            self.centres[task] = centres
            offset += len(line)
        return None

    def _write_lines(self, entries: list[dict[str, Any]]) -> None:
        """Append ``entries``, one line each, and fsync; raise ``JournalWriteError`` when that fails.

        A write cut short (the disk filled up) leaves whole lines and at most one torn last line,
        which a resumed count drops (``_read_tasks``).
        """
        assert self._file is not None
        data = memoryview("".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in entries).encode("utf-8"))
        try:
            while data:
                written = self._file.write(data)
                data = data[written:]
            os.fsync(self._file.fileno())
        except OSError as error:
            raise JournalWriteError(error.errno, error.strerror, str(self.path)) from error

    def _write_line(self, entry: dict[str, Any]) -> None:
        self._write_lines([entry])

    def record(self, finished: list[tuple[int, int, int | None]]) -> None:
        """Append finished tasks ``(task, completions, centres)``, durably (fsync'd) before returning.

        Raises
        ------
        JournalWriteError
            When the write or the fsync fails (the disk is full): those tasks are not journaled.
        """
        if not finished:
            return
        self._write_lines(
            [{"task": task, "completions": completions, "centres": centres} for task, completions, centres in finished]
        )
        for task, completions, centres in finished:
            self.completions[task] = completions
            self.centres[task] = centres

    @property
    def done(self) -> int:
        """Tasks the journal holds."""
        return len(self.completions)

    def close(self) -> None:
        """Close the file (everything recorded is already on disk: each record was fsync'd)."""
        if self._file is not None:
            self._file.close()
            self._file = None
