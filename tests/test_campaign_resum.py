"""``campaigns/resum.py``, the re-sum of a checkpoint journal outside the runner, against the OEIS."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from mapfold import count_folds
from mapfold.oeis import VALUES

_SCRIPT = Path(__file__).resolve().parent.parent / "campaigns" / "resum.py"


def _resum():
    spec = importlib.util.spec_from_file_location("campaign_resum", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.resum


@pytest.mark.parametrize(
    ("shape", "route", "folds", "symmetric"),
    [((8,), 1, VALUES["A000136"][8], VALUES["A007822"][4]), ((3, 4), 2, VALUES["A001416"][4], None)],
)
def test_a_finished_journal_adds_up_to_the_oeis_totals(tmp_path, shape, route, folds, symmetric):
    journal = tmp_path / "journal"
    count_folds(shape, threads=2, symmetric=symmetric is not None, checkpoint=journal, route=route)
    summary = _resum()(str(journal))
    assert summary["complete"]
    assert summary["folds_total"] == folds
    assert summary["symmetric_total"] == symmetric
    assert summary["route"] == route


def test_a_journal_with_a_task_twice_or_another_task_list_is_refused(tmp_path):
    journal = tmp_path / "journal"
    count_folds((2, 5), threads=1, checkpoint=journal)
    lines = journal.read_text().splitlines()
    twice = tmp_path / "twice"
    twice.write_text("\n".join([*lines, lines[-1]]) + "\n")
    with pytest.raises(SystemExit, match="appears twice"):
        _resum()(str(twice))
    header = json.loads(lines[0])
    header["task_digest"] = "0" * 64
    other = tmp_path / "other"
    other.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(SystemExit, match="task_digest"):
        _resum()(str(other))


def test_a_journal_half_done_gives_partial_sums(tmp_path):
    journal = tmp_path / "journal"
    count_folds((2, 5), threads=1, checkpoint=journal)
    lines = journal.read_text().splitlines()
    half = tmp_path / "half"
    half.write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    summary = _resum()(str(half))
    assert not summary["complete"]
    assert summary["orbit_done"] + summary["mirror_done"] == len(lines) // 2 - 1
    assert 0 <= summary["folds_total"] <= VALUES["A001415"][5]
