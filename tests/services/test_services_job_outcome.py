"""What a job says it did: a backup whose vault transfer failed keeps its snapshot point while
the item's health and last backup say it failed; an incremental's ``bytesTransferred`` is what
it stored, not the disk's size; restores report their bytes; ``propertyBag`` values are strings
(JSON text for lists, never a Python repr)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from jobs_helpers import MiB, backed_up_app, protected_app

from vmvault.services.arm_items import item_to_arm, job_to_arm
from vmvault.services.context import Services


def _item_json(svc: Services) -> dict[str, object]:
    view = svc.items.get("v1", "app")
    body = item_to_arm(svc.vaults.scope, view, svc.points.latest_time(view))
    props = body["properties"]
    assert isinstance(props, dict)
    return props


def test_a_failed_vault_transfer_keeps_the_snapshot_and_says_so(
    services: Services, tmp_path: Path
) -> None:
    protected_app(services, tmp_path / "lab")
    chunks = services.settings.vaults_dir / "v1" / "chunks"
    shutil.rmtree(chunks, ignore_errors=True)
    chunks.write_text("not a folder: every chunk write fails")
    job = services.backups.backup_now("v1", "app", None)
    ended = services.jobs.run_one("w", job.id)
    assert ended is not None and ended.status == "Failed"
    assert [(t["taskId"], t["status"]) for t in ended.tasks] == [
        ("Take Snapshot", "Completed"),
        ("Transfer data to vault", "Failed"),
    ]
    (point,) = services.points.all("v1", "app")
    assert [t.value for t in point.tiers] == ["InstantRP"]  # the snapshot point stays
    props = _item_json(services)
    assert props["lastBackupStatus"] == "Failed"
    assert props["protectionStatus"] == "Unhealthy"
    assert props["healthStatus"] == "ActionRequired"
    assert props["latestRecoveryPoint"] is not None

    chunks.unlink()  # the vault is back: the next backup heals the item
    again = services.backups.backup_now("v1", "app", None)
    assert services.jobs.run_one("w", again.id).status == "Completed"  # type: ignore[union-attr]
    props = _item_json(services)
    assert (props["lastBackupStatus"], props["protectionStatus"], props["healthStatus"]) == (
        "Completed",
        "Healthy",
        "Passed",
    )


def test_job_json_bytes_and_property_bag(services: Services, tmp_path: Path) -> None:
    point = backed_up_app(services, tmp_path / "lab")
    lab = tmp_path / "lab"
    with open(lab / "app-os.raw", "r+b") as f:  # change one 64 KiB chunk of the 1 MiB disk
        f.write(b"\x01" * 64 * 1024)
    job = services.backups.backup_now("v1", "app", None)
    incremental = services.jobs.run_one("w", job.id)
    assert incremental is not None and incremental.status == "Completed"
    body = job_to_arm(services.vaults.scope, "v1", incremental, services.clock.now())
    info = body["properties"]["extendedInfo"]
    bag = info["propertyBag"]
    assert all(isinstance(v, str) for v in bag.values())
    stored = int(bag["bytesStored"])
    assert 0 < stored < 64 * 1024 + 4096  # one chunk, compressed (random data: about its size)
    assert info["bytesTransferred"] == stored  # not the 1 MiB disk
    assert int(bag["bytesRead"]) <= MiB and bag["trigger"] == "OnDemand"
    assert "recoveryPoint" in bag and "None" not in bag.values()

    target = tmp_path / "out"
    restore = services.restores.restore_disks("v1", "app", point, str(target), luns=[-1])
    restored = services.jobs.run_one("w", restore.id)
    assert restored is not None and restored.status == "Completed"
    body = job_to_arm(services.vaults.scope, "v1", restored, services.clock.now())
    info = body["properties"]["extendedInfo"]
    bag = info["propertyBag"]
    assert json.loads(bag["luns"]) == [-1]
    assert json.loads(bag["files"]) == [str(target.resolve() / "app-os.raw")]
    assert info["bytesTransferred"] == MiB
    assert "targetVm" not in bag  # no "None"
