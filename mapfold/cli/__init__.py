"""The ``mapfold`` command line: the Typer app and ``run`` in ``app``, one module per command."""
