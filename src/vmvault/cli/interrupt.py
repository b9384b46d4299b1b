"""Ctrl-C while the ``vmvault`` command starts: one line and exit code 130, no traceback.

Importing the CLI takes a few hundred milliseconds (Typer, Rich, SQLAlchemy); a Ctrl-C in that
time would print Python's traceback. So the package's ``__init__`` (the first vmvault code the
command runs) calls ``guard_start_up``, and in the command's own process only (not in a
program or a test that imports vmvault, which keep their SIGINT handler) SIGINT then exits 130
with one line, until a command's body starts (``cli.output.handles_errors`` calls
``started``): Typer's own handling of a Ctrl-C while it builds and parses the command would
exit 130 silently. Stdlib only, so that it adds nothing
to the start-up time. (The interpreter's own first milliseconds, before any vmvault code
runs, stay Python's.)
"""

from __future__ import annotations

import contextlib
import signal
import sys
from types import FrameType

INTERRUPTED = 130  # as a shell reports a command stopped by SIGINT (128 + 2)
START_UP_MESSAGE = (
    "ERROR: (OperationCancelled) interrupted (Ctrl-C) while starting: nothing was done"
)


def _is_entry_point() -> bool:
    """True in the ``vmvault`` console script or ``python -m vmvault``."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] in ("vmvault", "vmvault.__main__"):
        return True
    return bool(sys.argv) and sys.argv[0].rsplit("/", 1)[-1] == "vmvault"


def _at_start_up(_signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write(START_UP_MESSAGE + "\n")
    sys.stderr.flush()
    raise SystemExit(INTERRUPTED)


def guard_start_up() -> None:
    """While the CLI is imported, SIGINT exits 130 with one line (``SystemExit``, which Python
    ends quietly). Only in the entry point's main thread, and only over Python's default."""
    if _is_entry_point() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        with contextlib.suppress(ValueError):  # not the main thread: leave it
            signal.signal(signal.SIGINT, _at_start_up)


def started() -> None:
    """The command's body starts: SIGINT raises ``KeyboardInterrupt`` again, so that the
    command stops through its ``finally`` blocks and reports it (``handles_errors``)."""
    if signal.getsignal(signal.SIGINT) is _at_start_up:
        signal.signal(signal.SIGINT, signal.default_int_handler)
