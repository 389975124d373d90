"""The orbit walk (mapfold.walks.orbit) against the brute force, the oracle and Lunnon's walk.

The brute force (tests/brute_force.py) shares nothing with either walk; Lunnon's walk is the
independent check on shapes too large for it (both are checked against the OEIS elsewhere).
"""

from __future__ import annotations

import functools
import itertools
import json
from math import prod

import numpy as np
import pytest
from brute_force import brute_force_counts
from journal_watch import interrupt_once_journaled, journaled_tasks
from test_brute_force import ordered_factorizations

import mapfold.run.workers as workers
import mapfold.walks.group as group
from mapfold import count_folds
from mapfold.oeis import VALUES, known_folds
from mapfold.plan.tasks import plan_orbit_tasks
from mapfold.results import WorkerError
from mapfold.run.journal import JournalError
from mapfold.walks.group import leaf_coordinates, map_symmetry
from mapfold.walks.orbit import (
    canonical_codes,
    check_connected_order,
    cycle_above,
    last_leaf_completions,
    make_orbit_plan,
    orbit_children,
    orbit_gaps,
    orbit_root,
    split_orbit_tasks,
    walk_orbit_subtree,
)
from mapfold.walks.pile import WALK_ABORTED

cached_brute_force = functools.lru_cache(maxsize=None)(brute_force_counts)


def shape_id(sides: tuple[int, ...]) -> str:
    return "x".join(map(str, sides))


def shapes_up_to(leaves: int) -> list[tuple[int, ...]]:
    """Every shape of 2..``leaves`` leaves with sides >= 2, in every order of its sides."""
    return [sides for n in range(2, leaves + 1) for sides in ordered_factorizations(n)]


@pytest.mark.parametrize("sides", shapes_up_to(10), ids=shape_id)
def test_orbit_walk_matches_brute_force(sides):
    result = count_folds(sides, threads=2, symmetric=False, walk="orbit")
    assert result.walk == "orbit"
    assert result.folds_total == cached_brute_force(sides)[0]


# Every family, up to about 20 leaves (and a few beyond), against Lunnon's walk.
LUNNON_SHAPES = [
    *[(n,) for n in range(2, 19)],
    *[(2, n) for n in range(2, 10)],
    (3, 3),
    (3, 4),
    (4, 3),
    (3, 5),
    (3, 6),
    (4, 4),
    (4, 5),
    (2, 2, 2),
    (2, 2, 3),
    (2, 3, 2),
    (3, 2, 2),
    (2, 2, 4),
    (2, 2, 5),
    (2, 3, 3),
    (2, 2, 2, 2),
    (2, 2, 2, 3),
    (2, 3, 4),
    (4, 3, 2),
]


@pytest.mark.parametrize("sides", LUNNON_SHAPES, ids=shape_id)
def test_orbit_walk_matches_lunnon_walk(sides):
    orbit = count_folds(sides, threads=2, symmetric=False, walk="orbit", tasks_per_thread=8)
    lunnon = count_folds(sides, threads=2, symmetric=False, walk="lunnon")
    assert orbit.folds_total == lunnon.folds_total
    assert isinstance(orbit.folds_total, int)


@pytest.mark.parametrize(
    ("sides", "sequence", "index"),
    [
        ((3, 3, 3), "A195646", 3),
        ((2,) * 6, "A001417", 6),
        ((2, 12), "A001415", 12),
        ((5, 5), "A001418", 5),
        ((1, 16), "A000136", 16),
    ],
    ids=lambda value: shape_id(value) if isinstance(value, tuple) else str(value),
)
def test_orbit_walk_matches_oracle_on_larger_maps(sides, sequence, index):
    assert count_folds(sides, threads=2, symmetric=False, walk="orbit").folds_total == VALUES[sequence][index]


