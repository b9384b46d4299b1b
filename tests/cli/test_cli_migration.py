"""Issue 5 end to end: a VM with two Standard points migrated to an Enhanced policy; both
points restorable bit-exact afterwards; the migration job with its subtype; the new Enhanced
point; no way back; and every refusal with nothing changed."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

MiB = 1024 * 1024


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _vm(lab: Path, name: str, **flags: object) -> Path:
    disk = lab / f"{name}-os.raw"
    with open(disk, "wb") as f:
        f.truncate(8 * MiB)
        f.write(os.urandom(MiB))
    disks = [{"lun": -1, "name": f"{name}-os", "path": disk.name, "type": "standard_ssd"}]
    disks += flags.pop("extra_disks", [])  # type: ignore[arg-type]
    (lab / f"{name}.vm.json").write_text(json.dumps({"name": name, "disks": disks, **flags}))
    return disk


def _wait(vmvault, job: dict, ok: bool = True):
    return vmvault(
        "job", "wait", "--vault-name", "v1", "--name", job["name"], "--output", "json", ok=ok
    )


def _setup(vmvault, tmp_path: Path) -> Path:
    lab = tmp_path / "lab"
    lab.mkdir()
    vmvault("vault", "create", "--name", "v1")
    vmvault("policy", "create", "--vault-name", "v1", "--name", "std", "--sub-type", "Standard")
    vmvault("policy", "create", "--vault-name", "v1", "--name", "std2", "--sub-type", "Standard")
    vmvault(
        "policy",
        "create",
        "--vault-name",
        "v1",
        "--name",
        "enh",
        "--sub-type",
        "Enhanced",
        "--instant-rp-days",
        "10",
    )
    vmvault("source", "add", "--name", "lab", "--type", "files", "--path", str(lab))
    return lab


def test_migrate_a_vm_with_two_standard_points(vmvault, vmvault_json, tmp_path: Path) -> None:
    lab = _setup(vmvault, tmp_path)
    disk = _vm(lab, "web01")
    vmvault(
        "protection", "enable-for-vm", "--vault-name", "v1", "--vm", "web01", "--policy-name", "std"
    )
    shas = []
    for _ in range(2):
        job = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "web01")
        _wait(vmvault, job)
        shas.append(_sha(disk))
        with open(disk, "r+b") as f:
            f.write(os.urandom(4096))
    old = vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "web01")
    assert len(old) == 2
    left = vmvault_json("item", "list", "--vault-name", "v1", "--policy-sub-type", "Standard")
    assert [i["properties"]["friendlyName"] for i in left] == ["web01"]

    job = vmvault_json(
        "item", "set-policy", "--vault-name", "v1", "--name", "web01", "--policy-name", "enh"
    )
    assert job["properties"]["operation"] == "ConfigureBackup"
    assert job["properties"]["operationSubType"] == "Migrate policy"
    done = json.loads(_wait(vmvault, job).stdout)
    assert done["properties"]["status"] == "Completed"
    assert [t["taskId"] for t in done["properties"]["extendedInfo"]["tasksList"]] == [
        "Migrate policy",
        "Take Snapshot",
        "Transfer data to vault",
    ]
    table = vmvault("job", "list", "--vault-name", "v1", "--output", "table").stdout
    assert "Configure backup (Migrate policy)" in table

    item = vmvault_json("item", "show", "--vault-name", "v1", "--name", "web01")
    assert item["properties"]["policyName"] == "enh"
    assert item["properties"]["policyType"] == "V2"
    assert vmvault_json("item", "list", "--vault-name", "v1", "--policy-sub-type", "Standard") == []
    points = vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "web01")
    assert len(points) == 3
    assert points[0]["properties"]["policySubType"] == "Enhanced"
    new_snapshot = {t["type"]: t for t in points[0]["properties"]["recoveryPointTierDetails"]}
    assert "instant restore (10 days)" in new_snapshot["InstantRP"]["extendedInfo"]["reason"]

    for point, sha in zip(reversed(old), shas, strict=True):
        for tier in ("Snapshot", "Vault"):
            out = tmp_path / f"{point['name']}-{tier}"
            restore = vmvault_json(
                "restore",
                "restore-disks",
                "--vault-name",
                "v1",
                "--item-name",
                "web01",
                "--rp-name",
                point["name"],
                "--target-dir",
                str(out),
                "--source-tier",
                tier,
            )
            _wait(vmvault, restore)
            assert _sha(out / "web01-os.raw") == sha

    back = vmvault(
        "item",
        "set-policy",
        "--vault-name",
        "v1",
        "--name",
        "web01",
        "--policy-name",
        "std",
        ok=False,
    )
    assert back.returncode != 0
    assert "UserErrorEnhancedToStandardPolicyChangeNotAllowed" in back.stderr

    # after migration: Trusted Launch and an Ultra disk keep backups running
    data = lab / "web01-ultra.raw"
    data.write_bytes(os.urandom(MiB))
    doc = json.loads((lab / "web01.vm.json").read_text())
    doc["trusted_launch"] = True
    doc["disks"].append({"lun": 0, "name": "web01-ultra", "path": data.name, "type": "ultra_ssd"})
    (lab / "web01.vm.json").write_text(json.dumps(doc))
    job = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "web01")
    assert json.loads(_wait(vmvault, job).stdout)["properties"]["status"] == "Completed"


def test_every_refusal_changes_nothing(vmvault, vmvault_json, tmp_path: Path) -> None:
    lab = _setup(vmvault, tmp_path)
    (lab / "shared.raw").write_bytes(bytes(MiB))
    _vm(lab, "classic", managed=False)
    _vm(
        lab,
        "clustered",
        extra_disks=[
            {
                "lun": 0,
                "name": "quorum",
                "path": "shared.raw",
                "type": "standard_ssd",
                "shared": False,
            }
        ],
    )
    _vm(lab, "busy")
    for vm in ("classic", "clustered", "busy"):
        vmvault(
            "protection", "enable-for-vm", "--vault-name", "v1", "--vm", vm, "--policy-name", "std"
        )
    # attach the shared disk after protection (the seed's case)
    doc = json.loads((lab / "clustered.vm.json").read_text())
    doc["disks"][1]["shared"] = True
    (lab / "clustered.vm.json").write_text(json.dumps(doc))
    queued = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "busy")

    def refused(item: str, policy: str, code: str) -> str:
        proc = vmvault(
            "protection",
            "migrate",
            "--vault-name",
            "v1",
            "--item-name",
            item,
            "--policy-name",
            policy,
            "--yes",
            ok=False,
        )
        assert proc.returncode != 0, proc.stdout
        assert code in proc.stderr
        return proc.stderr

    assert queued["name"] in refused("busy", "enh", "UserErrorBackupOperationInProgress")
    refused("classic", "enh", "UserErrorMigrationUnmanagedVMNotSupported")
    message = refused("clustered", "enh", "UserErrorMigrationSharedDiskAttached")
    assert "detach the shared disk" in message and "reattach" in message
    refused("busy", "std2", "UserErrorMigrationTargetNotEnhanced")
    items = vmvault_json("item", "list", "--vault-name", "v1", "--policy-sub-type", "Standard")
    assert len(items) == 3
    # without --yes and without a terminal, nothing happens
    _wait(vmvault, queued)
    unconfirmed = vmvault(
        "protection",
        "migrate",
        "--vault-name",
        "v1",
        "--item-name",
        "busy",
        "--policy-name",
        "enh",
        ok=False,
        input="n\n",
    )
    assert unconfirmed.returncode != 0 and "one-way" in unconfirmed.stderr

    # --all migrates what it can and says why it skipped the rest
    report = vmvault_json(
        "protection", "migrate", "--vault-name", "v1", "--all", "--policy-name", "enh", "--yes"
    )
    assert [j["properties"]["entityFriendlyName"] for j in report["jobs"]] == ["busy"]
    assert {s["item"]: s["code"] for s in report["skipped"]} == {
        "classic": "UserErrorMigrationUnmanagedVMNotSupported",
        "clustered": "UserErrorMigrationSharedDiskAttached",
    }
    _wait(vmvault, report["jobs"][0])
    # the shared-disk procedure: detach, change the policy, reattach -> the disk is excluded
    doc["disks"] = doc["disks"][:1]
    (lab / "clustered.vm.json").write_text(json.dumps(doc))
    job = vmvault_json(
        "item", "set-policy", "--vault-name", "v1", "--name", "clustered", "--policy-name", "enh"
    )
    _wait(vmvault, job)
    doc["disks"].append(
        {"lun": 0, "name": "quorum", "path": "shared.raw", "type": "standard_ssd", "shared": True}
    )
    (lab / "clustered.vm.json").write_text(json.dumps(doc))
    item = vmvault_json("item", "show", "--vault-name", "v1", "--name", "clustered")
    assert item["properties"]["excludedDisks"][0]["lun"] == 0
    assert "shared" in item["properties"]["excludedDisks"][0]["reason"]


def test_a_failed_migration_leaves_the_item_on_its_standard_policy(
    vmvault, vmvault_json, tmp_path: Path
) -> None:
    lab = _setup(vmvault, tmp_path)
    disk = _vm(lab, "app")
    vmvault(
        "protection", "enable-for-vm", "--vault-name", "v1", "--vm", "app", "--policy-name", "std"
    )
    _wait(
        vmvault,
        vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "app"),
    )
    before = vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "app")
    sha = _sha(disk)
    doc = json.loads((lab / "app.vm.json").read_text())
    doc["disks"][0]["data_access_auth"] = True  # the migration's backup must fail
    (lab / "app.vm.json").write_text(json.dumps(doc))
    job = vmvault_json(
        "protection",
        "migrate",
        "--vault-name",
        "v1",
        "--item-name",
        "app",
        "--policy-name",
        "enh",
        "--yes",
    )
    failed = json.loads(_wait(vmvault, job, ok=False).stdout)
    assert failed["properties"]["status"] == "Failed"
    assert failed["properties"]["errorDetails"][0]["errorCode"] == (
        "UserErrorDiskDataAccessAuthNotSupported"
    )
    item = vmvault_json("item", "show", "--vault-name", "v1", "--name", "app")
    assert item["properties"]["policyName"] == "std"
    assert (
        vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "app") == before
    )
    out = tmp_path / "out"
    restore = vmvault_json(
        "restore",
        "restore-disks",
        "--vault-name",
        "v1",
        "--item-name",
        "app",
        "--rp-name",
        before[0]["name"],
        "--target-dir",
        str(out),
        "--source-tier",
        "Vault",
    )
    _wait(vmvault, restore)
    assert _sha(out / "app-os.raw") == sha
