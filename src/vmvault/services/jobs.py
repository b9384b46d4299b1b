"""Jobs: listing, stopping, waiting, and running them (workers, or `job wait` in the
foreground when no worker runs against the data directory).

Readers see jobs as they are: every read first reaps the running jobs whose lease ran out (their
worker was killed, or Ctrl+C stopped a foreground `job wait`), so `job list`, `job show` and
`item show` never show a dead worker's job as InProgress.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vmvault.catalog.items import ItemRecord
from vmvault.catalog.jobs import ItemBusyError, JobRecord, JobStore
from vmvault.clock import Clock
from vmvault.domain.errors import ConflictError, NotFoundError
from vmvault.domain.job_params import exclusive, parse_params
from vmvault.domain.jobs import JobStatus, Operation
from vmvault.jobs.context import JobContext
from vmvault.jobs.engine import Runner, end, run_claimed, run_ended_hook
from vmvault.jobs.lease import LEASE, POLL
from vmvault.services.vaults import VaultService


class JobService:
    def __init__(
        self,
        jobs: JobStore,
        clock: Clock,
        vaults: VaultService,
        run_dir: Path,
        *,
        lease: timedelta = LEASE,
        beat_poll: float = POLL,
    ) -> None:
        self.jobs, self.clock, self.vaults = jobs, clock, vaults
        self.run_dir = run_dir
        self.lease, self.beat_poll = lease, beat_poll
        self.runners: dict[str, Callable[[], Runner]] = {}

    def register(
        self, operation: Operation, runner: Callable[[], Runner], sub_type: str | None = None
    ) -> None:
        """Run queued jobs of ``operation`` (and ``sub_type``) with the runner ``runner()``
        gives (built only when such a job runs or is reaped)."""
        self.runners[f"{operation.value}/{sub_type or ''}"] = runner

    def _runner(self, job: JobRecord) -> Runner | None:
        factory = self.runners.get(f"{job.operation}/{job.sub_type or ''}")
        return factory() if factory is not None else None

    # -- reading ---------------------------------------------------------------------------
    def reap(self) -> list[JobRecord]:
        """End the running jobs whose worker's lease ran out, and tidy up after each."""
        reaped = self.jobs.reap(self.clock.now())
        for job in reaped:
            runner = self._runner(job)
            if runner is not None:
                run_ended_hook(runner, job)
        return reaped

    def get(self, vault: str, job_id: str) -> JobRecord:
        v = self.vaults.get(vault)
        self.reap()
        job = self.jobs.get(job_id)
        if job is None or job.vault_id != v.id:
            raise NotFoundError(
                f"job {job_id!r} was not found in vault {vault!r}: `vmvault job list "
                f"--vault-name {vault}` shows its jobs",
                code="BMSUserErrorJobNotFound",
            )
        return job

    def find(self, vault: str, **filters: object) -> list[JobRecord]:
        vault_id = self.vaults.get(vault).id
        self.reap()
        return self.jobs.find(vault_id, **filters)  # type: ignore[arg-type]

    def progress(self, vault: str, job_id: str) -> float:
        """How far the job is, in percent (for progress bars)."""
        job = self.jobs.get(job_id)
        return job.progress_percent if job is not None else 0.0

    def jobs_open(self) -> bool:
        """Whether a job of any vault is queued or running."""
        return self.jobs.any_open()

    def stop(self, vault: str, job_id: str) -> JobRecord:
        """Cancel a job: a queued one at once, a running one at its next checkpoint."""
        self.get(vault, job_id)
        return self.jobs.request_cancel(job_id, self.clock.now())

    # -- running --------------------------------------------------------------------------
    def run_one(
        self,
        worker: str,
        job_id: str | None = None,
        stopping: threading.Event | None = None,
    ) -> JobRecord | None:
        """Claim and run one queued job (``job_id`` or the oldest); None if none was queued.
        ``stopping`` set asks the running job to stop at its next checkpoint."""
        self.reap()
        job = self.jobs.claim(worker, self.clock.now(), self.lease, job_id)
        if job is None:
            return None
        return self.run_claimed(job, worker, stopping)

    def run_claimed(
        self, job: JobRecord, worker: str, stopping: threading.Event | None = None
    ) -> JobRecord:
        """Run a job ``worker`` claimed, under its heartbeat, to its end (as recorded)."""
        ctx = JobContext(self.jobs, self.clock, job, worker, self.lease, stopping)
        runner = self._runner(job)
        if runner is None:
            message = f"this vmvault cannot run {job.operation} jobs: upgrade the worker"
            return end(ctx, JobStatus.FAILED, "UnsupportedOperation", message) or job
        return run_claimed(ctx, runner, self.beat_poll)

    def wait(
        self, vault: str, job_id: str, *, poll: float = 1.0, sleep: Callable[[float], None]
    ) -> JobRecord:
        """Wait for a job to end. If no worker runs against this data directory, run it here."""
        job = self.get(vault, job_id)
        while not JobStatus(job.status).ended:
            if job.start_time is None and not self.worker_running():
                with self.worker_presence():
                    self.run_one(worker_id("wait"), job.id)
            else:
                sleep(poll)
            job = self.get(vault, job_id)
        return job

    @contextmanager
    def worker_presence(self) -> Iterator[None]:
        """Mark this process as a worker of the data directory: an flock held on
        ``run/worker-PID.lock`` while it runs, the file removed when it ends. The file is
        locked before it takes its name, so an unlocked one is always stale."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / f"worker-{os.getpid()}.lock"
        fresh = self.run_dir / f".worker-{os.getpid()}.lock.new"
        fd = os.open(fresh, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.replace(fresh, path)
            yield
        finally:
            path.unlink(missing_ok=True)
            fresh.unlink(missing_ok=True)
            os.close(fd)

    def worker_running(self) -> bool:
        """Whether another process holds a worker lock on this data directory (lock files
        left by a killed worker are removed on the way)."""
        if not self.run_dir.is_dir():
            return False
        for path in self.run_dir.glob("worker-*.lock"):
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            else:
                path.unlink(missing_ok=True)  # stale: its worker is gone
            finally:
                os.close(fd)
        return False


def refuse_if_busy(jobs: JobStore, item: ItemRecord, *, any_job: bool = False) -> None:
    """One operation at a time per item, as in Azure: raise ``UserErrorBackupOperationInProgress``
    naming the job if a backup, a restore over the VM's disks, a policy change or a migration
    of ``item`` is queued or running (with ``any_job``, any job of the item)."""
    for job in jobs.open_jobs_for_item(item.id):
        params = parse_params(job.operation, job.sub_type, job.params)
        if any_job or exclusive(job.operation, params):
            raise busy_error(item.name, job)


def enqueue_exclusive(
    jobs: JobStore, item: ItemRecord, operation: str, now: datetime, **fields: Any
) -> JobRecord:
    """Queue a job of an operation ``item`` runs one at a time, or raise
    ``UserErrorBackupOperationInProgress`` naming the open one. The check and the insert are
    one: the job holds the item's exclusive key (a unique constraint), so of two requests that
    race, in any process, exactly one is queued."""
    refuse_if_busy(jobs, item)
    try:
        job, _ = jobs.enqueue(
            item.vault_id, operation, now, item_id=item.id, item_name=item.name,
            exclusive=True, **fields,
        )  # fmt: skip
    except ItemBusyError as exc:
        raise busy_error(item.name, exc.holder) from None
    return job


def busy_error(item: str, job: JobRecord) -> ConflictError:
    return ConflictError(
        f"item {item!r} has a {job.operation} job {job.status} ({job.id}): wait "
        f"for it (`vmvault job wait --name {job.id}`) or stop it (`vmvault job stop`), "
        "then try again",
        code="UserErrorBackupOperationInProgress",
    )


def worker_id(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}"


def job_duration(job: JobRecord, now: datetime) -> timedelta:
    if job.start_time is None:
        return timedelta(0)
    return (job.end_time or now) - job.start_time
