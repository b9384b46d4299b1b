"""Pruning follows the policy engine's retention decision; the newest point always stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from vault_helpers import CHUNK, MiB, mixed_data, write_image

from vmvault.domain.builder import PolicyFlags, build_policy
from vmvault.storage.memory import MemoryStorage
from vmvault.vault.backup import DiskSource, backup_point
from vmvault.vault.check import check_vault
from vmvault.vault.prune import RETAIN_UNTIL, prune_item
from vmvault.vault.readers import open_disk
from vmvault.vault.repository import Vault

START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def test_prune_removes_expired_points_and_keeps_the_newest(tmp_path: Path) -> None:
    policy = build_policy(
        PolicyFlags(
            sub_type="Standard",
            frequency="Daily",
            run_time="08:00",
            daily_retention=7,
            weekly_retention=0,
            monthly_retention=0,
            yearly_retention=0,
        )
    )
    storage = MemoryStorage()
    Vault.create(storage, START, chunk_size=CHUNK)
    vault = Vault.open(storage)
    image = write_image(tmp_path / "a.raw", 2 * MiB, {0: mixed_data(CHUNK, 1)})
    for day in range(10):
        when = START + timedelta(days=day)
        metadata = {RETAIN_UNTIL: (when + timedelta(days=90)).isoformat()} if day == 0 else {}
        with open_disk(image) as reader:
            backup_point(
                vault, "web01", f"rp{day}", when, [DiskSource(-1, "os", reader)], metadata=metadata
            )
    now = START + timedelta(days=9, hours=1)
    decisions = prune_item(vault, "web01", policy, now)
    # rp0 is on demand (kept 90 days); rp1 and rp2 are older than 7 days.
    assert sorted(d.point_id for d in decisions) == ["rp1", "rp2"]
    assert [p.point for p in vault.points("web01")] == ["rp0"] + [f"rp{d}" for d in range(3, 10)]
    assert check_vault(vault).ok
    # far in the future everything has expired but the newest point stays
    later = prune_item(vault, "web01", policy, now + timedelta(days=400))
    assert "rp9" not in {d.point_id for d in later}
    assert [p.point for p in vault.points("web01")] == ["rp9"]
