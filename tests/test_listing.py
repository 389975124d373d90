"""``mapfold list``, ``iter_foldings`` and ``foldings`` against a crease rule written here, not the program's walk.

The rule (the same facts as tests/brute_force.py, written again as array code): leaves are numbered
1..N with the first side varying fastest; a crease of dimension d joins leaf a (coordinate k < p_d - 1
along d) and a + p_1 ... p_(d-1); creases of one dimension whose k have one parity lie on one edge of
the pile, and a pile is a folding exactly when no two creases of one edge interleave in it.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from math import prod

import numpy as np
import pytest
from brute_force import valid_piles

from mapfold import foldings, iter_foldings


def edge_pairs(sides: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """Every pair of creases on one edge, as their four leaves ``(a, b, c, d)``."""
    edges: dict[tuple[int, int], list[tuple[int, int]]] = {}
    stride = 1
    for dimension, side in enumerate(sides):
        for leaf in range(1, prod(sides) + 1):
            coordinate = (leaf - 1) // stride % side
            if coordinate + 1 < side:
                edges.setdefault((dimension, coordinate % 2), []).append((leaf, leaf + stride))
        stride *= side
    return [(*first, *second) for creases in edges.values() for first, second in itertools.combinations(creases, 2)]


def are_foldings(sides: tuple[int, ...], piles: np.ndarray) -> np.ndarray:
    """For each row (a permutation of 1..N, top first), whether no two creases of one edge interleave."""
    positions = np.empty((len(piles), prod(sides) + 1), dtype=np.int64)
    positions[np.arange(len(piles))[:, None], piles.astype(np.int64)] = np.arange(piles.shape[1])
    valid = np.ones(len(piles), dtype=bool)
    for a, b, c, d in edge_pairs(sides):
        low1, high1 = np.minimum(positions[:, a], positions[:, b]), np.maximum(positions[:, a], positions[:, b])
        low2, high2 = np.minimum(positions[:, c], positions[:, d]), np.maximum(positions[:, c], positions[:, d])
        valid &= ~(((low1 < low2) & (low2 < high1) & (high1 < high2)) | ((low2 < low1) & (low1 < high2) & (high2 < high1)))
    return valid


def all_foldings_by_brute_force(sides: tuple[int, ...]) -> set[tuple[int, ...]]:
    """Every permutation that is a folding: all N! tested up to 8 leaves; beyond, the piles with leaf 1 on top
    (tests/brute_force.py's own search) turned cyclically, which never makes two creases interleave."""
    leaves_total = prod(sides)
    if leaves_total <= 8:
        piles = np.array(list(itertools.permutations(range(1, leaves_total + 1))), dtype=np.uint8)
        return {tuple(row) for row in piles[are_foldings(sides, piles)].tolist()}
    found = set()
    for pile in valid_piles(sides):
        for top in range(leaves_total):
            found.add(tuple(pile[top:] + pile[:top]))
    return found


def ordered_factorizations(n: int) -> list[tuple[int, ...]]:
    """Every tuple of sides >= 2 whose product is n, in every order."""
    if n == 1:
        return [()]
    return [(first, *rest) for first in range(2, n + 1) if n % first == 0 for rest in ordered_factorizations(n // first)]


SMALL_SHAPES = [sides for n in range(2, 11) for sides in ordered_factorizations(n)] + [(1, 4), (3, 1, 2)]


@pytest.mark.parametrize("sides", SMALL_SHAPES, ids=lambda sides: "x".join(map(str, sides)))
def test_the_list_is_exactly_every_folding_found_by_brute_force(sides):
    listed = foldings(sides, threads=2)
    assert listed.dtype == np.uint8 and listed.shape[1] == prod(sides)
    rows = [tuple(row) for row in listed.tolist()]
    assert len(set(rows)) == len(rows), "a folding is listed twice"
    assert set(rows) == all_foldings_by_brute_force(tuple(side for side in sides if side > 1) or (1,))


@pytest.mark.parametrize(
    ("sides", "sequence", "index"),
    [((1, 10), "A000136", 10), ((2, 5), "A001415", 5), ((3, 3), "A001418", 3), ((1, 12), "A000136", 12), ((3, 4), "A001416", 4)],
)
def test_bigger_lists_hold_the_oeis_total_of_distinct_foldings(sides, sequence, index, oracle):
    listed = np.concatenate(list(iter_foldings(sides, threads=2, batch=5000)))
    assert len(listed) == oracle(sequence)[index]
    assert are_foldings(sides, listed).all()
    assert len(np.unique(listed, axis=0)) == len(listed)


def test_the_order_is_the_same_for_any_threads_and_batch():
    one = foldings("2x5", threads=1)
    assert np.array_equal(one, foldings("2x5", threads=2))
    assert np.array_equal(one, foldings((2, 5), threads=3))
    assert np.array_equal(one, np.concatenate(list(iter_foldings("2x5", threads=2, batch=7))))
    assert all(len(rows) <= 7 for rows in iter_foldings("2x5", batch=7))


def test_the_limit_gives_the_first_rows_of_the_full_order():
    full = foldings("3x3")
    for limit in (0, 1, 5, 9, 100, len(full), len(full) + 10):
        taken = list(iter_foldings("3x3", limit=limit, threads=2, batch=4))
        got = np.concatenate(taken) if taken else np.zeros((0, 9), dtype=np.uint8)
        assert np.array_equal(got, full[:limit])


def test_a_one_leaf_map_has_one_folding():
    assert foldings("1").tolist() == [[1]]
    assert foldings((1, 1)).tolist() == [[1]]


def test_closing_the_generator_stops_every_worker_thread():
    before = threading.active_count()
    batches = iter_foldings("1x16", threads=2, batch=100)
    next(batches)
    assert threading.active_count() > before
    batches.close()
    assert threading.active_count() == before


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="limit"):
        iter_foldings("2x3", limit=-1)
    with pytest.raises(ValueError, match="threads"):
        iter_foldings("2x3", threads=0)
    with pytest.raises(ValueError, match="batch"):
        iter_foldings("2x3", batch=0)
    with pytest.raises(ValueError, match="2x0"):
        iter_foldings("2x0")
    with pytest.raises(ValueError, match="iter_foldings"):
        foldings("1x18")  # 185 million foldings: refused at once, from the known total


# ---------------------------------------------------------------------------------------------
# The command


def _mapfold(*arguments: str, timeout: float = 120, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mapfold", *arguments], stdout=stdout, stderr=subprocess.PIPE, timeout=timeout)


def test_text_and_jsonl_are_the_list_one_folding_a_line():
    expected = foldings("2x4").tolist()
    text = _mapfold("list", "2x4")
    assert text.returncode == 0 and text.stderr == b""
    assert [[int(word) for word in line.split()] for line in text.stdout.decode().splitlines()] == expected
    jsonl = _mapfold("list", "2x4", "--format", "jsonl", "--threads", "1")
    assert [json.loads(line) for line in jsonl.stdout.decode().splitlines()] == expected


def test_the_output_is_the_same_bytes_for_one_and_two_threads(tmp_path):
    one = _mapfold("list", "1x11", "--threads", "1")
    two = _mapfold("list", "1x11", "--threads", "2")
    assert one.returncode == two.returncode == 0
    assert one.stdout == two.stdout and one.stdout.count(b"\n") == 46310 * 1
    for threads in ("1", "2"):
        assert (
            _mapfold("list", "1x11", "--format", "npy", "-o", str(tmp_path / f"{threads}.npy"), "--threads", threads).returncode
            == 0
        )
    assert (tmp_path / "1.npy").read_bytes() == (tmp_path / "2.npy").read_bytes()


def test_npy_loads_and_memory_maps(tmp_path):
    target = tmp_path / "f.npy"
    completed = _mapfold("list", "3x3", "--format", "npy", "-o", str(target), "--progress")
    assert completed.returncode == 0, completed.stderr
    assert b"1.37k/1.37k" in completed.stderr  # the bar, on stderr, counted every folding of the known total
    mapped = np.load(target, mmap_mode="r")
    assert mapped.shape == (1368, 9) and mapped.dtype == np.uint8
    assert np.array_equal(mapped, foldings("3x3"))
    assert [path.name for path in tmp_path.iterdir()] == ["f.npy"]  # no temporary file left behind
    limited = tmp_path / "five.npy"
    assert _mapfold("list", "3x3", "--format", "npy", "-o", str(limited), "--limit", "5").returncode == 0
    assert np.array_equal(np.load(limited), foldings("3x3")[:5])


def test_an_npy_cut_short_never_appears_at_its_name(tmp_path):
    target = tmp_path / "strip.npy"
    process = subprocess.Popen(
        [sys.executable, "-m", "mapfold", "list", "1x18", "--format", "npy", "-o", str(target)], stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not any(path.name.endswith(".partial") and path.stat().st_size > 1 << 20 for path in tmp_path.iterdir()):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 130
        assert stderr.decode().splitlines() == [f"mapfold: error: interrupted; the list is incomplete; {target} was not written"]
    finally:
        process.kill()
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_limit_answers_at_once_even_for_8x8():
    completed = _mapfold("list", "8x8", "--limit", "3", timeout=60)
    assert completed.returncode == 0, completed.stderr
    rows = np.array([[int(word) for word in line.split()] for line in completed.stdout.decode().splitlines()], dtype=np.uint8)
    assert rows.shape == (3, 64) and are_foldings((8, 8), rows).all()
    assert len({tuple(row) for row in rows.tolist()}) == 3


def test_a_closed_pipe_is_quiet():
    completed = subprocess.run(f"{sys.executable} -m mapfold list 1x13 | head -1", shell=True, capture_output=True, timeout=120)
    assert completed.returncode == 0
    assert completed.stderr == b""
    assert completed.stdout.count(b"\n") == 1


def test_a_full_disk_is_one_line_and_status_1():
    with open("/dev/full", "wb") as full:
        completed = _mapfold("list", "2x4", stdout=full)
    assert completed.returncode == 1
    assert completed.stderr.decode().count("\n") == 1 and completed.stderr.startswith(b"mapfold: error: ")


@pytest.mark.parametrize(
    "arguments",
    [
        ["list", "2x0"],
        ["list", "2x3", "--format", "xml"],
        ["list", "2x3", "--format", "npy"],
        ["list", "2x3", "--threads", "0"],
        ["list", "2x3", "--limit", "-1"],
        ["list", "2x3", "-o", "/"],
        ["list", "2x3", "-o", "/nonexistent-folder/x.txt"],
    ],
)
def test_bad_input_is_one_line_and_status_2(arguments, capsys):
    from test_draw import run_in_process

    assert run_in_process(arguments) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("mapfold: error: ")
    assert captured.out == ""


def test_npy_is_refused_on_a_terminal():
    import pty

    controller, terminal = pty.openpty()
    try:
        completed = _mapfold("list", "2x3", "--format", "npy", "-o", os.ttyname(terminal))
    finally:
        os.close(controller)
        os.close(terminal)
    assert completed.returncode == 2 and b"terminal" in completed.stderr


def test_a_failing_lister_thread_is_one_line_and_status_1(monkeypatch, capsys):
    from test_draw import run_in_process

    import mapfold.run.listing as listing

    def exploding(*arguments, **options):
        raise MemoryError("lister exploded")

    monkeypatch.setattr(listing, "_list_tasks", exploding)  # what each lister thread calls
    assert run_in_process(["list", "2x4", "--threads", "2"]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "lister exploded" in captured.err
