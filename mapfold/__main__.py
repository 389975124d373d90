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
    """SIGINT handler once the run is over: flush what can be, end with 130."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    os._exit(130)


def _exit_now(status: int) -> None:
    """Exit with ``status``: run the exit handlers, then skip the interpreter's teardown.

    Tearing down numba's and LLVM's objects takes about 0.3 s, a third of a warm
    ``mapfold count 2x5``. A normal exit first waits for non-daemon threads, then runs the ``atexit``
    handlers (numba, llvmlite, logging, multiprocessing and ``weakref.finalize`` all register
    one), then tears every module down. Once the output is flushed and no thread is left that a
    normal exit would wait for (daemon threads, such as tqdm's monitor, it would not), running the
    handlers here and ending with ``os._exit`` loses nothing; otherwise the normal exit runs.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's own, the one a normal exit calls
    others_waited_for = [
        thread for thread in threading.enumerate() if thread is not threading.current_thread() and not thread.daemon
    ]
    if run_exit_handlers is None or others_waited_for:
        sys.exit(status)
    run_exit_handlers()
    try:
        sys.stdout.flush()  # a handler may have written
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(status)


if __name__ == "__main__":
    main()
