"""Snapshots on the ordinary filesystem (no reflinks here): sparse copies, one instant for all
disks, atomic publication, and the errors of a disk that vanished or kept changing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sources_helpers import MiB, make_qcow2, make_vm, pattern, run, sha256_file, write_image

from vmvault.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vmvault.sources import FilesSource, SnapshotMethod, VmSpec
from vmvault.sources import snapshots as snapshots_module
from vmvault.sources.clone import FICLONE, clone_or_copy, reflink


def _fs_type(path: Path) -> str:
    return run(["stat", "-f", "-c", "%T", str(path)]).stdout.strip()


@pytest.fixture
def lab(tmp_path: Path) -> tuple[FilesSource, VmSpec]:
    # A sparse 64 MiB OS disk with 2 MiB of data, and a qcow2 data disk.
    write_image(tmp_path / "web01-os.raw", 64 * MiB,
                {0: pattern(MiB, 1), 40 * MiB: pattern(MiB, 2)})  # fmt: skip
    make_qcow2(tmp_path / "web01-data0.qcow2", 8 * MiB, {MiB: pattern(64 * 1024, 3)})
    (tmp_path / "web01.vm.yaml").write_text(
        "name: web01\ndisks:\n"
        "  - {lun: -1, name: web01-os, path: web01-os.raw, type: premium_ssd}\n"
        "  - {lun: 0, name: web01-data0, path: web01-data0.qcow2, type: ultra_ssd}\n"
    )
    source = FilesSource("lab", tmp_path)
    return source, source.find("web01")


def test_copy_fallback_is_bit_exact_sparse_and_recorded(lab: tuple[FilesSource, VmSpec]) -> None:
    source, vm = lab
    assert _fs_type(source.root) not in ("xfs", "btrfs"), "this test needs a non-reflink fs"
    snap = source.snapshot(vm, [-1, 0], "p1")
    assert snap.method == "copy" and set(snap.methods.values()) == {SnapshotMethod.COPY}
    assert snap.folder == source.root / ".vmvault-snapshots" / "web01" / "p1"
    assert snap.disks == {-1: snap.folder / "web01-os.raw", 0: snap.folder / "web01-data0.qcow2"}
    assert snap.formats == {-1: "raw", 0: "qcow2"}
    for lun in (-1, 0):
        assert sha256_file(snap.disks[lun]) == sha256_file(vm.disk(lun).path)
    st = os.stat(snap.disks[-1])
    assert st.st_size == 64 * MiB and st.st_blocks * 512 <= 3 * MiB  # holes stayed holes
    assert st.st_mode & 0o777 == 0o600
    assert source.get_snapshot("web01", "p1") == snap
    assert source.snapshots("web01") == ["p1"]
    metadata = json.loads((snap.folder / ".vmvault-snapshot.json").read_text())
    assert [d["method"] for d in metadata["disks"]] == ["copy", "copy"]


def test_snapshot_readers_read_the_snapshot(lab: tuple[FilesSource, VmSpec]) -> None:
    source, vm = lab
    snap = source.snapshot(vm, [-1, 0], "p1")
    with source.snapshot_reader(snap, -1) as reader:
        assert reader.size == 64 * MiB
        assert reader.read(40 * MiB, MiB) == pattern(MiB, 2)
    with source.snapshot_reader(snap, 0) as reader:  # qcow2, through qemu-nbd
        assert reader.read(MiB, 64 * 1024) == pattern(64 * 1024, 3)
    with pytest.raises(NotFoundError, match="has no disk at LUN 7"):
        source.snapshot_reader(snap, 7)


def test_later_writes_do_not_reach_the_snapshot(lab: tuple[FilesSource, VmSpec]) -> None:
    source, vm = lab
    before = sha256_file(vm.os_disk.path)
    snap = source.snapshot(vm, [-1], "p1")
    with open(vm.os_disk.path, "r+b") as f:
        f.write(b"\xee" * 4096)
    assert sha256_file(snap.disks[-1]) == before != sha256_file(vm.os_disk.path)
    assert list(snap.disks) == [-1]  # only the included disks


def test_delete_is_idempotent_and_points_are_listed(lab: tuple[FilesSource, VmSpec]) -> None:
    source, vm = lab
    source.snapshot(vm, [-1], "p2")
    source.snapshot(vm, [-1, 0], "p1")
    assert source.snapshots("web01") == ["p1", "p2"] and source.snapshots("app01") == []
    with pytest.raises(ConflictError, match="already exists") as info:
        source.snapshot(vm, [-1], "p1")
    assert info.value.code == "UserErrorSnapshotExists"
    source.delete_snapshot("web01", "p1")
    source.delete_snapshot("web01", "p1")
    assert source.snapshots("web01") == ["p2"]
    with pytest.raises(NotFoundError, match="no snapshot for point p1") as missing:
        source.get_snapshot("web01", "p1")
    assert missing.value.code == "UserErrorSnapshotNotFound"
    assert sorted(os.listdir(source.root / ".vmvault-snapshots" / "web01")) == ["p2"]


def test_a_disk_that_vanished_since_discovery(lab: tuple[FilesSource, VmSpec]) -> None:
    source, vm = lab
    vm.disk(0).path.unlink()
    with pytest.raises(NotFoundError) as info:
        source.snapshot(vm, [-1, 0], "p1")
    assert info.value.code == "UserErrorDiskNotFound"
    message = str(info.value)
    assert "VM lab/web01" in message and "LUN 0" in message and str(vm.disk(0).path) in message
    assert os.listdir(source.root / ".vmvault-snapshots" / "web01") == []  # nothing left


def test_a_disk_changing_during_the_snapshot_is_retried_then_refused(
    lab: tuple[FilesSource, VmSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, vm = lab
    real = clone_or_copy
    calls: list[int] = []
    budget = {"writes": 1}

    def writer_meanwhile(fd: int, dst: Path) -> SnapshotMethod:
        method = real(fd, dst)
        calls.append(fd)
        if budget["writes"] > 0:  # a guest write lands between the clones of two disks
            budget["writes"] -= 1
            with open(vm.os_disk.path, "ab") as f:
                f.write(b"\x01" * 512)
        return method

    monkeypatch.setattr(snapshots_module, "clone_or_copy", writer_meanwhile)
    snap = source.snapshot(vm, [-1, 0], "p1")  # second attempt succeeds
    assert len(calls) == 4 and sha256_file(snap.disks[-1]) == sha256_file(vm.os_disk.path)
    budget["writes"] = 99
    with pytest.raises(ConflictError, match="kept changing") as info:
        source.snapshot(vm, [-1, 0], "p2")
    assert info.value.code == "UserErrorDiskChangedDuringSnapshot"
    assert source.snapshots("web01") == ["p1"]
    assert os.listdir(source.root / ".vmvault-snapshots" / "web01") == ["p1"]


def test_bad_arguments(lab: tuple[FilesSource, VmSpec]) -> None:
    source, vm = lab
    with pytest.raises(InvalidInputError, match=r"recovery point name '\.\./x'"):
        source.snapshot(vm, [-1], "../x")
    with pytest.raises(InvalidInputError, match="no disks"):
        source.snapshot(vm, [], "p1")
    with pytest.raises(InvalidInputError, match="a LUN twice"):
        source.snapshot(vm, [0, 0], "p1")
    with pytest.raises(NotFoundError, match="no disk at LUN 4"):
        source.snapshot(vm, [4], "p1")
    with pytest.raises(InvalidInputError, match=r"VM name '\.\.'"):
        source.snapshots("..")


def test_partial_snapshots_are_hidden_then_swept(lab: tuple[FilesSource, VmSpec]) -> None:
    source, vm = lab
    source.snapshot(vm, [-1], "p1")
    crashed = source.root / ".vmvault-snapshots" / "web01" / ".tmp-p2-abc"
    crashed.mkdir()
    (crashed / "web01-os.raw").write_bytes(b"half")
    assert source.snapshots("web01") == ["p1"]
    assert source.remove_partial_snapshots("web01") == 1 and not crashed.exists()


def test_relative_qcow2_backing_file_is_made_absolute(tmp_path: Path) -> None:
    make_qcow2(tmp_path / "base.qcow2", 4 * MiB, {0: pattern(4096, 9)})
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
         str(tmp_path / "vm2-os.qcow2")])  # fmt: skip
    run(["qemu-io", "-c", "write -P 0x5a 1M 64k", str(tmp_path / "vm2-os.qcow2")])
    make_vm(tmp_path, "vm1")  # unrelated, keeps the folder realistic
    (tmp_path / "vm2.vm.yaml").write_text(
        "name: vm2\ndisks:\n"
        "  - {lun: -1, name: vm2-os, path: vm2-os.qcow2, type: premium_ssd, format: qcow2}\n"
    )
    source = FilesSource("lab", tmp_path)
    snap = source.snapshot(source.find("vm2"), [-1], "p1")
    info = json.loads(run(["qemu-img", "info", "--output=json", str(snap.disks[-1])]).stdout)
    assert info["backing-filename"] == str(tmp_path / "base.qcow2")
    run(["qemu-img", "compare", str(tmp_path / "vm2-os.qcow2"), str(snap.disks[-1])])


def test_reflink_reports_unsupported_filesystems(tmp_path: Path) -> None:
    assert FICLONE == 0x40049409
    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_bytes(b"x" * 4096)
    with open(src, "rb") as s, open(dst, "wb") as d:
        assert reflink(s.fileno(), d.fileno()) is False  # ext4/tmpfs: EOPNOTSUPP, no raise
