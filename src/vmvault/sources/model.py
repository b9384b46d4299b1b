"""What a source knows about its VMs: disks, VMs, manifest problems and snapshot sets.

Everything here is a frozen value. A ``VmSpec`` is what discovery found at one moment: its disk
paths are absolute and existed then, but a disk can vanish or change afterwards, so every
operation that touches the files checks again (and says which VM, LUN and path failed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from vmvault.domain.errors import NotFoundError

# The charset of a vault item name (vault/format.py): VM, disk, source and point names become
# file and object names, so they follow one rule everywhere. No leading '.', which keeps them
# apart from hidden and temporary files.
NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")
NAME_RULE = "1-128 of A-Z a-z 0-9 . _ -, not starting with '.'"

OS_LUN = -1
MAX_DATA_LUN = 63
OS_TYPES = ("Linux", "Windows")
DISK_FORMATS = ("raw", "qcow2")


class DiskType(StrEnum):
    """Azure's managed disk SKUs, as the manifest spells them."""

    STANDARD_HDD = "standard_hdd"
    STANDARD_SSD = "standard_ssd"
    PREMIUM_SSD = "premium_ssd"
    PREMIUM_SSD_V2 = "premium_ssd_v2"
    ULTRA_SSD = "ultra_ssd"


class SnapshotMethod(StrEnum):
    """How a snapshot disk was made (recorded on the recovery point).

    ``QCOW2_OVERLAY`` is never produced by the files source (see ``sources/clone.py``); it is
    here because the libvirt source takes snapshots that way and points record one vocabulary.
    """

    REFLINK = "reflink"
    COPY = "copy"
    QCOW2_OVERLAY = "qcow2-overlay"


@dataclass(frozen=True)
class DiskSpec:
    """One disk of a VM. ``path`` is absolute; ``format`` is None when the manifest left it to
    detection (``vault.readers.detect_format``)."""

    lun: int
    name: str
    path: Path
    type: DiskType
    shared: bool = False
    data_access_auth: bool = False
    format: str | None = None

    @property
    def is_os_disk(self) -> bool:
        return self.lun == OS_LUN


@dataclass(frozen=True)
class VmSpec:
    """One VM of a source, as its manifest describes it; ``disks`` are sorted by LUN (OS first)."""

    source: str
    name: str
    managed: bool
    trusted_launch: bool
    os_type: str
    disks: tuple[DiskSpec, ...]
    manifest: Path

    @property
    def id(self) -> str:
        """``source/name``: unique across sources, the form ``vm show --vm`` accepts."""
        return f"{self.source}/{self.name}"

    @property
    def os_disk(self) -> DiskSpec:
        return self.disk(OS_LUN)

    @property
    def luns(self) -> tuple[int, ...]:
        return tuple(d.lun for d in self.disks)

    def disk(self, lun: int) -> DiskSpec:
        """The disk at ``lun``; ``NotFoundError`` naming the VM and its LUNs if there is none."""
        for d in self.disks:
            if d.lun == lun:
                return d
        raise NotFoundError(
            f"VM {self.id} has no disk at LUN {lun}: its LUNs are "
            f"{', '.join(str(n) for n in self.luns)}",
            code="UserErrorDiskLunNotFound",
        )


@dataclass(frozen=True)
class ManifestProblem:
    """Why one manifest (or one disk in it) could not be used.

    ``field`` is a path into the document (``name``, ``disks[1].type``); it is empty when the
    whole file is at fault (unreadable, not YAML). ``vm`` is the VM name when the document got
    that far, so ``find`` can say "web01 exists but its manifest is broken".
    """

    file: Path
    field: str
    message: str
    vm: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else str(self.file)
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Discovery:
    """The result of scanning a source: the usable VMs (by name) and every problem found."""

    vms: tuple[VmSpec, ...]
    problems: tuple[ManifestProblem, ...]

    def names(self) -> list[str]:
        return [vm.name for vm in self.vms]


@dataclass(frozen=True)
class SnapshotSet:
    """The snapshot of some disks of one VM for one recovery point (tier ``InstantRP``).

    ``disks`` maps each included LUN to its snapshot image, ``methods`` says how each was made
    and ``formats`` is the image format to read it with (None: detect). All disks were taken at
    one instant: no source disk changed while the set was taken.
    """

    vm: str
    point: str
    folder: Path
    disks: Mapping[int, Path]
    methods: Mapping[int, SnapshotMethod]
    formats: Mapping[int, str | None]

    @property
    def method(self) -> str:
        """The one method of every disk, or ``"mixed"`` when disks needed different ones."""
        found = set(self.methods.values())
        return str(found.pop()) if len(found) == 1 else "mixed"


@dataclass(frozen=True)
class SnapshotCost:
    """What each snapshot of a VM's chosen disks will cost: ``reflink`` True means clones
    (space only as the disks change), False a full copy of ``allocated_bytes`` each time,
    None that it cannot be told."""

    reflink: bool | None
    allocated_bytes: int
