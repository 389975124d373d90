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
    from mapfold.cli.app import run

    signal.signal(signal.SIGINT, previous)
    if interrupted:
        sys.stderr.write("mapfold: error: interrupted\n")
        sys.exit(130)
    finished: list[int] = []

    def on_interrupt_while_running_or_exiting(signum, frame) -> None:
        if not finished:
            raise KeyboardInterrupt  # as Python's own handler: the command answers it
        # The answer is complete and written: a Ctrl-C during the exit must not raise out of it
        # (a traceback after the total), nor turn a complete answer into a failure.
        try:
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - a write cut short by the signal: nothing more can be done
            pass
        os._exit(finished[0])

    signal.signal(signal.SIGINT, on_interrupt_while_running_or_exiting)
    try:
        status = run()
        finished.append(status)
    except KeyboardInterrupt:  # in the instant between the command's end and ``finished``
        sys.stderr.write("mapfold: error: interrupted\n")
        sys.exit(130)
    _exit_now(status)


def _exit_now(status: int) -> None:
    """Exit with ``status``: run the exit handlers, then skip the interpreter's teardown.

    Tearing down numba's and LLVM's objects takes about 0.3 s, a third of a warm
    ``mapfold count 2x5``. A normal exit first waits for non-daemon threads, then runs the ``atexit``
    handlers (numba, llvmlite, logging and ``weakref.finalize`` register one at import;
    multiprocessing and tqdm when used), then tears every module down. Once the output is flushed
    and no thread is left that a normal exit would wait for (daemon threads, such as tqdm's monitor,
    it would not), this runs the handlers and ends with ``os._exit``; otherwise the normal exit
    runs. What is skipped is the teardown itself: ``__del__`` of objects still alive at the end.
    Nothing of mapfold's needs it (the journal is closed, the consumer joined, before the command
    returns).
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
