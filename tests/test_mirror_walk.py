"""The mirror walk (mapfold.walks.mirror) against the definition, the full stream and the oracle.

The brute force (tests/brute_force.py) lists every folding and applies MAPFOLDING.md's definition;
Lunnon's walk with its gate off (the full stream) is the check on shapes too large for it, and the
OEIS values of A007822 and A000682 on long strips.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from brute_force import crease_pairs, interleaved, mirror_centres, valid_piles
from journal_watch import interrupt_once_journaled, journaled_tasks
from test_brute_force import ordered_factorizations

import mapfold.run.consumer as consumer
from mapfold import count_folds
from mapfold.oeis import VALUES
from mapfold.run.sender import LeafBelowSender, SenderError
from mapfold.walks.mirror import make_mirror_plan, mirror_of, split_mirror_tasks, walk_mirror_subtree
from mapfold.walks.pile import cycle_above


def shape_id(sides: tuple[int, ...]) -> str:
    return "x".join(map(str, sides))


def pile_from_row(row: np.ndarray, gap: int) -> tuple[int, ...]:
    """The pile from the top (leaf 1 first), from a pushed row and leaf N's gap."""
    leaves_total = len(row) - 1
    pile, leaf = [], int(row[0])
    while leaf != 0:
        pile.append(leaf)
        leaf = leaves_total if leaf == gap else int(row[gap] if leaf == leaves_total else row[leaf])
    return tuple(pile)


def walk_mirrors(sides: tuple[int, ...], send: bool, wanted_tasks: int = 4) -> tuple[int, list[tuple[int, ...]]]:
    """Run the mirror walk alone on one thread: the foldings it found, and (with ``send``) their piles."""
    tasks = split_mirror_tasks(sides, wanted_tasks)
    piles: list[tuple[int, ...]] = []

    def collect(rows: np.ndarray, gaps: np.ndarray) -> None:
        for row, mask in zip(rows, gaps, strict=True):
            assert int(mask) & (int(mask) - 1) == 0  # one completion per row
            piles.append(pile_from_row(row, int(mask).bit_length() - 1))

    width = tasks.plan.leaves_total + 1
    sender = LeafBelowSender(width, collect, lanes=1) if send else None
    leaf_below, leaf_above = np.empty(width, dtype=np.uint8), np.zeros(width, dtype=np.uint8)
    gap_masks, row, stop_flag = np.zeros(width, dtype=np.uint64), np.zeros(width, dtype=np.uint8), np.zeros(1, dtype=np.int64)
    found = 0
    for task in tasks.leaf_below:
        leaf_below[:] = task
        cycle_above(leaf_below, leaf_above, width - 1)
        below = walk_mirror_subtree(
            tasks.plan.tables(), leaf_below, leaf_above, tasks.placed_leaves, gap_masks, stop_flag, sender, 0, row
        )
        assert below >= 0
        found += below
    if sender is not None:
        sender.close()
    return found, piles


def symmetric_total_of_the_mirror_walk(sides: tuple[int, ...]) -> int:
    """Each self-mirrored folding has 1 centre when N + 1 is odd, 2 when it is even (the lemma)."""
    found, _ = walk_mirrors(sides, send=False, wanted_tasks=16)
    leaves_total = int(np.prod(sides))
    return (found * (2 if (leaves_total + 1) % 2 == 0 else 1) + 1) // 2


@functools.cache
def foldings_that_count(sides: tuple[int, ...]) -> frozenset[tuple[int, ...]]:
    """By the definition: every normalised folding with at least one counting centre."""
    return frozenset(tuple(pile) for pile in valid_piles(sides) if mirror_centres(pile) > 0)


SHAPES_UP_TO_10 = [sides for n in range(2, 11) for sides in ordered_factorizations(n)]


@pytest.mark.parametrize("sides", SHAPES_UP_TO_10, ids=shape_id)
def test_the_mirror_walk_sends_exactly_the_foldings_that_count(sides):
    found, piles = walk_mirrors(sides, send=True)
    assert found == len(piles)
    assert len(set(piles)) == len(piles)  # none twice
    assert set(piles) == foldings_that_count(sides)


def test_sigma_is_the_mirror_of_the_lemma():
    """Leaf x (from 1) pairs with N - x, the sentinel with leaf N; from 0: x <-> N - 2 - x, N <-> N - 1."""
    for leaves_total in range(2, 65):
        mirror = mirror_of(leaves_total).astype(int)
        assert sorted(mirror) == list(range(leaves_total + 1))
        assert all(mirror[mirror[item]] == item for item in range(leaves_total + 1))
        # In the numbering from 1 with the sentinel as 0: x + sigma(x) = 0 mod N for every item.
        from_one = [0 if item == leaves_total else item + 1 for item in range(leaves_total + 1)]
        assert all((from_one[item] + from_one[mirror[item]]) % leaves_total == 0 for item in range(leaves_total + 1))


