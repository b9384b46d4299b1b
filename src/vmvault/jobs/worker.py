"""The worker loop: run queued jobs until told to stop.

``Worker.run`` looks at the queue every ``poll`` seconds (half a second by default, so a job
queued while ``vmvault serve`` or ``vmvault worker`` runs starts within a second) and runs what
it finds, one job at a time. Setting ``stop`` ends the loop; a job running then is asked to stop
at its next checkpoint and ends Cancelled. The loop survives a failing pass (a database that is
briefly away): it reports it and looks again at the next poll.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

from vmvault.catalog.jobs import JobRecord
from vmvault.jobs.pause import pause

POLL = 0.5


class Worker:
    def __init__(
        self,
        run_one: Callable[[threading.Event], JobRecord | None],
        *,
        poll: float = POLL,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """``run_one(stopping)`` claims and runs one queued job, None when none is queued."""
        self.run_one, self.poll = run_one, poll
        self.log = log or _log

    def run(self, stop: threading.Event, run_for: float = 0.0) -> None:
        """Run jobs until ``stop`` is set (or, with ``run_for``, that many seconds passed)."""
        deadline = time.monotonic() + run_for if run_for else None
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                job = self.run_one(stop)
            except Exception as exc:  # one bad pass must not stop the worker
                self.log(f"worker: looking at the queue failed: {exc}")
                job = None
            if job is None:
                pause(stop, self.poll)
            else:
                self.log(f"job {job.id} {job.operation} {job.item_name}: {job.status}")

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run the loop in a thread of its own (``vmvault serve``)."""
        thread = threading.Thread(target=self.run, args=(stop,), name="vmvault-worker")
        thread.start()
        return thread


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (Ctrl+C): the loops end cleanly, and a job running
    then ends Cancelled at its next checkpoint."""
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
