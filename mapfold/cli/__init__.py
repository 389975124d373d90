"""The ``mapfold`` command line: one module per command, the Typer app in ``app``."""

from mapfold.cli.app import app, run

__all__ = ["app", "run"]
