"""Restoring into a files source: a new VM (manifest and disks), or over the original disks
once no process holds them open; all or nothing either way."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sources_helpers import MiB, held_open, make_vm, pattern, sha256_file, write_image

from vmvault.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vmvault.sources import FilesSource, VmSpec
from vmvault.sources import restore as restore_module


@pytest.fixture
def lab(tmp_path: Path) -> tuple[FilesSource, VmSpec]:
    make_vm(tmp_path, "web01", luns=(-1, 0, 1), qcow2_luns=(0,))
    source = FilesSource("lab", tmp_path)
    return source, source.find("web01")


def _restored(source: FilesSource, vm: VmSpec, luns: list[int], seed: int) -> dict[int, Path]:
    """Images as a restore leaves them in the staging folder: same format, new content."""
    files: dict[int, Path] = {}
    for lun in luns:
        disk = vm.disk(lun)
        files[lun] = source.staging_folder() / f"restored-{lun}{disk.path.suffix}"
        if disk.path.suffix == ".qcow2":
            shutil.copyfile(disk.path, files[lun])  # a qcow2 image of the point
        else:
            write_image(files[lun], 4 * MiB, {0: pattern(8192, seed + lun)})
    return files


def test_create_vm_moves_the_images_and_writes_the_manifest(
    lab: tuple[FilesSource, VmSpec],
) -> None:
    source, web01 = lab
    files = _restored(source, web01, [-1, 0], seed=50)
    sums = {lun: sha256_file(p) for lun, p in files.items()}
    new = source.create_vm("web02", web01, files)
    assert new == source.find("lab/web02") and new.id == "lab/web02"
    assert [(d.lun, d.name, d.path.name, d.format, d.type) for d in new.disks] == [
        (-1, "web02-os", "web02-os.raw", "raw", web01.disk(-1).type),
        (0, "web02-data0", "web02-data0.qcow2", "qcow2", web01.disk(0).type),
    ]  # fmt: skip
    assert {d.lun: sha256_file(d.path) for d in new.disks} == sums
    assert not any(p.exists() for p in files.values())
    assert (source.root / "web02.vm.yaml").is_file()
    assert source.discover().names() == ["web01", "web02"]
    assert "path: web02-os.raw" in (source.root / "web02.vm.yaml").read_text()


def test_create_vm_refuses_taken_names_and_files_and_changes_nothing(
    lab: tuple[FilesSource, VmSpec],
) -> None:
    source, web01 = lab
    files = _restored(source, web01, [-1, 0], seed=60)
    with pytest.raises(ConflictError, match="VM 'web01' already exists") as taken:
        source.create_vm("web01", web01, files)
    assert taken.value.code == "UserErrorVmAlreadyExists"
    (source.root / "web03-data0.qcow2").write_bytes(b"someone else's")
    with pytest.raises(ConflictError, match=r"web03-data0\.qcow2 already exists"):
        source.create_vm("web03", web01, files)
    (source.root / "web04.vm.json").write_text("{broken")  # a broken manifest holds the name
    with pytest.raises(ConflictError, match="VM 'web04' already exists"):
        source.create_vm("web04", web01, files)
    assert all(p.exists() for p in files.values())
    assert not (source.root / "web03-os.raw").exists()
    with pytest.raises(InvalidInputError, match="needs its OS disk"):
        source.create_vm("web05", web01, {0: files[0]})
    with pytest.raises(NotFoundError, match="restored image of LUN 0"):
        source.create_vm("web05", web01, {-1: files[-1], 0: source.root / "nope.qcow2"})


def test_create_vm_rolls_back_when_the_manifest_cannot_be_written(
    lab: tuple[FilesSource, VmSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, web01 = lab
    files = _restored(source, web01, [-1, 1], seed=70)

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(restore_module, "write_manifest", fail)
    with pytest.raises(OSError, match="No space"):
        source.create_vm("web02", web01, files)
    assert all(p.exists() for p in files.values())
    assert sorted(p.name for p in source.root.glob("web02*")) == []


def test_replace_disks_is_bit_exact_and_keeps_no_leftovers(
    lab: tuple[FilesSource, VmSpec],
) -> None:
    source, vm = lab
    os.chmod(vm.disk(1).path, 0o640)
    files = _restored(source, vm, [-1, 1], seed=80)
    sums = {lun: sha256_file(p) for lun, p in files.items()}
    untouched = sha256_file(vm.disk(0).path)
    source.replace_disks(vm, files)
    assert {lun: sha256_file(vm.disk(lun).path) for lun in files} == sums
    assert sha256_file(vm.disk(0).path) == untouched
    assert os.stat(vm.disk(1).path).st_mode & 0o777 == 0o640  # the original's access rights
    assert not any(p.exists() for p in files.values())
    leftovers = [p.name for p in source.root.rglob("*") if "vmvault-replaced" in p.name
                 or p.name.startswith(".tmp-")]  # fmt: skip
    assert leftovers == []


def test_replace_disks_refuses_while_the_vm_runs(lab: tuple[FilesSource, VmSpec]) -> None:
    source, vm = lab
    files = _restored(source, vm, [-1], seed=90)
    before = sha256_file(vm.os_disk.path)
    assert source.is_running(vm) is False
    with held_open(vm.disk(1).path) as qemu:  # any disk of the VM open = running
        assert source.is_running(vm) is True
        with pytest.raises(ConflictError, match=f"process {qemu.pid}") as info:
            source.replace_disks(vm, files)
    assert info.value.code == "UserErrorVmRunning"
    assert sha256_file(vm.os_disk.path) == before and files[-1].exists()
    assert source.is_running(vm) is False
    source.replace_disks(vm, files)
    assert sha256_file(vm.os_disk.path) != before


def test_replace_disks_rolls_back_every_disk_on_failure(
    lab: tuple[FilesSource, VmSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, vm = lab
    files = _restored(source, vm, [-1, 0, 1], seed=100)
    originals = {d.lun: sha256_file(d.path) for d in vm.disks}
    restored = {lun: sha256_file(p) for lun, p in files.items()}
    real_replace = os.replace
    calls = {"n": 0}

    def third_fails(src: str | Path, dst: str | Path) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", third_fails)  # restore.py calls os.replace
    with pytest.raises(OSError, match="Input/output"):
        source.replace_disks(vm, files)
    monkeypatch.undo()
    assert {d.lun: sha256_file(d.path) for d in vm.disks} == originals
    assert {lun: sha256_file(p) for lun, p in files.items()} == restored
    assert [p.name for p in source.root.iterdir() if p.name.endswith(".vmvault-replaced")] == []


def test_replace_disks_checks_formats_and_leftovers(lab: tuple[FilesSource, VmSpec]) -> None:
    source, vm = lab
    raw_for_qcow2 = write_image(source.staging_folder() / "d0.raw", MiB, {})
    with pytest.raises(InvalidInputError, match="is raw, but the disk is qcow2"):
        source.replace_disks(vm, {0: raw_for_qcow2})
    files = _restored(source, vm, [-1], seed=110)
    kept = vm.os_disk.path.with_name(vm.os_disk.path.name + ".vmvault-replaced")
    kept.write_bytes(b"left by a crash")
    with pytest.raises(ConflictError, match="interrupted restore"):
        source.replace_disks(vm, files)
    with pytest.raises(NotFoundError, match="no disk at LUN 9"):
        source.replace_disks(vm, {9: files[-1]})


def test_is_running_follows_the_file_not_its_name(tmp_path: Path) -> None:
    make_vm(tmp_path, "vm1", luns=(-1,))
    source = FilesSource("lab", tmp_path)
    vm = source.find("vm1")
    link = tmp_path / "alias.raw"
    link.symlink_to(vm.os_disk.path)
    with held_open(link):  # opened through a symlink: still the VM's disk
        assert source.is_running(vm)
    with open(vm.os_disk.path, "rb"):  # this process's own readers do not count
        assert not source.is_running(vm)


def test_create_vm_takes_the_format_the_restore_wrote(lab: tuple[FilesSource, VmSpec]) -> None:
    source, web01 = lab
    os_image = _restored(source, web01, [-1], seed=120)[-1]
    data_as_raw = write_image(source.staging_folder() / "data0-as-raw", MiB, {0: b"\x01"})
    new = source.create_vm("web02", web01, {-1: os_image, 0: data_as_raw})
    assert (new.disk(0).path.name, new.disk(0).format) == ("web02-data0.raw", "raw")
    again = source.create_vm(
        "web03", web01, {-1: new.os_disk.path, 0: new.disk(0).path}, formats={0: "raw"}
    )
    assert again.disk(0).format == "raw" and not new.disk(0).path.exists()
