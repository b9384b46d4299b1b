"""Pruning: removing the vault copies of recovery points that a retention decision expires.

The decision is the policy engine's (``domain.retention.retention_pass``) over the item's points
in the vault, so the rule is written once. Only manifests and indexes are removed here; the
chunks they alone used are freed by garbage collection after its safety margin.
"""

from __future__ import annotations

from datetime import datetime

from vmvault.domain.policy import Policy
from vmvault.domain.retention import PointState, RetentionDecision, retention_pass
from vmvault.domain.tiers import Tier
from vmvault.vault.repository import Vault

RETAIN_UNTIL = "retainUntil"  # manifest metadata key of on-demand backups (ISO 8601, UTC)


def vault_points(vault: Vault, item: str) -> list[PointState]:
    """The item's points in the vault as the retention engine sees them."""
    states = []
    for ref in vault.points(item):
        manifest = vault.read_manifest(ref.item, ref.point)
        retain = manifest.metadata.get(RETAIN_UNTIL)
        states.append(
            PointState(
                point_id=ref.point,
                time=datetime.fromisoformat(manifest.time),
                tiers=frozenset({Tier.VAULT}),
                retain_until=datetime.fromisoformat(retain) if retain else None,
            )
        )
    return states


def prune_item(
    vault: Vault, item: str, policy: Policy, now: datetime, *, dry_run: bool = False
) -> list[RetentionDecision]:
    """Delete the item's points whose vault copy expired at ``now``; returns the decisions."""
    decisions = [
        d for d in retention_pass(policy, vault_points(vault, item), now) if d.tier is Tier.VAULT
    ]
    if not dry_run:
        for decision in decisions:
            vault.delete_point(item, decision.point_id)
    return decisions
