"""Jobs: listing, stopping, waiting, and running them (workers, or `job wait` in the
foreground when no worker runs against the data directory)."""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from vmvault.catalog.jobs import JobRecord, JobStore
from vmvault.clock import Clock
from vmvault.domain.errors import NotFoundError
from vmvault.domain.jobs import JobStatus, Operation
from vmvault.services.vaults import VaultService

LEASE = timedelta(minutes=2)
Runner = Callable[[JobRecord, Callable[[], bool]], JobStatus]


class JobService:
    def __init__(self, jobs: JobStore, clock: Clock, vaults: VaultService, run_dir: Path) -> None:
        self.jobs, self.clock, self.vaults = jobs, clock, vaults
        self.run_dir = run_dir
        self.runners: dict[str, Runner] = {}

    def register(self, operation: Operation, runner: Runner, sub_type: str | None = None) -> None:
        """Run queued jobs of ``operation`` (and ``sub_type``) with ``runner``."""
        self.runners[f"{operation.value}/{sub_type or ''}"] = runner

    def get(self, vault: str, job_id: str) -> JobRecord:
        v = self.vaults.get(vault)
        job = self.jobs.get(job_id)
        if job is None or job.vault_id != v.id:
            raise NotFoundError(
                f"job {job_id!r} was not found in vault {vault!r}: `vmvault job list "
                f"--vault-name {vault}` shows its jobs",
                code="BMSUserErrorJobNotFound",
            )
        return job

    def find(self, vault: str, **filters: object) -> list[JobRecord]:
        return self.jobs.find(self.vaults.get(vault).id, **filters)  # type: ignore[arg-type]

    def stop(self, vault: str, job_id: str) -> JobRecord:
        self.get(vault, job_id)
        return self.jobs.request_cancel(job_id, self.clock.now())

    # -- running --------------------------------------------------------------------------
    def run_one(self, worker: str, job_id: str | None = None) -> JobRecord | None:
        """Claim and run one queued job (``job_id`` or the oldest); None if none was queued."""
        self.jobs.reap(self.clock.now())
        job = self.jobs.claim(worker, self.clock.now(), LEASE, job_id)
        if job is None:
            return None
        runner = self.runners.get(f"{job.operation}/{job.sub_type or ''}")
        if runner is None:
            return self.jobs.finish(job.id, JobStatus.FAILED, self.clock.now(),
                                    error_code="UnsupportedOperation",
                                    error_message=f"no runner for {job.operation}")  # fmt: skip

        def heartbeat() -> bool:
            return self.jobs.heartbeat(job.id, worker, self.clock.now(), LEASE)

        runner(job, heartbeat)
        final = self.jobs.get(job.id)
        assert final is not None
        return final

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
            self.jobs.reap(self.clock.now())
            job = self.get(vault, job_id)
        return job

    @contextmanager
    def worker_presence(self) -> Iterator[None]:
        """Mark this process as a worker of the data directory (an flock held while it runs)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / f"worker-{os.getpid()}.lock"
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
            path.unlink(missing_ok=True)

    def worker_running(self) -> bool:
        """Whether another process holds a worker lock on this data directory."""
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
            finally:
                os.close(fd)
        return False


def worker_id(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}"


def job_duration(job: JobRecord, now: datetime) -> timedelta:
    if job.start_time is None:
        return timedelta(0)
    return (job.end_time or now) - job.start_time
