"""Issue 9 §3 through the CLI: rules that could be got around. A VM is protected by one vault
only; one folder is one source, and a source with protected items cannot be deleted; restore
targets are checked before a job is queued, so a refused restore queues nothing."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

MiB = 1024 * 1024


def _lab(folder: Path, name: str = "web01", data_disks: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    disks = [{"lun": -1, "name": f"{name}-os", "path": f"{name}-os.raw", "type": "premium_ssd"}]
    disks += [
        {"lun": lun, "name": f"{name}-data{lun}", "path": f"{name}-data{lun}.raw",
         "type": "standard_ssd"}
        for lun in range(data_disks)
    ]  # fmt: skip
    for disk in disks:
        with open(folder / str(disk["path"]), "wb") as f:
            f.truncate(8 * MiB)
            f.seek(MiB)
            f.write(os.urandom(MiB))
    doc = {"name": name, "managed": True, "os_type": "Linux", "disks": disks}
    (folder / f"{name}.vm.json").write_text(json.dumps(doc))
    return folder


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    return _lab(tmp_path / "lab")


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Mount points to unmount at the end (newest first)."""
    made: list[Path] = []
    yield made
    for point in reversed(made):
        subprocess.run(["umount", "-l", str(point)], check=False)


def _refused(vmvault, *args: str) -> str:
    proc = vmvault(*args, ok=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def _setup(vmvault, lab: Path, vaults: tuple[str, ...] = ("v1",)) -> None:
    for vault in vaults:
        vmvault("vault", "create", "--name", vault)
        for sub in ("Standard", "Enhanced"):
            vmvault("policy", "create", "--vault-name", vault, "--name", sub.lower(),
                    "--sub-type", sub)  # fmt: skip
    vmvault("source", "add", "--name", "lab", "--type", "files", "--path", str(lab))


def _enable(vmvault, vault: str, policy: str, **kw: bool):
    return vmvault(
        "protection", "enable-for-vm", "--vault-name", vault, "--vm", "lab/web01",
        "--policy-name", policy, **kw,
    )  # fmt: skip


def test_a_vm_is_protected_by_one_vault_only(vmvault, vmvault_json, lab: Path) -> None:
    _setup(vmvault, lab, ("v1", "v2"))
    _enable(vmvault, "v1", "enhanced")
    # The way around Enhanced -> Standard: protect it again in another vault under Standard.
    err = _refused(vmvault, "protection", "enable-for-vm", "--vault-name", "v2", "--vm",
                   "lab/web01", "--policy-name", "standard")  # fmt: skip
    assert "(UserErrorVmAlreadyProtected)" in err and "'v1'" in err
    assert "--delete-backup-data" in err
    assert vmvault_json("item", "list", "--vault-name", "v2") == []
    # Stopped with its points kept, it is still v1's.
    vmvault("protection", "disable", "--vault-name", "v1", "--item-name", "web01")
    err = _refused(vmvault, "protection", "enable-for-vm", "--vault-name", "v2", "--vm",
                   "web01", "--policy-name", "enhanced")  # fmt: skip
    assert "(UserErrorVmAlreadyProtected)" in err and "ProtectionStopped" in err
    # Its backup data deleted, the VM is free for another vault.
    vmvault("protection", "disable", "--vault-name", "v1", "--item-name", "web01",
            "--delete-backup-data")  # fmt: skip
    item = vmvault_json("protection", "enable-for-vm", "--vault-name", "v2", "--vm",
                        "lab/web01", "--policy-name", "standard")  # fmt: skip
    assert item["properties"]["policyName"] == "standard"


def test_one_folder_is_one_source(vmvault, vmvault_json, lab: Path, tmp_path, mounts) -> None:
    _setup(vmvault, lab)
    err = _refused(vmvault, "source", "add", "--name", "again", "--path", str(lab))
    assert "(UserErrorSourceLocationInUse)" in err and "'lab'" in err
    link = tmp_path / "link"
    link.symlink_to(lab)
    err = _refused(vmvault, "source", "add", "--name", "bylink", "--path", str(link))
    assert "(UserErrorSourceLocationInUse)" in err
    bound = tmp_path / "bound"
    bound.mkdir()
    subprocess.run(["mount", "--bind", str(lab), str(bound)], check=True)
    mounts.append(bound)
    err = _refused(vmvault, "source", "add", "--name", "bybind", "--path", str(bound))
    assert "(UserErrorSourceLocationInUse)" in err
    assert [s["name"] for s in vmvault_json("source", "list")] == ["lab"]


def test_source_delete_refused_while_it_has_protected_items(vmvault, vmvault_json, lab) -> None:
    _setup(vmvault, lab)
    _enable(vmvault, "v1", "enhanced")
    vmvault("protection", "disable", "--vault-name", "v1", "--item-name", "web01")
    err = _refused(vmvault, "source", "delete", "--name", "lab")
    assert "(UserErrorSourceHasProtectedItems)" in err and "web01" in err
    assert [s["name"] for s in vmvault_json("source", "list")] == ["lab"]
    vmvault("protection", "disable", "--vault-name", "v1", "--item-name", "web01",
            "--delete-backup-data")  # fmt: skip
    deleted = vmvault_json("source", "delete", "--name", "lab")
    assert deleted["deleted"] is True and deleted["path"] == str(lab)
    assert vmvault_json("source", "list") == []
    assert (lab / "web01.vm.json").is_file()  # the folder itself is never touched
    err = _refused(vmvault, "source", "delete", "--name", "lab")
    assert "was not found" in err


def _point(vmvault, vmvault_json, lab: Path) -> str:
    _setup(vmvault, lab)
    _enable(vmvault, "v1", "enhanced")
    job = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "web01")
    vmvault("job", "wait", "--vault-name", "v1", "--name", job["name"])
    points = vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "web01")
    return str(points[0]["name"])


