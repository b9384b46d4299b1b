"""Leases of running jobs: a restore longer than its lease keeps it from its own heartbeat
thread and ends Completed; a really killed worker's job is shown Failed (WorkerLost) by every
reader once its lease ran out; a worker that lost its job can no longer end it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobs_helpers import backed_up_app

from vmvault.clock import FakeClock
from vmvault.config import load_settings
from vmvault.domain.jobs import JobStatus
from vmvault.jobs.lease import LEASE
from vmvault.services.context import Services

START = datetime(2026, 11, 22, tzinfo=UTC)


class JumpingClock:
    """A fast clock. While ``jumps`` is above zero, each reading by a thread of a job's pool
    (the restore writing a chunk) moves time on by half a lease and runs ``on_jump(now)``
    before it returns; other threads read the time as it is."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._jumping = threading.Lock()
        self._local = threading.local()
        self.jumps = 0
        self.on_jump: Callable[[datetime], None] = lambda now: None

    def now(self) -> datetime:
        pool = threading.current_thread().name.startswith("ThreadPool")
        if self.jumps and pool and not getattr(self._local, "inside", False):
            with self._jumping:
                if self.jumps:
                    self.jumps -= 1
                    with self._lock:
                        self._now += LEASE / 2
                        now = self._now
                    self._local.inside = True
                    try:
                        self.on_jump(now)
                    finally:
                        self._local.inside = False
        with self._lock:
            return self._now


def _open(home: Path, clock: object) -> Services:
    return Services.open(load_settings({"VMVAULT_HOME": str(home)}), clock)  # type: ignore[arg-type]


def test_a_restore_longer_than_its_lease_keeps_it_and_completes(tmp_path: Path) -> None:
    clock = JumpingClock(START)
    svc = _open(tmp_path / "home", clock)
    svc.jobs.beat_poll = 0.02
    try:
        point = backed_up_app(svc, tmp_path / "lab")
        target = tmp_path / "restored"
        job = svc.restores.restore_disks("v1", "app", point, str(target), source_tier="Vault")
        reaped: list[object] = []

        def jump(now: datetime) -> None:
            # the restore runs on while time passes; its heartbeat must renew the lease
            deadline = time.monotonic() + 30
            while True:
                current = svc.jobs.jobs.get(job.id)
                assert current is not None and current.lease_until is not None
                if current.lease_until > now + LEASE / 2:
                    break
                assert time.monotonic() < deadline, "the restore's lease was not renewed"
                time.sleep(0.01)
            reaped.extend(svc.jobs.reap())  # a reader at the new time

        clock.on_jump, clock.jumps = jump, 4
        ended = svc.jobs.run_one("w1", job.id)
        assert clock.jumps == 0  # the restore ran through four half-leases
        assert ended is not None and ended.status == JobStatus.COMPLETED, ended
        assert ended.error_code is None and reaped == []
        assert ended.end_time is not None and ended.start_time is not None
        assert ended.end_time - ended.start_time >= 2 * LEASE
        assert (target / "app-os.raw").read_bytes() == (tmp_path / "lab/app-os.raw").read_bytes()
        assert ended.bytes_done == 1024 * 1024  # restores report their bytes
    finally:
        svc.close()


CHILD = r"""
import sys, threading, time
from datetime import datetime
from vmvault.config import load_settings
from vmvault.services.context import Services

class StallingClock:
    # the restore's first chunk never completes: the worker is killed there
    def __init__(self, start): self.start, self.said = start, threading.Lock()
    def now(self):
        if threading.current_thread().name.startswith("ThreadPool"):
            if self.said.acquire(blocking=False):
                print("restoring", flush=True)
            time.sleep(3600)
        return self.start

clock = StallingClock(datetime.fromisoformat(sys.argv[3]))
svc = Services.open(load_settings({"VMVAULT_HOME": sys.argv[1]}), clock)
svc.jobs.run_one("doomed-worker", sys.argv[2])
"""


def test_a_killed_workers_restore_is_failed_for_readers_once_its_lease_ran_out(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    home = tmp_path / "home"
    svc = _open(home, clock)
    try:
        point = backed_up_app(svc, tmp_path / "lab")
        job = svc.restores.restore_disks(
            "v1", "app", point, str(tmp_path / "restored"), source_tier="Vault"
        )
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(home), job.id, clock.now().isoformat()],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "restoring"
        finally:
            child.kill()
            child.wait(timeout=60)
        assert svc.jobs.get("v1", job.id).status == "InProgress"  # its lease still runs
        clock.advance(LEASE + timedelta(seconds=1))
        for seen in (svc.jobs.get("v1", job.id), svc.jobs.find("v1", operation="Restore")[0]):
            assert seen.status == "Failed" and seen.error_code == "WorkerLost"
            assert "doomed-worker" in (seen.error_message or "")
            assert [t["status"] for t in seen.tasks] == ["Failed"]
    finally:
        svc.close()


def test_a_worker_that_lost_its_job_cannot_end_it(tmp_path: Path) -> None:
    clock = FakeClock(START)
    svc = _open(tmp_path / "home", clock)
    try:
        backed_up_app(svc, tmp_path / "lab")
        queued = svc.backups.backup_now("v1", "app", None)
        store = svc.jobs.jobs
        job = store.claim("slow-worker", clock.now(), LEASE, queued.id)
        assert job is not None
        clock.advance(LEASE * 2)
        assert [j.id for j in svc.jobs.reap()] == [job.id]
        assert store.heartbeat(job.id, "slow-worker", clock.now(), LEASE).held is False
        assert store.finish(job.id, "slow-worker", JobStatus.COMPLETED, clock.now()) is None
        shown = svc.jobs.get("v1", job.id)
        assert shown.status == "Failed" and shown.error_code == "WorkerLost"
        # the item says its last backup failed, as its job does
        assert svc.items.get("v1", "app").record.last_backup_status == "Failed"
    finally:
        svc.close()


def test_a_killed_workers_lock_file_is_not_a_worker(tmp_path: Path) -> None:
    svc = _open(tmp_path / "home", FakeClock(START))
    try:
        run = svc.settings.run_dir
        run.mkdir(parents=True)
        (run / "worker-999999.lock").write_text("")  # left by a worker killed with SIGKILL
        assert not svc.jobs.worker_running()
        assert list(run.iterdir()) == []
        with svc.jobs.worker_presence():
            assert [p.name for p in run.iterdir()] == [f"worker-{os.getpid()}.lock"]
        assert list(run.iterdir()) == []
    finally:
        svc.close()
