"""restore-vm (a new VM, and over the original disks), stopping and resuming protection,
deleting backup data, stopping a queued job, and jobs of a worker that died."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vmvault.clock import FakeClock
from vmvault.config import load_settings
from vmvault.services.context import Services

MiB = 1024 * 1024


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _setup(vmvault, vmvault_json, tmp_path: Path) -> Path:
    lab = tmp_path / "lab"
    lab.mkdir()
    with open(lab / "app-os.raw", "wb") as f:
        f.truncate(8 * MiB)
        f.write(os.urandom(MiB))
    (lab / "app.vm.json").write_text(
        json.dumps(
            {
                "name": "app",
                "disks": [
                    {"lun": -1, "name": "app-os", "path": "app-os.raw", "type": "standard_ssd"}
                ],
            }
        )
    )
    vmvault("vault", "create", "--name", "v1")
    vmvault("policy", "create", "--vault-name", "v1", "--name", "std", "--sub-type", "Standard")
    vmvault("source", "add", "--name", "lab", "--type", "files", "--path", str(lab))
    vmvault(
        "protection", "enable-for-vm", "--vault-name", "v1", "--vm", "app", "--policy-name", "std"
    )
    return lab


def _run(vmvault_json, *args: str) -> dict:
    job = vmvault_json(*args)
    return vmvault_json("job", "wait", "--vault-name", "v1", "--name", job["name"])


def test_restore_vm_new_and_replace_existing(vmvault, vmvault_json, tmp_path: Path) -> None:
    lab = _setup(vmvault, vmvault_json, tmp_path)
    original = _sha(lab / "app-os.raw")
    _run(vmvault_json, "protection", "backup-now", "--vault-name", "v1", "--item-name", "app")
    (rp,) = vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "app")

    done = _run(
        vmvault_json,
        "restore",
        "restore-vm",
        "--vault-name",
        "v1",
        "--item-name",
        "app",
        "--rp-name",
        rp["name"],
        "--target-vm-name",
        "app-copy",
        "--source-tier",
        "Vault",
    )
    assert done["properties"]["status"] == "Completed"
    copy = vmvault_json("vm", "show", "--vm", "lab/app-copy")
    assert _sha(Path(copy["disks"][0]["path"])) == original
    taken = vmvault(
        "restore",
        "restore-vm",
        "--vault-name",
        "v1",
        "--item-name",
        "app",
        "--rp-name",
        rp["name"],
        "--target-vm-name",
        "app-copy",
        ok=False,
    )  # refused before a job is queued (issue 9)
    assert taken.returncode == 1 and taken.stdout == ""
    assert "UserErrorVmAlreadyExists" in taken.stderr

    with open(lab / "app-os.raw", "r+b") as f:
        f.write(b"ransomware" * 1000)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; f=open(sys.argv[1],'rb'); time.sleep(60)",
            str(lab / "app-os.raw"),
        ]
    )
    try:
        time.sleep(0.5)
        running = vmvault(
            "restore",
            "restore-vm",
            "--vault-name",
            "v1",
            "--item-name",
            "app",
            "--rp-name",
            rp["name"],
            "--replace-existing",
            ok=False,
        )
        assert running.returncode != 0 and "UserErrorVmRunning" in running.stderr
    finally:
        holder.kill()
        holder.wait()
    _run(
        vmvault_json,
        "restore",
        "restore-vm",
        "--vault-name",
        "v1",
        "--item-name",
        "app",
        "--rp-name",
        rp["name"],
        "--replace-existing",
    )
    assert _sha(lab / "app-os.raw") == original


def test_disable_resume_and_delete_backup_data(vmvault, vmvault_json, tmp_path: Path) -> None:
    lab = _setup(vmvault, vmvault_json, tmp_path)
    _run(vmvault_json, "protection", "backup-now", "--vault-name", "v1", "--item-name", "app")
    stopped = vmvault_json("protection", "disable", "--vault-name", "v1", "--item-name", "app")
    assert stopped["properties"]["protectionState"] == "ProtectionStopped"
    (rp,) = vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "app")
    tiers = {t["type"]: t for t in rp["properties"]["recoveryPointTierDetails"]}
    assert tiers["HardenedRP"]["extendedInfo"]["expiryTime"]  # on demand: its own date
    refused = vmvault(
        "protection", "backup-now", "--vault-name", "v1", "--item-name", "app", ok=False
    )
    assert "ProtectionStopped" in refused.stderr
    resumed = vmvault_json("protection", "resume", "--vault-name", "v1", "--item-name", "app")
    assert resumed["properties"]["protectionState"] == "Protected"

    vmvault(
        "protection",
        "disable",
        "--vault-name",
        "v1",
        "--item-name",
        "app",
        "--delete-backup-data",
        "--yes",
    )
    assert vmvault_json("item", "list", "--vault-name", "v1") == []
    assert list((lab / ".vmvault-snapshots" / "app").glob("rp-*")) == []
    ops = [j["properties"]["operation"] for j in vmvault_json("job", "list", "--vault-name", "v1")]
    assert ops[0] == "DeleteBackupData" and "DisableBackup" in ops
    check = vmvault_json("vault", "check", "--name", "v1")
    assert check["points"] == 0 and check["ok"]


def test_stop_a_queued_job_and_recover_from_a_dead_worker(
    vmvault, vmvault_json, tmp_path: Path, home: Path
) -> None:
    _setup(vmvault, vmvault_json, tmp_path)
    queued = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "app")
    stopped = vmvault_json("job", "stop", "--vault-name", "v1", "--name", queued["name"])
    assert stopped["properties"]["status"] == "Cancelled"

    # a worker claims a job and dies: once its lease runs out every reader shows the job
    # failed (and the item's last backup failed), with no `job wait` or worker to reap it
    job = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "app")
    clock = FakeClock(datetime.now(UTC))
    svc = Services.open(load_settings({"VMVAULT_HOME": str(home)}), clock)
    try:
        claimed = svc.jobs.jobs.claim("dead-worker", clock.now(), timedelta(minutes=2), job["name"])
        assert claimed is not None
    finally:
        svc.close()
    shown = vmvault_json("job", "show", "--vault-name", "v1", "--name", job["name"])
    assert shown["properties"]["status"] == "InProgress"
    svc = Services.open(load_settings({"VMVAULT_HOME": str(home)}), clock)
    try:  # its last heartbeat was three minutes ago
        last_beat = clock.now() - timedelta(minutes=3)
        assert svc.jobs.jobs.heartbeat(
            job["name"], "dead-worker", last_beat, timedelta(minutes=2)
        ).held
    finally:
        svc.close()
    shown = vmvault_json("job", "show", "--vault-name", "v1", "--name", job["name"])
    assert shown["properties"]["status"] == "Failed"
    assert shown["properties"]["errorDetails"][0]["errorCode"] == "WorkerLost"
    (listed,) = [
        j for j in vmvault_json("job", "list", "--vault-name", "v1") if j["name"] == job["name"]
    ]
    assert listed["properties"]["status"] == "Failed"
    item = vmvault_json("item", "show", "--vault-name", "v1", "--name", "app")
    assert item["properties"]["lastBackupStatus"] == "Failed"
    assert item["properties"]["protectionStatus"] == "Unhealthy"
