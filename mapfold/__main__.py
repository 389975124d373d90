"""``python -m mapfold`` and the ``mapfold`` command: the command line, with Ctrl-C handled from the start."""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    """Entry point: load the command line (numba and all), run it, exit with its status.

    Loading takes a while. A Ctrl-C meanwhile is not raised inside the imports (where Python may
    wrap it in another error and print a traceback): it is noted, the loading finishes, and the
    program ends with one line and status 130. A second Ctrl-C ends it at once.
    """
    interrupted = []

    def on_interrupt(signum, frame) -> None:
        if interrupted:
            os.write(2, b"mapfold: error: interrupted\n")
            os._exit(130)
        interrupted.append(signum)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    from mapfold.cli import run

    signal.signal(signal.SIGINT, previous)
    if interrupted:
        sys.stderr.write("mapfold: error: interrupted\n")
        sys.exit(130)
    sys.exit(run())


if __name__ == "__main__":
    main()
