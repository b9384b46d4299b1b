"""Issue 9 §1 through the services, on real files: a snapshot-tier restore is verified
against the hashes recorded for its point (falling back to the vault, or failing, on a
mismatch), a damaged snapshot is shown Invalid, check and gc compare the catalog with the
vault, check --repair rewrites a damaged chunk from a snapshot, and a vault's config is pinned
by the catalog."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vmvault.catalog.models import VaultRow
from vmvault.clock import FakeClock
from vmvault.config import load_settings
from vmvault.domain.builder import PolicyFlags
from vmvault.domain.errors import InvalidInputError
from vmvault.services.context import Services
from vmvault.services.jobs import worker_id
from vmvault.services.policies import document_from_flags
from vmvault.vault import format as fmt
from vmvault.vault.errors import CatalogMismatchError, ConfigTamperedError

MiB = 1024 * 1024
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
ME = worker_id("test")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _open(tmp_path: Path, clock: FakeClock, passphrase: str | None = None) -> Services:
    env = {"VMVAULT_HOME": str(tmp_path / "home")}
    if passphrase:
        env["VMVAULT_PASSPHRASE"] = passphrase
    return Services.open(load_settings(env), clock)


def _setup(svc: Services, tmp_path: Path, *, passphrase: str | None = None) -> Path:
    lab = tmp_path / "lab"
    lab.mkdir()
    with open(lab / "web01-os.raw", "wb") as f:
        f.truncate(8 * MiB)
        f.write(os.urandom(MiB))
        f.seek(5 * MiB)
        f.write(os.urandom(MiB))
    (lab / "web01.vm.yaml").write_text(
        "name: web01\ndisks:\n"
        "  - {lun: -1, name: web01-os, path: web01-os.raw, type: premium_ssd}\n"
    )
    flags = PolicyFlags(
        sub_type="Enhanced", frequency="Hourly", interval=4, window_start="00:00",
        window_duration=24, time_zone="UTC", instant_rp_days=2, daily_retention=7,
        weekly_retention=0, weekly_days=[], monthly_retention=0, yearly_retention=0,
    )  # fmt: skip
    svc.vaults.create("v1", passphrase=passphrase, chunk_size=256 * 1024)
    svc.policies.create("v1", "every4h", document_from_flags(flags))
    svc.sources.add("lab", "files", str(lab))
    svc.items.enable("v1", "lab/web01", "every4h")
    return lab


def _backup(svc: Services) -> str:
    job = svc.backups.backup_now("v1", "web01", None)
    assert svc.jobs.run_one(ME, job.id) is not None
    assert svc.jobs.get("v1", job.id).status == "Completed"
    return svc.items.items.points(svc.items.get("v1", "web01").record.id)[-1].name


def _restore(svc: Services, point: str, target: Path, tier: str | None = None):  # type: ignore[no-untyped-def]
    job = svc.restores.restore_disks("v1", "web01", point, str(target), source_tier=tier)
    svc.jobs.run_one(ME, job.id)
    return svc.jobs.get("v1", job.id)


def _snapshot_disk(lab: Path, point: str) -> Path:
    (disk,) = (lab / ".vmvault-snapshots" / "web01" / point).glob("web01-os*")
    return disk


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


def _tier_status(svc: Services, point: str) -> dict[str, str]:
    arm = svc.points.to_arm(svc.points.get("v1", "web01", point))
    return {t["type"]: t["status"] for t in arm["properties"]["recoveryPointTierDetails"]}


def test_a_flipped_byte_in_the_snapshot_falls_back_to_the_vault_bit_exact(
    tmp_path: Path,
) -> None:
    svc = _open(tmp_path, FakeClock(START))
    lab = _setup(svc, tmp_path)
    point = _backup(svc)
    _flip(_snapshot_disk(lab, point), 5 * MiB + 17)
    job = _restore(svc, point, tmp_path / "out")
    assert job.status == "Completed"
    assert _sha(tmp_path / "out" / "web01-os.raw") == _sha(lab / "web01-os.raw")
    assert _tier_status(svc, point) == {"InstantRP": "Invalid", "HardenedRP": "Valid"}
    again = svc.restores.restore_disks("v1", "web01", point, str(tmp_path / "out2"))
    assert again.params["tier"] == "vault"  # the damaged snapshot is no longer chosen
    with pytest.raises(InvalidInputError, match="damaged or gone") as refused:
        svc.restores.restore_disks(
            "v1", "web01", point, str(tmp_path / "out3"), source_tier="Snapshot"
        )
    assert refused.value.code == "UserErrorSnapshotCorrupt"


def test_a_snapshot_gone_makes_the_default_restore_use_the_vault(tmp_path: Path) -> None:
    svc = _open(tmp_path, FakeClock(START))
    lab = _setup(svc, tmp_path)
    point = _backup(svc)
    shutil.rmtree(lab / ".vmvault-snapshots" / "web01" / point)
    job = _restore(svc, point, tmp_path / "out")
    assert job.params["tier"] == "vault" and job.status == "Completed"
    assert _sha(tmp_path / "out" / "web01-os.raw") == _sha(lab / "web01-os.raw")
    assert _tier_status(svc, point)["InstantRP"] == "Invalid"


def test_a_damaged_snapshot_only_point_fails_with_a_clear_code(tmp_path: Path) -> None:
    clock = FakeClock(START)
    svc = _open(tmp_path, clock, "pw")
    lab = _setup(svc, tmp_path, passphrase="pw")
    while clock.now() < START + timedelta(hours=13):
        clock.advance(timedelta(hours=1))
        svc.scheduling.enqueue_due()
        while svc.jobs.run_one(ME) is not None:
            pass
    points = svc.items.items.points(svc.items.get("v1", "web01").record.id)
    only = [p for p in points if p.snapshot_present and not p.vault_present]
    assert only and only[0].snapshot_hashes  # recorded by reading the snapshot at backup
    good = _restore(svc, only[0].name, tmp_path / "good")
    assert good.status == "Completed"
    _flip(_snapshot_disk(lab, only[0].name), 17)
    job = _restore(svc, only[0].name, tmp_path / "out")
    assert job.status == "Failed" and job.error_code == "UserErrorSnapshotCorrupt"
    assert "is damaged" in (job.error_message or "")
    assert _tier_status(svc, only[0].name) == {"InstantRP": "Invalid"}


def test_check_and_gc_name_a_catalogued_point_missing_from_the_vault(tmp_path: Path) -> None:
    svc = _open(tmp_path, FakeClock(START))
    _setup(svc, tmp_path)
    point = _backup(svc)
    assert svc.vault_data.check("v1", None, read_data=False).ok
    store = tmp_path / "home" / "vaults" / "v1"
    (store / fmt.manifest_name("web01", point)).unlink()
    report = svc.vault_data.check("v1", None, read_data=False)
    (problem,) = report.problems
    assert problem.kind == "missing-point" and f"web01/{point}" in problem.message
    chunks = sorted((store / "chunks").rglob("*"))
    svc.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    with pytest.raises(CatalogMismatchError, match="refused, nothing was deleted"):
        svc.vault_data.collect_garbage("v1", None, dry_run=False)
    assert sorted((store / "chunks").rglob("*")) == chunks


def test_repair_rewrites_a_damaged_chunk_from_the_snapshot(tmp_path: Path) -> None:
    svc = _open(tmp_path, FakeClock(START), "pw")
    lab = _setup(svc, tmp_path, passphrase="pw")
    point = _backup(svc)
    store = tmp_path / "home" / "vaults" / "v1"
    victim = sorted(p for p in (store / "chunks").rglob("*") if p.is_file())[0]
    _flip(victim, victim.stat().st_size // 2)
    assert [p.kind for p in svc.vault_data.check("v1", "pw", read_data=True).problems] == [
        "corrupt-chunk"
    ]
    report = svc.vault_data.check("v1", "pw", read_data=True, repair=True)
    assert report.ok and report.repaired == [victim.name]
    job = _restore(svc, point, tmp_path / "out", "Vault")
    assert job.status == "Completed"
    assert _sha(tmp_path / "out" / "web01-os.raw") == _sha(lab / "web01-os.raw")


def test_a_backup_after_bit_rot_stores_a_good_copy(tmp_path: Path) -> None:
    svc = _open(tmp_path, FakeClock(START))
    lab = _setup(svc, tmp_path)
    _backup(svc)
    store = tmp_path / "home" / "vaults" / "v1"
    victim = sorted(p for p in (store / "chunks").rglob("*") if p.is_file())[0]
    _flip(victim, victim.stat().st_size // 2)
    assert not svc.vault_data.check("v1", None, read_data=True).ok
    shutil.rmtree(lab / ".vmvault-snapshots")  # no snapshot to repair from
    point = _backup(svc)
    assert svc.vault_data.check("v1", None, read_data=True).ok
    job = _restore(svc, point, tmp_path / "out", "Vault")
    assert job.status == "Completed"
    assert _sha(tmp_path / "out" / "web01-os.raw") == _sha(lab / "web01-os.raw")


def test_an_encrypted_vault_whose_config_says_none_is_refused(tmp_path: Path) -> None:
    svc = _open(tmp_path, FakeClock(START), "pw")
    _setup(svc, tmp_path, passphrase="pw")
    config_path = tmp_path / "home" / "vaults" / "v1" / "config"
    config = json.loads(config_path.read_text())
    config["encryption"] = "none"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    with pytest.raises(ConfigTamperedError, match="is encrypted but the config"):
        svc.vaults.open_data("v1", "pw")
    job = svc.backups.backup_now("v1", "web01", None)
    svc.jobs.run_one(ME, job.id)
    assert svc.jobs.get("v1", job.id).error_code == "VaultConfigTampered"
    assert not list((tmp_path / "home" / "vaults" / "v1").glob("chunks/*/*"))


def test_an_edited_config_of_a_plain_vault_is_refused(tmp_path: Path) -> None:
    svc = _open(tmp_path, FakeClock(START))
    _setup(svc, tmp_path)
    config_path = tmp_path / "home" / "vaults" / "v1" / "config"
    config = json.loads(config_path.read_text())
    config["chunk_size"] = 1024 * 1024
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    with pytest.raises(ConfigTamperedError, match="was changed since the vault was created"):
        svc.vault_data.check("v1", None, read_data=False)


def test_a_vault_catalogued_before_pins_is_pinned_at_its_next_open(tmp_path: Path) -> None:
    svc = _open(tmp_path, FakeClock(START), "pw")
    svc.vaults.create("v1", passphrase="pw")
    record = svc.vaults.get("v1")
    with svc.catalog.session() as s, s.begin():  # as the 0003 migration leaves an old row
        s.get_one(VaultRow, record.id).encrypted = None
        s.get_one(VaultRow, record.id).config_hash = None
    svc.vaults.open_data("v1", "pw")
    pinned = svc.vaults.get("v1")
    assert pinned.encrypted is True and pinned.config_hash
    config_path = tmp_path / "home" / "vaults" / "v1" / "config"
    config = json.loads(config_path.read_text())
    config["encryption"] = "none"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    with pytest.raises(ConfigTamperedError):
        svc.vaults.open_data("v1", None)
