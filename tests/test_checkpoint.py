"""Checkpoint journals with real processes and real signals: kill -9, SIGTERM, torn lines, wrong journals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from journal_watch import interrupt_once_journaled, journaled_tasks

from mapfold import count_folds
from mapfold.oeis import VALUES
from mapfold.run.journal import JournalError


def _command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "mapfold", *arguments]


def _mapfold(*arguments: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(_command(*arguments), capture_output=True, text=True, timeout=timeout)


def _start_and_stop(journal: Path, arguments: list[str], how: signal.Signals, after_lines: int = 20):
    """Start a checkpointed count, wait until the journal holds some tasks, send ``how``; return the process' output."""
    process = subprocess.Popen(
        _command("count", *arguments, "--checkpoint", str(journal), "--json", "--no-progress"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while journaled_tasks(journal) < after_lines and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the count finished before it could be stopped: make it bigger"
    process.send_signal(how)
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, stdout, stderr


def test_kill_9_then_resume_gives_the_exact_totals_without_redoing_finished_tasks(tmp_path):
    journal = tmp_path / "1x22.journal"
    returncode, stdout, _ = _start_and_stop(journal, ["1x22", "--threads", "2"], signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    assert stdout == ""
    journaled = journaled_tasks(journal)
    assert journaled > 0
    completed = _mapfold("count", "1x22", "--threads", "2", "--checkpoint", str(journal), "--json", "--no-progress")
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["walk"] == "orbit"  # the default walk, checkpointed
    assert document["folds_total"] == VALUES["A000136"][22]
    assert document["symmetric_folds"] == VALUES["A007822"][11]
    assert document["tasks_resumed"] == journaled  # only the journaled tasks were skipped, all of them
    assert 0 < document["tasks_resumed"] < document["tasks"]
    assert journaled_tasks(journal) == document["tasks"]


def test_sigterm_exits_143_with_one_line_and_the_count_resumes(tmp_path):
    journal = tmp_path / "2x14.journal"
    returncode, stdout, stderr = _start_and_stop(journal, ["2x14", "--no-symmetric", "--threads", "2"], signal.SIGTERM)
    assert returncode == 143
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "run the same command again to resume" in lines[0]
    done = int(lines[0].split("interrupted; ")[1].split(" of ")[0])
    assert done == journaled_tasks(journal)  # what the line says is what the journal holds
    completed = _mapfold("count", "2x14", "--no-symmetric", "--threads", "1", "--checkpoint", str(journal), "--json")
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["folds_total"] == VALUES["A001415"][14]
    assert document["tasks_resumed"] == done > 0


def test_interrupted_symmetric_count_resumes_in_process_with_other_threads(tmp_path):
    """Per-task symmetric sums: a count stopped part-way and resumed on other threads is exact."""
    # Compile first (a small count of the same walk): a stop that lands while numba compiles leaves
    # the compilation running in the background, holding the GIL, which would slow the next test.
    count_folds((1, 9), threads=2, checkpoint=tmp_path / "warm-up.journal")
    # About a second on 2 threads, so the stop lands mid-run (1 x 21 takes 0.3 s, which a stop
    # after the first journal poll, at 0.1 s, could miss).
    journal = tmp_path / "1x22.journal"
    interrupt_once_journaled(journal, 10, lambda stop: count_folds((1, 22), threads=2, checkpoint=journal, stop_event=stop))
    result = count_folds((1, 22), threads=1, checkpoint=journal)
    assert 0 < result.tasks_resumed < result.tasks
    assert result.folds_total == VALUES["A000136"][22]
    assert result.symmetric_folds == VALUES["A007822"][11]


def test_a_journal_in_use_by_another_count_is_refused(tmp_path):
    journal = tmp_path / "1x22.journal"
    first = subprocess.Popen(
        _command("count", "1x22", "--threads", "1", "--checkpoint", str(journal), "--no-progress"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while journaled_tasks(journal) < 1 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        second = _mapfold("count", "1x22", "--checkpoint", str(journal), "--json")
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [f"mapfold: error: {journal} is in use by another running count"]
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 143


def test_a_finished_journal_prints_its_result_again(tmp_path):
    journal = tmp_path / "2x6.journal"
    first = _mapfold("count", "2x6", "--checkpoint", str(journal), "--json")
    assert first.returncode == 0, first.stderr
    again = _mapfold("count", "2x6", "--checkpoint", str(journal), "--json", "--threads", "3")
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert document["folds_total"] == VALUES["A001415"][6]
    assert document["tasks_resumed"] == document["tasks"] == json.loads(first.stdout)["tasks"]
    assert document["symmetric_folds"] == json.loads(first.stdout)["symmetric_folds"] == count_folds((2, 6)).symmetric_folds


def test_a_torn_last_line_is_ignored_with_a_notice(tmp_path):
    journal = tmp_path / "3x4.journal"
    assert _mapfold("count", "3x4", "--checkpoint", str(journal), "--json").returncode == 0
    text = journal.read_text()
    journal.write_text(text[: len(text) - 7])  # the last task line cut short, as by a crash mid-write
    completed = _mapfold("count", "3x4", "--checkpoint", str(journal), "--json")
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["folds_total"] == VALUES["A001416"][4]
    assert document["tasks_resumed"] == document["tasks"] - 1
    notices = completed.stderr.strip().splitlines()
    assert len(notices) == 1 and "incomplete last line" in notices[0]
    assert journal.read_text().endswith("\n")


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["2x7"], "shape"),
        (["2x6", "--no-symmetric"], "symmetric"),
    ],
)
def test_a_journal_of_another_count_is_refused(tmp_path, arguments, named):
    journal = tmp_path / "2x6.journal"
    assert _mapfold("count", "2x6", "--checkpoint", str(journal), "--json").returncode == 0
    before = journal.read_bytes()
    completed = _mapfold("count", *arguments, "--checkpoint", str(journal), "--json")
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mapfold: error: ") and named in lines[0]
    assert journal.read_bytes() == before  # left as it was


def test_a_damaged_journal_or_another_file_is_refused(tmp_path):
    journal = tmp_path / "2x5.journal"
    count_folds((2, 5), checkpoint=journal)
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join([lines[0], "not json\n", *lines[2:]]))
    with pytest.raises(JournalError, match="line 2"):
        count_folds((2, 5), checkpoint=journal)
    for text in ("my notes\n", "my notes without a newline", '{"a": 1}\n{"torn'):
        other = tmp_path / "notes.txt"
        other.write_text(text)
        completed = _mapfold("count", "2x5", "--checkpoint", str(other))
        assert completed.returncode == 2 and "not a mapfold journal" in completed.stderr
        assert other.read_text() == text  # never truncated or appended to


def test_the_task_list_does_not_depend_on_threads():
    from mapfold.plan.tasks import plan_tasks
    from mapfold.walks.connection_graph import make_connection_graph

    graph = make_connection_graph((3, 5))
    assert np.array_equal(plan_tasks(graph, True).leaf_below, plan_tasks(graph, True).leaf_below)
    counts = {count_folds((3, 5), threads=threads, symmetric=False, walk="lunnon").tasks for threads in (1, 2, 7)}
    assert counts == {len(plan_tasks(graph, True))}


def _drop_lastjournaled_tasks(journal: Path, count: int) -> None:
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[: len(lines) - count]))


