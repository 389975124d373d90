"""``python -m mapfold`` and the ``mapfold`` command: the command line, with Ctrl-C handled from the start."""

from __future__ import annotations

import sys


def main() -> None:
    """Entry point: load the command line (numba and all), run it, exit with its status.

    Loading takes a while; a Ctrl-C meanwhile ends the program with exit status 130 and one
    line, not a traceback.
    """
    try:
        from mapfold.cli import run
    except KeyboardInterrupt:
        sys.stderr.write("mapfold: interrupted\n")
        sys.exit(130)
    sys.exit(run())


if __name__ == "__main__":
    main()
