"""Which VMs a policy may protect, which disks a backup includes, and policy changes.

Rules from seed 001 ("Back up an Azure VM by using the Enhanced policy") and seed 000
("Migrate Azure VM backups from standard to enhanced policy"):

* Trusted Launch VMs, and VMs with Premium SSD v2 or Ultra SSD disks, can be protected only by an
  Enhanced policy.
* Under an Enhanced policy, shared disks are excluded automatically and the others backed up;
  a Standard policy cannot protect a VM with a shared disk (unless that disk is excluded).
* The OS disk is always included; data disks can be selected (include or exclude by LUN).
* A disk with data access authentication makes backups fail with a clear error.
* A VM on an Enhanced policy can never go back to a Standard one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from vmvault.domain.errors import InvalidInputError, VmvaultError
from vmvault.domain.policy import SubType

OS_LUN = -1
ENHANCED_ONLY_DISK_TYPES = frozenset({"premium_ssd_v2", "ultra_ssd"})


class DiskListSetting(StrEnum):
    INCLUDE = "include"
    EXCLUDE = "exclude"


class ProtectionState(StrEnum):
    """Azure's protection states of a backup item."""

    PROTECTED = "Protected"
    PROTECTION_STOPPED = "ProtectionStopped"


@dataclass(frozen=True)
class DiskFacts:
    lun: int
    name: str
    type: str
    shared: bool = False
    data_access_auth: bool = False


@dataclass(frozen=True)
class VmFacts:
    name: str
    managed: bool
    trusted_launch: bool
    disks: tuple[DiskFacts, ...]


@dataclass(frozen=True)
class DiskSelection:
    """The LUNs a backup includes, and those it leaves out with the reason."""

    included: tuple[int, ...]
    excluded: tuple[tuple[int, str], ...]


class ProtectionRuleError(VmvaultError):
    """A VM cannot be protected (or backed up) as asked; nothing was changed."""

    code = "UserErrorProtectionNotAllowed"


def check_policy_fits_vm(vm: VmFacts, sub_type: SubType, excluded: Sequence[int] = ()) -> None:
    """Raise ProtectionRuleError if a policy of ``sub_type`` may not protect ``vm``."""
    if sub_type is SubType.ENHANCED:
        return
    if vm.trusted_launch:
        raise ProtectionRuleError(
            f"VM {vm.name!r} is a Trusted Launch VM: it can be protected only by an Enhanced "
            "policy; choose an Enhanced policy",
            code="UserErrorTrustedLaunchVMNeedsEnhancedPolicy",
        )
    for disk in vm.disks:
        if disk.type in ENHANCED_ONLY_DISK_TYPES and disk.lun not in excluded:
            raise ProtectionRuleError(
                f"disk {disk.name!r} (LUN {disk.lun}) of VM {vm.name!r} is {disk.type}: VMs with "
                "Premium SSD v2 or Ultra SSD disks can be protected only by an Enhanced policy",
                code="UserErrorUnsupportedDiskTypeForStandardPolicy",
            )
        if disk.shared and disk.lun not in excluded:
            raise ProtectionRuleError(
                f"disk {disk.name!r} (LUN {disk.lun}) of VM {vm.name!r} is shared: a Standard "
                "policy cannot back up shared disks; use an Enhanced policy (it excludes shared "
                "disks automatically) or exclude the disk",
                code="UserErrorSharedDiskNotSupportedForStandardPolicy",
            )


def select_disks(
    vm: VmFacts,
    sub_type: SubType,
    setting: DiskListSetting | None = None,
    luns: Sequence[int] = (),
) -> DiskSelection:
    """The disks a backup of ``vm`` includes under a policy of ``sub_type``.

    ``setting`` include: the OS disk and the listed data disks; exclude: all but the listed
    data disks; None: every disk. The OS disk is always included. Unknown LUNs are refused.
    """
    known = {d.lun for d in vm.disks}
    unknown = sorted(set(luns) - known)
    if unknown:
        raise InvalidInputError(
            f"--diskslist {unknown[0]} is not a LUN of VM {vm.name!r}: its disks are "
            + ", ".join(str(lun) for lun in sorted(known))
        )
    if setting is None and luns:
        raise InvalidInputError("--diskslist needs --disk-list-setting include or exclude")
    included: list[int] = []
    excluded: list[tuple[int, str]] = []
    for disk in sorted(vm.disks, key=lambda d: d.lun):
        if disk.lun == OS_LUN:
            included.append(disk.lun)
        elif setting is DiskListSetting.INCLUDE and disk.lun not in luns:
            excluded.append((disk.lun, "not in the include list (selective disk backup)"))
        elif setting is DiskListSetting.EXCLUDE and disk.lun in luns:
            excluded.append((disk.lun, "in the exclude list (selective disk backup)"))
        elif disk.shared and sub_type is SubType.ENHANCED:
            excluded.append(
                (disk.lun, "shared disk: excluded automatically by the Enhanced policy")
            )
        else:
            included.append(disk.lun)
    return DiskSelection(tuple(included), tuple(excluded))


def check_backup_allowed(vm: VmFacts, included: Sequence[int]) -> None:
    """Raise ProtectionRuleError if a backup of these disks must fail."""
    for disk in vm.disks:
        if disk.lun in included and disk.data_access_auth:
            raise ProtectionRuleError(
                f"disk {disk.name!r} (LUN {disk.lun}) of VM {vm.name!r} has data access "
                "authentication enabled: backups of such disks fail; disable data access "
                "authentication on the disk or exclude it",
                code="UserErrorDiskDataAccessAuthNotSupported",
            )


def check_policy_change(current: SubType, new: SubType) -> None:
    """A VM on an Enhanced policy can never move to a Standard one."""
    if current is SubType.ENHANCED and new is SubType.STANDARD:
        raise ProtectionRuleError(
            "the item is protected by an Enhanced policy and cannot change to a Standard "
            "policy: the move from Standard to Enhanced is one-way; choose an Enhanced policy",
            code="UserErrorEnhancedToStandardPolicyChangeNotAllowed",
        )
