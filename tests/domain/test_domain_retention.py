"""retention.py: which tiers of which points a retention pass removes at ``now``.

Golden tables live in ``cases/retention_*.json`` (a policy in ARM JSON, points, ``now`` and the
expected removals with their reasons), in the spirit of restic's policy_keep_snapshots files.
Review a change to them like code. To rewrite their ``removals`` after an intended rule change:
``VMVAULT_UPDATE_GOLDEN=1 pytest tests/domain/test_domain_retention.py``, then read the diff.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from domain_builders import (
    PROPERTY,
    enhanced_hourly,
    iso,
    standard_daily,
    utc,
    valid_policies,
)
from hypothesis import given
from hypothesis import strategies as st

from vmvault.domain.arm_policy import policy_from_arm
from vmvault.domain.policy import DailyRetention, Frequency, Policy, Retention
from vmvault.domain.retention import (
    PointState,
    RetentionDecision,
    retention_pass,
    tier_expiries,
)
from vmvault.domain.tiers import BOTH_TIERS, SNAPSHOT_ONLY, Tier

CASES = Path(__file__).resolve().parent / "cases"
VAULT_ONLY = frozenset({Tier.VAULT})


def point(
    point_id: str, at: str, tiers: frozenset[Tier] = BOTH_TIERS, retain_until: str | None = None
) -> PointState:
    return PointState(point_id, iso(at), tiers, iso(retain_until) if retain_until else None)


def _summary(decisions: list[RetentionDecision]) -> list[tuple[str, str, bool]]:
    return [(d.point_id, d.tier.value, d.point_gone) for d in decisions]


# ---------------------------------------------------------------------------------------------
# table cases (Standard daily in UTC at 08:00: snapshots 2 days, vault 30 days)

S, V = "InstantRP", "HardenedRP"

PASS_CASES = [
    pytest.param(
        [point("a", "2026-05-01T08:00Z"), point("b", "2026-05-05T08:00Z")],
        "2026-05-04T00:00Z",
        [("a", S, False)],
        id="snapshot-past-expiry-removed-vault-kept",
    ),
    pytest.param(
        [point("a", "2026-05-01T08:00Z"), point("b", "2026-05-02T08:00Z")],
        "2026-05-03T08:00Z",
        [("a", S, False)],
        id="expiry-exactly-now-is-removed",
    ),
    pytest.param(
        [point("a", "2026-05-01T08:00Z"), point("b", "2026-05-02T08:00Z")],
        "2026-05-03T07:59:59.999999Z",
        [],
        id="one-microsecond-before-expiry-kept",
    ),
    pytest.param(
        [point("a", "2026-05-01T08:00Z"), point("b", "2026-06-15T08:00Z")],
        "2026-06-15T09:00Z",
        [("a", S, True), ("a", V, True)],
        id="all-tiers-expired-point-gone",
    ),
    pytest.param(
        [point("a", "2026-05-01T08:00Z", VAULT_ONLY), point("b", "2026-06-15T08:00Z")],
        "2026-06-15T09:00Z",
        [("a", V, True)],
        id="vault-only-point-expired-gone",
    ),
    pytest.param(
        [point("a", "2026-05-01T08:00Z", VAULT_ONLY), point("b", "2026-05-02T08:00Z", VAULT_ONLY)],
        "2027-01-01T00:00Z",
        [("a", V, True)],
        id="newest-vault-point-never-removed",
    ),
    pytest.param(
        [point("a", "2026-05-01T08:00Z")],
        "2027-01-01T00:00Z",
        [("a", S, False)],
        id="only-point-keeps-vault-loses-snapshot-not-gone",
    ),
    pytest.param(
        [
            point("a", "2026-05-01T08:00Z", VAULT_ONLY),
            point("b", "2026-05-02T08:00Z", SNAPSHOT_ONLY),
        ],
        "2027-01-01T00:00Z",
        [("b", S, True)],
        id="newer-snapshot-only-point-does-not-unprotect-the-newest-vault-point",
    ),
    pytest.param(
        [
            point("c", "2026-05-03T08:00Z", SNAPSHOT_ONLY),
            point("a", "2026-05-01T08:00Z", SNAPSHOT_ONLY),
            point("b", "2026-05-02T08:00Z", SNAPSHOT_ONLY),
        ],
        "2026-05-04T08:00Z",
        [("a", S, True), ("b", S, True)],
        id="oldest-first-snapshot-only-points-gone",
    ),
    pytest.param(
        [
            point("od", "2026-05-01T13:00Z", retain_until="2026-05-10T00:00Z"),
            point("b", "2026-05-20T08:00Z"),
        ],
        "2026-05-10T00:00Z",
        [("od", S, True), ("od", V, True)],
        id="on-demand-vault-expires-at-retain-until",
    ),
    pytest.param(
        [
            point("od", "2026-05-01T13:00Z", retain_until="2027-01-01T00:00Z"),
            point("b", "2026-05-20T08:00Z"),
        ],
        "2026-07-01T00:00Z",
        [("od", S, False), ("b", S, False)],  # b is the newest vault point
        id="on-demand-retain-until-outlives-daily-range",
    ),
    pytest.param(
        [
            point("od", "2026-05-25T13:00Z", retain_until="2026-05-26T00:00Z"),
            point("b", "2026-05-20T08:00Z"),
        ],
        "2026-05-26T00:00Z",
        [("b", S, False)],
        id="on-demand-newest-vault-point-kept-even-past-retain-until",
    ),
    pytest.param([], "2026-05-01T00:00Z", [], id="no-points"),
]


@pytest.mark.parametrize(("points", "now", "expected"), PASS_CASES)
def test_retention_pass(
    points: list[PointState], now: str, expected: list[tuple[str, str, bool]]
) -> None:
    policy = standard_daily()
    assert _summary(retention_pass(policy, points, iso(now))) == expected


def test_decisions_carry_expiry_and_reason() -> None:
    policy = standard_daily()
    points = [point("a", "2026-05-01T08:00Z"), point("b", "2026-06-15T08:00Z")]
    decisions = retention_pass(policy, points, utc(2026, 6, 15, 9))
    assert [(d.tier, d.expiry.at, d.expiry.reason) for d in decisions] == [
        (Tier.SNAPSHOT, utc(2026, 5, 3, 8), "instant restore (2 days)"),
        (Tier.VAULT, utc(2026, 5, 31, 8), "daily (30 days)"),
    ]


def test_tier_expiries_only_for_held_tiers() -> None:
    policy = standard_daily()
    assert set(tier_expiries(policy, point("a", "2026-05-01T08:00Z", SNAPSHOT_ONLY))) == {
        Tier.SNAPSHOT
    }
    assert set(tier_expiries(policy, point("a", "2026-05-01T08:00Z", VAULT_ONLY))) == {Tier.VAULT}


def test_current_policy_applies_to_old_points() -> None:
    """Expiry comes from the item's current policy: a longer range keeps old points longer."""
    points = [point("a", "2026-05-01T08:00Z", VAULT_ONLY), point("b", "2026-06-20T08:00Z")]
    now = utc(2026, 6, 20, 9)
    assert _summary(retention_pass(standard_daily(), points, now)) == [("a", V, True)]
    longer = standard_daily(retention=Retention(daily=DailyRetention(days=60)))
    assert retention_pass(longer, points, now) == []


