"""A small lab for the job tests: a VM with one random 1 MiB disk, protected in vault v1 (64 KiB
chunks, so a restore from the vault writes sixteen chunks), and a backup of it."""

from __future__ import annotations

import os
from pathlib import Path

from vmvault.domain.policy import SubType
from vmvault.services.context import Services
from vmvault.services.policies import default_document

MiB = 1024 * 1024


def protected_app(svc: Services, lab: Path, *, size: int = MiB, data_disk: bool = False) -> None:
    """``app``'s OS disk (and with ``data_disk`` a data disk at LUN 0), ``size`` random bytes
    each, protected by Standard policy ``std``; policy ``enh`` is Enhanced."""
    lab.mkdir()
    manifest = "name: app\ndisks:\n"
    for lun, name in [(-1, "app-os"), (0, "app-data")][: 2 if data_disk else 1]:
        (lab / f"{name}.raw").write_bytes(os.urandom(size))
        manifest += f"  - {{lun: {lun}, name: {name}, path: {name}.raw, type: standard_ssd}}\n"
    (lab / "app.vm.yaml").write_text(manifest)
    svc.vaults.create("v1", chunk_size=64 * 1024)
    svc.policies.create("v1", "std", default_document(SubType.STANDARD))
    svc.policies.create("v1", "enh", default_document(SubType.ENHANCED))
    svc.sources.add("lab", "files", str(lab))
    svc.items.enable("v1", "app", "std")


def backed_up_app(svc: Services, lab: Path, *, size: int = MiB, data_disk: bool = False) -> str:
    """Protect ``app`` and back it up (both tiers); returns the recovery point's name."""
    protected_app(svc, lab, size=size, data_disk=data_disk)
    job = svc.backups.backup_now("v1", "app", None)
    done = svc.jobs.run_one("setup", job.id)
    assert done is not None and done.status == "Completed", done
    (point,) = svc.points.all("v1", "app")
    return point.record.name
