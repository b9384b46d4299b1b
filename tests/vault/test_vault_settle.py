"""Recompression: chunks a backup stored at the fast ingest level are settled at the smaller
level, verified, and restores stay bit-exact before, during and after."""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vault_helpers import CHUNK, MiB, sha256_file, write_image

from vmvault.clock import FakeClock
from vmvault.storage.base import Storage
from vmvault.storage.local import LocalStorage
from vmvault.storage.memory import MemoryStorage
from vmvault.storage.s3 import S3Storage
from vmvault.vault import format as fmt
from vmvault.vault.allocator import aligned_buffer
from vmvault.vault.backup import DiskSource, backup_point
from vmvault.vault.check import check_vault
from vmvault.vault.crypto import KeyRing, keyring_from_secret
from vmvault.vault.errors import CorruptObjectError, VaultBusyError
from vmvault.vault.gc import MIN_AGE_FOR_GC, collect_garbage
from vmvault.vault.locks import gc_lock
from vmvault.vault.manifest import PointManifest
from vmvault.vault.readers import open_disk
from vmvault.vault.repository import PointRef, Vault
from vmvault.vault.restore import restore_disk
from vmvault.vault.settle import recompress

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
WORDS = [
    w * (1 + i % 3) for i, w in enumerate(["alpha", "beta", "gamma", "delta", "vm", "disk", "lun"])
]


def text(n: int, seed: int) -> bytes:
    """Text-like bytes: zstd 3 stores them clearly smaller than zstd -5."""
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += f"{rnd.choice(WORDS)} {rnd.randrange(10**6)} ".encode()
    return bytes(out[:n])


def _image(tmp_path: Path, name: str, seed: int) -> Path:
    writes = {0: text(6 * CHUNK, seed), 5 * MiB: text(CHUNK, seed + 1)}
    return write_image(tmp_path / name, 8 * MiB, writes)


def _vault(storage: Storage, passphrase: str | None = "pw") -> Vault:
    Vault.create(storage, NOW, passphrase=passphrase, chunk_size=CHUNK)
    return Vault.open(storage, passphrase)


def _backup(vault: Vault, point: str, image: Path) -> PointManifest:
    with open_disk(image) as reader:
        return backup_point(vault, "web01", point, NOW, [DiskSource(-1, "os", reader)])


def _stored(vault: Vault) -> int:
    return sum(vault.storage.stat(n).size for n in vault.chunk_names())


@pytest.mark.parametrize("passphrase", ["pw", None])
def test_recompress_settles_new_chunks_smaller_and_restores_stay_bit_exact(
    tmp_path: Path, passphrase: str | None
) -> None:
    vault = _vault(LocalStorage(tmp_path / "vault"), passphrase)
    image = _image(tmp_path, "a.raw", 1)
    manifest = _backup(vault, "rp1", image)
    listed = vault.read_provisional(PointRef("web01", "rp1"))
    assert len(listed) == manifest.disks[0].new_chunks == 7
    assert vault.provisional_points() == [PointRef("web01", "rp1")]
    before = _stored(vault)

    report = recompress(vault, NOW)

    assert report.points == 1 and report.chunks == 7 and report.rewritten == 7
    assert report.remaining == 0 and report.missing == 0 and not report.problems
    assert report.bytes_before == before and report.bytes_after == _stored(vault) < before
    assert vault.provisional_points() == []
    assert not any(n.endswith("/provisional") for n in vault.storage.list("points/"))
    assert check_vault(vault, read_data=True).ok
    restored = restore_disk(vault, manifest, -1, tmp_path / "r.raw").path
    assert sha256_file(restored) == sha256_file(image)
    assert recompress(vault, NOW).chunks == 0  # nothing left to do


def test_only_chunks_the_backup_stored_are_listed(tmp_path: Path) -> None:
    vault = _vault(MemoryStorage())
    image = _image(tmp_path, "a.raw", 1)
    _backup(vault, "rp1", image)
    recompress(vault, NOW)
    with open(image, "r+b") as f:  # one chunk changes
        f.seek(2 * CHUNK)
        f.write(text(CHUNK, 99))
    second = _backup(vault, "rp2", image)
    assert second.disks[0].new_chunks == 1
    assert len(vault.read_provisional(PointRef("web01", "rp2"))) == 1


def test_a_deadline_leaves_the_rest_listed_for_the_next_pass(tmp_path: Path) -> None:
    vault = _vault(MemoryStorage())
    image = _image(tmp_path, "a.raw", 2)
    manifest = _backup(vault, "rp1", image)
    ticks = iter([0.0, 10.0])  # one batch, then the deadline has passed
    first = recompress(vault, NOW, workers=1, deadline=5.0, monotonic=lambda: next(ticks))
    assert first.chunks == 4 and first.remaining == 3 and first.points == 0
    assert len(vault.read_provisional(PointRef("web01", "rp1"))) == 3
    second = recompress(vault, NOW)
    assert second.chunks == 3 and second.remaining == 0 and second.points == 1
    assert check_vault(vault, read_data=True).ok
    restored = restore_disk(vault, manifest, -1, tmp_path / "r.raw").path
    assert sha256_file(restored) == sha256_file(image)