def test_hourly_day_snapshots_go_but_the_vault_point_stays() -> None:
    policy = enhanced_hourly(instant=1)  # UTC: 00 04 08 12 16 20, 20:00 to the vault
    points = [
        point(f"{h:02d}", f"2026-05-01T{h:02d}:00Z", BOTH_TIERS if h == 20 else SNAPSHOT_ONLY)
        for h in (0, 4, 8, 12, 16, 20)
    ]
    now = utc(2026, 5, 2, 13)
    assert _summary(retention_pass(policy, points, now)) == [
        ("00", S, True),
        ("04", S, True),
        ("08", S, True),
        ("12", S, True),
    ]


# ---------------------------------------------------------------------------------------------
# golden tables


def _golden_files() -> list[Path]:
    return sorted(CASES.glob("retention_*.json"))


def _point_from_json(raw: dict[str, Any]) -> PointState:
    return PointState(
        point_id=raw["id"],
        time=iso(raw["time"]),
        tiers=frozenset(Tier(t) for t in raw["tiers"]),
        retain_until=iso(raw["retainUntil"]) if raw.get("retainUntil") else None,
    )


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _decision_to_json(d: RetentionDecision) -> dict[str, Any]:
    return {
        "point": d.point_id,
        "tier": d.tier.value,
        "expiresAt": _z(d.expiry.at),
        "reason": d.expiry.reason,
        "pointGone": d.point_gone,
    }


def test_golden_files_exist() -> None:
    assert len(_golden_files()) >= 3


