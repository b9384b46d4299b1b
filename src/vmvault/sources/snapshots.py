"""Snapshots of a files source: the InstantRP tier, kept beside the source's disks.

Layout (a folder the source owns; discovery never looks inside it)::

    <root>/.vmvault-snapshots/<vm>/<point>/<disk name><ext>        one image per included disk
    <root>/.vmvault-snapshots/<vm>/<point>/.vmvault-snapshot.json  what was taken, and how

**One instant for all disks (crash consistency).** Every included disk is opened first and its
identity taken (device, inode, size, mtime, ctime); then each is cloned or copied from the open
descriptor; then the identities are taken again, from the descriptors and from the paths. If
nothing changed, no write landed between the first clone and the last, so the set is what a
crash at that moment would have left. If a disk changed (a VM is writing), the attempt is
thrown away and retried, ``SNAPSHOT_ATTEMPTS`` times in all, then ``ConflictError``. With
reflinks the window is milliseconds, so a running VM rarely hits it; a copy of a busy disk will.
The check relies on the kernel stamping every write: on Linux 6.13+ (multigrain timestamps, on
XFS, ext4, btrfs, tmpfs) a write right after a stat always moves ctime; older kernels stamp at
timer-tick granularity, so a write in the same tick as the first stat could go unseen.

**Atomic publication.** The set is built in a hidden ``.tmp-`` folder and renamed to its point
name only when every image and the metadata are fsynced, so a listed point is always whole.
Any failure removes the temporary folder; a crash leaves one that ``remove_partial`` sweeps.
"""

from __future__ import annotations

import errno
import json
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

from vmvault.domain.errors import ConflictError, InvalidInputError, NotFoundError, VmvaultError
from vmvault.sources.clone import absolutize_backing_file, clone_or_copy
from vmvault.sources.fsops import TMP_PREFIX, fsync_dir, publish_file, remove_tree
from vmvault.sources.model import DiskSpec, SnapshotMethod, SnapshotSet, VmSpec
from vmvault.sources.validate import check_point_name, check_vm_name
from vmvault.vault.readers import detect_format

SNAPSHOTS_FOLDER = ".vmvault-snapshots"
METADATA = ".vmvault-snapshot.json"
METADATA_FORMAT = "vmvault-snapshot"
SNAPSHOT_ATTEMPTS = 3
_SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,16}$")

Identity = tuple[int, int, int, int, int]