def _restore_jobs(vmvault_json) -> list[dict]:
    return vmvault_json("job", "list", "--vault-name", "v1", "--operation", "Restore")


def test_restore_targets_are_checked_before_a_job_is_queued(
    vmvault, vmvault_json, lab: Path, tmp_path: Path, mounts
) -> None:
    rp = _point(vmvault, vmvault_json, lab)
    base = ("--vault-name", "v1", "--item-name", "web01", "--rp-name", rp)
    restore_vm = ("restore", "restore-vm", *base)
    err = _refused(vmvault, *restore_vm, "--target-vm-name", "web01")
    assert "(UserErrorVmAlreadyExists)" in err
    err = _refused(vmvault, *restore_vm, "--target-vm-name", "bad name!")
    assert "'bad name!' is not valid" in err
    (lab / "web02-os.raw").write_bytes(b"someone else's")
    err = _refused(vmvault, *restore_vm, "--target-vm-name", "web02")
    assert "(UserErrorFileExists)" in err and "web02-os.raw" in err

    restore_disks = ("restore", "restore-disks", *base)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    err = _refused(vmvault, *restore_disks, "--target-dir", str(blocker / "out"))
    assert "(UserErrorRestoreTargetNotWritable)" in err and str(blocker) in err
    readonly = tmp_path / "ro"
    readonly.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(readonly)], check=True)
    mounts.append(readonly)
    err = _refused(vmvault, *restore_disks, "--target-dir", str(readonly / "out"))
    assert "(UserErrorRestoreTargetNotWritable)" in err and "read-only" in err
    assert _restore_jobs(vmvault_json) == []

    # The source folder itself read-only: no new VM, no replacing disks.
    subprocess.run(["mount", "--bind", str(lab), str(lab)], check=True)
    mounts.append(lab)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(lab)], check=True)
    err = _refused(vmvault, *restore_vm, "--target-vm-name", "web03")
    assert "(UserErrorRestoreTargetNotWritable)" in err and "read-only" in err
    err = _refused(vmvault, *restore_vm, "--replace-existing")
    assert "(UserErrorRestoreTargetNotWritable)" in err
    assert _restore_jobs(vmvault_json) == []
    subprocess.run(["umount", str(lab)], check=True)
    mounts.remove(lab)

    # With every check passed, the restore is queued and runs.
    job = vmvault_json(*restore_vm, "--target-vm-name", "web03")
    done = vmvault_json("job", "wait", "--vault-name", "v1", "--name", job["name"])
    assert done["properties"]["status"] == "Completed"
    assert (lab / "web03.vm.yaml").is_file()