def test_an_orbit_journal_names_its_walk_and_both_task_lists(tmp_path):
    from mapfold.plan.tasks import mirror_task_digest, orbit_task_digest, plan_mirror_tasks, plan_orbit_tasks

    journal = tmp_path / "1x16.journal"
    first = count_folds((1, 16), threads=2, checkpoint=journal)
    header = json.loads(journal.read_text().splitlines()[0])
    orbit_tasks, mirror_tasks = plan_orbit_tasks((16,)), plan_mirror_tasks((16,))
    assert (header["format"], header["walk"]) == (2, "orbit")
    assert header["orbit_tasks"] == len(orbit_tasks) and header["mirror_tasks"] == len(mirror_tasks) > 0
    assert header["tasks"] == first.tasks == len(orbit_tasks) + len(mirror_tasks) == journaled_tasks(journal)
    assert header["task_digest"] == orbit_task_digest(orbit_tasks)
    assert header["mirror_digest"] == mirror_task_digest(mirror_tasks)
    assert (first.folds_total, first.symmetric_folds) == (VALUES["A000136"][16], VALUES["A007822"][8])
    _drop_lastjournaled_tasks(journal, 7)
    again = count_folds((1, 16), threads=1, checkpoint=journal)
    assert (again.walk, again.tasks_resumed) == ("orbit", again.tasks - 7)
    assert (again.folds_total, again.symmetric_folds) == (VALUES["A000136"][16], VALUES["A007822"][8])


def test_the_orbit_task_lists_do_not_depend_on_threads_and_digest_the_weights():
    import dataclasses

    from mapfold.plan.tasks import orbit_task_digest, plan_mirror_tasks, plan_orbit_tasks

    orbit_tasks = plan_orbit_tasks((3, 5))
    assert orbit_task_digest(orbit_tasks) == orbit_task_digest(plan_orbit_tasks((3, 5)))
    heavier = dataclasses.replace(orbit_tasks, weights=orbit_tasks.weights + (orbit_tasks.weights == orbit_tasks.weights[-1]))
    assert orbit_task_digest(heavier) != orbit_task_digest(orbit_tasks)
    expected = len(orbit_tasks) + len(plan_mirror_tasks((3, 5)))
    assert {count_folds((3, 5), threads=threads).tasks for threads in (1, 2, 7)} == {expected}


