"""check, garbage collection, locks and every kind of damage: each gets a clear error naming
what is wrong, and nothing that is referenced is ever deleted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vault_helpers import CHUNK, MiB, mixed_data, sha256_file, write_image

from vmvault.clock import FakeClock
from vmvault.storage.local import LocalStorage
from vmvault.storage.memory import MemoryStorage
from vmvault.vault import format as fmt
from vmvault.vault.backup import DiskSource, backup_point
from vmvault.vault.check import _is_chunk, check_vault
from vmvault.vault.disks import Extent
from vmvault.vault.errors import (
    CorruptObjectError,
    MissingObjectError,
    VaultBusyError,
    VaultError,
    VaultFormatError,
    WrongPassphraseError,
)
from vmvault.vault.gc import MIN_AGE_FOR_GC, collect_garbage
from vmvault.vault.locks import backup_lock, gc_lock
from vmvault.vault.readers import open_disk
from vmvault.vault.repository import Vault
from vmvault.vault.restore import restore_disk

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def _image(tmp_path: Path, name: str, seed: int) -> Path:
    return write_image(
        tmp_path / name, 8 * MiB, {0: mixed_data(3 * CHUNK, seed), 4 * MiB: b"y" * CHUNK}
    )


def _point(vault: Vault, item: str, point: str, image: Path, when: datetime = NOW):
    with open_disk(image) as reader:
        return backup_point(vault, item, point, when, [DiskSource(-1, "os", reader)])


def _local(tmp_path: Path, passphrase: str | None = "pw") -> tuple[LocalStorage, Vault]:
    storage = LocalStorage(tmp_path / "vault")
    Vault.create(storage, NOW, passphrase=passphrase, chunk_size=CHUNK)
    return storage, Vault.open(storage, passphrase)


def test_check_passes_then_reports_a_missing_chunk_with_the_points_it_breaks(
    tmp_path: Path,
) -> None:
    storage, vault = _local(tmp_path)
    image = _image(tmp_path, "a.raw", 1)
    _point(vault, "web01", "rp1", image)
    _point(vault, "web01", "rp2", image)
    report = check_vault(vault, read_data=True)
    assert report.ok and report.points == 2 and report.chunks == 4
    victim = sorted(vault.chunk_names())[0]
    storage.delete(victim)
    report = check_vault(vault)
    assert not report.ok
    (problem,) = report.problems
    assert problem.kind == "missing-chunk" and problem.object == victim
    assert sorted(problem.breaks) == ["web01/rp1 disk -1 (os)", "web01/rp2 disk -1 (os)"]


@pytest.mark.parametrize("passphrase", [None, "pw"], ids=["plain", "encrypted"])
def test_read_data_finds_a_tampered_chunk(tmp_path: Path, passphrase: str | None) -> None:
    _, vault = _local(tmp_path, passphrase)
    _point(vault, "web01", "rp1", _image(tmp_path, "a.raw", 2))
    victim = sorted(vault.chunk_names())[1]
    path = tmp_path / "vault" / victim
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert check_vault(vault).ok  # existence only
    report = check_vault(vault, read_data=True)
    (problem,) = report.problems
    assert problem.kind == "corrupt-chunk" and problem.object == victim
    assert problem.breaks == ("web01/rp1 disk -1 (os)",)
    with pytest.raises(CorruptObjectError, match=victim.rsplit("/", 1)[1][:8]):
        vault.get_chunk(bytes.fromhex(victim.rsplit("/", 1)[1]))


def test_wrong_passphrase_and_missing_passphrase(tmp_path: Path) -> None:
    storage, _ = _local(tmp_path, "right")
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        Vault.open(storage, "wrong")
    with pytest.raises(VaultError, match="is encrypted: give its passphrase"):
        Vault.open(storage, None)


def test_truncated_manifest_and_index_are_named(tmp_path: Path) -> None:
    _, vault = _local(tmp_path)
    _point(vault, "web01", "rp1", _image(tmp_path, "a.raw", 3))
    manifest = tmp_path / "vault" / fmt.manifest_name("web01", "rp1")
    manifest.write_bytes(manifest.read_bytes()[:-10])
    with pytest.raises(CorruptObjectError, match=r"points/web01/rp1/manifest"):
        vault.read_manifest("web01", "rp1")
    report = check_vault(vault)
    assert report.problems[0].kind == "manifest"


def test_truncated_index_of_a_plain_vault_is_named(tmp_path: Path) -> None:
    _, vault = _local(tmp_path, None)
    manifest = _point(vault, "web01", "rp1", _image(tmp_path, "a.raw", 4))
    index = tmp_path / "vault" / fmt.index_name("web01", "rp1", -1)
    index.write_bytes(index.read_bytes()[:-7])
    with pytest.raises(CorruptObjectError, match=r"disk--1\.idx"):
        vault.read_index(manifest, -1)


def test_format_versions_are_never_guessed(tmp_path: Path) -> None:
    storage, _ = _local(tmp_path, None)
    config = json.loads(storage.get("config"))
    config["version"] = 2
    storage.put("config", json.dumps(config).encode())
    with pytest.raises(VaultFormatError, match=r"version 2 .* newer than this vmvault supports"):
        Vault.open(storage)
    config["version"] = 0
    storage.put("config", json.dumps(config).encode())
    with pytest.raises(VaultFormatError, match="version 0"):
        Vault.open(storage)
    with pytest.raises(VaultFormatError, match="not a vmvault vault"):
        Vault.open(LocalStorage(tmp_path / "empty"))


def test_create_refuses_an_existing_vault(tmp_path: Path) -> None:
    storage, _ = _local(tmp_path, None)
    with pytest.raises(VaultError, match="already holds a vault"):
        Vault.create(storage, NOW)


def test_gc_deletes_only_old_unreferenced_chunks(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    storage = MemoryStorage(now=clock.now)
    Vault.create(storage, NOW, chunk_size=CHUNK)
    vault = Vault.open(storage)
    _point(vault, "web01", "rp1", _image(tmp_path, "a.raw", 5))
    _point(vault, "web01", "rp2", _image(tmp_path, "b.raw", 6))
    shared = {n for n in vault.chunk_names()}
    vault.delete_point("web01", "rp1")  # prune
    young = collect_garbage(vault, clock.now())
    assert young.deleted_chunks == 0 and young.kept_young == 3  # rp1's own chunks, too young
    clock.advance(MIN_AGE_FOR_GC + timedelta(minutes=1))
    report = collect_garbage(vault, clock.now())
    assert report.deleted_chunks == 3
    left = set(vault.chunk_names())
    assert left < shared
    assert check_vault(vault, read_data=True).ok
    assert [r.point for r in vault.points()] == ["rp2"]


def test_gc_removes_leftovers_of_points_without_manifest(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    storage = MemoryStorage(now=clock.now)
    Vault.create(storage, NOW, chunk_size=CHUNK)
    vault = Vault.open(storage)
    _point(vault, "web01", "rp1", _image(tmp_path, "a.raw", 7))
    storage.delete(fmt.manifest_name("web01", "rp1"))  # as if a crash came before the manifest
    clock.advance(MIN_AGE_FOR_GC * 2)
    report = collect_garbage(vault, clock.now())
    # the leftovers: the disk index and the list of chunks still to recompress
    assert report.deleted_leftovers == 2 and report.deleted_chunks == 4
    assert list(storage.list("points/")) == []


def test_gc_deletes_nothing_when_a_manifest_is_unreadable(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    storage = MemoryStorage(now=clock.now)
    Vault.create(storage, NOW, chunk_size=CHUNK)
    vault = Vault.open(storage)
    _point(vault, "web01", "rp1", _image(tmp_path, "a.raw", 8))
    storage.put(fmt.manifest_name("web01", "rp1"), b"VMS1\x00{broken")
    clock.advance(MIN_AGE_FOR_GC * 2)
    before = set(vault.chunk_names())
    with pytest.raises(VaultError, match="stopped before deleting anything"):
        collect_garbage(vault, clock.now())
    assert set(vault.chunk_names()) == before


def test_gc_and_backup_exclude_each_other(tmp_path: Path) -> None:
    storage, vault = _local(tmp_path, None)
    image = _image(tmp_path, "a.raw", 9)
    with backup_lock(vault, NOW), pytest.raises(VaultBusyError, match="a backup is running"):
        collect_garbage(vault, NOW)
    with gc_lock(vault, NOW), pytest.raises(VaultBusyError, match="garbage collection"):
        _point(vault, "web01", "rp1", image)
    assert vault.points() == []
    assert list(storage.list("locks/")) == []
    # a lock left by a crashed process goes stale
    storage.put("locks/crashed", b'{"kind": "backup"}')
    report = collect_garbage(vault, datetime.now(UTC) + timedelta(hours=2))
    assert report.deleted_chunks == 0


def test_missing_point_is_reported_by_name(tmp_path: Path) -> None:
    _, vault = _local(tmp_path, None)
    with pytest.raises(MissingObjectError, match="web01/nope does not exist"):
        vault.read_manifest("web01", "nope")


@pytest.mark.parametrize("hints", [None, []], ids=["no hints", "hints: nothing changed"])
def test_a_chunk_lost_from_the_previous_point_is_stored_again_not_inherited(
    tmp_path: Path, hints: list[Extent] | None
) -> None:
    storage, vault = _local(tmp_path)
    image = _image(tmp_path, "a.raw", 11)
    first = _point(vault, "web01", "rp1", image)
    lost = next(n for n in vault.chunk_names() if _is_chunk(n))
    storage.delete(lost)
    assert not check_vault(vault).ok
    with open_disk(image) as reader:
        second = backup_point(
            vault, "web01", "rp2", NOW, [DiskSource(-1, "os", reader, changed=hints)],
            previous=first,
        )  # fmt: skip
    assert second.disks[0].new_chunks == 1 and storage.stat(lost).size > 0
    assert check_vault(vault, read_data=True).ok  # rp1 is whole again too
    for point in (first, second):
        out = restore_disk(vault, point, -1, tmp_path / f"{point.point}.raw").path
        assert sha256_file(out) == sha256_file(image)
