"""``mapfold estimate``: how big and how long a count would be, before running it."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
import typer.main
from rich.table import Table

from mapfold.cli.common import check_threads, duration, fail, sides_or_fail, stdout
from mapfold.oeis import known_folds
from mapfold.shape import counted_sides, format_shape

#: How the command presents itself in ``mapfold --help``.
SETTINGS = dict(
    help=(
        "Estimate a count before running it: the number of foldings, the nodes of the search tree and the time "
        "on this machine, from Knuth's random probes of the real tree and a timed sample of the real walk. "
        "The time is the fold walk's (the symmetric total's mirror walk adds about 1%)."
    )
)


def estimate(
    shape: Annotated[str, typer.Argument(help="Sides joined by 'x' (2x5, 2X5, 3x3x3); one number n is a 1 x n strip.")],
    threads: Annotated[
        Optional[int],
        typer.Option("--threads", "-t", help="Threads the count would use (default: the CPUs this process may use)."),
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", "-s", help="How long to sample (more: a tighter estimate).")] = 3.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of a table.")] = False,
    route: Annotated[int, typer.Option("--route", hidden=True, help="The orbit walk's route, 1 or 2 (see count).")] = 1,
    seed: Annotated[Optional[int], typer.Option("--seed", hidden=True, help="Seed the probes (default: the clock).")] = None,
) -> None:
    """Estimate the size and time of a count."""
    from mapfold.estimate import estimate_count
    from mapfold.run.cpus import available_cpus

    sides = sides_or_fail(shape)
    check_threads(threads)
    if not 0.05 <= seconds <= 86400:
        raise fail(f"--seconds must be between 0.05 and 86400, got {seconds}", 2)
    if route not in (1, 2):
        raise fail(f"--route must be 1 or 2, got {route}", 2)
    threads = threads if threads is not None else available_cpus()
    result = estimate_count(sides, threads=threads, seconds=seconds, route=route, seed=seed)
    if as_json:
        print(json.dumps(result.to_dict()))
        return
    table = Table(title=f"mapfold estimate {format_shape(result.shape)}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("leaves", str(result.leaves))
    table.add_row("foldings", f"~{result.folds_estimate:.3g} (+/- {100 * result.folds_relative_error:.1f}%)")
    known = known_folds(counted_sides(tuple(result.shape)))
    if known is not None:
        table.add_row(f"OEIS {known[0]}({known[1]})", f"{known[2]:,}")
    table.add_row("tree nodes walked", f"~{result.nodes_estimate:.3g}")
    if result.seconds_estimate is not None:
        spread = 100 * (result.seconds_relative_error or 0.0)
        table.add_row(f"time on {result.threads} threads", f"~{duration(result.seconds_estimate)} (+/- {spread:.0f}%)")
    table.add_row("probes / timed subtrees", f"{result.probes:,} / {result.timed_subtrees:,}")
    stdout.print(table)
