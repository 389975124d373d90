"""Re-add a checkpoint journal outside mapfold's runner: the check behind every campaign's total.

    python campaigns/resum.py campaigns/a195646-4-route1.journal

Reads the journal's JSON lines itself (not through ``mapfold.run.journal``), plans the same count
with mapfold's planner only to get each orbit task's weight and the task lists' digests, checks
that the header's digests match and that no task appears twice, and prints, as JSON, how many
tasks are done and the totals so far: the fold total ``leaves * sum(weight * completions)`` over
the orbit tasks and the symmetric total ``(sum(centres) + 1) // 2`` over the mirror tasks
(partial sums while ``complete`` is false). Exit status 1 on a digest mismatch or a repeated task.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def resum(path: str) -> dict[str, Any]:
    """The journal's done tasks and totals, re-added from its lines (see the module docstring)."""
    from mapfold.plan.count_plan import plan_count

    with open(path, encoding="utf-8") as journal:
        lines = [json.loads(line) for line in journal if line.strip()]
    header, done = lines[0], lines[1:]
    plan = plan_count(
        tuple(header["shape"]),
        symmetric=header["symmetric"],
        folds=header.get("folds", True),
        route=header.get("route", 1),
        min_tasks=header.get("orbit_min_tasks"),
    )
    planned = plan.journal_header(header["mapfold"])
    for key in ("task_digest", "mirror_digest", "tasks", "orbit_tasks", "mirror_tasks"):
        if planned[key] != header[key]:
            raise SystemExit(f"{path}: {key} is {header[key]} in the journal, {planned[key]} as planned here")
    seen: set[int] = set()
    weighted = centres = orbit_done = mirror_done = 0
    for line in done:
        task = line["task"]
        if task in seen:
            raise SystemExit(f"{path}: task {task} appears twice")
        seen.add(task)
        if task < plan.orbit_count:
            weighted += int(plan.orbit_tasks.weights[task]) * line["completions"]
            orbit_done += 1
        else:
            centres += line["centres"]
            mirror_done += 1
    return {
        "journal": path,
        "shape": header["shape"],
        "route": header.get("route", 1),
        "orbit_done": orbit_done,
        "orbit_tasks": plan.orbit_count,
        "mirror_done": mirror_done,
        "mirror_tasks": plan.mirror_count,
        "complete": len(seen) == plan.task_count,
        "folds_total": weighted * plan.leaves_total if plan.folds else None,
        "symmetric_total": (centres + 1) // 2 if plan.symmetric else None,
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python campaigns/resum.py JOURNAL")
    print(json.dumps(resum(sys.argv[1]), indent=1))
