"""The worker process that sitq.Executor starts.

``python -m sitq._executor_worker ARGS`` runs ``python -m sitq worker ARGS``
and stops it gracefully (SIGTERM: running tasks finish) when its standard
input reaches end of file: the executor holds the other end of that pipe,
so the workers stop when it shuts down and also when its process dies
without shutting down (a crash, SIGKILL).
"""

import os
import signal
import sys
import threading


def _stop_at_end_of_input():
    # The file descriptor, not sys.stdin: a daemon thread blocked inside
    # the buffered reader holds its lock, and an interpreter that exits
    # while it does (a usage error, --burst) aborts ("could not acquire
    # lock ... at interpreter shutdown").
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv):
    """Run the worker command line argv (without "worker"); returns its exit status."""
    from .__main__ import main as worker_main
    threading.Thread(target=_stop_at_end_of_input, daemon=True,
                     name="sitq-executor-parent").start()
    return worker_main(["worker"] + list(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
