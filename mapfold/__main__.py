"""``python -m mapfold``: the same command line as ``mapfold``."""

from mapfold.cli import app

app(prog_name="mapfold")
