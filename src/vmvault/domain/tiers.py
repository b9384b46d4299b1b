"""Which tiers a recovery point gets, and when each tier of a point expires.

Tier rules (seed 001 and Azure's documentation):

* Standard, and Enhanced Daily/Weekly: every scheduled backup gets a snapshot (InstantRP) and
  a vault copy (HardenedRP).
* Enhanced Hourly: every backup gets a snapshot; the last scheduled backup of each calendar day
  in the policy's time zone also goes to the vault. If that one fails, the first scheduled
  backup of the next day goes to the vault.
* On-demand backups get both tiers; the vault copy is kept until the backup's own retain-until
  date (default 30 days after the backup).

Expiry:

* Snapshot: the point's time + the policy's instant-restore days.
* Vault (scheduled): the latest of the retention ranges that apply to the point's calendar date
  in the policy's time zone. The base range applies to every scheduled vault point: daily for
  Daily and Hourly schedules, weekly for Weekly schedules. A weekly range also applies on its
  days of the week, a monthly range on its days of the month, a yearly range on its months and
  days. Calendar months and years are added in local time, clamped to the month's end.
* Vault (on demand): the retain-until date.

Expiry is always computed from the item's *current* policy, so a changed policy (or a migration
from Standard to Enhanced) applies to the points already taken, as in Azure.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from vmvault.domain.policy import (
    DayRule,
    Frequency,
    Policy,
    RetentionFormat,
    SubType,
    WeekOfMonth,
)
from vmvault.domain.schedule import local_date, wall_to_utc, window_day_slots

ON_DEMAND_DEFAULT_RETENTION = timedelta(days=30)


class Tier(StrEnum):
    """Recovery point tier types as Azure names them."""

    SNAPSHOT = "InstantRP"
    VAULT = "HardenedRP"


BOTH_TIERS = frozenset({Tier.SNAPSHOT, Tier.VAULT})
SNAPSHOT_ONLY = frozenset({Tier.SNAPSHOT})


@dataclass(frozen=True)
class Expiry:
    """When a tier of a point expires, and the rule that says so."""

    at: datetime
    reason: str


def scheduled_tiers(
    policy: Policy, slot: datetime, last_vault_point: datetime | None
) -> frozenset[Tier]:
    """The tiers a scheduled backup for ``slot`` gets.

    ``last_vault_point`` is the time of the item's newest point that reached the vault (None if
    none did); it decides the Enhanced hourly fallback "if the last backup of the day fails,
    the first backup of the next day goes to the vault".
    """
    if not _is_enhanced_hourly(policy):
        return BOTH_TIERS
    day = local_date(slot, policy.zone)
    slots = window_day_slots(policy, day)
    if not slots or slot == slots[-1]:
        return BOTH_TIERS
    if slot == slots[0]:
        # The previous day's last backup failed when no point reached the vault since its slot
        # (a vault point earlier that day, e.g. this fallback or an on-demand one, does not count).
        previous = window_day_slots(policy, day - timedelta(days=1))
        if previous and (last_vault_point is None or last_vault_point < previous[-1]):
            return BOTH_TIERS
    return SNAPSHOT_ONLY


def planned_tiers(policy: Policy, slot: datetime) -> frozenset[Tier]:
    """The tiers of a slot assuming every backup succeeds (what ``show-schedule`` prints)."""
    if not _is_enhanced_hourly(policy):
        return BOTH_TIERS
    slots = window_day_slots(policy, local_date(slot, policy.zone))
    return BOTH_TIERS if slots and slot == slots[-1] else SNAPSHOT_ONLY


def snapshot_expiry(policy: Policy, point_time: datetime) -> Expiry:
    days = policy.instant_rp_days
    return Expiry(point_time + timedelta(days=days), f"instant restore ({days} days)")


def vault_expiry(
    policy: Policy, point_time: datetime, retain_until: datetime | None = None
) -> Expiry:
    """When the vault copy of a point expires (``retain_until`` marks an on-demand backup)."""
    if retain_until is not None:
        return Expiry(retain_until, "on-demand backup (retain until)")
    candidates = list(_vault_ranges(policy, point_time))
    if not candidates:  # unreachable for a validated policy: it always has a base range
        raise ValueError("policy has no retention range for its schedule")
    return max(candidates, key=lambda e: e.at)


def _vault_ranges(policy: Policy, t: datetime) -> list[Expiry]:
    r = policy.retention
    weekly_base = policy.schedule.frequency is Frequency.WEEKLY
    local = t.astimezone(policy.zone)
    day = local.date()
    found: list[Expiry] = []
    if r.daily is not None:
        found.append(Expiry(t + timedelta(days=r.daily.days), f"daily ({r.daily.days} days)"))
    if r.weekly is not None and (
        weekly_base or any(d.weekday == day.weekday() for d in r.weekly.days_of_week)
    ):
        found.append(
            Expiry(t + timedelta(weeks=r.weekly.weeks), f"weekly ({r.weekly.weeks} weeks)")
        )
    if r.monthly is not None and matches_day_rule(r.monthly.rule, day):
        at = _add_months(local, r.monthly.months)
        found.append(Expiry(at, f"monthly ({r.monthly.months} months)"))
    if (
        r.yearly is not None
        and any(m.number == day.month for m in r.yearly.months_of_year)
        and matches_day_rule(r.yearly.rule, day)
    ):
        at = _add_months(local, 12 * r.yearly.years)
        found.append(Expiry(at, f"yearly ({r.yearly.years} years)"))
    return found


def matches_day_rule(rule: DayRule, day: date) -> bool:
    """Whether ``day`` is a day a monthly/yearly rule keeps."""
    month_len = calendar.monthrange(day.year, day.month)[1]
    if rule.format is RetentionFormat.DAILY:
        return any(
            (d.is_last and day.day == month_len) or (not d.is_last and d.day == day.day)
            for d in rule.days_of_month
        )
    if not any(d.weekday == day.weekday() for d in rule.days_of_week):
        return False
    ordinal = (WeekOfMonth.FIRST, WeekOfMonth.SECOND, WeekOfMonth.THIRD, WeekOfMonth.FOURTH)
    week = (day.day - 1) // 7
    if week < 4 and ordinal[week] in rule.weeks_of_month:
        return True
    return WeekOfMonth.LAST in rule.weeks_of_month and day.day + 7 > month_len


def _add_months(local: datetime, months: int) -> datetime:
    """Calendar months added in local time, the day clamped to the target month's end."""
    index = local.year * 12 + (local.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    wall = local.replace(tzinfo=None, year=year, month=month, day=day)
    assert local.tzinfo is not None
    return wall_to_utc(wall, local.tzinfo)  # type: ignore[arg-type]


def _is_enhanced_hourly(policy: Policy) -> bool:
    return policy.sub_type is SubType.ENHANCED and policy.schedule.frequency is Frequency.HOURLY
