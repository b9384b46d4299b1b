"""The heartbeat of a running job: a thread of its own that renews the job's lease.

The lease (``LEASE``) is how long a job stays its worker's without a word from it; a reader
that finds it run out reaps the job as ``WorkerLost``. The heartbeat renews it every quarter
lease, measured on the injected clock (so a fast test clock beats fast too), looking at the
clock every ``poll`` real seconds. It also brings back what the row says: a cancel request sets
the job's cancel flag, and a job that is no longer this worker's (reaped, ended) sets its lost
flag, after which the heartbeat stops. A failed write (database unreachable) is tried again at
the next poll: the lease has three quarters of its length to spare.
"""

from __future__ import annotations

import sys
import threading
from datetime import timedelta
from types import TracebackType

from vmvault.jobs.context import JobContext
from vmvault.jobs.pause import pause

LEASE = timedelta(minutes=2)
POLL = 0.5  # real seconds between looks at the clock


class Heartbeat:
    """``with Heartbeat(ctx):`` runs the job's heartbeat thread for the block's duration."""

    def __init__(self, ctx: JobContext, poll: float = POLL) -> None:
        self.ctx, self.poll = ctx, poll
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"vmvault-heartbeat-{ctx.job.id[:8]}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        ctx = self.ctx
        last = ctx.clock.now()
        while not pause(self._stop, self.poll):
            now = ctx.clock.now()
            if now - last < ctx.lease / 4:
                continue
            try:
                hold = ctx.store.heartbeat(ctx.job.id, ctx.worker, now, ctx.lease)
            except Exception as exc:  # the database is away: try again at the next poll
                sys.stderr.write(f"job {ctx.job.id}: heartbeat failed ({exc}); retrying\n")
                continue
            last = now
            ctx.note(hold)
            if not hold.held:
                return
