"""Which tiers of which recovery points a retention pass removes at ``now``.

A tier of a point is removed once its expiry (``tiers.snapshot_expiry``/``tiers.vault_expiry``,
computed from the item's current policy) is at or before ``now``. One exception protects
against losing everything to a run of failed backups: the newest point in the vault is never
removed by retention (Azure keeps the latest recovery point), whatever its expiry says.
A point whose every tier is removed is gone; ``RetentionDecision.point_gone`` says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from vmvault.domain.policy import Policy
from vmvault.domain.tiers import Expiry, Tier, snapshot_expiry, vault_expiry


@dataclass(frozen=True)
class PointState:
    """What retention needs to know about one recovery point of one item."""

    point_id: str
    time: datetime
    tiers: frozenset[Tier]
    retain_until: datetime | None = None  # set for on-demand backups


@dataclass(frozen=True)
class RetentionDecision:
    point_id: str
    tier: Tier
    expiry: Expiry
    point_gone: bool


def tier_expiries(policy: Policy, point: PointState) -> dict[Tier, Expiry]:
    """The expiry of each tier the point holds."""
    out: dict[Tier, Expiry] = {}
    if Tier.SNAPSHOT in point.tiers:
        out[Tier.SNAPSHOT] = snapshot_expiry(policy, point.time)
    if Tier.VAULT in point.tiers:
        out[Tier.VAULT] = vault_expiry(policy, point.time, point.retain_until)
    return out


def retention_pass(
    policy: Policy, points: Iterable[PointState], now: datetime
) -> list[RetentionDecision]:
    """The tiers to remove at ``now``, oldest point first. Pure: removes nothing itself."""
    ordered: Sequence[PointState] = sorted(points, key=lambda p: p.time)
    newest_vault = next((p.point_id for p in reversed(ordered) if Tier.VAULT in p.tiers), None)
    decisions: list[RetentionDecision] = []
    for point in ordered:
        expired = [
            (tier, expiry)
            for tier, expiry in tier_expiries(policy, point).items()
            if expiry.at <= now and not (tier is Tier.VAULT and point.point_id == newest_vault)
        ]
        gone = len(expired) == len(point.tiers)
        decisions.extend(RetentionDecision(point.point_id, t, e, gone) for t, e in expired)
    return decisions
