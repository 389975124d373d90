"""``python -m mapfold`` and the ``mapfold`` command: the command line, with Ctrl-C handled from the start."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading


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
    status = run()
    # The run is over and its answer written: a Ctrl-C now must not raise KeyboardInterrupt out of
    # the exit (a traceback after the total); it ends the process at once, as interrupted.
    signal.signal(signal.SIGINT, _interrupted_while_exiting)
    _exit_now(status)


def _interrupted_while_exiting(signum, frame) -> None:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    os._exit(130)


def _exit_now(status: int) -> None:
    """Exit with ``status``, skipping the interpreter's teardown when nothing is left for it to do.

    Tearing down numba's and LLVM's objects takes about 0.3 s, a third of a warm
    ``mapfold count 2x5``. Once the output is flushed, with no exit handler registered and no
    thread that a normal exit would wait for (daemon threads, such as tqdm's monitor, it would not),
    ``os._exit`` ends the process with nothing lost; otherwise the normal exit runs.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)
    count_exit_handlers = getattr(atexit, "_ncallbacks", None)
    others_waited_for = [
        thread for thread in threading.enumerate() if thread is not threading.current_thread() and not thread.daemon
    ]
    if count_exit_handlers is not None and count_exit_handlers() == 0 and not others_waited_for:
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    main()