@pytest.mark.parametrize(
    "sides", [(7,), (8,), (2, 5), (3, 3), (3, 4), (2, 2, 3), (2, 2, 2, 2), (3, 3, 3), (4, 4), (2, 3, 4)], ids=shape_id
)
def test_group_maps_creases_to_creases_and_closed_prefixes_to_themselves(sides):
    symmetry = map_symmetry(sides)
    coordinates = leaf_coordinates(sides)
    leaves_total = prod(sides)
    creases = {
        frozenset((a, b))
        for a, b in itertools.combinations(range(leaves_total), 2)
        if np.abs(coordinates[a] - coordinates[b]).sum() == 1
    }
    assert sorted(symmetry.order.tolist()) == list(range(leaves_total))
    for image in symmetry.permutations:
        assert sorted(image.tolist()) == list(range(leaves_total))
        assert {frozenset((int(image[a]), int(image[b]))) for a, b in creases} == creases
        for closed in symmetry.closed_prefixes:
            prefix = set(symmetry.order[:closed].tolist())
            assert {int(image[leaf]) for leaf in prefix} == prefix
    assert symmetry.closed_prefixes[-1] == leaves_total


def test_groups_of_each_family():
    assert (map_symmetry((6, 6)).group_order, map_symmetry((6, 6)).mode) == (8, "centre")
    assert map_symmetry((3, 3, 3)).group_order == 48
    assert map_symmetry((2, 14)).group_order == 4
    assert map_symmetry((2, 2, 3)).group_order == 16
    assert map_symmetry((2, 3, 4)).group_order == 8
    assert map_symmetry((9,)).group_order == 2
    assert (map_symmetry((2,) * 6).group_order, map_symmetry((2,) * 6).mode) == (720, "corner")


@pytest.mark.parametrize("sides", [(3, 4), (4, 4), (2, 2, 2, 2), (3, 5), (2, 7), (3, 7)], ids=shape_id)
def test_orbit_weights_add_up_to_every_node_and_to_the_total(sides):
    """The weights count every node at the reduction depth; weighted subtrees give the full count."""
    tasks = split_orbit_tasks(make_orbit_plan(sides), threads=1, tasks_per_thread=1)
    plan = tasks.plan  # the order the tasks were listed in
    assert tasks.placed_leaves == tasks.reduced_at
    prefix = set(plan.order[: tasks.reduced_at].tolist())
    assert all({int(image[leaf]) for leaf in prefix} == prefix for image in plan.symmetry.permutations)
    assert tasks.orbits < tasks.nodes_at_reduction
    nodes, placed = orbit_root(plan), 1
    while placed < tasks.placed_leaves:
        nodes, _ = orbit_children(plan, nodes, placed)
        placed += 1
    assert int(tasks.weights.sum()) == len(nodes) == tasks.nodes_at_reduction
    # Each node of an orbit has as many completions as its representative.
    codes = canonical_codes(nodes, placed, int(plan.order[0]), plan.symmetry.permutations)
    task_codes = canonical_codes(tasks.leaf_below, placed, int(plan.order[0]), plan.symmetry.permutations)
    leaf_above = np.zeros(plan.leaves_total, dtype=np.uint8)
    gap_masks = np.zeros(plan.leaves_total + 1, dtype=np.uint64)
    stop_flag = np.zeros(1, dtype=np.int64)

    def completions(node: np.ndarray) -> int:
        leaf_below = node.copy()
        cycle_above(leaf_below, leaf_above, plan.order[0])
        args = (plan.order, plan.neighbours, plan.jumps, plan.constraint_start, plan.prefix_masks)
        return walk_orbit_subtree(*args, leaf_below, leaf_above, placed, gap_masks, stop_flag)

    by_code = {bytes(code): completions(node) for code, node in zip(task_codes, tasks.leaf_below, strict=True)}
    for code, node in zip(codes, nodes, strict=True):
        assert completions(node) == by_code[bytes(code)]
    # Weighted representatives give the oracle's total (tasks count cycles: folds over N).
    weighted = sum(int(w) * by_code[bytes(code)] for w, code in zip(tasks.weights, task_codes, strict=True))
    assert weighted * plan.leaves_total == known_folds(sides)[2]


