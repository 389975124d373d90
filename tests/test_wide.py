"""Maps past 64 leaves: the wide path (gap sets in several words) held against independent counts.

The wide path only runs by itself past 64 leaves, where every count is too big for a quick test. So
the tests force it on small maps, with few gaps a word (``shift=2``: four), so that a map of ten
leaves already spreads its gaps over three words and every step across a word boundary is taken;
and with ``uint16`` leaves, the type of maps past 256 leaves. The counts it gives are held against
the brute force (``tests/brute_force.py``) and the OEIS b-files, never against a value mapfold
printed. 2^7 itself, A001417(7), is in the slow test at the end (``pytest -m slow``).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from math import prod

import numpy as np
import pytest
from brute_force import brute_force_counts

from mapfold import count_folds, parse_shape
from mapfold.oeis import VALUES
from mapfold.plan.tasks import orbit_task_digest, plan_mirror_tasks, plan_orbit_tasks
from mapfold.run.journal import JournalError
from mapfold.run.workers import OrbitRun, mirror_centre_weight
from mapfold.walks.group import MAX_GROUP_ORDER, map_symmetry
from mapfold.walks.orbit import make_orbit_plan, split_orbit_tasks

cached_brute_force = functools.lru_cache(maxsize=None)(brute_force_counts)


def ordered_factorizations(leaves: int) -> list[tuple[int, ...]]:
    """Every tuple of sides >= 2 whose product is ``leaves``, in every order."""
    if leaves == 1:
        return [()]
    return [
        (first, *rest)
        for first in range(2, leaves + 1)
        if leaves % first == 0
        for rest in ordered_factorizations(leaves // first)
    ]


def walk_totals(sides: tuple[int, ...], symmetric: bool = True, min_tasks: int = 16, **plan_options) -> tuple[int, int | None]:
    """``(folds, symmetric total)`` from the orbit and mirror walks run by ``OrbitRun`` on 2 threads.

    ``plan_options`` (``wide``, ``shift``, ``leaf_dtype``) go to both planners; the mirror walk's
    foldings go through the sender to the consumer, which tests each one exactly.
    """
    leaves_total = prod(sides)
    orbit_tasks = plan_orbit_tasks(sides, min_tasks, **plan_options)
    mirror_tasks = plan_mirror_tasks(sides, **plan_options) if symmetric else None
    run = OrbitRun(
        orbit_tasks, np.arange(len(orbit_tasks)), mirror_tasks, np.arange(len(mirror_tasks) if symmetric else 0), threads=2
    )
    run.run()
    cycles = sum(int(weight) * int(found) for weight, found in zip(orbit_tasks.weights, run.cycles, strict=True))
    if not symmetric:
        return cycles * leaves_total, None
    centres = int(run.mirrored.sum()) * mirror_centre_weight(leaves_total)
    return cycles * leaves_total, (centres + 1) // 2


WIDE = {"wide": True, "shift": 2}
WIDE_UINT16 = {"wide": True, "shift": 2, "leaf_dtype": np.uint16}


@pytest.mark.parametrize("sides", [sides for leaves in range(2, 11) for sides in ordered_factorizations(leaves)], ids=str)
def test_the_wide_path_matches_the_brute_force(sides):
    folds, symmetric = cached_brute_force(sides)
    assert walk_totals(sides, **WIDE) == (folds, symmetric)


@pytest.mark.xdist_group("uint16_compile")  # the uint16 walks compile in one test process, not in two at once
@pytest.mark.parametrize("sides", [(2, 5), (3, 3), (10,), (2, 2, 2), (2, 3)], ids=str)
def test_the_wide_path_with_uint16_leaves_matches_the_brute_force(sides):
    assert walk_totals(sides, **WIDE_UINT16) == cached_brute_force(sides)


def test_a_wide_plan_spreads_its_gaps_over_several_words():
    tasks = plan_orbit_tasks((2, 5), 16, **WIDE)
    assert tasks.plan.wide and tasks.plan.prefix_masks.shape == (10, 3)
    assert not plan_orbit_tasks((2, 5), 16).plan.wide
    assert make_orbit_plan((2, 33)).wide  # past 64 leaves by itself


FAMILIES = [(2, n) for n in range(2, 9)] + [(3, n) for n in range(3, 6)] + [(4, 4)] + [(2,) * 4] + [(n,) for n in range(2, 17)]


@pytest.mark.parametrize("sides", FAMILIES, ids=str)
def test_each_family_wide_against_one_word_and_the_oeis(sides, oracle):
    ordered = sorted(sides)
    if len(ordered) == 1:
        sequence, index = "A000136", ordered[0]
    elif all(side == 2 for side in ordered) and len(ordered) > 2:
        sequence, index = "A001417", len(ordered)
    elif ordered[0] == ordered[1] and ordered[0] > 3:
        sequence, index = "A001418", ordered[0]
    else:
        sequence, index = ("A001415" if ordered[0] == 2 else "A001416"), ordered[1]
    expected = oracle(sequence)[index]
    wide_folds, _ = walk_totals(sides, symmetric=False, **WIDE)
    one_word_folds, _ = walk_totals(sides, symmetric=False)
    assert wide_folds == one_word_folds == expected


@pytest.mark.parametrize("sides", [(2, 2, 2, 2, 2), (2,) * 6], ids=str)
def test_route_two_walks_other_trees_to_the_same_total(sides, oracle):
    expected = oracle("A001417")[len(sides)]
    first = plan_orbit_tasks(sides)
    second = plan_orbit_tasks(sides, route=2)
    assert orbit_task_digest(first) != orbit_task_digest(second)
    assert not np.array_equal(first.plan.order, second.plan.order)
    assert count_folds(sides, threads=2, symmetric=False, route=2).folds_total == expected


def test_route_two_is_recorded_in_the_journal_and_kept_on_resume(tmp_path):
    journal = tmp_path / "route2.journal"
    result = count_folds((2, 2, 2), threads=1, checkpoint=journal, route=2)
    assert result.folds_total == 96
    header = json.loads(journal.read_text().splitlines()[0])
    assert header["route"] == 2
    assert count_folds((2, 2, 2), threads=1, checkpoint=journal).folds_total == 96  # resumes route 2
    with pytest.raises(JournalError, match="route 2"):
        count_folds((2, 2, 2), threads=1, checkpoint=journal, route=1)


def test_the_listed_group_is_capped_by_a_subgroup():
    assert map_symmetry((2,) * 7).group_order == 5040  # 7!: the whole group of swaps
    capped = map_symmetry((2,) * 8)
    assert capped.group_order == MAX_GROUP_ORDER  # the swaps of 7 of the 8 dimensions
    assert capped.permutations[:, 0].max() == 0  # leaf 0 stays the root
    # Route 2 swaps the last 7 dimensions: another subgroup, so other orbits.
    assert not np.array_equal(np.sort(capped.permutations[:, 1]), np.sort(map_symmetry((2,) * 8, route=2).permutations[:, 1]))


def test_maps_past_64_leaves_are_no_longer_refused():
    assert parse_shape("2x33") == (2, 33)
    assert parse_shape("2x2x2x2x2x2x2x2x2x2") == (2,) * 10
    # The planner's first split (a count plans on, for its 2 million tasks: about a minute).
    tasks = split_orbit_tasks(make_orbit_plan((2, 33)), 1, 16)
    assert tasks.plan.wide and tasks.plan.leaves_total == 66 and len(tasks) >= 16


def test_lunnon_walk_still_refuses_past_64_leaves():
    from mapfold.shape import ShapeError

    with pytest.raises(ShapeError, match="Lunnon's walk"):
        count_folds((2, 33), walk="lunnon")


def test_estimate_of_2_to_the_7_is_within_twice_the_truth(oracle):
    command = [sys.executable, "-m", "mapfold", "estimate", "2x2x2x2x2x2x2", "--seconds", "3", "--seed", "1", "--json"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    estimate = json.loads(finished.stdout)
    truth = oracle("A001417")[7]
    assert truth / 2 <= estimate["folds_estimate"] <= truth * 2
    assert estimate["nodes_estimate"] > 0 and estimate["seconds_estimate"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("route", [1, 2])
def test_2_to_the_7_on_two_threads(route, oracle):
    """A001417(7) = 362,794,844,160 by the wide path on each route: the figure the issue asks for."""
    result = count_folds((2,) * 7, threads=2, route=route)
    assert result.folds_total == oracle("A001417")[7]


def test_listing_still_refuses_past_64_leaves_in_one_line():
    command = [sys.executable, "-m", "mapfold", "list", "2x33", "--limit", "1"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    assert "at most 64 leaves" in finished.stderr and "Traceback" not in finished.stderr


def _fold_total(tasks) -> int:
    """The fold total of an orbit task list, walked by ``OrbitRun`` on 2 threads."""
    run = OrbitRun(tasks, np.arange(len(tasks)), None, [], threads=2)
    run.run()
    cycles = sum(int(weight) * int(found) for weight, found in zip(tasks.weights, run.cycles, strict=True))
    return cycles * tasks.plan.leaves_total


@pytest.mark.parametrize("options", [{}, WIDE], ids=["one-word", "wide"])
@pytest.mark.parametrize("route", [1, 2])
@pytest.mark.parametrize("dimensions", [2, 3, 4, 5, 6])
def test_the_hypercubes_first_orbit_taken_whole_gives_a001417(dimensions, route, options):
    """One representative of weight d! for all the d! nodes at depth d + 1, the group never listed."""
    tasks = plan_orbit_tasks((2,) * dimensions, 16, route=route, corner_orbit=True, **options)
    assert tasks.orbits == 1 and tasks.nodes_at_reduction == prod(range(1, dimensions + 1))
    # The package's copy of the b-file (held against ../shared/oeis in test_oeis_copy), so the corner path
    # is tested where ../shared is absent too.
    assert _fold_total(tasks) == VALUES["A001417"][dimensions]


def test_the_first_orbit_is_taken_whole_only_where_it_cannot_be_listed():
    # Up to 2^8 the listed orbits stay (the journals of 2^8's campaign name their task lists).
    for dimensions in (3, 4, 5, 6):
        sides = (2,) * dimensions
        default = plan_orbit_tasks(sides)
        assert orbit_task_digest(default) == orbit_task_digest(plan_orbit_tasks(sides, corner_orbit=False))
    # Where the d! nodes are more than the planner lists (2^9 and up), it takes the whole orbit.
    small_cap = split_orbit_tasks(make_orbit_plan((2,) * 5), 1, 16, max_nodes=100)  # 5! = 120 nodes
    assert small_cap.orbits == 1 and small_cap.reduced_at >= 6
    assert _fold_total(small_cap) == VALUES["A001417"][5]
