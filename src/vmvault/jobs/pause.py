"""Waiting in the job loops: ``pause(stop, seconds)``.

The loops sleep in short steps and look at ``stop`` between them rather than calling
``Event.wait(timeout)``: a timed wait on a lock never times out under libfaketime (the test suite
must pass under ``faketime``), and a 50 ms step costs nothing to loops that poll every half
second or renew a lease every thirty seconds.
"""

from __future__ import annotations

import threading
import time

STEP = 0.05


def pause(stop: threading.Event, seconds: float) -> bool:
    """Wait ``seconds``, or less if ``stop`` is set; returns whether it is set."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(STEP, left))
    return True