def test_a_rectangle_reduces_again_where_the_greedy_order_closes():
    """3 x 7: the tail order's prefix of 15 leaves is closed too, and the planner reduces there."""
    plan = make_orbit_plan((3, 7))
    tasks = split_orbit_tasks(plan, threads=1, tasks_per_thread=1)
    assert tasks.reduced_at not in plan.symmetry.closed_prefixes
    assert tasks.reduced_at in tasks.plan.symmetry.closed_prefixes
    assert count_folds((3, 7), threads=2, symmetric=False).folds_total == VALUES["A001416"][7]


@pytest.mark.parametrize("route", [1, 2])
@pytest.mark.parametrize("side", [3, 4, 5])
def test_the_recent_neighbour_tie_break_counts_squares_exactly(side, route, monkeypatch):
    """The tail rule of squares of side 6 and up, forced on small squares: another order, the same total."""
    sides = (side, side)
    usual = plan_orbit_tasks(sides, 64, route=route)
    monkeypatch.setattr(group, "RECENT_TIES_MIN_SIDE", 3)
    recent = plan_orbit_tasks(sides, 64, route=route)
    if side >= 4:  # on 3 x 3 the two rules happen to agree
        assert not np.array_equal(recent.plan.order, usual.plan.order)
    weighted = sum(int(weight) * int(cycles) for weight, cycles in zip(recent.weights, _task_cycles(recent), strict=True))
    assert weighted * side * side == VALUES["A001418"][side]


def _task_cycles(tasks) -> np.ndarray:
    """The cycles below each task, by the orbit walk on two threads."""
    run = workers.OrbitRun(tasks, np.arange(len(tasks)), None, np.arange(0), threads=2)
    run.run()
    return run.cycles


@pytest.mark.parametrize("sides", [(7,), (2, 5), (3, 3), (3, 4), (2, 2, 2), (2, 2, 2, 2)], ids=shape_id)
def test_last_two_leaves_counted_in_place_match_inserting_them(sides):
    """At every node lacking two leaves: counting in place (restoring the pile) matches copies of it."""
    plan = make_orbit_plan(sides)
    args = (plan.order, plan.neighbours, plan.jumps, plan.constraint_start, plan.prefix_masks)
    last = plan.leaves_total - 1
    nodes, placed = orbit_root(plan), 1
    while placed < last - 1:
        nodes, _ = orbit_children(plan, nodes, placed)
        placed += 1
    second_last = int(plan.order[last - 1])
    leaf_above = np.zeros(plan.leaves_total, dtype=np.uint8)
    counted = 0
    for node in nodes:
        gaps = int(orbit_gaps(*args, last - 1, node))
        inserted = 0
        for gap in (bit for bit in range(plan.leaves_total) if gaps >> bit & 1):
            pile = node.copy()
            pile[second_last], pile[gap] = pile[gap], second_last
            inserted += bin(int(orbit_gaps(*args, last, pile))).count("1")
        pile = node.copy()
        cycle_above(pile, leaf_above, plan.order[0])
        assert last_leaf_completions(*args, pile, np.uint64(gaps)) == inserted
        placed_leaves = np.isin(np.arange(plan.leaves_total), plan.order[: last - 1])  # the others' entries are scratch
        assert np.array_equal(pile[placed_leaves], node[placed_leaves])  # the pile restored
        counted += inserted
    assert counted * plan.leaves_total == known_folds(sides)[2]


@pytest.mark.parametrize("route", [1, 2])
@pytest.mark.parametrize("sides", [(7,), (2, 5), (3, 3), (3, 4), (2, 2, 2), (2, 2, 2, 2)], ids=shape_id)
def test_a_walk_from_any_depth_counts_every_completion(sides, route):
    """Every node of one depth, walked from there, adds up to the total: from the first leaf down to
    the nodes lacking one, two or three leaves, which the walk handles each in a way of its own."""
    plan = make_orbit_plan(sides, route=route)
    args = (plan.order, plan.neighbours, plan.jumps, plan.constraint_start, plan.prefix_masks)
    leaves_total = plan.leaves_total
    nodes, placed = orbit_root(plan), 1
    while True:
        cycles = 0
        for node in nodes:
            leaf_below = node.copy()
            leaf_above = np.zeros_like(leaf_below)
            cycle_above(leaf_below, leaf_above, plan.order[0])
            gap_masks = np.zeros(leaves_total, dtype=np.uint64)
            cycles += walk_orbit_subtree(*args, leaf_below, leaf_above, placed, gap_masks, np.zeros(1, dtype=np.int64))
            assert np.array_equal(leaf_below[plan.order[:placed]], node[plan.order[:placed]])  # the pile restored
        assert cycles * leaves_total == known_folds(sides)[2], placed
        if placed == leaves_total - 1:
            break
        nodes, _ = orbit_children(plan, nodes, placed)
        placed += 1