class SnapshotStore:
    """The snapshot folders of one source root. Not safe for two snapshots of one VM and point
    at once (the second fails with ``ConflictError``, nothing is damaged)."""

    def __init__(self, root: Path) -> None:
        self.folder = root / SNAPSHOTS_FOLDER

    def take(self, vm: VmSpec, luns: Sequence[int], point: str) -> SnapshotSet:
        """Snapshot disks ``luns`` of ``vm`` at one instant, as point ``point``.

        Raises ``InvalidInputError`` (bad point name, no LUNs, a LUN twice),
        ``NotFoundError`` (a LUN the VM lacks; code ``UserErrorDiskNotFound`` for a disk file
        gone since discovery, naming VM, LUN and path), ``ConflictError`` (the point exists;
        the disks kept changing), ``VmvaultError`` (disk full, I/O error). Nothing is left
        behind on failure.
        """
        check_point_name(point)
        disks = _select(vm, luns)
        target = self.folder / vm.name / point
        if target.exists():
            raise ConflictError(
                f"a snapshot of VM {vm.id} for point {point} already exists: delete it first",
                code="UserErrorSnapshotExists",
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(SNAPSHOT_ATTEMPTS):
            tmp = target.parent / f"{TMP_PREFIX}{point}-{uuid.uuid4().hex}"
            tmp.mkdir()
            try:
                snapset = self._take_once(vm, disks, point, tmp)
                if snapset is not None:
                    _publish(tmp, target, vm, point)
                    return snapset
            finally:
                remove_tree(tmp)  # a no-op once published (renamed away)
        raise ConflictError(
            f"the disks of VM {vm.id} kept changing while being snapshotted "
            f"({SNAPSHOT_ATTEMPTS} attempts): shut the VM down, keep its disks on XFS or btrfs "
            "(reflink snapshots take milliseconds), or protect it through the libvirt source",
            code="UserErrorDiskChangedDuringSnapshot",
        )

    def _take_once(
        self, vm: VmSpec, disks: list[DiskSpec], point: str, tmp: Path
    ) -> SnapshotSet | None:
        fds: list[int] = []
        try:
            for disk in disks:
                fds.append(_open_disk(vm, disk))
            before = [_identity(os.fstat(fd)) for fd in fds]
            files: dict[int, Path] = {}
            methods: dict[int, SnapshotMethod] = {}
            for disk, fd in zip(disks, fds, strict=True):
                files[disk.lun] = tmp / _image_name(disk)
                methods[disk.lun] = _copy(vm, disk, fd, files[disk.lun])
            after = [_identity(os.fstat(fd)) for fd in fds]
            now_at_paths = [_identity(_stat_disk(vm, d)) for d in disks]
            if before != after or before != now_at_paths:
                return None
        finally:
            for fd in fds:
                os.close(fd)
        formats: dict[int, str | None] = {}
        for disk in disks:
            formats[disk.lun] = disk.format or detect_format(files[disk.lun])
            if formats[disk.lun] == "qcow2":
                absolutize_backing_file(files[disk.lun], disk.path.parent)
        final = self.folder / vm.name / point
        snapset = SnapshotSet(
            vm=vm.name,
            point=point,
            folder=final,
            disks={lun: final / f.name for lun, f in files.items()},
            methods=methods,
            formats=formats,
        )
        publish_file(tmp / METADATA, _metadata(vm, snapset, disks))
        return snapset

    def get(self, vm_name: str, point: str) -> SnapshotSet:
        """The snapshot set of ``point``, from its metadata. ``NotFoundError`` if absent,
        ``VmvaultError`` (``UserErrorSnapshotCorrupt``) if its metadata is unreadable."""
        folder = self.folder / check_vm_name(vm_name) / check_point_name(point)
        try:
            document = json.loads((folder / METADATA).read_bytes())
            disks = {int(d["lun"]): d for d in document["disks"]}
            return SnapshotSet(
                vm=vm_name,
                point=point,
                folder=folder,
                disks={lun: folder / d["file"] for lun, d in disks.items()},
                methods={lun: SnapshotMethod(d["method"]) for lun, d in disks.items()},
                formats={lun: d["format"] for lun, d in disks.items()},
            )
        except FileNotFoundError:
            raise NotFoundError(
                f"VM {vm_name} has no snapshot for point {point} in {self.folder}: its "
                "instant-restore days may have run out; restore from the vault tier",
                code="UserErrorSnapshotNotFound",
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise VmvaultError(
                f"snapshot {folder} cannot be used: {METADATA} is unreadable ({exc})",
                code="UserErrorSnapshotCorrupt",
            ) from exc

    def points(self, vm_name: str) -> list[str]:
        """Sorted names of the complete snapshots of ``vm_name`` (partial ones are hidden)."""
        try:
            entries = os.listdir(self.folder / check_vm_name(vm_name))
        except FileNotFoundError:
            return []
        return sorted(
            e
            for e in entries
            if not e.startswith(".") and (self.folder / vm_name / e / METADATA).is_file()
        )

    def delete(self, vm_name: str, point: str) -> bool:
        """Remove the snapshot of ``point``; False if there was none (idempotent)."""
        return remove_tree(self.folder / check_vm_name(vm_name) / check_point_name(point))

    def remove_partial(self, vm_name: str) -> int:
        """Remove what crashed snapshots and deletes left (``.tmp-`` folders); how many.
        Call only when no snapshot of this VM is being taken."""
        try:
            entries = os.listdir(self.folder / check_vm_name(vm_name))
        except FileNotFoundError:
            return 0
        leftovers = [e for e in entries if e.startswith(TMP_PREFIX)]
        for entry in leftovers:
            remove_tree(self.folder / vm_name / entry)
        return len(leftovers)


def _select(vm: VmSpec, luns: Sequence[int]) -> list[DiskSpec]:
    if not luns:
        raise InvalidInputError(f"no disks to snapshot for VM {vm.id}: give at least one LUN")
    if len(set(luns)) != len(luns):
        raise InvalidInputError(f"LUNs {list(luns)} of VM {vm.id} are not valid: a LUN twice")
    return [vm.disk(lun) for lun in sorted(luns)]


def _image_name(disk: DiskSpec) -> str:
    suffix = disk.path.suffix
    return disk.name + (suffix if _SAFE_SUFFIX.match(suffix) else "")


def _missing(vm: VmSpec, disk: DiskSpec) -> NotFoundError:
    return NotFoundError(
        f"disk {disk.name} (LUN {disk.lun}) of VM {vm.id} is gone: {disk.path} does not exist "
        f"any more. Put the file back, or fix {vm.manifest} and check with "
        f"'vmvault vm show --vm {vm.id}'",
        code="UserErrorDiskNotFound",
    )


def _open_disk(vm: VmSpec, disk: DiskSpec) -> int:
    try:
        return os.open(disk.path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise _missing(vm, disk) from None
    except OSError as exc:
        raise _io_error(vm, disk, "open", exc) from exc


def _stat_disk(vm: VmSpec, disk: DiskSpec) -> os.stat_result:
    try:
        return os.stat(disk.path)
    except FileNotFoundError:
        raise _missing(vm, disk) from None


def _copy(vm: VmSpec, disk: DiskSpec, fd: int, dst: Path) -> SnapshotMethod:
    try:
        return clone_or_copy(fd, dst)
    except OSError as exc:
        raise _io_error(vm, disk, "snapshot", exc) from exc


def _io_error(vm: VmSpec, disk: DiskSpec, op: str, exc: OSError) -> VmvaultError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return VmvaultError(
            f"cannot {op} disk {disk.name} (LUN {disk.lun}) of VM {vm.id}: disk full in "
            f"{disk.path.parent}. Free space there, or keep the disks on XFS or btrfs where "
            "snapshots are reflinks and take almost no space",
            code="UserErrorDiskFull",
        )
    return VmvaultError(
        f"cannot {op} disk {disk.name} (LUN {disk.lun}) of VM {vm.id} at {disk.path}: "
        f"{exc.strerror or exc}",
        code="UserErrorSnapshotFailed",
    )


def _identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _metadata(vm: VmSpec, snapset: SnapshotSet, disks: list[DiskSpec]) -> bytes:
    document = {
        "format": METADATA_FORMAT,
        "version": 1,
        "source": vm.source,
        "vm": vm.name,
        "point": snapset.point,
        "disks": [
            {
                "lun": d.lun,
                "name": d.name,
                "file": snapset.disks[d.lun].name,
                "original": str(d.path),
                "method": snapset.methods[d.lun].value,
                "format": snapset.formats[d.lun],
            }
            for d in disks
        ],
    }
    return json.dumps(document, indent=2).encode() + b"\n"


def _publish(tmp: Path, target: Path, vm: VmSpec, point: str) -> None:
    fsync_dir(tmp)
    try:
        os.rename(tmp, target)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise ConflictError(
                f"a snapshot of VM {vm.id} for point {point} was created meanwhile",
                code="UserErrorSnapshotExists",
            ) from exc
        raise
    fsync_dir(target.parent)
