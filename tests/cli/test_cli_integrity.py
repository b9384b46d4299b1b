"""Issue 9 §1 as a user sees it: a flipped byte in a snapshot file never reaches a restored
disk, `vault check` names a point whose manifest was deleted (exit 3), `vault gc` refuses in
one line, and an edited config is refused."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

MiB = 1024 * 1024


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    folder = tmp_path / "lab"
    folder.mkdir()
    with open(folder / "web01-os.raw", "wb") as f:
        f.truncate(16 * MiB)
        f.seek(MiB)
        f.write(os.urandom(2 * MiB))
    (folder / "web01.vm.yaml").write_text(
        "name: web01\ndisks:\n"
        "  - {lun: -1, name: web01-os, path: web01-os.raw, type: premium_ssd}\n"
    )
    return folder


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _protect_and_back_up(vmvault, vmvault_json, lab: Path) -> str:  # type: ignore[no-untyped-def]
    vmvault("vault", "create", "--name", "v1", "--chunk-size-kib", "256")
    vmvault("policy", "create", "--vault-name", "v1", "--name", "enh", "--sub-type", "Enhanced")
    vmvault("source", "add", "--name", "lab", "--type", "files", "--path", str(lab))
    vmvault(
        "protection", "enable-for-vm", "--vault-name", "v1", "--vm", "lab/web01",
        "--policy-name", "enh",
    )  # fmt: skip
    job = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "web01")
    done = vmvault_json("job", "wait", "--vault-name", "v1", "--name", job["name"])
    assert done["properties"]["status"] == "Completed"
    (point,) = vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "web01")
    return str(point["name"])


def test_restore_after_a_flipped_byte_in_the_snapshot_is_bit_exact(
    vmvault, vmvault_json, lab: Path, tmp_path: Path
) -> None:
    point = _protect_and_back_up(vmvault, vmvault_json, lab)
    (snap,) = (lab / ".vmvault-snapshots" / "web01" / point).glob("web01-os*")
    with open(snap, "r+b") as f:
        f.seek(MiB + 100)
        byte = f.read(1)
        f.seek(MiB + 100)
        f.write(bytes([byte[0] ^ 0x01]))
    out = tmp_path / "out"
    job = vmvault_json(
        "restore", "restore-disks", "--vault-name", "v1", "--item-name", "web01",
        "--rp-name", point, "--target-dir", str(out),
    )  # fmt: skip
    done = vmvault_json("job", "wait", "--vault-name", "v1", "--name", job["name"])
    assert done["properties"]["status"] == "Completed"
    assert _sha(out / "web01-os.raw") == _sha(lab / "web01-os.raw")
    shown = vmvault_json(
        "recoverypoint", "show", "--vault-name", "v1", "--item-name", "web01", "--name", point
    )
    tiers = {t["type"]: t["status"] for t in shown["properties"]["recoveryPointTierDetails"]}
    assert tiers == {"InstantRP": "Invalid", "HardenedRP": "Valid"}


def test_check_names_a_point_whose_manifest_was_deleted_and_gc_refuses(
    vmvault, vmvault_json, lab: Path, home: Path
) -> None:
    point = _protect_and_back_up(vmvault, vmvault_json, lab)
    assert vmvault("vault", "check", "--name", "v1").returncode == 0
    (home / "vaults" / "v1" / "points" / "web01" / point / "manifest").unlink()
    check = vmvault("vault", "check", "--name", "v1", "--output", "json", ok=False)
    assert check.returncode == 3
    (problem,) = json.loads(check.stdout)["problems"]
    assert problem["kind"] == "missing-point" and f"web01/{point}" in problem["message"]
    gc = vmvault("vault", "gc", "--name", "v1", ok=False)
    assert gc.returncode == 1 and "Traceback" not in gc.stderr
    (line,) = gc.stderr.strip().splitlines()
    assert line.startswith("ERROR: (VaultCatalogMismatch)") and f"web01/{point}" in line


def test_an_edited_config_is_refused_in_one_line(
    vmvault, vmvault_json, lab: Path, home: Path
) -> None:
    _protect_and_back_up(vmvault, vmvault_json, lab)
    config = home / "vaults" / "v1" / "config"
    doc = json.loads(config.read_text())
    doc["chunk_size"] = 1024 * 1024
    config.write_text(json.dumps(doc, indent=2) + "\n")
    check = vmvault("vault", "check", "--name", "v1", ok=False)
    (line,) = check.stderr.strip().splitlines()
    assert check.returncode == 1 and line.startswith("ERROR: (VaultConfigTampered)")