@pytest.mark.parametrize("format_1", [False, True])
def test_a_journal_of_lunnons_walk_is_refused_in_one_line_that_names_the_version_to_use(tmp_path, format_1):
    """Journals of Lunnon's walk (format 2 with ``"walk": "lunnon"``, or format 1 with no walk) came from
    mapfold 0.1.0, which still resumes them; this mapfold runs Lunnon's walk only as a local reference."""
    journal = tmp_path / "1x16.journal"
    count_folds((1, 16), threads=2, checkpoint=journal)
    lines = journal.read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    header["walk"] = "lunnon"
    if format_1:
        del header["walk"]
        header["format"] = 1
    journal.write_text(json.dumps(header) + "\n" + "".join(lines[1:]))
    before = journal.read_bytes()
    completed = _mapfold("count", "1x16", "--checkpoint", str(journal), "--json", "--no-progress")
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.count("\n") == 1 and "journal of Lunnon's walk" in completed.stderr
    assert "mapfold 0.1.0" in completed.stderr
    with pytest.raises(JournalError, match="mapfold 0.1.0"):
        count_folds((1, 16), checkpoint=journal, walk="lunnon")
    assert journal.read_bytes() == before


def test_lunnons_walk_keeps_no_journal(tmp_path):
    with pytest.raises(ValueError, match="keeps no journal"):
        count_folds((2, 5), checkpoint=tmp_path / "2x5.journal", walk="lunnon")
    assert not (tmp_path / "2x5.journal").exists()


def test_a_journal_of_a_later_format_is_refused_in_one_line(tmp_path):
    journal = tmp_path / "2x5.journal"
    count_folds((2, 5), checkpoint=journal)
    lines = journal.read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    header["format"] = 3
    journal.write_text(json.dumps(header) + "\n" + "".join(lines[1:]))
    before = journal.read_bytes()
    completed = _mapfold("count", "2x5", "--checkpoint", str(journal))
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mapfold: error: ") and "format 3" in lines[0]
    assert journal.read_bytes() == before


def test_a_mirror_task_line_with_wrong_centres_is_refused(tmp_path):
    journal = tmp_path / "1x10.journal"
    count_folds((1, 10), checkpoint=journal)
    lines = journal.read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    for index, line in enumerate(lines[1:], start=1):
        entry = json.loads(line)
        if entry["task"] >= header["orbit_tasks"] and entry["completions"] > 0:
            entry["centres"] += 1
            lines[index] = json.dumps(entry) + "\n"
            break
    else:
        pytest.fail("no mirror task found a folding")
    journal.write_text("".join(lines))
    with pytest.raises(JournalError, match="mirror task"):
        count_folds((1, 10), checkpoint=journal)


def test_a_deeper_orbit_task_list_for_big_trees_keeps_the_weights_right(monkeypatch):
    """``plan_orbit_tasks`` goes deeper while tasks are too big; deeper tasks inherit their orbit weight."""
    import numpy as np

    import mapfold.plan.tasks as tasks_module
    from mapfold.run.workers import OrbitRun

    usual = tasks_module.plan_orbit_tasks((3, 6))
    monkeypatch.setattr(tasks_module, "MAX_NODES_PER_TASK", 2.0)  # every task of 3x6 is "too big"
    deeper = tasks_module.plan_orbit_tasks((3, 6))
    assert deeper.placed_leaves > usual.placed_leaves and len(deeper) > len(usual)
    run = OrbitRun(deeper, np.arange(len(deeper)), None, [], threads=2)
    run.run()
    cycles, _ = run.take_finished()
    assert len(cycles) == len(deeper)
    assert 18 * sum(int(deeper.weights[task]) * found for task, found in cycles) == VALUES["A001416"][6]


