"""Putting restored disk images into a files source: as a new VM, or over the original disks.

Both take image files the restore already wrote completely (``vault.restore.restore_disk``
writes under a temporary name and renames when whole) and consume them: on success they are
gone from where they were; on failure they are put back and the source is as it was.

Restore images into ``FilesSource.staging_folder()`` so that every step here is a rename on
one filesystem; images elsewhere are copied across first (reflink or sparse copy), which is
correct but takes time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

from vmvault.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vmvault.sources.fsops import TMP_PREFIX, fsync_dir, link_no_clobber, move_no_clobber
from vmvault.sources.manifest import write_manifest
from vmvault.sources.model import DISK_FORMATS, NAME_RE, NAME_RULE, OS_LUN, DiskSpec, VmSpec
from vmvault.sources.processes import holders
from vmvault.sources.validate import check_regular_file
from vmvault.vault.readers import detect_format

REPLACED_SUFFIX = ".vmvault-replaced"


def plan_new_vm(
    root: Path,
    new_name: str,
    template: VmSpec,
    disk_files: Mapping[int, Path],
    formats: Mapping[int, str] | None = None,
) -> VmSpec:
    """The ``VmSpec`` a restore-as-new-VM creates: ``template``'s flags and the disks of
    ``disk_files`` (the OS disk is required), each at ``root/<new_name>-<suffix>.<format>``
    where ``suffix`` is the template disk's name without its ``<template name>-`` prefix.

    Format per LUN: ``formats`` (trusted), else the image's, which must match the template
    disk's format when the manifest pinned it (``InvalidInputError`` otherwise).
    Raises ``InvalidInputError`` / ``NotFoundError`` (missing OS disk, unknown LUN, missing
    image, names too long); checks nothing on disk beyond the given images.
    """
    if OS_LUN not in disk_files:
        raise InvalidInputError(
            f"restoring VM {template.id} as {new_name} needs its OS disk (LUN {OS_LUN}); "
            f"got LUNs {sorted(disk_files)}"
        )
    formats = formats or {}
    disks: list[DiskSpec] = []
    names: set[str] = set()
    for lun in sorted(disk_files):
        old = template.disk(lun)
        _check_image(disk_files[lun], f"restored image of LUN {lun}")
        what = f"restored image {disk_files[lun]} for LUN {lun} of VM {template.id}"
        fmt = formats.get(lun) or _image_format(Path(disk_files[lun]), old.format, what)
        if fmt not in DISK_FORMATS:
            raise InvalidInputError(
                f"format {fmt!r} of LUN {lun} is not valid: use {', '.join(DISK_FORMATS)}"
            )
        name = planned_disk_name(new_name, template, lun)
        if name in names:  # e.g. disks "web01-os" and "os": keep both, apart by LUN
            name = f"{name}-lun{lun}"
        if not NAME_RE.match(name) or name in names:
            raise InvalidInputError(
                f"disk name {name!r} for LUN {lun} of new VM {new_name} is not valid: "
                f"{NAME_RULE}, unique in the VM; pick a shorter VM name"
            )
        names.add(name)
        disks.append(dataclasses.replace(old, name=name, path=root / f"{name}.{fmt}", format=fmt))
    return dataclasses.replace(
        template, name=new_name, disks=tuple(disks), manifest=root / f"{new_name}.vm.yaml"
    )


def planned_disk_name(new_name: str, template: VmSpec, lun: int) -> str:
    """The disk name LUN ``lun`` gets in a new VM ``new_name`` restored from ``template``:
    ``<new_name>-<suffix>``, where ``suffix`` is the template disk's name without its
    ``<template name>-`` prefix (``web01-os`` restored as ``web02`` is ``web02-os``)."""
    old = template.disk(lun).name
    return f"{new_name}-{old.removeprefix(f'{template.name}-') or old}"


def place_new_vm(vm: VmSpec, disk_files: Mapping[int, Path], template: VmSpec) -> None:
    """Move each image of ``disk_files`` to its disk's path in ``vm`` (from ``plan_new_vm``),
    give it the access rights of the template's disk where that still exists, then write the
    manifest last, so discovery sees the VM whole or not at all.

    ``ConflictError`` if a disk file or the manifest exists; on any failure the images are
    moved back and nothing of the new VM remains.
    """
    taken = [str(d.path) for d in vm.disks if os.path.lexists(d.path)]
    if taken or os.path.lexists(vm.manifest):
        raise ConflictError(
            f"cannot create VM {vm.name}: {', '.join(taken) or vm.manifest} already exists; "
            "pick another name or move the files away",
            code="UserErrorFileExists",
        )
    moved: list[DiskSpec] = []
    try:
        for disk in vm.disks:
            move_no_clobber(Path(disk_files[disk.lun]), disk.path)
            moved.append(disk)
            _match_access(disk.path, template.disk(disk.lun).path)
        write_manifest(vm, vm.manifest)
    except BaseException:
        for disk in reversed(moved):
            with contextlib.suppress(OSError, ConflictError):
                move_no_clobber(disk.path, Path(disk_files[disk.lun]))
        raise


def replace_disks(vm: VmSpec, disk_files: Mapping[int, Path]) -> None:
    """Replace the disks ``disk_files`` of ``vm`` by the restored images, all or none.

    Refuses (``ConflictError`` ``UserErrorVmRunning``, naming the process) while any process
    has one of the VM's disks open. Each image must be in the disk's format (``InvalidInputError``
    otherwise). Steps: stage every image beside its disk (hidden name), keep each original as
    ``<file>.vmvault-replaced`` (a hard link), rename each staged image over its disk, and only
    when all are in place delete the kept originals. Any failure before that puts every
    original back and the images where they came from. The new files get the originals' owner
    and mode. A VM started during the swap is not detected: check it is shut down, and stays so.
    """
    if not disk_files:
        raise InvalidInputError(f"no disks to replace for VM {vm.id}: give at least one LUN")
    disks = [vm.disk(lun) for lun in sorted(disk_files)]
    for disk in disks:
        _check_image(disk_files[disk.lun], f"restored image of LUN {disk.lun}")
        _check_format(vm, disk, Path(disk_files[disk.lun]))
        if os.path.lexists(_kept(disk)):
            raise ConflictError(
                f"{_kept(disk)} exists (left by an interrupted restore?): check which file is "
                f"the good disk of VM {vm.id}, remove the other, then restore again",
                code="UserErrorFileExists",
            )
    busy = holders(d.path for d in vm.disks)
    if busy:
        who = ", ".join(f"{h.path} by process {h.pid} ({h.command})" for h in busy)
        raise ConflictError(
            f"VM {vm.id} is running (its disks are open: {who}): shut it down, then restore "
            "again with --replace-existing, or restore as a new VM",
            code="UserErrorVmRunning",
        )
    staged: dict[int, Path] = {}
    try:
        for disk in disks:
            staged[disk.lun] = disk.path.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}-{disk.path.name}"
            move_no_clobber(Path(disk_files[disk.lun]), staged[disk.lun])
            _match_access(staged[disk.lun], disk.path)
        _swap(disks, staged)
    except BaseException:
        for lun, path in staged.items():
            with contextlib.suppress(OSError, ConflictError):
                move_no_clobber(path, Path(disk_files[lun]))
        raise
    for disk in disks:
        _kept(disk).unlink(missing_ok=True)
    for folder in {d.path.parent for d in disks}:
        fsync_dir(folder)


def _swap(disks: list[DiskSpec], staged: Mapping[int, Path]) -> None:
    done: list[DiskSpec] = []
    try:
        for disk in disks:
            if os.path.lexists(disk.path):  # (a vanished original is simply put back)
                link_no_clobber(disk.path, _kept(disk))  # the original, under a second name
            os.replace(staged[disk.lun], disk.path)  # atomic: the path is never absent
            done.append(disk)
        for folder in {d.path.parent for d in disks}:
            fsync_dir(folder)
    except BaseException:
        for disk in reversed(done):
            os.rename(disk.path, staged[disk.lun])  # the image goes back to staging
        for disk in disks:
            kept = _kept(disk)
            if not os.path.lexists(kept):
                continue
            # rename() between two links of one file does nothing: drop the extra name then.
            if os.path.lexists(disk.path) and os.path.samefile(kept, disk.path):
                kept.unlink()
            else:
                os.replace(kept, disk.path)
        raise


def _kept(disk: DiskSpec) -> Path:
    return disk.path.with_name(disk.path.name + REPLACED_SUFFIX)


def _check_image(path: Path, what: str) -> None:
    problem = check_regular_file(Path(path))
    if problem is not None:
        raise NotFoundError(f"{what}: {problem}", code="UserErrorDiskNotFound")


def _check_format(vm: VmSpec, disk: DiskSpec, image: Path) -> None:
    expected = disk.format
    if expected is None and os.path.lexists(disk.path):
        expected = detect_format(disk.path)
    what = f"restored image {image} for disk {disk.name} (LUN {disk.lun}) of VM {vm.id}"
    _image_format(image, expected, what)


def _image_format(image: Path, expected: str | None, what: str) -> str:
    """The format of ``image``, which must be ``expected`` when that is known.

    An expected ``raw`` is taken as is, never probed: a raw disk whose guest wrote a qcow2
    header at byte 0 is still raw (the probing hazard ``detect_format`` describes).
    """
    if expected == "raw":
        return "raw"
    found = detect_format(image)
    if expected is not None and found != expected:
        raise InvalidInputError(
            f"{what} is {found}, but the disk is {expected}: restore it with format {expected}"
        )
    return found


def _match_access(path: Path, like: Path) -> None:
    """Give ``path`` the owner, group and mode of ``like`` (best effort: a missing ``like`` or
    a chown refused to a non-root user leaves ``path`` as it is)."""
    try:
        st = os.stat(like)
    except OSError:
        return
    os.chmod(path, st.st_mode & 0o7777)
    with contextlib.suppress(PermissionError):
        os.chown(path, st.st_uid, st.st_gid)