@pytest.mark.parametrize("path", _golden_files(), ids=lambda p: p.stem)
def test_golden_retention_pass(path: Path) -> None:
    case = json.loads(path.read_text())
    policy = policy_from_arm(case["policy"])
    points = [_point_from_json(p) for p in case["points"]]
    got = [_decision_to_json(d) for d in retention_pass(policy, points, iso(case["now"]))]
    if os.environ.get("VMVAULT_UPDATE_GOLDEN") == "1":
        case["removals"] = got
        path.write_text(json.dumps(case, indent=2) + "\n")
    assert got == case["removals"]


# ---------------------------------------------------------------------------------------------
# properties

BASE = utc(2024, 1, 1)
TIER_SETS = [SNAPSHOT_ONLY, VAULT_ONLY, BOTH_TIERS]


@st.composite
def pass_inputs(draw: st.DrawFn) -> tuple[Policy, list[PointState], datetime]:
    policy = draw(valid_policies())
    count = draw(st.integers(0, 25))
    points: list[PointState] = []
    for i in range(count):
        at = BASE + timedelta(minutes=draw(st.integers(0, 3 * 365 * 1440)))
        tiers = draw(st.sampled_from(TIER_SETS))
        retain_until = None
        if Tier.VAULT in tiers and draw(st.integers(0, 4)) == 0:
            retain_until = at + timedelta(days=draw(st.integers(1, 400)))
        points.append(PointState(f"p{i:02d}", at, tiers, retain_until))
    now = BASE + timedelta(minutes=draw(st.integers(0, 6 * 365 * 1440)))
    return policy, points, now


def _newest_vault(points: list[PointState]) -> str | None:
    vault = sorted((p for p in points if Tier.VAULT in p.tiers), key=lambda p: p.time)
    return vault[-1].point_id if vault else None


@PROPERTY
@given(pass_inputs())
def test_no_tier_expires_before_its_rule_allows(
    inputs: tuple[Policy, list[PointState], datetime],
) -> None:
    policy, points, now = inputs
    by_id = {p.point_id: p for p in points}
    for d in retention_pass(policy, points, now):
        p = by_id[d.point_id]
        assert d.expiry.at <= now
        assert d.tier in p.tiers
        if d.tier is Tier.SNAPSHOT:
            assert d.expiry.at >= p.time + timedelta(days=policy.instant_rp_days)
            continue
        assert d.point_id != _newest_vault(points)
        if p.retain_until is not None:
            assert d.expiry.at == p.retain_until
            continue
        r = policy.retention
        if policy.schedule.frequency is Frequency.WEEKLY:
            assert r.weekly is not None
            assert d.expiry.at >= p.time + timedelta(weeks=r.weekly.weeks)
        else:
            assert r.daily is not None
            assert d.expiry.at >= p.time + timedelta(days=r.daily.days)


@PROPERTY
@given(pass_inputs())
def test_pass_removes_exactly_the_expired_tiers(
    inputs: tuple[Policy, list[PointState], datetime],
) -> None:
    policy, points, now = inputs
    decisions = retention_pass(policy, points, now)
    newest = _newest_vault(points)
    expected = {
        (p.point_id, tier)
        for p in points
        for tier, expiry in tier_expiries(policy, p).items()
        if expiry.at <= now and not (tier is Tier.VAULT and p.point_id == newest)
    }
    pairs = [(d.point_id, d.tier) for d in decisions]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == expected
    by_id = {p.point_id: p for p in points}
    removed: dict[str, set[Tier]] = {}
    for d in decisions:
        removed.setdefault(d.point_id, set()).add(d.tier)
    for d in decisions:
        assert d.point_gone == (removed[d.point_id] == set(by_id[d.point_id].tiers))
    times = [by_id[d.point_id].time for d in decisions]
    assert times == sorted(times)


@PROPERTY
@given(pass_inputs(), st.integers(0, 400 * 1440))
def test_pass_is_idempotent_and_monotonic_in_now(
    inputs: tuple[Policy, list[PointState], datetime], later_minutes: int
) -> None:
    policy, points, now = inputs
    decisions = retention_pass(policy, points, now)
    removed: dict[str, set[Tier]] = {}
    for d in decisions:
        removed.setdefault(d.point_id, set()).add(d.tier)
    remaining = [
        PointState(p.point_id, p.time, p.tiers - removed.get(p.point_id, set()), p.retain_until)
        for p in points
        if p.tiers - removed.get(p.point_id, set())
    ]
    assert retention_pass(policy, remaining, now) == []
    later = retention_pass(policy, points, now + timedelta(minutes=later_minutes))
    assert {(d.point_id, d.tier) for d in decisions} <= {(d.point_id, d.tier) for d in later}