# Every family up to 16 leaves (and a few more), where the full stream is still quick.
FULL_STREAM_SHAPES = [
    *[(1, n) for n in range(11, 17)],
    *[(2, n) for n in range(6, 9)],
    (3, 4),
    (4, 3),
    (3, 5),
    (5, 3),
    (4, 4),
    (2, 2, 3),
    (3, 2, 2),
    (2, 2, 4),
    (2, 4, 2),
    (2, 2, 2, 2),
    (2, 3, 3),
    (3, 3, 2),
]


@pytest.mark.parametrize("sides", FULL_STREAM_SHAPES, ids=shape_id)
def test_the_mirror_walk_against_the_full_stream(sides):
    full = count_folds(sides, threads=2, gate=False)  # Lunnon's walk, every completion tested
    assert full.walk == "lunnon"
    result = count_folds(sides, threads=2)
    assert result.walk == "orbit"
    assert result.symmetric_folds == full.symmetric_folds
    assert result.folds_total == full.folds_total
    assert result.sender.pushed == result.sender.consumed == result.sender.gated


# Strips 1 x 2 .. 1 x 28 (even) and 1 x 3 .. 1 x 21 (odd) go through the same walk, by count_folds,
# in tests/test_symmetric_only.py; here, the walk called directly on the odd strips past them.
@pytest.mark.parametrize("strip", [23, 25, 27])
def test_the_mirror_walk_alone_against_the_oracle(strip):
    sequence, index = ("A007822", strip // 2) if strip % 2 == 0 else ("A000682", (strip + 1) // 2)
    assert symmetric_total_of_the_mirror_walk((strip,)) == VALUES[sequence][index]


@pytest.mark.parametrize("strip", [19, 20, 22])
def test_the_default_count_of_long_strips_against_the_oracle(strip):
    result = count_folds((1, strip), threads=2)
    assert result.folds_total == VALUES["A000136"][strip]
    assert result.symmetric_folds == -(-VALUES["A001010"][strip - 1] // 2)


@pytest.mark.parametrize("sides", [(2, 32), (4, 16), (8, 8)], ids=shape_id)
def test_every_folding_sent_on_64_leaves_is_valid_and_counts(sides):
    """No brute force reaches 64 leaves; each folding sent is checked against the definitions."""
    found, piles = walk_mirrors(sides, send=True)
    assert found == len(piles) > 0
    pairs = crease_pairs(sides)
    for pile in piles:
        assert sorted(pile) == list(range(1, 65))
        position = {leaf: index for index, leaf in enumerate(pile)}
        assert not any(interleaved(position[a], position[b], position[c], position[d]) for (a, b), (c, d) in pairs)
        assert mirror_centres(list(pile)) > 0


def test_the_consumer_checks_what_the_mirror_walk_sends(monkeypatch):
    """A folding the consumer finds no centre in ends the count with an error, not a wrong total."""

    real = consumer.count_mirror_centres

    def doubting(rows, last_leaf_gaps, with_reflections):
        return real(rows, last_leaf_gaps, with_reflections) - 1  # as if the first folding of each batch did not count

    monkeypatch.setattr(consumer, "count_mirror_centres", doubting)
    with pytest.raises(SenderError, match="mirror walk sent"):
        count_folds((1, 14), threads=2)


def test_an_interrupt_stops_a_running_mirror_walk(tmp_path):
    """A stop set while the mirror walk runs (the symmetric total alone: every task is a mirror task)."""
    journal = tmp_path / "1x30.journal"
    interrupt_once_journaled(
        journal, 10, lambda stop: count_folds((1, 30), threads=2, folds=False, stop_event=stop, checkpoint=journal)
    )
    tasks = json.loads(journal.read_text().splitlines()[0])["tasks"]
    assert 10 <= journaled_tasks(journal) < tasks


def test_the_plan_places_each_pair_together():
    for sides in [(2, 7), (3, 3), (4, 4), (2, 2, 3), (1, 15)]:
        plan = make_mirror_plan(sides)
        leaves_total = plan.leaves_total
        assert sorted(plan.order.tolist()) == list(range(leaves_total))
        for rank in range(3, leaves_total):
            leaf = int(plan.order[rank])
            if plan.kinds[rank] == 1:  # MIRRORED: the partner of the leaf before
                assert int(plan.mirror[leaf]) == int(plan.order[rank - 1])
            elif plan.kinds[rank] == 2:  # AXIS
                assert int(plan.mirror[leaf]) == leaf
            else:
                assert int(plan.order[rank + 1]) == int(plan.mirror[leaf])
