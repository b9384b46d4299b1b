"""Backup and restore round trips, bit-exact, for raw and qcow2, sparse and dense, with and
without encryption; incremental behaviour with and without changed-extent hints."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from vault_helpers import (
    CHUNK,
    CountingReader,
    MiB,
    mixed_data,
    qcow2_to_raw_sha,
    sha256_file,
    write_image,
)

from vmvault.storage.local import LocalStorage
from vmvault.vault.backup import DiskSource, backup_point
from vmvault.vault.disks import Extent
from vmvault.vault.readers import open_disk
from vmvault.vault.repository import Vault
from vmvault.vault.restore import restore_disk

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def make_vault(tmp_path: Path, passphrase: str | None) -> Vault:
    storage = LocalStorage(tmp_path / "vault")
    Vault.create(storage, NOW, passphrase=passphrase, chunk_size=CHUNK)
    return Vault.open(storage, passphrase)


@pytest.fixture(params=[None, "correct horse"], ids=["plain", "encrypted"])
def vault(request: pytest.FixtureRequest, tmp_path: Path) -> Vault:
    return make_vault(tmp_path, request.param)


def sparse_image(tmp_path: Path, name: str = "sparse.raw") -> Path:
    return write_image(
        tmp_path / name,
        64 * MiB,
        {
            0: mixed_data(300_000, 1),
            10 * MiB + 123: mixed_data(2 * MiB, 2),
            63 * MiB: b"\x01" * MiB,
        },
    )


def dense_image(tmp_path: Path) -> Path:
    path = tmp_path / "dense.raw"
    path.write_bytes(mixed_data(8 * MiB + 3 * 512, 3))  # sectors, not whole chunks
    return path


def qcow2_image(tmp_path: Path) -> Path:
    base = tmp_path / "base.qcow2"
    top = tmp_path / "top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "32M"], check=True)
    subprocess.run(
        ["qemu-io", "-c", "write -P 0x5a 1M 3M", str(base)], check=True, capture_output=True
    )
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top)],
        check=True,
    )
    subprocess.run(
        ["qemu-io", "-c", "write -P 0xc3 2M 1M", "-c", "write -P 0x11 20M 512k", str(top)],
        check=True,
        capture_output=True,
    )
    return top


def _backup(vault: Vault, point: str, path: Path, **kw: object):
    with open_disk(path) as reader:
        return backup_point(vault, "web01", point, NOW, [DiskSource(-1, "os", reader)], **kw)


@pytest.mark.parametrize("kind", ["sparse", "dense"])
@pytest.mark.parametrize("out_format", ["raw", "qcow2"])
def test_raw_round_trip_is_bit_exact(
    vault: Vault, tmp_path: Path, kind: str, out_format: str
) -> None:
    src = sparse_image(tmp_path) if kind == "sparse" else dense_image(tmp_path)
    manifest = _backup(vault, "rp1", src)
    target = tmp_path / f"restored.{out_format}"
    restore_disk(vault, vault.read_manifest("web01", "rp1"), -1, target, image_format=out_format)
    if out_format == "raw":
        assert sha256_file(target) == sha256_file(src)
        assert target.stat().st_size == src.stat().st_size
    else:
        assert qcow2_to_raw_sha(target, tmp_path) == sha256_file(src)
    assert manifest.disks[0].size == src.stat().st_size


def test_restored_raw_image_is_sparse(vault: Vault, tmp_path: Path) -> None:
    src = sparse_image(tmp_path)
    _backup(vault, "rp1", src)
    target = tmp_path / "restored.raw"
    restore_disk(vault, vault.read_manifest("web01", "rp1"), -1, target)
    assert target.stat().st_blocks * 512 < 8 * MiB  # 64 MiB image, about 3.3 MiB of data


def test_qcow2_source_with_backing_chain_round_trips(vault: Vault, tmp_path: Path) -> None:
    top = qcow2_image(tmp_path)
    manifest = _backup(vault, "rp1", top)
    assert manifest.disks[0].source_format in ("raw", "qcow2")
    for fmt_ in ("raw", "qcow2"):
        target = tmp_path / f"restored-{fmt_}.img"
        restore_disk(vault, manifest, -1, target, image_format=fmt_)
        got = sha256_file(target) if fmt_ == "raw" else qcow2_to_raw_sha(target, tmp_path)
        assert got == qcow2_to_raw_sha(top, tmp_path)


def test_holes_and_zero_chunks_are_neither_read_twice_nor_stored(
    vault: Vault, tmp_path: Path
) -> None:
    src = write_image(tmp_path / "z.raw", 32 * MiB, {MiB: bytes(4 * CHUNK), 8 * MiB: b"x" * CHUNK})
    with open_disk(src) as inner:
        reader = CountingReader(inner)
        manifest = backup_point(vault, "web01", "rp1", NOW, [DiskSource(-1, "os", reader)])
    read_bytes = sum(n for _, n in reader.reads)
    assert read_bytes <= 6 * CHUNK  # allocated ranges only (the explicit zeros and the x's)
    assert manifest.disks[0].data_chunks == 1  # explicit zeros are elided like holes
    assert len(list(vault.chunk_names())) == 1


def test_incremental_without_hints_stores_only_new_chunks(vault: Vault, tmp_path: Path) -> None:
    src = sparse_image(tmp_path)
    first = _backup(vault, "rp1", src)
    with open(src, "r+b") as f:
        f.seek(30 * MiB)
        f.write(mixed_data(CHUNK, 9))
    second = _backup(vault, "rp2", src, previous=first)
    assert second.disks[0].new_chunks == 1
    target = tmp_path / "rp1.raw"
    restore_disk(vault, vault.read_manifest("web01", "rp1"), -1, target)
    assert second.disks[0].data_chunks == first.disks[0].data_chunks + 1
    assert sha256_file(target) != sha256_file(src)


def test_incremental_with_hints_reads_only_hinted_chunks(vault: Vault, tmp_path: Path) -> None:
    src = sparse_image(tmp_path)
    first = _backup(vault, "rp1", src)
    with open(src, "r+b") as f:
        f.seek(10 * MiB + 5000)
        f.write(b"changed!" * 1000)
    with open_disk(src) as inner:
        reader = CountingReader(inner)
        hint = [Extent(10 * MiB + 5000, 8000)]
        second = backup_point(
            vault, "web01", "rp2", NOW, [DiskSource(-1, "os", reader, changed=hint)], previous=first
        )
    assert {off // CHUNK for off, _ in reader.reads} == {(10 * MiB + 5000) // CHUNK}
    assert second.disks[0].new_chunks == 1
    target = tmp_path / "rp2.raw"
    restore_disk(vault, second, -1, target)
    assert sha256_file(target) == sha256_file(src)


def test_identical_disks_of_two_vms_deduplicate(vault: Vault, tmp_path: Path) -> None:
    a = sparse_image(tmp_path, "a.raw")
    b = tmp_path / "b.raw"
    subprocess.run(["cp", "--sparse=always", str(a), str(b)], check=True)
    first = _backup(vault, "rp1", a)
    with open_disk(b) as reader:
        other = backup_point(vault, "db01", "rp1", NOW, [DiskSource(-1, "os", reader)])
    assert first.disks[0].new_chunks > 0
    assert other.disks[0].new_chunks == 0


def test_several_disks_in_one_point_and_subset_restore(vault: Vault, tmp_path: Path) -> None:
    os_disk, data_disk = sparse_image(tmp_path, "os.raw"), dense_image(tmp_path)
    with open_disk(os_disk) as r1, open_disk(data_disk) as r2:
        manifest = backup_point(
            vault, "web01", "rp1", NOW, [DiskSource(-1, "os", r1), DiskSource(0, "data0", r2)]
        )
    assert [d.lun for d in manifest.disks] == [-1, 0]
    restore_disk(vault, manifest, 0, tmp_path / "only-data.raw")
    assert sha256_file(tmp_path / "only-data.raw") == sha256_file(data_disk)
    assert not (tmp_path / "os-restored.raw").exists()


def test_incompressible_chunks_are_stored_uncompressed(tmp_path: Path) -> None:
    vault = make_vault(tmp_path, None)
    src = tmp_path / "random.raw"
    src.write_bytes(os.urandom(4 * CHUNK))
    manifest = _backup(vault, "rp1", src)
    assert manifest.disks[0].stored_bytes <= 4 * CHUNK + 4 * 64  # header only, no zstd frame


def test_in_flight_chunks_are_bounded(tmp_path: Path) -> None:
    vault = make_vault(tmp_path, None)
    src = dense_image(tmp_path)
    with open_disk(src) as inner:
        reader = CountingReader(inner)
        backup_point(vault, "web01", "rp1", NOW, [DiskSource(-1, "os", reader)], workers=3)
    assert reader.peak <= 3


def test_restore_refuses_an_existing_target(vault: Vault, tmp_path: Path) -> None:
    manifest = _backup(vault, "rp1", sparse_image(tmp_path))
    target = tmp_path / "exists.raw"
    target.write_bytes(b"keep")
    with pytest.raises(Exception, match="already exists"):
        restore_disk(vault, manifest, -1, target)
    assert target.read_bytes() == b"keep"
