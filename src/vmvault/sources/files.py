"""The ``files`` source: a folder of VM manifests and disk images.

``vmvault source add --name lab --type files --path DIR`` registers ``DIR``; each
``*.vm.yaml``, ``*.vm.yml`` or ``*.vm.json`` directly in it describes one VM (see
``sources/manifest.py``). Discovery does **not** recurse: one folder is one source, and the
folders the source owns (``.vmvault-snapshots``, ``.vmvault-staging``) sit inside it. Hidden
files (``.name``) are never manifests, so temporary files are never half-read as VMs.

A files source does not run its VMs; it snapshots their disk files (``sources/snapshots.py``),
tells whether a VM is running by whether a process holds a disk open
(``sources/processes.py``), and puts restored disks back (``sources/restore.py``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from vmvault.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vmvault.sources.clone import reflink_works
from vmvault.sources.fiemap import reflink_changes
from vmvault.sources.manifest import MANIFEST_SUFFIXES, ManifestError, is_manifest_name
from vmvault.sources.manifest import load_manifest as _load_manifest
from vmvault.sources.model import (
    DISK_FORMATS,
    Discovery,
    ManifestProblem,
    SnapshotCost,
    SnapshotMethod,
    SnapshotSet,
    VmSpec,
)
from vmvault.sources.processes import holders
from vmvault.sources.restore import place_new_vm, plan_new_vm, planned_disk_name
from vmvault.sources.restore import replace_disks as _replace_disks
from vmvault.sources.snapshots import SnapshotStore
from vmvault.sources.validate import check_source_name, check_vm_name
from vmvault.storage.folders import folder_problem
from vmvault.vault.disks import DiskReader, Extent
from vmvault.vault.readers import detect_format, open_disk

STAGING_FOLDER = ".vmvault-staging"


class FilesSource:
    """One registered folder of VMs. Cheap to build; every call reads the folder afresh."""

    kind = "files"

    def __init__(self, name: str, root: Path) -> None:
        """``InvalidInputError`` for a bad source name; the folder is checked when used."""
        self.name = check_source_name(name)
        self.root = Path(root).absolute()
        self._snapshots = SnapshotStore(self.root)

    # -- discovery ---------------------------------------------------------------------------

    def discover(self) -> Discovery:
        """Every VM of the folder, and every problem (one bad manifest never hides the others).

        Manifests are read in name order; a VM name already taken by an earlier file is a
        problem (field ``name``) of the later file. A missing or unreadable disk file is a
        problem of its manifest (``disks[i].path``), and that VM is left out. Raises
        ``NotFoundError`` (``UserErrorSourceFolderNotFound``) if the folder itself is missing.
        """
        vms: dict[str, VmSpec] = {}
        problems: list[ManifestProblem] = []
        for path in self._manifest_files():
            try:
                vm = _load_manifest(path, self.name)
            except ManifestError as exc:
                problems.extend(exc.problems)
                continue
            if vm.name in vms:
                problems.append(
                    ManifestProblem(
                        path,
                        "name",
                        f"VM name {vm.name!r} is already "
                        f"used by {vms[vm.name].manifest.name}: VM names are unique in "
                        f"source {self.name}",
                        vm.name,
                    )
                )
                continue
            vms[vm.name] = vm
        return Discovery(tuple(vms.values()), tuple(problems))

    def find(self, name: str) -> VmSpec:
        """The VM ``name`` (or ``<source>/<name>``). ``NotFoundError`` (``UserErrorVmNotFound``)
        naming the source and listing its VMs; ``InvalidInputError`` (the manifest's code)
        when a manifest for that name exists but is broken, with its problems."""
        source, _, bare = name.rpartition("/")
        discovery = self.discover()
        if source in ("", self.name):
            for vm in discovery.vms:
                if vm.name == bare:
                    return vm
            broken = [p for p in discovery.problems if bare in (p.vm, _stem(p.file))]
            if broken:
                raise ManifestError(broken)
        found = ", ".join(discovery.names()) or "none"
        raise NotFoundError(
            f"VM {name!r} was not found in source {self.name} ({self.root}); its VMs: {found}",
            code="UserErrorVmNotFound",
        )

    def _manifest_files(self) -> list[Path]:
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(
                f"the folder {self.root} of source {self.name} does not exist (or is not a "
                "folder): mount it again, or remove the source and add it with the right path",
                code="UserErrorSourceFolderNotFound",
            ) from None
        return [Path(e.path) for e in entries if is_manifest_name(e.name) and e.is_file()]

    # -- snapshots (tier InstantRP) ----------------------------------------------------------

    def snapshot(self, vm: VmSpec, luns: Sequence[int], point: str) -> SnapshotSet:
        """Snapshot disks ``luns`` of ``vm`` at one instant for recovery point ``point``, into
        ``<root>/.vmvault-snapshots/<vm>/<point>/``. See ``SnapshotStore.take`` for the
        method (reflink, else copy), the consistency check and the errors; a disk file gone
        since discovery is ``NotFoundError`` ``UserErrorDiskNotFound``."""
        self._check_own(vm)
        return self._snapshots.take(vm, luns, point)

    def snapshot_cost(self, vm: VmSpec, luns: Sequence[int]) -> SnapshotCost:
        """What one snapshot of disks ``luns`` of ``vm`` will take: reflinks (no space until
        the disks change) when the source folder's filesystem clones and every disk is on it;
        otherwise a full copy of each disk's allocated bytes. ``reflink`` is None when it
        cannot be told (the folder is not writable: snapshots will fail anyway)."""
        works = reflink_works(self.root)
        allocated = 0
        try:
            root_dev = os.stat(self.root).st_dev
        except OSError:
            return SnapshotCost(None, 0)
        for disk in vm.disks:
            if disk.lun not in luns:
                continue
            try:
                st = os.stat(disk.path)
            except OSError:
                continue
            allocated += st.st_blocks * 512
            if st.st_dev != root_dev and works:
                works = False  # another filesystem than the snapshots': copied
        return SnapshotCost(works, allocated)

    def get_snapshot(self, vm_name: str, point: str) -> SnapshotSet:
        """The snapshot set of an earlier ``snapshot`` call (``NotFoundError`` if none)."""
        return self._snapshots.get(vm_name, point)

    def snapshots(self, vm_name: str) -> list[str]:
        """The points that have a complete snapshot of ``vm_name``, sorted."""
        return self._snapshots.points(vm_name)

    def delete_snapshot(self, vm_name: str, point: str) -> None:
        """Delete the snapshot of ``point`` (instant-restore days ran out); idempotent."""
        self._snapshots.delete(vm_name, point)

    def remove_partial_snapshots(self, vm_name: str) -> int:
        """Sweep what a crash during a snapshot or delete left; only while none is running."""
        return self._snapshots.remove_partial(vm_name)

    def changed_extents(
        self, previous: SnapshotSet, current: SnapshotSet, lun: int
    ) -> list[Extent] | None:
        """Changed-extent hints for disk ``lun`` of ``current`` against ``previous`` (an
        earlier snapshot of the same VM), from the filesystem's block maps (``fiemap``). Only
        when both are reflink snapshots of a raw disk; None otherwise (read everything)."""
        for snap in (previous, current):
            if lun not in snap.disks or snap.methods.get(lun) != SnapshotMethod.REFLINK:
                return None
            if (snap.formats.get(lun) or detect_format(snap.disks[lun])) != "raw":
                return None  # a qcow2 file's blocks are not the guest disk's offsets
        return reflink_changes(previous.disks[lun], current.disks[lun])

    def snapshot_reader(self, snapset: SnapshotSet, lun: int) -> DiskReader:
        """A reader of disk ``lun`` of ``snapset`` (for the backup to the vault tier, or an
        instant restore). ``NotFoundError`` if the set has no such LUN or the file is gone."""
        if lun not in snapset.disks:
            raise NotFoundError(
                f"snapshot {snapset.point} of VM {snapset.vm} has no disk at LUN {lun}: its "
                f"LUNs are {', '.join(str(n) for n in sorted(snapset.disks))}",
                code="UserErrorDiskLunNotFound",
            )
        return open_disk(snapset.disks[lun], snapset.formats.get(lun))

    # -- restore -----------------------------------------------------------------------------

    def staging_folder(self) -> Path:
        """A folder on the source's filesystem to restore images into (created if missing), so
        that ``create_vm`` and ``replace_disks`` only rename."""
        folder = self.root / STAGING_FOLDER
        folder.mkdir(exist_ok=True)
        return folder

    def create_vm(
        self,
        new_name: str,
        template: VmSpec,
        disk_files: Mapping[int, Path],
        *,
        formats: Mapping[int, str] | None = None,
    ) -> VmSpec:
        """Create VM ``new_name`` from restored images (LUN -> file; consumed) and the flags of
        ``template``; returns it as discovery now sees it. Disks become
        ``<new_name>-<suffix>.<format>`` in the root and the manifest ``<new_name>.vm.yaml``.
        ``ConflictError`` if the name is taken (also by a broken manifest) or a file exists;
        see ``restore.plan_new_vm`` for the other errors. All or nothing."""
        self.check_new_vm(new_name, template, list(disk_files))
        vm = plan_new_vm(self.root, new_name, template, disk_files, formats)
        vm = dataclasses.replace(vm, source=self.name)
        place_new_vm(vm, disk_files, template)
        return _load_manifest(vm.manifest, self.name)

    def check_new_vm(self, new_name: str, template: VmSpec, luns: Sequence[int]) -> None:
        """Raise unless ``create_vm(new_name, template, <images of luns>)`` can succeed as far
        as names and folders go: ``InvalidInputError`` for an invalid name or a source folder
        that cannot be written (``UserErrorRestoreTargetNotWritable``); ``ConflictError``
        ``UserErrorVmAlreadyExists`` if the name is taken (also by a broken manifest) or a
        manifest of that name exists; ``ConflictError`` ``UserErrorFileExists`` if one of its
        disk files exists. Writes nothing."""
        check_vm_name(new_name)
        discovery = self.discover()
        taken = {vm.name for vm in discovery.vms} | {p.vm for p in discovery.problems if p.vm}
        files = [self.root / f"{new_name}{suffix}" for suffix in MANIFEST_SUFFIXES]
        for lun in luns:
            stem = planned_disk_name(new_name, template, lun)
            files += [self.root / f"{stem}.{fmt}" for fmt in DISK_FORMATS]
        if new_name in taken or any(os.path.lexists(f) for f in files[: len(MANIFEST_SUFFIXES)]):
            raise ConflictError(
                f"VM {new_name!r} already exists in source {self.name}: pick another name, or "
                "restore over the original disks with --replace-existing",
                code="UserErrorVmAlreadyExists",
            )
        existing = [str(f) for f in files if os.path.lexists(f)]
        if existing:
            raise ConflictError(
                f"cannot create VM {new_name}: {', '.join(existing)} already exists; pick "
                "another name or move the files away",
                code="UserErrorFileExists",
            )
        self.check_writable([self.root])

    def check_writable(self, folders: Sequence[Path]) -> None:
        """``InvalidInputError`` ``UserErrorRestoreTargetNotWritable`` unless every folder
        (created if missing) can be written: checked before a restore is queued."""
        for folder in folders:
            problem = folder_problem(folder)
            if problem is not None:
                raise InvalidInputError(
                    f"source {self.name} cannot receive a restore: {problem}; make the folder "
                    "writable (nothing was queued)",
                    code="UserErrorRestoreTargetNotWritable",
                )

    def replace_disks(self, vm: VmSpec, disk_files: Mapping[int, Path]) -> None:
        """Restore over the original disks of ``vm`` (all or none), after checking it is not
        running; see ``restore.replace_disks`` for the steps and errors."""
        self._check_own(vm)
        _replace_disks(vm, disk_files)

    def is_running(self, vm: VmSpec) -> bool:
        """True while any other process holds one of ``vm``'s disk files open (as QEMU does)."""
        return bool(holders(d.path for d in vm.disks))

    def _check_own(self, vm: VmSpec) -> None:
        if vm.source != self.name:
            raise InvalidInputError(f"VM {vm.id} is not of source {self.name}")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in MANIFEST_SUFFIXES:
        name = name.removesuffix(suffix)
    return name