def test_an_order_that_places_a_leaf_away_from_the_others_is_refused():
    """The walks start every gap walk from a placed neighbour, so every leaf after the first needs one."""
    import dataclasses

    symmetry = map_symmetry((2, 3))
    apart = dataclasses.replace(symmetry, order=np.array([0, 5, 1, 2, 3, 4], dtype=np.int64))  # leaf 5 is (1, 2)
    with pytest.raises(ValueError, match="placed map neighbour"):
        check_connected_order(make_orbit_plan((2, 3), apart))
    joined = dataclasses.replace(symmetry, order=np.array([0, 1, 3, 2, 5, 4], dtype=np.int64))
    check_connected_order(make_orbit_plan((2, 3), joined))
    # The walk itself refuses one too (leaf 5 of a 1 x 6 strip, third-last, has no placed neighbour).
    strip = map_symmetry((6,))
    plan = make_orbit_plan((6,), dataclasses.replace(strip, order=np.array([0, 1, 2, 5, 3, 4], dtype=np.int64)))
    args = (plan.order, plan.neighbours, plan.jumps, plan.constraint_start, plan.prefix_masks)
    leaf_below = orbit_root(plan)[0].copy()
    leaf_above = leaf_below.copy()
    with pytest.raises(ValueError, match="placed map neighbour"):
        walk_orbit_subtree(*args, leaf_below, leaf_above, 1, np.zeros(6, dtype=np.uint64), np.zeros(1, dtype=np.int64))


def test_stop_flag_aborts_an_orbit_walk():
    plan = make_orbit_plan((3, 6))
    leaf_below = orbit_root(plan)[0].copy()
    leaf_above = leaf_below.copy()
    gap_masks = np.zeros(19, dtype=np.uint64)
    args = (plan.order, plan.neighbours, plan.jumps, plan.constraint_start, plan.prefix_masks)
    assert walk_orbit_subtree(*args, leaf_below, leaf_above, 1, gap_masks, np.ones(1, dtype=np.int64)) == WALK_ABORTED
    leaf_below = orbit_root(plan)[0].copy()
    assert (
        walk_orbit_subtree(*args, leaf_below, leaf_above, 1, gap_masks, np.zeros(1, dtype=np.int64)) * 18 == VALUES["A001416"][6]
    )


def test_a_failing_orbit_worker_ends_the_run_with_an_error(monkeypatch):
    real = workers._work_through_orbit_subset
    calls = []

    def failing_second_worker(*arguments):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("worker exploded")
        return real(*arguments)

    monkeypatch.setattr(workers, "_work_through_orbit_subset", failing_second_worker)
    with pytest.raises(WorkerError, match="worker exploded"):
        count_folds((2, 8), threads=2, symmetric=False)


def test_walk_choice(tmp_path):
    assert count_folds((2, 5), threads=1, symmetric=False).walk == "orbit"
    assert count_folds((2, 5), threads=1).walk == "orbit"
    assert count_folds((2, 5), threads=1, gate=False).walk == "lunnon"
    assert count_folds((2, 5), threads=1, halve=False).walk == "lunnon"
    assert count_folds((2, 5), threads=1, checkpoint=tmp_path / "journal").walk == "orbit"
    assert count_folds((2, 5), threads=1, symmetric=False, walk="lunnon").walk == "lunnon"
    with pytest.raises(JournalError, match="not Lunnon's walk"):
        count_folds((2, 5), threads=1, walk="lunnon", checkpoint=tmp_path / "journal")
    with pytest.raises(ValueError, match="switches of Lunnon's walk"):
        count_folds((2, 5), threads=1, walk="orbit", gate=False)
    with pytest.raises(ValueError, match="walk must be"):
        count_folds((2, 5), threads=1, symmetric=False, walk="spiral")