def test_a_deeper_plan_is_journaled_and_resumed_with_its_own_number_of_tasks(tmp_path):
    from mapfold.plan.tasks import MIN_TASKS, plan_mirror_tasks, plan_orbit_tasks

    journal = tmp_path / "2x10.journal"
    deeper = 40_000
    first = count_folds((2, 10), threads=2, checkpoint=journal, min_tasks=deeper)
    header = json.loads(journal.read_text().splitlines()[0])
    assert header["orbit_min_tasks"] == deeper
    assert header["orbit_tasks"] == len(plan_orbit_tasks((2, 10), deeper)) > len(plan_orbit_tasks((2, 10)))
    assert first.tasks == header["orbit_tasks"] + len(plan_mirror_tasks((2, 10)))
    assert (first.folds_total, first.symmetric_folds) == (
        VALUES["A001415"][10],
        count_folds((2, 10), walk="lunnon").symmetric_folds,
    )
    _drop_lastjournaled_tasks(journal, 9)
    before = journal.read_bytes()
    with pytest.raises(JournalError, match=f"planned for at least {deeper} tasks, not {MIN_TASKS}"):
        count_folds((2, 10), checkpoint=journal, min_tasks=MIN_TASKS)
    assert journal.read_bytes() == before
    again = count_folds((2, 10), threads=1, checkpoint=journal)  # no number named: the journal's
    assert (again.tasks, again.tasks_resumed) == (first.tasks, first.tasks - 9)
    assert (again.folds_total, again.symmetric_folds) == (first.folds_total, first.symmetric_folds)
    # A journal of the default plan has no such key, and refuses another number too.
    default_journal = tmp_path / "2x8.journal"
    count_folds((2, 8), checkpoint=default_journal)
    assert "orbit_min_tasks" not in json.loads(default_journal.read_text().splitlines()[0])
    with pytest.raises(JournalError, match=f"planned for at least {MIN_TASKS} tasks, not {deeper}"):
        count_folds((2, 8), checkpoint=default_journal, min_tasks=deeper)


def test_the_number_of_tasks_is_checked(tmp_path):
    from mapfold.plan.tasks import MIN_TASKS

    with pytest.raises(ValueError, match="between 1 and"):
        count_folds((2, 5), min_tasks=0)
    with pytest.raises(TypeError):
        count_folds((2, 5), min_tasks=1.5)
    with pytest.raises(ValueError, match="Lunnon's walk has its own list"):
        count_folds((2, 5), min_tasks=100, walk="lunnon")
    journal = tmp_path / "2x6.journal"
    count_folds((2, 6), checkpoint=journal)
    completed = _mapfold("count", "2x6", "--checkpoint", str(journal), "--min-tasks", "100")
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and f"planned for at least {MIN_TASKS} tasks, not 100" in completed.stderr
    completed = _mapfold("count", "2x6", "--min-tasks", "0")
    assert completed.returncode == 2
    assert completed.stderr.strip() == "mapfold: error: --min-tasks must be between 1 and 2097152, got 0"


@pytest.mark.parametrize("bad", ["x", 0, True, 1.5, 99_999_999])
def test_a_journal_with_a_bad_number_of_tasks_is_refused_in_one_line(tmp_path, bad):
    journal = tmp_path / "2x6.journal"
    count_folds((2, 6), checkpoint=journal, min_tasks=5000)
    lines = journal.read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    assert header["orbit_min_tasks"] == 5000
    header["orbit_min_tasks"] = bad
    journal.write_text(json.dumps(header, separators=(",", ":")) + "\n" + "".join(lines[1:]))
    completed = _mapfold("count", "2x6", "--checkpoint", str(journal), "--json")
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.count("\n") == 1 and "is not a number of tasks" in completed.stderr


def test_a_journal_whose_header_names_no_route_is_refused_in_one_line(tmp_path):
    journal = tmp_path / "2x5.journal"
    count_folds((2, 5), checkpoint=journal)
    lines = journal.read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    header["route"] = 3
    journal.write_text(json.dumps(header, separators=(",", ":")) + "\n" + "".join(lines[1:]))
    completed = _mapfold("count", "2x5", "--checkpoint", str(journal), "--json")
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.count("\n") == 1 and "not a route" in completed.stderr


def test_a_header_cut_short_is_written_again(tmp_path):
    """The disk filled up (or the process died) while a new journal's header was written: no task was journaled."""
    from mapfold.oeis import known_folds

    journal = tmp_path / "2x5.journal"
    count_folds((2, 5), checkpoint=journal)
    header_line = journal.read_text().splitlines(keepends=True)[0]
    journal.write_text(header_line[: len(header_line) // 2])
    result = count_folds((2, 5), checkpoint=journal)
    assert (result.folds_total, result.tasks_resumed) == (known_folds((2, 5))[2], 0)
    assert journal.read_text().splitlines(keepends=True)[0] == header_line
    other = tmp_path / "notes.journal"
    other.write_text('{"journal": "mapfold-checkpoint", "shape": [9')  # no header of this count: left alone
    with pytest.raises(JournalError, match="no complete first line"):
        count_folds((2, 5), checkpoint=other)


def test_the_shape_and_the_number_of_tasks_are_checked_first_even_for_one_leaf():
    from mapfold.shape import ShapeError

    with pytest.raises(ShapeError):
        count_folds((0,), threads=0)
    with pytest.raises(ValueError, match="between 1 and"):
        count_folds((1,), min_tasks=0)
