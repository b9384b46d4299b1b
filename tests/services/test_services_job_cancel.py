"""Stopping running jobs: the work sees the request at its next checkpoint and the job ends
Cancelled (a backup writes no vault point, a restore leaves no disk image)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jobs_helpers import MiB, backed_up_app, protected_app

from vmvault.config import load_settings
from vmvault.services.context import Services


class SteppingClock:
    """Each reading is three seconds after the last; ``on_pool_read`` runs once, at the first
    reading made by a thread of a job's pool (the restore writing a chunk) after ``skip``
    such readings."""

    def __init__(self) -> None:
        self._now = datetime(2026, 11, 22, tzinfo=UTC)
        self._lock = threading.Lock()
        self.on_pool_read: list[object] = []
        self.skip = 0

    def now(self) -> datetime:
        if self.on_pool_read and threading.current_thread().name.startswith("ThreadPool"):
            with self._lock:
                self.skip -= 1
                fire = self.skip < 0
            hook = self.on_pool_read.pop() if fire else None
            if callable(hook):
                hook()
        with self._lock:
            self._now += timedelta(seconds=3)
            return self._now


def _open(tmp_path: Path, clock: SteppingClock) -> Services:
    svc = Services.open(load_settings({"VMVAULT_HOME": str(tmp_path / "home")}), clock)
    svc.jobs.lease = timedelta(days=1)  # the stepping clock must not run a lease out here
    return svc


def test_stopping_a_running_backup_cancels_it(tmp_path: Path) -> None:
    svc = _open(tmp_path, SteppingClock())
    try:
        protected_app(svc, tmp_path / "lab")
        queued = svc.backups.backup_now("v1", "app", None)
        job = svc.jobs.jobs.claim("w1", svc.clock.now(), timedelta(minutes=2), queued.id)
        assert job is not None
        assert svc.jobs.stop("v1", job.id).status == "Cancelling"
        ended = svc.jobs.run_claimed(job, "w1")
        assert ended.status == "Cancelled"
        assert svc.jobs.get("v1", job.id).status == "Cancelled"
        assert svc.vaults.open_data("v1", None).points() == []
        view = svc.items.get("v1", "app")
        assert view.record.last_backup_status is None  # a cancelled backup is no failed one
    finally:
        svc.close()


def test_stopping_a_running_restore_cancels_it(tmp_path: Path) -> None:
    clock = SteppingClock()
    svc = _open(tmp_path, clock)
    try:
        point = backed_up_app(svc, tmp_path / "lab")
        target = tmp_path / "restored"
        queued = svc.restores.restore_disks("v1", "app", point, str(target), source_tier="Vault")
        stopped: list[str] = []
        # `job stop` arrives while the restore writes its first chunk
        clock.on_pool_read.append(lambda: stopped.append(svc.jobs.stop("v1", queued.id).status))
        ended = svc.jobs.run_one("w1", queued.id)
        assert ended is not None
        assert stopped == ["Cancelling"]
        assert ended.status == "Cancelled"
        assert ended.error_code is None
        assert [t["status"] for t in ended.tasks] == ["Cancelled"]
        assert sorted(p.name for p in target.iterdir()) == []  # no image, whole or partial
    finally:
        svc.close()


def test_a_restore_cancelled_after_its_first_disk_leaves_no_image(tmp_path: Path) -> None:
    clock = SteppingClock()
    svc = _open(tmp_path, clock)
    try:
        lab = tmp_path / "lab"
        point = backed_up_app(svc, lab, size=4 * MiB, data_disk=True)
        target = tmp_path / "restored"
        queued = svc.restores.restore_disks("v1", "app", point, str(target), source_tier="Vault")
        clock.skip = 70  # the OS disk has 64 chunks: stop early in the data disk
        clock.on_pool_read.append(lambda: svc.jobs.stop("v1", queued.id))
        ended = svc.jobs.run_one("w1", queued.id)
        assert ended is not None and ended.status == "Cancelled"
        assert 4 * MiB < ended.bytes_done < 8 * MiB  # the data disk's rest was not written
        assert list(target.iterdir()) == []  # the OS disk it completed is removed too
        assert (lab / "app-data.raw").is_file()
    finally:
        svc.close()


def test_ctrl_c_of_a_foreground_job_ends_it_cancelled_at_once(tmp_path: Path) -> None:
    """Ctrl+C of `job wait` running a restore in the foreground: the job ends Cancelled then
    and there (not Failed/WorkerLost once its lease ran out), and the interrupt goes on up."""
    clock = SteppingClock()
    svc = _open(tmp_path, clock)
    try:
        point = backed_up_app(svc, tmp_path / "lab")
        queued = svc.restores.restore_disks(
            "v1", "app", point, str(tmp_path / "restored"), source_tier="Vault"
        )

        def ctrl_c() -> None:
            raise KeyboardInterrupt

        clock.on_pool_read.append(ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            svc.jobs.wait("v1", queued.id, sleep=lambda _s: None)
        shown = svc.jobs.get("v1", queued.id)
        assert shown.status == "Cancelled" and shown.end_time is not None
        assert list((tmp_path / "home" / "run").glob("worker-*.lock")) == []
    finally:
        svc.close()
