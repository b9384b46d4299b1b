"""Reflink snapshots for real: an XFS filesystem (``reflink=1``) in a loop-mounted image that
this module creates and tears down. Needs root, mkfs.xfs and loop devices; anything missing
fails the tests with the reason (never a skip)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sources_helpers import MiB, make_qcow2, pattern, sha256_file, write_image

from vmvault.sources import FilesSource, SnapshotMethod
from vmvault.sources.clone import copy_disk_file
from vmvault.sources.model import SnapshotSet
from vmvault.storage.local import LocalStorage
from vmvault.vault.backup import DiskSource, Progress, backup_point
from vmvault.vault.readers import chunks_touched, open_disk
from vmvault.vault.repository import Vault
from vmvault.vault.restore import restore_disk

DENSE = 256 * MiB
NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


@pytest.fixture
def lab(xfs: Path, request: pytest.FixtureRequest) -> Iterator[FilesSource]:
    root = xfs / request.node.name
    root.mkdir()
    with open(root / "web01-os.raw", "wb") as f:  # dense: every byte allocated
        block = pattern(4 * MiB, 7)
        for _ in range(DENSE // len(block)):
            f.write(block)
    make_qcow2(root / "web01-data0.qcow2", 16 * MiB, {0: pattern(MiB, 8)})
    write_image(root / "web01-data1.raw", 32 * MiB, {8 * MiB: pattern(MiB, 9)})
    (root / "web01.vm.yaml").write_text(
        "name: web01\ndisks:\n"
        "  - {lun: -1, name: web01-os, path: web01-os.raw, type: premium_ssd}\n"
        "  - {lun: 0, name: web01-data0, path: web01-data0.qcow2, type: ultra_ssd}\n"
        "  - {lun: 1, name: web01-data1, path: web01-data1.raw, type: standard_hdd}\n"
    )
    os.sync()  # so that free space measured below is settled
    yield FilesSource("lab", root)
    shutil.rmtree(root)


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bfree * st.f_frsize


def test_reflink_snapshot_is_instant_shared_and_bit_exact(lab: FilesSource) -> None:
    vm = lab.find("web01")
    sums = {d.lun: sha256_file(d.path) for d in vm.disks}
    free_before = _free(lab.root)
    started = time.monotonic()
    snap = lab.snapshot(vm, [-1, 0, 1], "p1")
    took = time.monotonic() - started
    os.sync()
    used = free_before - _free(lab.root)
    assert snap.method == "reflink"
    assert set(snap.methods.values()) == {SnapshotMethod.REFLINK}
    assert took < 1.0, f"a reflink snapshot of a {DENSE >> 20} MiB disk took {took:.2f}s"
    assert used < 8 * MiB, f"the snapshot used {used >> 20} MiB: extents were not shared"
    assert {lun: sha256_file(p) for lun, p in snap.disks.items()} == sums
    extents = subprocess.run(["filefrag", "-v", str(snap.disks[-1])], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    assert "shared" in extents, extents


def test_writes_after_a_reflink_snapshot_stay_out_of_it(lab: FilesSource) -> None:
    vm = lab.find("web01")
    before = sha256_file(vm.os_disk.path)
    snap = lab.snapshot(vm, [-1, 1], "p1")
    with open(vm.os_disk.path, "r+b") as f:
        f.seek(100 * MiB)
        f.write(b"\xab" * MiB)
        os.fsync(f.fileno())
    assert sha256_file(vm.os_disk.path) != before
    assert sha256_file(snap.disks[-1]) == before
    with lab.snapshot_reader(snap, -1) as reader:
        assert reader.read(100 * MiB, 16) == pattern(4 * MiB, 7)[:16]
    lab.delete_snapshot("web01", "p1")
    lab.delete_snapshot("web01", "p1")
    assert lab.snapshots("web01") == [] and not snap.folder.exists()


def test_instant_restore_over_the_original_disks(lab: FilesSource) -> None:
    vm = lab.find("web01")
    snap = lab.snapshot(vm, [-1, 0], "p1")
    expected = {lun: sha256_file(p) for lun, p in snap.disks.items()}
    with open(vm.os_disk.path, "r+b") as f:  # the guest breaks its disk after the point
        f.write(b"\0" * MiB)
    staged = {}
    for lun, path in snap.disks.items():  # O(1) per disk: restore = reflink the snapshot
        staged[lun] = lab.staging_folder() / path.name
        assert copy_disk_file(path, staged[lun]) is SnapshotMethod.REFLINK
    started = time.monotonic()
    lab.replace_disks(vm, staged)
    assert time.monotonic() - started < 1.0
    assert {lun: sha256_file(vm.disk(lun).path) for lun in staged} == expected
    assert not any(staged[lun].exists() for lun in staged)
    assert sorted(os.listdir(lab.root)) == [
        ".vmvault-snapshots", ".vmvault-staging", "web01-data0.qcow2", "web01-data1.raw",
        "web01-os.raw", "web01.vm.yaml",
    ]  # fmt: skip
    assert sha256_file(snap.disks[-1]) == expected[-1]  # the snapshot itself is untouched


def test_reflink_block_maps_give_exact_hints_for_an_incremental(
    lab: FilesSource, tmp_path: Path
) -> None:
    """Two reflink snapshots: the changed ranges come from the block maps, the incremental
    reads only those chunks, and its point is identical to a full re-read and restores
    bit-exact (a write, a punched hole, and data where there was a hole)."""
    vm = lab.find("web01")
    os_disk, data1 = lab.root / "web01-os.raw", lab.root / "web01-data1.raw"
    vault = Vault.create(LocalStorage(tmp_path / "vault"), NOW, passphrase="pw")
    first_snap = lab.snapshot(vm, [-1, 1], "p1")

    def back_up(point: str, snap: SnapshotSet, previous=None, hints=None):  # type: ignore[no-untyped-def]
        progress = Progress()
        with ExitStack() as stack:
            disks = [
                DiskSource(lun, str(lun), stack.enter_context(open_disk(path)),
                           changed=(hints or {}).get(lun))
                for lun, path in sorted(snap.disks.items())
            ]  # fmt: skip
            manifest = backup_point(vault, "web01", point, NOW, disks, previous=previous,
                                    progress=progress)  # fmt: skip
        return manifest, progress

    first, _ = back_up("p1", first_snap)
    with open(os_disk, "r+b") as f:
        f.seek(104 * MiB - 12345)  # across the boundary of chunks 25 and 26
        f.write(pattern(MiB, 21))
    subprocess.run(["fallocate", "-p", "-o", str(200 * MiB), "-l", str(4 * MiB), str(os_disk)],
                   check=True)  # fmt: skip
    with open(data1, "r+b") as f:
        f.seek(20 * MiB)
        f.write(pattern(4096, 22))
    second_snap = lab.snapshot(lab.find("web01"), [-1, 1], "p2")

    hints = {lun: lab.changed_extents(first_snap, second_snap, lun) for lun in (-1, 1)}
    assert all(h is not None for h in hints.values())
    assert lab.changed_extents(first_snap, second_snap, 0) is None  # not in the snapshots
    touched = {lun: set(chunks_touched(h or [], 4 * MiB, 1 << 40)) for lun, h in hints.items()}
    assert touched[-1] == {25, 26, 50} and touched[1] == {5}

    hinted, progress = back_up("p2", second_snap, first, hints)
    assert progress.read_bytes == 3 * 4 * MiB  # chunks 25 and 26 of the OS disk, 5 of data1
    full, _ = back_up("p2-full", second_snap, first)
    for lun in (-1, 1):
        assert vault.read_index(hinted, lun).ids == vault.read_index(full, lun).ids
        out = restore_disk(vault, hinted, lun, tmp_path / f"restored{lun}.raw").path
        assert sha256_file(out) == sha256_file(second_snap.disks[lun])
    assert sha256_file(second_snap.disks[-1]) == sha256_file(os_disk)
