"""A small lab for the job tests: a VM with one random 1 MiB disk, protected in vault v1 (64 KiB
chunks, so a restore from the vault writes sixteen chunks), and a backup of it."""

from __future__ import annotations

import os
from pathlib import Path

from vmvault.domain.policy import SubType
from vmvault.services.context import Services
from vmvault.services.policies import default_document

MiB = 1024 * 1024


def protected_app(svc: Services, lab: Path, *, size: int = MiB) -> None:
    lab.mkdir()
    (lab / "app-os.raw").write_bytes(os.urandom(size))
    (lab / "app.vm.yaml").write_text(
        "name: app\ndisks:\n  - {lun: -1, name: app-os, path: app-os.raw, type: standard_ssd}\n"
    )
    svc.vaults.create("v1", chunk_size=64 * 1024)
    svc.policies.create("v1", "std", default_document(SubType.STANDARD))
    svc.policies.create("v1", "enh", default_document(SubType.ENHANCED))
    svc.sources.add("lab", "files", str(lab))
    svc.items.enable("v1", "app", "std")


def backed_up_app(svc: Services, lab: Path, *, size: int = MiB) -> str:
    """Protect ``app`` and back it up (both tiers); returns the recovery point's name."""
    protected_app(svc, lab, size=size)
    job = svc.backups.backup_now("v1", "app", None)
    done = svc.jobs.run_one("setup", job.id)
    assert done is not None and done.status == "Completed", done
    (point,) = svc.points.all("v1", "app")
    return point.record.name
