"""A running job as its work sees it: sub-tasks, progress, results, and the one checkpoint.

Long work calls ``checkpoint()`` (or ``report()``, which calls it) at the places it may stop:
between disks, after each chunk. It raises ``JobCancelled`` once cancellation was requested
(``job stop``) or the worker is stopping (SIGTERM), and ``JobLost`` once the worker no longer
holds the job (its lease ran out and a reader reaped it): the work then stops without writing
anything more. The lease itself is renewed by the job's own heartbeat thread (``lease.py``),
whatever the work is doing, so a restore that never reports still keeps its job.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from vmvault.catalog.jobs import Hold, JobRecord, JobStore
from vmvault.clock import Clock
from vmvault.jobs.tasks import TaskList

REPORT_EVERY = timedelta(seconds=2)  # progress writes (and cancel checks) at most this often


class JobCancelled(Exception):
    """The job was asked to stop; it ends Cancelled."""

    code = "JobCancelled"


class JobLost(Exception):
    """The worker no longer holds the job (reaped after its lease ran out): drop it."""

    code = "WorkerLost"


class JobContext:
    """The state of one running job in its worker. Thread-safe: the work may call it from
    its pool threads, the heartbeat thread sets its flags."""

    def __init__(
        self,
        store: JobStore,
        clock: Clock,
        job: JobRecord,
        worker: str,
        lease: timedelta,
        stopping: threading.Event | None = None,
    ) -> None:
        self.store, self.clock, self.job = store, clock, job
        self.worker, self.lease = worker, lease
        self.tasks = TaskList(job.tasks)
        self.cancel = threading.Event()
        self.lost = threading.Event()
        self.stopping = stopping or threading.Event()
        self.result: dict[str, str] = {}  # shown in the job's propertyBag
        self.bytes_done = job.bytes_done
        self.bytes_total = job.bytes_total
        self._lock = threading.Lock()
        self._last_report: datetime | None = None
        if job.cancel_requested:
            self.cancel.set()

    def note(self, hold: Hold) -> None:
        """Take in what a write to the job's row said (cancel requested, job lost)."""
        if hold.cancel:
            self.cancel.set()
        if not hold.held:
            self.lost.set()

    def checkpoint(self) -> None:
        """Raise if the work must stop here (see the module's docstring)."""
        if self.lost.is_set():
            raise JobLost(f"job {self.job.id} was taken from this worker (its lease ran out)")
        if self.cancel.is_set():
            raise JobCancelled(f"job {self.job.id} was cancelled")
        if self.stopping.is_set():
            raise JobCancelled(f"job {self.job.id} was cancelled: its worker is stopping")

    def write(self, **fields: Any) -> None:
        """Write fields of the job's row (while the worker holds it)."""
        self.note(self.store.progress(self.job.id, self.worker, **fields))

    def start_task(self, name: str) -> None:
        with self._lock:
            self.tasks.start(name, self.clock.now())
            data = self.tasks.data
        self.write(tasks=data)

    def finish_task(self, name: str) -> None:
        with self._lock:
            self.tasks.finish(name, self.clock.now())
            data = self.tasks.data
        self.write(tasks=data)

    def skip_task(self, name: str) -> None:
        with self._lock:
            self.tasks.skip(name)

    def report(self, done: int, total: int, *, force: bool = False) -> None:
        """Record progress (``done`` of ``total`` bytes), at most every ``REPORT_EVERY``
        unless ``force``; each write also looks for a cancel request. Then ``checkpoint``."""
        now = self.clock.now()
        with self._lock:
            self.bytes_done, self.bytes_total = done, total
            due = force or self._last_report is None or now - self._last_report >= REPORT_EVERY
            if due:
                self._last_report = now
        if due:
            percent = round(100.0 * done / total, 1) if total else 0.0
            self.write(progress_percent=min(percent, 100.0), bytes_done=done, bytes_total=total)
        self.checkpoint()
