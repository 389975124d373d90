"""The ``mapfold`` command line: parse, call the library, render. Nothing else lives here.

Every way a run can end is one of: the result on stdout (exit 0); one line ``mapfold: error: ...``
on stderr, with at most one hint line, and exit 2 for a usage error, 1 for a failed run (a worker,
the consumer, memory, threads, an unwritable stdout) or 130 for Ctrl-C; or, when the reader of
stdout has gone away, a silent end by SIGPIPE, as for any Unix filter. Never a traceback.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import Annotated

import typer
import typer.main

import mapfold.cli.count as count
import mapfold.cli.draw as draw
import mapfold.cli.estimate as estimate
import mapfold.cli.listing as listing
from mapfold import __version__

app = typer.Typer(
    name="mapfold",
    help="Count the distinct foldings of p1 x p2 x ... x pd maps, exactly, on every core.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no markup to eat "[default: ...]", no "<bool>" beside flags
)
app.command(**count.SETTINGS)(count.count)
app.command(**estimate.SETTINGS)(estimate.estimate)
app.command(**listing.SETTINGS)(listing.list_foldings)
app.command(**draw.SETTINGS)(draw.draw)


def _show_version(value: bool) -> None:
    if value:
        print(f"mapfold {__version__}", flush=True)
        raise typer.Exit(0)


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Count the distinct foldings of p1 x p2 x ... x pd maps, exactly, on every core."""


def _usage_exceptions() -> tuple[type[BaseException], type[BaseException], type[BaseException] | None]:
    """Click's ``UsageError``, ``ClickException`` and ``NoArgsIsHelpError``, wherever this Typer keeps click."""
    try:  # Typer 0.2x carries its own copy of click
        from typer._click.exceptions import ClickException, UsageError
    except ImportError:
        from click.exceptions import ClickException, UsageError
    no_args = next((cls for cls in UsageError.__subclasses__() if cls.__name__ == "NoArgsIsHelpError"), None)
    return UsageError, ClickException, no_args


_SHAPE_LIKE = re.compile(r"^\d+([xX]\d+)*$")


def _usage_hint(error: BaseException, argv: Sequence[str]) -> str:
    """The one hint line for a usage error."""
    message = error.format_message()
    stray = next((word for word in argv if _SHAPE_LIKE.match(word)), None)
    if "No such command" in message and stray is not None:
        return f"hint: to count the foldings of a {stray} map, run: mapfold count {stray}"
    context = getattr(error, "ctx", None)
    command_path = context.command_path if context is not None else "mapfold"
    return f"hint: see '{command_path} --help'"


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that what is still buffered cannot fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Parameters
    ----------
    argv
        The arguments after the program name.

    Returns
    -------
    int
        0, or the status of the error printed on stderr (2 usage, 1 failure, 130 interrupt).
    """
    if hasattr(signal, "SIGPIPE"):
        # A reader that has gone away (``mapfold count 2x9 | head -1``) ends us quietly, as it
        # would any Unix filter, instead of raising BrokenPipeError at some later write.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    argv = list(sys.argv[1:] if argv is None else argv)
    usage_error, click_exception, no_args_error = _usage_exceptions()
    try:
        try:
            status = typer.main.get_command(app).main(args=argv, prog_name="mapfold", standalone_mode=False)
        except SystemExit as exit_request:
            status = exit_request.code
        sys.stdout.flush()
        return status if isinstance(status, int) else 0
    except usage_error as error:
        if no_args_error is not None and isinstance(error, no_args_error):
            print(error.format_message(), file=sys.stderr)
            return 2
        message = " ".join(error.format_message().split())
        print(f"mapfold: error: {message}\n{_usage_hint(error, argv)}", file=sys.stderr)
        return 2
    except click_exception as error:
        print(f"mapfold: error: {' '.join(error.format_message().split())}", file=sys.stderr)
        return error.exit_code
    except MemoryError:
        print("mapfold: error: out of memory", file=sys.stderr)
        return 1
    except OSError as error:
        if error.errno == errno.EPIPE:
            _silence_stdout()
            return 141  # as if SIGPIPE had ended us (where there is no SIGPIPE to do it)
        _silence_stdout()
        print(f"mapfold: error: cannot write the output: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mapfold: error: interrupted", file=sys.stderr)
        return 130
