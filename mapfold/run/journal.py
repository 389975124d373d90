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
died while writing it) is dropped with a one-line notice; anything else that does not parse, or a
header that does not match the count asked for, is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

JOURNAL_KIND = "mapfold-checkpoint"
JOURNAL_FORMAT = 2
#: The formats this version reads: 1 (Lunnon's walk, no ``walk`` key) and 2.
READABLE_FORMATS = (2,)


class JournalError(ValueError):
    """The journal cannot be used for this count (another shape, walk or version, damaged, or in use)."""


def _lock(handle: IO[str], path: Path) -> None:
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
    then checks the whole file, and refuses what is not a journal.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    if not first.endswith("\n"):
        return None
    try:
        header = json.loads(first)
    except json.JSONDecodeError:
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
    _file: IO[str] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], header: dict[str, Any]) -> Journal:
        """Create the journal with ``header``, or read an existing one and check that it is for this count.

        Raises
        ------
        JournalError
            When the existing file is not a journal of this count, or is damaged before its last line.
        OSError
            When the file cannot be read, created or written.
        """
        path = Path(path)
        journal = cls(path=path, header=dict(header, journal=JOURNAL_KIND, format=JOURNAL_FORMAT))
        # Open without truncating and lock before reading: two counts appending to one journal would
        # each walk every task the other has not journaled yet.
        journal._file = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed by close()
        try:
            _lock(journal._file, path)
            if path.stat().st_size > 0:
                journal._read(header)
            else:
                journal._write_line(journal.header)
        except BaseException:
            journal.close()
            raise
        return journal

    def _read(self, wanted: dict[str, Any]) -> None:
        text = self.path.read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")
        torn = lines.pop()  # "" when the file ends with a newline, as every complete journal does
        if not lines:
            raise JournalError(f"{self.path} has no complete first line; not a mapfold journal (left as it is)")
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError:
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
                raise JournalError(
                    f"{self.path} is a journal of another count ({key} is {header.get(key)!r} there, {value!r} here); "
                    "use another file or the command that wrote it"
                )
        if torn:
            # Only now that the file is known to be this count's journal: cut the torn line away, so
            # the lines appended next start on a line of their own.
            self.notice = f"{self.path}: ignored an incomplete last line (a write cut short); that task will be counted again"
            with open(self.path, "r+b") as handle:
                handle.truncate(len(text.encode("utf-8")) - len(torn.encode("utf-8")))
        tasks = int(header["tasks"])
        for number, line in enumerate(lines[1:], start=2):
            try:
                entry = json.loads(line)
                task = int(entry["task"])
                completions = int(entry["completions"])
                centres = entry["centres"]
                centres = None if centres is None else int(centres)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                raise JournalError(f"{self.path}: line {number} is damaged; not resuming from it") from None
            if not 0 <= task < tasks or completions < 0:
                raise JournalError(f"{self.path}: line {number} names no task of this count")
            self.completions[task] = completions
            self.centres[task] = centres

    def _write_lines(self, entries: list[dict[str, Any]]) -> None:
        assert self._file is not None
        self._file.write("".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in entries))
        self._file.flush()
        os.fsync(self._file.fileno())

    def _write_line(self, entry: dict[str, Any]) -> None:
        self._write_lines([entry])

    def record(self, finished: list[tuple[int, int, int | None]]) -> None:
        """Append finished tasks ``(task, completions, centres)``, durably (flushed and fsync'd) before returning."""
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
        """Close the file (everything written is already on disk)."""
        if self._file is not None:
            self._file.close()
            self._file = None
