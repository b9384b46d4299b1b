"""Recovery points of an item: listing with tiers and expiry, in Azure's JSON shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vmvault.catalog.items import ItemStore, PointRecord
from vmvault.domain.errors import InvalidInputError, NotFoundError
from vmvault.domain.tiers import Expiry, Tier, snapshot_expiry, vault_expiry
from vmvault.services.arm_ids import ArmScope
from vmvault.services.items import ItemService, ItemView
from vmvault.vault.format import utc_text

TIER_FILTERS = {
    "snapshot": {Tier.SNAPSHOT},
    "vaultstandard": {Tier.VAULT},
    "snapshotandvaultstandard": {Tier.SNAPSHOT, Tier.VAULT},
}
POINT_TYPE = (
    "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems/"
    "recoveryPoints"
)


@dataclass(frozen=True)
class PointView:
    item: ItemView
    record: PointRecord
    tiers: dict[Tier, Expiry | None]  # present tiers and when each expires (None: never)


class PointService:
    def __init__(self, items: ItemStore, item_service: ItemService, scope: ArmScope) -> None:
        self.items, self.item_service, self.scope = items, item_service, scope

    def all(self, vault: str, item: str, tier: str | None = None) -> list[PointView]:
        view = self.item_service.get(vault, item)
        wanted = None
        if tier is not None:
            wanted = TIER_FILTERS.get(tier.lower())
            if wanted is None:
                raise InvalidInputError(
                    f"--tier {tier!r} is not valid: allowed values are Snapshot, VaultStandard, "
                    "SnapshotAndVaultStandard"
                )
        points = [self._view(view, p) for p in reversed(self.items.points(view.record.id))]
        if wanted is not None:
            points = [p for p in points if set(p.tiers) == wanted]
        return points

    def latest_time(self, item: ItemView) -> datetime | None:
        """When the item's newest recovery point was taken (None without points)."""
        points = self.items.points(item.record.id)
        return points[-1].time if points else None

    def get(self, vault: str, item: str, name: str) -> PointView:
        view = self.item_service.get(vault, item)
        record = self.items.point(view.record.id, name)
        if record is None:
            raise NotFoundError(
                f"recovery point {name!r} of item {item!r} was not found: `vmvault recoverypoint "
                f"list --vault-name {vault} --item-name {item}` shows its points",
                code="BMSUserErrorRecoveryPointNotFound",
            )
        return self._view(view, record)

    def _view(self, item: ItemView, p: PointRecord) -> PointView:
        tiers: dict[Tier, Expiry | None] = {}
        policy = item.policy.policy if item.policy else None
        stopped = item.record.protection_state != "Protected"
        if p.snapshot_present:
            tiers[Tier.SNAPSHOT] = snapshot_expiry(policy, p.time) if policy else None
        if p.vault_present:
            keep = policy is None or (stopped and p.retain_until is None)
            tiers[Tier.VAULT] = None if keep else vault_expiry(policy, p.time, p.retain_until)  # type: ignore[arg-type]
        return PointView(item, p, tiers)

    def to_arm(self, point: PointView) -> dict[str, Any]:
        item = point.item
        disks = point.record.disks
        vm_disks = {d.lun: d for d in item.vm.disks} if item.vm else {}

        def disk(lun: int) -> dict[str, Any]:
            d = vm_disks.get(lun)
            return {"lun": lun, "name": d.name if d else None}

        return {
            "id": f"{self.scope.vault_id(item.vault)}/backupFabrics/Azure/protectionContainers/"
            f"{container(item)}/protectedItems/{item_name(item)}/recoveryPoints/{point.record.name}",
            "name": point.record.name,
            "type": POINT_TYPE,
            "properties": {
                "objectType": "IaasVMRecoveryPoint",
                "recoveryPointTime": utc_text(point.record.time),
                "recoveryPointType": "CrashConsistent",
                "policySubType": point.record.policy_sub_type,
                "snapshotMethod": point.record.snapshot_method,
                "recoveryPointTierDetails": [
                    {
                        "type": t.value,
                        "status": _tier_status(point.record, t),
                        "extendedInfo": {"expiryTime": utc_text(e.at), "reason": e.reason}
                        if e
                        else {},
                    }
                    for t, e in point.tiers.items()
                ],
                "recoveryPointDiskConfiguration": {
                    "numberOfDisksIncludedInBackup": len(disks.get("included", [])),
                    "numberOfDisksAttachedToVm": len(disks.get("included", []))
                    + len(disks.get("excluded", [])),
                    "includedDiskList": [disk(lun) for lun in disks.get("included", [])],
                    "excludedDiskList": [
                        {**disk(x["lun"]), "reason": x["reason"]} for x in disks.get("excluded", [])
                    ],
                },
                "retainUntil": utc_text(point.record.retain_until)
                if point.record.retain_until
                else None,
            },
        }


def container(item: ItemView) -> str:
    source = item.vm.source if item.vm else "unknown"
    return f"iaasvmcontainerv2;{source};{item.record.vm_name}"


def item_name(item: ItemView) -> str:
    return f"vm;{container(item)}"


def _tier_status(record: PointRecord, tier: Tier) -> str:
    """ "Invalid" for a snapshot found damaged or gone (services/snapshot_integrity.py)."""
    if tier is Tier.SNAPSHOT and record.snapshot_status == "Invalid":
        return "Invalid"
    return "Valid"
