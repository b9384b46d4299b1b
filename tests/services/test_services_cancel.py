"""Stopping a running backup: the worker sees the request at its next progress checkpoint and
the job ends Cancelled (no vault point is written)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vmvault.config import load_settings
from vmvault.domain.policy import SubType
from vmvault.services.context import Services
from vmvault.services.policies import default_document


class SteppingClock:
    """Each reading is three seconds after the last, so every progress report checks in."""

    def __init__(self) -> None:
        self._now = datetime(2026, 11, 22, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(seconds=3)
        return self._now


def test_stopping_a_running_backup_cancels_it(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "app-os.raw").write_bytes(os.urandom(8 * 1024 * 1024))
    (lab / "app.vm.yaml").write_text(
        "name: app\ndisks:\n  - {lun: -1, name: app-os, path: app-os.raw, type: standard_ssd}\n"
    )
    svc = Services.open(load_settings({"VMVAULT_HOME": str(tmp_path / "home")}), SteppingClock())
    try:
        svc.vaults.create("v1", chunk_size=64 * 1024)
        svc.policies.create("v1", "enh", default_document(SubType.ENHANCED))
        svc.sources.add("lab", "files", str(lab))
        svc.items.enable("v1", "app", "enh")
        queued = svc.backups.backup_now("v1", "app", None)
        job = svc.jobs.jobs.claim("w1", svc.clock.now(), timedelta(minutes=2), queued.id)
        assert job is not None
        assert svc.jobs.stop("v1", job.id).status == "Cancelling"
        status = svc.backups.run(
            job,
            lambda: svc.jobs.jobs.heartbeat(job.id, "w1", svc.clock.now(), timedelta(minutes=2)),
        )
        assert status == "Cancelled"
        assert svc.jobs.get("v1", job.id).status == "Cancelled"
        assert svc.vaults.open_data("v1", None).points() == []
    finally:
        svc.close()