def test_a_missing_chunk_and_a_damaged_one_are_reported_and_left_alone(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path / "vault")
    vault = _vault(storage)
    _backup(vault, "rp1", _image(tmp_path, "a.raw", 3))
    ids = vault.read_provisional(PointRef("web01", "rp1"))
    storage.delete(fmt.chunk_name(ids[0]))
    damaged = fmt.chunk_name(ids[1])
    blob = bytearray(storage.get(damaged))
    blob[-1] ^= 1
    storage.put(damaged, bytes(blob))

    report = recompress(vault, NOW)

    assert report.missing == 1 and report.rewritten == 5
    missing, corrupt = sorted(report.problems, key=lambda p: ids[1].hex() in p)
    assert f"chunk {ids[0].hex()} of recovery point web01/rp1 is missing" == missing
    assert ids[1].hex() in corrupt and "fails authentication" in corrupt
    assert storage.get(damaged) == bytes(blob)  # untouched


def test_a_damaged_list_is_reported_and_dropped_and_other_points_still_settle(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path / "vault")
    vault = _vault(storage)
    image = _image(tmp_path, "a.raw", 8)
    _backup(vault, "rp1", image)
    with open(image, "r+b") as f:
        f.write(text(CHUNK, 80))
    _backup(vault, "rp2", image)
    name = fmt.provisional_name("web01", "rp1")
    storage.put(name, storage.get(name)[:-1])  # truncated
    report = recompress(vault, NOW)
    assert len(report.problems) == 1 and name in report.problems[0]
    assert report.points == 1 and report.rewritten == 1  # rp2 and its one new chunk
    assert vault.provisional_points() == [] and check_vault(vault, read_data=True).ok


def test_same_ingest_and_settled_level_writes_no_list(tmp_path: Path) -> None:
    vault = _vault(MemoryStorage())
    vault.keys = dataclasses.replace(vault.keys, ingest_level=vault.keys.compression_level)
    _backup(vault, "rp1", _image(tmp_path, "a.raw", 4))
    assert vault.provisional_points() == []


def test_recompression_does_not_run_beside_garbage_collection(tmp_path: Path) -> None:
    vault = _vault(MemoryStorage())
    _backup(vault, "rp1", _image(tmp_path, "a.raw", 5))
    with gc_lock(vault, NOW), pytest.raises(VaultBusyError, match="garbage collection"):
        recompress(vault, NOW)
    assert len(vault.read_provisional(PointRef("web01", "rp1"))) == 7


def test_deleting_a_point_deletes_its_list_and_gc_sweeps_a_failed_backups_list(
    tmp_path: Path,
) -> None:
    clock = FakeClock(NOW)
    vault = _vault(MemoryStorage(now=clock.now))  # objects stamped by the test's clock
    _backup(vault, "rp1", _image(tmp_path, "a.raw", 6))
    vault.delete_point("web01", "rp1")
    assert not list(vault.storage.list("points/"))
    # A backup that died after writing its list but before its manifest: the list is garbage.
    vault.write_provisional(PointRef("web01", "rp2"), [bytes(range(32))])
    assert vault.provisional_points() == []  # no manifest: never processed
    clock.advance(MIN_AGE_FOR_GC + timedelta(hours=1))
    report = collect_garbage(vault, clock.now())
    assert report.deleted_leftovers == 1 and not list(vault.storage.list("points/"))


def test_recompression_on_s3_over_http(
    make_s3: Callable[..., S3Storage], s3_bucket: str, tmp_path: Path
) -> None:
    vault = _vault(make_s3(s3_bucket, "vaults/settle"))
    image = _image(tmp_path, "a.raw", 7)
    manifest = _backup(vault, "rp1", image)
    before = _stored(vault)
    report = recompress(vault, NOW)
    assert report.rewritten == 7 and report.bytes_after == _stored(vault) < before
    assert vault.provisional_points() == [] and check_vault(vault, read_data=True).ok
    restored = restore_disk(vault, manifest, -1, tmp_path / "r.raw").path
    assert sha256_file(restored) == sha256_file(image)


@pytest.mark.parametrize("encrypted", [True, False])
def test_open_into_checks_the_size_of_what_it_opens(encrypted: bool) -> None:
    keys = keyring_from_secret(bytes(64)) if encrypted else KeyRing()
    buf = aligned_buffer(256 * 1024)
    text_blob = keys.seal("chunks/x", text(100_000, 1))  # compressed
    raw_blob = keys.seal("chunks/y", os.urandom(100_000))  # stored as it is
    assert bytes(keys.open_into("chunks/x", text_blob, buf, 100_000)) == text(100_000, 1)
    assert len(keys.open_into("chunks/y", raw_blob, buf, 100_000)) == 100_000
    for name, blob in (("chunks/x", text_blob), ("chunks/y", raw_blob)):
        for wrong in (99_999, 100_001):
            with pytest.raises(CorruptObjectError, match="damaged"):
                keys.open_into(name, blob, buf, wrong)
