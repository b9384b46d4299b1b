"""Policy-engine benchmark: next-due for 10,000 protected items, and a retention pass over
10 years of 4-hourly recovery points for one item. Target: each under 1 second (2 cores).

Run: .venv/bin/python bench/bench_policy.py [--json bench/results/policy.json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vmvault.domain.builder import PolicyFlags, build_policy
from vmvault.domain.policy import Policy
from vmvault.domain.retention import PointState, retention_pass
from vmvault.domain.schedule import next_slot, slots_between
from vmvault.domain.tiers import BOTH_TIERS, SNAPSHOT_ONLY, planned_tiers

ZONES = [
    "UTC",
    "India Standard Time",
    "Pacific Standard Time",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Tokyo",
    "W. Europe Standard Time",
]


def _policies() -> list[Policy]:
    out = []
    for zone in ZONES:
        for interval in (4, 6, 8, 12, 24):
            out.append(
                build_policy(
                    PolicyFlags(
                        sub_type="Enhanced",
                        frequency="Hourly",
                        interval=interval,
                        time_zone=zone,
                        instant_rp_days=5,
                    )
                )
            )
        out.append(
            build_policy(
                PolicyFlags(
                    sub_type="Standard", frequency="Daily", run_time="22:30", time_zone=zone
                )
            )
        )
        out.append(
            build_policy(
                PolicyFlags(
                    sub_type="Standard", frequency="Weekly", run_days=["Saturday"], time_zone=zone
                )
            )
        )
    return out


def bench_next_due(items: int = 10_000) -> dict[str, float]:
    rng = random.Random(7)
    policies = _policies()
    assigned = [rng.choice(policies) for _ in range(items)]
    now = datetime(2026, 11, 22, 13, 17, tzinfo=UTC)
    start = time.perf_counter()
    due = [next_slot(p, now) for p in assigned]
    elapsed = time.perf_counter() - start
    assert all(d is not None and d > now for d in due)
    return {"items": items, "seconds": elapsed, "per_item_us": elapsed / items * 1e6}


def bench_retention(years: int = 10) -> dict[str, float]:
    policy = build_policy(
        PolicyFlags(
            sub_type="Enhanced",
            frequency="Hourly",
            interval=4,
            time_zone="Pacific Standard Time",
            instant_rp_days=17,
        )
    )
    first = datetime(2016, 11, 22, tzinfo=UTC)
    now = first + timedelta(days=365 * years + years // 4)
    slots = slots_between(policy, first, now)
    points = [
        PointState(
            f"rp{i}", s, BOTH_TIERS if planned_tiers(policy, s) == BOTH_TIERS else SNAPSHOT_ONLY
        )
        for i, s in enumerate(slots)
    ]
    start = time.perf_counter()
    decisions = retention_pass(policy, points, now)
    elapsed = time.perf_counter() - start
    return {"points": len(points), "removals": len(decisions), "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    results = {"next_due": bench_next_due(), "retention_pass": bench_retention()}
    nd, rp = results["next_due"], results["retention_pass"]
    print(
        f"next-due for {nd['items']:,} items: {nd['seconds']:.3f} s "
        f"({nd['per_item_us']:.1f} us/item)  target < 1 s"
    )
    print(
        f"retention pass over {rp['points']:,} 4-hourly points (10 years): "
        f"{rp['seconds']:.3f} s, {rp['removals']:,} tier removals  target < 1 s"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
