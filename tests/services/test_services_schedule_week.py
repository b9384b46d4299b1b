"""A fake clock drives ten days of an Enhanced 4-hourly policy through the real scheduler,
worker, snapshot tier and vault in seconds: the right number of snapshots, the right points in
the vault, snapshots expiring on time, vault points pruned by the retention ranges."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vmvault.clock import FakeClock
from vmvault.config import load_settings
from vmvault.domain.builder import PolicyFlags, build_policy
from vmvault.domain.retention import PointState, retention_pass
from vmvault.domain.schedule import slots_between
from vmvault.domain.tiers import BOTH_TIERS, SNAPSHOT_ONLY, planned_tiers
from vmvault.services.context import Services
from vmvault.services.jobs import worker_id
from vmvault.services.policies import document_from_flags

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
DAYS = 10
STEP = timedelta(minutes=30)  # IST slots fall on the half hour in UTC


def _lab(folder: Path) -> None:
    folder.mkdir()
    with open(folder / "web01-os.raw", "wb") as f:
        f.truncate(4 * 1024 * 1024)
        f.write(os.urandom(256 * 1024))
    (folder / "web01.vm.yaml").write_text(
        "name: web01\ndisks:\n"
        "  - {lun: -1, name: web01-os, path: web01-os.raw, type: premium_ssd}\n"
    )


def test_ten_days_of_an_enhanced_four_hourly_policy(tmp_path: Path) -> None:
    clock = FakeClock(START)
    svc = Services.open(load_settings({"VMVAULT_HOME": str(tmp_path / "home")}), clock)
    _lab(tmp_path / "lab")
    flags = PolicyFlags(
        sub_type="Enhanced",
        frequency="Hourly",
        interval=4,
        window_start="08:00",
        window_duration=24,
        time_zone="India Standard Time",
        instant_rp_days=2,
        daily_retention=7,
        weekly_retention=12,
        weekly_days=["Sunday"],
        monthly_retention=0,
        yearly_retention=0,
    )
    policy = build_policy(flags)
    svc.vaults.create("v1")
    svc.policies.create("v1", "every4h", document_from_flags(flags))
    svc.sources.add("lab", "files", str(tmp_path / "lab"))
    svc.items.enable("v1", "lab/web01", "every4h")
    me = worker_id("test")

    end = START + timedelta(days=DAYS)
    while clock.now() < end:
        clock.advance(STEP)
        svc.scheduling.enqueue_due()
        while svc.jobs.run_one(me) is not None:
            pass
        svc.scheduling.apply_retention()
    now = clock.now()

    slots = slots_between(policy, START, now + timedelta(microseconds=1))
    assert len(slots) == 6 * DAYS
    jobs = svc.jobs.find("v1", operation="Backup")
    assert len(jobs) == len(slots)
    assert all(j.status == "Completed" for j in jobs)

    # what the policy engine says should be left
    expected = retention_pass(
        policy,
        [PointState(s.isoformat(), s, planned_tiers(policy, s)) for s in slots],
        now,
    )
    removed = {(d.point_id, d.tier) for d in expected}
    want_snapshots = sorted(s for s in slots if (s.isoformat(), "InstantRP") not in removed)
    vault_slots = [s for s in slots if planned_tiers(policy, s) == BOTH_TIERS]
    want_vault = sorted(s for s in vault_slots if (s.isoformat(), "HardenedRP") not in removed)

    points = svc.items.items.points(svc.items.get("v1", "web01").record.id)
    assert sorted(p.time for p in points if p.snapshot_present) == want_snapshots
    assert sorted(p.time for p in points if p.vault_present) == want_vault
    # snapshots are kept exactly two days, one per slot
    assert len(want_snapshots) == 12
    # one vault copy per IST day; older than seven days pruned unless a Sunday keeps it
    assert len(vault_slots) == DAYS
    sundays = [s for s in vault_slots if s.astimezone(policy.zone).weekday() == 6]
    assert set(sundays) <= set(want_vault)
    assert len(want_vault) == 7 + len([s for s in sundays if s < now - timedelta(days=7)])
    assert all(planned_tiers(policy, s) in (SNAPSHOT_ONLY, BOTH_TIERS) for s in slots)

    # the source holds exactly the snapshots the catalog lists, the vault exactly its points
    snap_root = tmp_path / "lab" / ".vmvault-snapshots" / "web01"
    assert sorted(p.name for p in snap_root.iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in points if p.snapshot_present
    )
    vault = svc.vaults.open_data("v1", None)
    assert sorted(r.point for r in vault.points("web01")) == sorted(
        p.name for p in points if p.vault_present
    )
    svc.close()
