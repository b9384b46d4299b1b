"""ARM resource ids and envelopes, as Azure's Recovery Services API writes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROVIDER = "Microsoft.RecoveryServices"
VAULT_TYPE = f"{PROVIDER}/vaults"
POLICY_TYPE = f"{PROVIDER}/vaults/backupPolicies"


@dataclass(frozen=True)
class ArmScope:
    subscription: str
    resource_group: str

    def vault_id(self, vault: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{VAULT_TYPE}/{vault}"
        )

    def policy_id(self, vault: str, policy: str) -> str:
        return f"{self.vault_id(vault)}/backupPolicies/{policy}"


def resource(rid: str, name: str, rtype: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": rid, "name": name, "type": rtype, "properties": properties}