def test_an_interrupt_stops_a_running_orbit_count(tmp_path):
    """A stop set while the orbit walk runs (some tasks done) ends the count with KeyboardInterrupt, not a total."""
    journal = tmp_path / "6x6.journal"
    interrupt_once_journaled(
        journal, 10, lambda stop: count_folds((6, 6), threads=2, symmetric=False, stop_event=stop, checkpoint=journal)
    )  # the walk is under way: tasks have finished
    tasks = json.loads(journal.read_text().splitlines()[0])["tasks"]
    assert 10 <= journaled_tasks(journal) < tasks  # stopped mid-count, not after the last task


def test_the_command_line_counts_without_the_symmetric_total_on_the_orbit_walk():
    import json

    from typer.testing import CliRunner

    from mapfold.cli.app import app

    result = CliRunner().invoke(app, ["count", "3x3x3", "--no-symmetric", "--json", "--threads", "2"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["walk"] == "orbit"
    assert document["folds_total"] == VALUES["A195646"][3]
    assert document["symmetric_folds"] is None


@pytest.mark.parametrize("shape", [(2, 9), (3, 4), (4, 4), (2, 2, 3), (1, 12)])
def test_the_orbit_reduction_groups_the_nodes_as_whole_rows_do(shape):
    """``reduce_to_orbits`` compares each canonical code as one byte string; grouped row by row, the
    orbits, their representatives (each orbit's first node) and their weights are the same."""
    from mapfold.walks.orbit import reduce_to_orbits

    plan = make_orbit_plan(shape)
    nodes, placed = orbit_root(plan), 1
    closed = [k for k in plan.symmetry.closed_prefixes if 1 < k < plan.leaves_total - 1]
    if not closed:
        pytest.skip("no closed prefix to reduce at")
    # The deepest closed prefix whose nodes stay few: the first ones hold a single node.
    reduced = None
    while placed < closed[-1] and len(nodes) <= 50_000:
        nodes, _ = orbit_children(plan, nodes, placed)
        placed += 1
        if placed in closed and len(nodes) <= 50_000:
            reduced = nodes, placed
    nodes, placed = reduced
    weights = np.arange(1, len(nodes) + 1, dtype=np.int64)
    representatives, orbit_weights = reduce_to_orbits(plan, nodes, placed, weights)
    codes = canonical_codes(nodes, placed, int(plan.order[0]), plan.symmetry.permutations)
    first_of: dict[bytes, int] = {}
    weight_of: dict[bytes, int] = {}
    for row, code in enumerate(codes):
        key = code.tobytes()
        first_of.setdefault(key, row)
        weight_of[key] = weight_of.get(key, 0) + int(weights[row])
    expected = sorted(first_of, key=first_of.get)  # orbits in the order their first node appears
    assert len(expected) < len(nodes)  # the reduction merged something
    assert np.array_equal(representatives, nodes[[first_of[key] for key in expected]])
    assert orbit_weights.tolist() == [weight_of[key] for key in expected]


def test_a_local_count_claims_the_largest_tasks_first(monkeypatch):
    """The workers claim orbit tasks in the order given: the planner's largest estimates first."""
    import mapfold.run.local as local

    given = []
    real = local.OrbitRun

    def recording(orbit_tasks, orbit_pending, *arguments, **options):
        given.append(np.asarray(orbit_pending).copy())
        return real(orbit_tasks, orbit_pending, *arguments, **options)

    monkeypatch.setattr(local, "OrbitRun", recording)
    result = count_folds((3, 6), threads=2, symmetric=False)
    assert result.folds_total == VALUES["A001416"][6]
    estimated = plan_orbit_tasks((3, 6)).estimated_nodes
    (order,) = given
    assert sorted(order.tolist()) == list(range(len(estimated)))  # every task, once
    assert (np.diff(estimated[order]) <= 0).all()  # largest first
