"""Reflink snapshots for real: an XFS filesystem (``reflink=1``) in a loop-mounted image that
this module creates and tears down. Needs root, mkfs.xfs and loop devices; anything missing
fails the tests with the reason (never a skip)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sources_helpers import MiB, make_qcow2, pattern, sha256_file, write_image

from vmvault.sources import FilesSource, SnapshotMethod
from vmvault.sources.clone import copy_disk_file

DENSE = 256 * MiB


def _must(command: list[str], why: str) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.fail(f"{why}: {command[0]} is not installed (install xfsprogs)", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"{why}: {' '.join(command)} exited {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()} (these tests need root and loop "
            "devices)",
            pytrace=False,
        )
    return result.stdout


@pytest.fixture(scope="module")
def xfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh XFS (reflink=1) mounted from a 1 GiB sparse image file."""
    if os.geteuid() != 0:
        pytest.fail("mounting a loop XFS needs root: run these tests as root", pytrace=False)
    base = tmp_path_factory.mktemp("xfs")
    image, mount = base / "xfs.img", base / "mnt"
    mount.mkdir()
    with open(image, "wb") as f:
        f.truncate(1 << 30)
    _must(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], "cannot create the XFS")
    _must(["mount", "-o", "loop", str(image), str(mount)], "cannot loop-mount the XFS")
    try:
        fs = _must(["stat", "-f", "-c", "%T", str(mount)], "cannot stat the mount").strip()
        assert fs == "xfs", f"{mount} is {fs}, not xfs"
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True, timeout=60)
        # mount -o loop sets autoclear; detach by hand only if a loop device is still bound.
        for line in _must(["losetup", "-j", str(image)], "losetup").splitlines():
            subprocess.run(["losetup", "-d", line.split(":")[0]], capture_output=True)
        assert not os.path.ismount(mount), f"could not unmount {mount}"


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
