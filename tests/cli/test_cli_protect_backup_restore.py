"""Issue 4 end to end through the CLI: a two-disk VM (raw OS disk, qcow2 data disk) under an
Enhanced policy; on-demand backups through the snapshot and vault tiers; restores of all disks
and of one disk from either tier, compared bit-exact; and the protection rules' errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

MiB = 1024 * 1024


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _qcow2_sha(path: Path, tmp: Path) -> str:
    raw = tmp / f"{path.name}.{os.getpid()}.check.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(path), str(raw)], check=True)
    try:
        return _sha(raw)
    finally:
        raw.unlink()


def _write_manifest(
    folder: Path, name: str, disks: list[dict[str, object]], **flags: object
) -> None:
    doc = {
        "name": name,
        "managed": True,
        "trusted_launch": False,
        "os_type": "Linux",
        "disks": disks,
        **flags,
    }
    (folder / f"{name}.vm.json").write_text(json.dumps(doc))


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    folder = tmp_path / "lab"
    folder.mkdir()
    with open(folder / "web01-os.raw", "wb") as f:
        f.truncate(32 * MiB)
        f.seek(MiB)
        f.write(os.urandom(3 * MiB))
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", str(folder / "web01-data0.qcow2"), "16M"],
        check=True,
    )
    subprocess.run(
        ["qemu-io", "-c", "write -P 0x42 2M 2M", str(folder / "web01-data0.qcow2")],
        check=True,
        capture_output=True,
    )
    _write_manifest(
        folder,
        "web01",
        [
            {"lun": -1, "name": "web01-os", "path": "web01-os.raw", "type": "premium_ssd"},
            {"lun": 0, "name": "web01-data0", "path": "web01-data0.qcow2", "type": "ultra_ssd"},
        ],
    )
    return folder


def _job(vmvault_json, *args: str) -> dict:
    job = vmvault_json(*args)
    return vmvault_json("job", "wait", "--vault-name", "v1", "--name", job["name"])


def _points(vmvault_json) -> list[dict]:
    return vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "web01")


def _restore(vmvault_json, rp: str, target: Path, *extra: str) -> dict:
    return _job(
        vmvault_json,
        "restore",
        "restore-disks",
        "--vault-name",
        "v1",
        "--item-name",
        "web01",
        "--rp-name",
        rp,
        "--target-dir",
        str(target),
        *extra,
    )


def test_enhanced_backup_and_restore_bit_exact(vmvault, vmvault_json, lab: Path, tmp_path) -> None:
    vmvault("vault", "create", "--name", "v1")
    vmvault(
        "policy", "create", "--vault-name", "v1", "--name", "enhanced", "--sub-type", "Enhanced"
    )
    vmvault("source", "add", "--name", "lab", "--type", "files", "--path", str(lab))
    vms = vmvault_json("vm", "list", "--source", "lab")
    assert [vm["id"] for vm in vms] == ["lab/web01"]
    item = vmvault_json(
        "protection",
        "enable-for-vm",
        "--vault-name",
        "v1",
        "--vm",
        "lab/web01",
        "--policy-name",
        "enhanced",
    )
    assert item["properties"]["policyName"] == "enhanced"
    assert item["properties"]["policyType"] == "V2"

    first = _job(
        vmvault_json, "protection", "backup-now", "--vault-name", "v1", "--item-name", "web01"
    )
    assert first["properties"]["status"] == "Completed"
    assert first["properties"]["operation"] == "Backup"
    tasks = first["properties"]["extendedInfo"]["tasksList"]
    assert [(t["taskId"], t["status"]) for t in tasks] == [
        ("Take Snapshot", "Completed"),
        ("Transfer data to vault", "Completed"),
    ]
    os_sha1, data_sha1 = _sha(lab / "web01-os.raw"), _qcow2_sha(lab / "web01-data0.qcow2", tmp_path)

    (point1,) = _points(vmvault_json)
    tiers = {t["type"] for t in point1["properties"]["recoveryPointTierDetails"]}
    assert tiers == {"InstantRP", "HardenedRP"}
    disks = point1["properties"]["recoveryPointDiskConfiguration"]
    assert [d["lun"] for d in disks["includedDiskList"]] == [-1, 0]

    # change both disks, back up again
    with open(lab / "web01-os.raw", "r+b") as f:
        f.seek(10 * MiB)
        f.write(os.urandom(MiB))
    subprocess.run(
        ["qemu-io", "-c", "write -P 0x77 8M 1M", str(lab / "web01-data0.qcow2")],
        check=True,
        capture_output=True,
    )
    _job(vmvault_json, "protection", "backup-now", "--vault-name", "v1", "--item-name", "web01")
    points = _points(vmvault_json)
    assert len(points) == 2 and points[1]["name"] == point1["name"]  # newest first
    point2 = points[0]

    for tier in ("Snapshot", "Vault"):
        out = tmp_path / f"rp1-{tier}"
        done = _restore(vmvault_json, point1["name"], out, "--source-tier", tier)
        assert done["properties"]["status"] == "Completed"
        assert _sha(out / "web01-os.raw") == os_sha1
        assert _qcow2_sha(out / "web01-data0.qcow2", tmp_path) == data_sha1
    out2 = tmp_path / "rp2"
    _restore(vmvault_json, point2["name"], out2, "--source-tier", "Vault")
    assert _sha(out2 / "web01-os.raw") == _sha(lab / "web01-os.raw")
    assert _qcow2_sha(out2 / "web01-data0.qcow2", tmp_path) == _qcow2_sha(
        lab / "web01-data0.qcow2", tmp_path
    )
    one = tmp_path / "only-data"
    _restore(vmvault_json, point2["name"], one, "--diskslist", "0")
    assert sorted(p.name for p in one.iterdir()) == ["web01-data0.qcow2"]
    os_only = tmp_path / "only-os"
    _restore(vmvault_json, point1["name"], os_only, "--restore-only-osdisk")
    assert sorted(p.name for p in os_only.iterdir()) == ["web01-os.raw"]

    jobs = vmvault_json("job", "list", "--vault-name", "v1", "--operation", "Restore")
    assert len(jobs) == 5 and all(j["properties"]["status"] == "Completed" for j in jobs)
    shown = vmvault_json("item", "show", "--vault-name", "v1", "--name", "web01")
    assert shown["properties"]["lastBackupStatus"] == "Completed"
    assert shown["properties"]["latestRecoveryPoint"] == point2["properties"]["recoveryPointTime"]

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep").write_text("x")
    refused = vmvault(
        "restore",
        "restore-disks",
        "--vault-name",
        "v1",
        "--item-name",
        "web01",
        "--rp-name",
        point1["name"],
        "--target-dir",
        str(busy),
        ok=False,
    )
    assert refused.returncode != 0 and "is not an empty folder" in refused.stderr
    assert (busy / "keep").read_text() == "x"


def test_protection_rules_and_bad_input(vmvault, vmvault_json, lab: Path, tmp_path) -> None:
    _write_manifest(
        lab,
        "tl01",
        [{"lun": -1, "name": "tl01-os", "path": "web01-os.raw", "type": "standard_ssd"}],
        trusted_launch=True,
    )
    _write_manifest(
        lab,
        "shared01",
        [
            {"lun": -1, "name": "s-os", "path": "web01-os.raw", "type": "standard_ssd"},
            {
                "lun": 1,
                "name": "s-shared",
                "path": "web01-data0.qcow2",
                "type": "standard_ssd",
                "shared": True,
            },
        ],
    )
    _write_manifest(
        lab,
        "dax01",
        [
            {
                "lun": -1,
                "name": "d-os",
                "path": "web01-os.raw",
                "type": "standard_ssd",
                "data_access_auth": True,
            }
        ],
    )
    (lab / "broken.vm.yaml").write_text("name: broken\ndisks: [{lun: -1, type: floppy}]\n")
    vmvault("vault", "create", "--name", "v1")
    vmvault(
        "policy", "create", "--vault-name", "v1", "--name", "standard", "--sub-type", "Standard"
    )
    vmvault(
        "policy", "create", "--vault-name", "v1", "--name", "enhanced", "--sub-type", "Enhanced"
    )
    vmvault("source", "add", "--name", "lab", "--type", "files", "--path", str(lab))

    listed = vmvault("vm", "list", "--output", "json")
    assert {vm["name"] for vm in json.loads(listed.stdout)} == {
        "web01",
        "tl01",
        "shared01",
        "dax01",
    }
    assert "broken.vm.yaml" in listed.stderr

    def refused(*args: str) -> str:
        proc = vmvault(*args, ok=False)
        assert proc.returncode != 0 and proc.stdout == ""
        return proc.stderr

    assert "UserErrorTrustedLaunchVMNeedsEnhancedPolicy" in refused(
        "protection",
        "enable-for-vm",
        "--vault-name",
        "v1",
        "--vm",
        "tl01",
        "--policy-name",
        "standard",
    )
    assert "UserErrorUnsupportedDiskTypeForStandardPolicy" in refused(
        "protection",
        "enable-for-vm",
        "--vault-name",
        "v1",
        "--vm",
        "web01",
        "--policy-name",
        "standard",
    )
    assert "UserErrorSharedDiskNotSupportedForStandardPolicy" in refused(
        "protection",
        "enable-for-vm",
        "--vault-name",
        "v1",
        "--vm",
        "shared01",
        "--policy-name",
        "standard",
    )
    assert "--diskslist 7 is not a LUN" in refused(
        "protection",
        "enable-for-vm",
        "--vault-name",
        "v1",
        "--vm",
        "web01",
        "--policy-name",
        "enhanced",
        "--disk-list-setting",
        "include",
        "--diskslist",
        "7",
    )
    assert "was not found" in refused(
        "protection",
        "enable-for-vm",
        "--vault-name",
        "v1",
        "--vm",
        "nope",
        "--policy-name",
        "enhanced",
    )
    assert "ResourceNotFound" in refused(
        "protection",
        "enable-for-vm",
        "--vault-name",
        "nope",
        "--vm",
        "web01",
        "--policy-name",
        "enhanced",
    )
    assert vmvault_json("item", "list", "--vault-name", "v1") == []

    # Enhanced excludes the shared disk automatically and records why
    item = vmvault_json(
        "protection",
        "enable-for-vm",
        "--vault-name",
        "v1",
        "--vm",
        "shared01",
        "--policy-name",
        "enhanced",
    )
    assert item["properties"]["excludedDisks"][0]["lun"] == 1
    assert "shared disk" in item["properties"]["excludedDisks"][0]["reason"]
    done = _job_of(vmvault_json, "shared01")
    assert done["properties"]["status"] == "Completed"
    (point,) = vmvault_json(
        "recoverypoint", "list", "--vault-name", "v1", "--item-name", "shared01"
    )
    excluded = point["properties"]["recoveryPointDiskConfiguration"]["excludedDiskList"]
    assert [d["lun"] for d in excluded] == [1] and "shared" in excluded[0]["reason"]

    # a disk with data access authentication fails its backups with a clear code
    vmvault(
        "protection",
        "enable-for-vm",
        "--vault-name",
        "v1",
        "--vm",
        "dax01",
        "--policy-name",
        "enhanced",
    )
    failed = _job_of(vmvault_json, "dax01", ok=False)
    assert failed["properties"]["status"] == "Failed"
    assert (
        failed["properties"]["errorDetails"][0]["errorCode"]
        == "UserErrorDiskDataAccessAuthNotSupported"
    )

    # selective disk backup and no way back from Enhanced to Standard
    vmvault(
        "protection",
        "enable-for-vm",
        "--vault-name",
        "v1",
        "--vm",
        "web01",
        "--policy-name",
        "enhanced",
        "--disk-list-setting",
        "exclude",
        "--diskslist",
        "0",
    )
    web = vmvault_json("item", "show", "--vault-name", "v1", "--name", "web01")
    assert [d["lun"] for d in web["properties"]["includedDisks"]] == [-1]
    assert "UserErrorEnhancedToStandardPolicyChangeNotAllowed" in refused(
        "item", "set-policy", "--vault-name", "v1", "--name", "web01", "--policy-name", "standard"
    )
    assert (
        vmvault_json("item", "show", "--vault-name", "v1", "--name", "web01")["properties"][
            "policyName"
        ]
        == "enhanced"
    )

    # a disk file that vanished between discovery and backup
    (lab / "web01-os.raw").rename(lab / "moved-away.raw")
    vanished = _job_of(vmvault_json, "web01", ok=False)
    assert vanished["properties"]["status"] == "Failed"
    assert "web01-os.raw" in vanished["properties"]["errorDetails"][0]["errorString"]
    assert "BMSUserErrorItemNotFound" in refused(
        "protection", "backup-now", "--vault-name", "v1", "--item-name", "ghost"
    )
    assert "BMSUserErrorRecoveryPointNotFound" in refused(
        "restore",
        "restore-disks",
        "--vault-name",
        "v1",
        "--item-name",
        "shared01",
        "--rp-name",
        "rp-nope",
        "--target-dir",
        str(tmp_path / "never"),
    )
    assert not (tmp_path / "never").exists()


def _job_of(vmvault_json, item: str, ok: bool = True) -> dict:
    job = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", item)
    return vmvault_json("job", "show", "--vault-name", "v1", "--name", _wait(vmvault_json, job, ok))


def _wait(vmvault_json, job: dict, ok: bool) -> str:
    try:
        vmvault_json("job", "wait", "--vault-name", "v1", "--name", job["name"])
    except AssertionError:
        if ok:
            raise
    return job["name"]


def _protect_web01(vmvault, lab: Path) -> None:
    """Vault v1, an Enhanced policy, the lab source, and web01 protected."""
    vmvault("vault", "create", "--name", "v1")
    vmvault("policy", "create", "--vault-name", "v1", "--name", "enh", "--sub-type", "Enhanced")
    vmvault("source", "add", "--name", "lab", "--type", "files", "--path", str(lab))
    vmvault(
        "protection", "enable-for-vm", "--vault-name", "v1", "--vm", "lab/web01",
        "--policy-name", "enh",
    )  # fmt: skip


@pytest.mark.timed_waits
def test_serve_runs_the_backup_then_recompresses_its_new_chunks(
    vmvault, vmvault_json, lab: Path, tmp_path
) -> None:
    _protect_web01(vmvault, lab)
    vmvault("protection", "backup-now", "--vault-name", "v1", "--item-name", "web01")
    proc = vmvault("serve", "--tick", "0.2", "--run-for", "2")
    assert "Backup web01: Completed" in proc.stderr
    assert "vault v1: recompressed" in proc.stderr and ", 0 left" in proc.stderr
    again = vmvault_json("vault", "recompress", "--name", "v1", "--output", "json")
    assert again == {
        "points": 0, "chunks": 0, "rewrittenChunks": 0, "missingChunks": 0, "bytesBefore": 0,
        "bytesAfter": 0, "remainingChunks": 0, "problems": [],
    }  # fmt: skip
    assert vmvault_json("vault", "check", "--name", "v1", "--read-data", "--output", "json")["ok"]
    (point,) = _points(vmvault_json)
    out = tmp_path / "after-recompress"
    _restore(vmvault_json, point["name"], out, "--source-tier", "Vault")
    assert _sha(out / "web01-os.raw") == _sha(lab / "web01-os.raw")
    assert _qcow2_sha(out / "web01-data0.qcow2", tmp_path) == _qcow2_sha(
        lab / "web01-data0.qcow2", tmp_path
    )


def test_vault_recompress_settles_a_backups_chunks(vmvault, vmvault_json, lab: Path) -> None:
    _protect_web01(vmvault, lab)
    _job(vmvault_json, "protection", "backup-now", "--vault-name", "v1", "--item-name", "web01")
    done = vmvault_json("vault", "recompress", "--name", "v1", "--output", "json")
    assert done["points"] == 1 and done["chunks"] > 0 and done["remainingChunks"] == 0
    assert done["bytesAfter"] <= done["bytesBefore"] and done["problems"] == []
    bad = vmvault("vault", "recompress", "--name", "v1", "--budget", "-1", ok=False)
    assert bad.returncode != 0 and "--budget" in bad.stderr


def test_incrementals_on_xfs_read_only_what_changed_since_the_last_snapshot(
    vmvault, vmvault_json, xfs: Path, tmp_path
) -> None:
    """On a reflink filesystem the snapshots' block maps tell the backup what changed: the
    second backup reads one 4 MiB chunk of a 64 MiB disk, and restores bit-exact."""
    lab = xfs / "hinted-lab"
    lab.mkdir()
    disk = lab / "web01-os.raw"
    with open(disk, "wb") as f:
        for i in range(16):
            f.write(hashlib.sha256(str(i).encode()).digest() * (4 * MiB // 32))
    _write_manifest(
        lab,
        "web01",
        [{"lun": -1, "name": "web01-os", "path": "web01-os.raw", "type": "premium_ssd"}],
    )
    _protect_web01(vmvault, lab)
    backup = ("protection", "backup-now", "--vault-name", "v1", "--item-name", "web01")
    first = _job(vmvault_json, *backup)
    assert first["properties"]["extendedInfo"]["bytesTotal"] == 64 * MiB
    with open(disk, "r+b") as f:
        f.seek(37 * MiB)
        f.write(os.urandom(MiB))
    second = _job(vmvault_json, *backup)
    assert second["properties"]["status"] == "Completed"
    assert second["properties"]["extendedInfo"]["bytesTotal"] == 4 * MiB  # chunk 9 only
    newest = _points(vmvault_json)[0]["name"]
    out = tmp_path / "restored"
    _restore(vmvault_json, newest, out, "--source-tier", "Vault")
    assert _sha(out / "web01-os.raw") == _sha(disk)
