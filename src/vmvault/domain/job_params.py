"""Typed parameters of queued jobs, one small class per operation.

A job row stores its parameters as JSON with Azure-style camelCase keys; ``to_json`` writes
them and ``from_json`` reads them back (rows written by older vmvault versions use the same
keys, so they read unchanged; unknown keys are ignored). What a job produced (restored files,
bytes read and stored) is kept beside them under ``result``, as strings, and is not a parameter.
Every value a job shows in its ``propertyBag`` is a string: JSON text for lists, never a Python
repr.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from vmvault.domain.jobs import MIGRATE_POLICY, Operation

RESULT = "result"  # the key of a job's outputs in its stored parameters
Trigger = Literal["OnDemand", "Scheduled", "Migration"]
RestoreMode = Literal["disks", "new-vm", "replace"]


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _text(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class BackupParams:
    """A backup: on demand (kept until ``retain_until``), for a policy ``slot``, or the
    backup a migration takes."""

    trigger: Trigger
    slot: datetime | None = None
    retain_until: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"trigger": self.trigger}
        if self.slot is not None:
            out["slot"] = _text(self.slot)
        if self.retain_until is not None:
            out["retainUntil"] = _text(self.retain_until)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BackupParams:
        trigger: Trigger = data.get("trigger") or ("Scheduled" if data.get("slot") else "OnDemand")
        return cls(trigger, _time(data.get("slot")), _time(data.get("retainUntil")))


@dataclass(frozen=True)
class RestoreParams:
    """A restore of ``luns`` of ``point`` from ``tier``: as image files in ``target_dir``
    (mode "disks"), as new VM ``target_vm`` ("new-vm"), or over the VM's own disks
    ("replace")."""

    point: str
    luns: tuple[int, ...]
    tier: str
    mode: RestoreMode = "disks"
    target_dir: str | None = None
    target_vm: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "point": self.point,
            "luns": list(self.luns),
            "tier": self.tier,
            "mode": self.mode,
        }
        if self.target_dir is not None:
            out["targetDir"] = self.target_dir
        if self.target_vm is not None:
            out["targetVm"] = self.target_vm
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RestoreParams:
        return cls(
            point=str(data["point"]),
            luns=tuple(int(x) for x in data.get("luns", ())),
            tier=str(data.get("tier", "vault")),
            mode=data.get("mode") or "disks",
            target_dir=data.get("targetDir"),
            target_vm=data.get("targetVm"),
        )

    @property
    def over_original(self) -> bool:
        return self.mode == "replace"


@dataclass(frozen=True)
class MigrationParams:
    """A migration from Standard policy ``previous_policy`` to Enhanced ``target_policy``."""

    target_policy: str
    previous_policy: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"trigger": "Migration", "targetPolicy": self.target_policy}
        if self.previous_policy is not None:
            out["previousPolicy"] = self.previous_policy
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MigrationParams:
        return cls(str(data["targetPolicy"]), data.get("previousPolicy"))

    @property
    def backup(self) -> BackupParams:
        """The backup the migration takes: both tiers, retained by the new policy."""
        return BackupParams("Migration")


JobParams = BackupParams | RestoreParams | MigrationParams


def parse_params(operation: str, sub_type: str | None, data: Mapping[str, Any]) -> JobParams | None:
    """The typed parameters of a stored job; None for a job that has none (a recorded
    configuration change)."""
    if operation == Operation.BACKUP.value:
        return BackupParams.from_json(data)
    if operation == Operation.RESTORE.value and "point" in data:
        return RestoreParams.from_json(data)
    if operation == Operation.CONFIGURE_BACKUP.value and sub_type == MIGRATE_POLICY:
        return MigrationParams.from_json(data)
    return None


def exclusive(operation: str, params: JobParams | None) -> bool:
    """Whether a job is one of the operations of which an item runs one at a time (as in
    Azure): a backup, a restore over the VM's own disks, a policy change or a migration."""
    if isinstance(params, RestoreParams):
        return params.over_original
    return operation in (Operation.BACKUP.value, Operation.CONFIGURE_BACKUP.value)


def bag_text(value: object) -> str:
    """A ``propertyBag`` value: strings as they are, everything else as JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def property_bag(stored: Mapping[str, Any]) -> dict[str, str]:
    """A job's parameters and results as Azure's ``propertyBag``: string values only, no
    empty ones."""
    flat = {k: v for k, v in stored.items() if k != RESULT}
    flat.update(stored.get(RESULT) or {})
    return {k: bag_text(v) for k, v in flat.items() if v is not None}
