"""Azure VM backup policies in ARM JSON (``AzureIaaSVMProtectionPolicy``).

``policy_from_arm`` reads the ``properties`` of a policy as Azure's REST API and ``az backup``
write them (V1 ``SimpleSchedulePolicy`` and V2 ``SimpleSchedulePolicyV2``), rejects unknown
fields and bad values with the field's path, and validates every rule of the subtype.
``policy_to_arm`` writes the canonical document for a policy built from flags or defaults.

A document given by a user is stored as written (nulls, key order and time spellings kept), so a
policy written and read back is identical; read-only fields (``protectedItemsCount``,
``resourceGuardOperationRequests``) are accepted and ignored on input.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any

from vmvault.domain.arm_reader import ArmObject, parse_enum, parse_utc_time
from vmvault.domain.errors import PolicyValidationError
from vmvault.domain.policy import (
    DailyRetention,
    DayOfMonth,
    DayRule,
    Frequency,
    HourlySchedule,
    Month,
    MonthlyRetention,
    Policy,
    Retention,
    RetentionFormat,
    Schedule,
    SubType,
    Weekday,
    WeeklyRetention,
    WeekOfMonth,
    YearlyRetention,
)
from vmvault.domain.policy_rules import default_instant_rp_days, validate

BACKUP_MANAGEMENT_TYPE = "AzureIaasVM"
V1_SCHEDULE = "SimpleSchedulePolicy"
V2_SCHEDULE = "SimpleSchedulePolicyV2"
RETENTION_TYPE = "LongTermRetentionPolicy"
DEFAULT_TIME_ZONE = "UTC"
# The date written in front of times of day in documents vmvault creates; only the time counts.
CANONICAL_DATE = "2024-01-01"

_PROPERTIES = (
    "backupManagementType", "schedulePolicy", "retentionPolicy", "timeZone",
    "instantRpRetentionRangeInDays", "policyType", "tieringPolicy", "snapshotConsistencyType",
    "instantRPDetails", "protectedItemsCount", "resourceGuardOperationRequests",
)  # fmt: skip
_V1_SCHEDULE_KEYS = (
    "schedulePolicyType", "scheduleRunFrequency", "scheduleRunDays", "scheduleRunTimes",
    "hourlySchedule", "scheduleWeeklyFrequency",
)  # fmt: skip
_V2_SCHEDULE_KEYS = (
    "schedulePolicyType", "scheduleRunFrequency", "hourlySchedule", "dailySchedule",
    "weeklySchedule",
)  # fmt: skip
_RETENTION_KEYS = (
    "retentionPolicyType", "dailySchedule", "weeklySchedule", "monthlySchedule", "yearlySchedule",
)  # fmt: skip
_DURATION_KEYS = ("count", "durationType")
_FORMAT_KEYS = ("retentionScheduleFormatType", "retentionScheduleDaily", "retentionScheduleWeekly")
_SNAPSHOT_CONSISTENCY = ("OnlyCrashConsistent",)
_TIER_NAMES = ("InstantRP", "HardenedRP", "ArchivedRP")


def policy_from_arm(properties: Mapping[str, Any]) -> Policy:
    """The validated policy a ``properties`` object describes; PolicyValidationError if not."""
    props = ArmObject(properties, "", _PROPERTIES)
    bmt = props.string("backupManagementType", BACKUP_MANAGEMENT_TYPE)
    if bmt.lower() != BACKUP_MANAGEMENT_TYPE.lower():
        raise PolicyValidationError(
            f"backupManagementType {bmt!r} is not supported: vmvault protects virtual machines "
            f"({BACKUP_MANAGEMENT_TYPE})"
        )
    schedule_raw = ArmObject(
        props.require("schedulePolicy"), "schedulePolicy", _V1_SCHEDULE_KEYS + _V2_SCHEDULE_KEYS
    )
    sub_type = _sub_type(props, schedule_raw)
    schedule = _schedule(schedule_raw, sub_type)
    _check_passthrough(props)
    instant = props.integer(
        "instantRpRetentionRangeInDays", default_instant_rp_days(sub_type, schedule.frequency)
    )
    policy = Policy(
        sub_type=sub_type,
        schedule=schedule,
        time_zone=props.string("timeZone", DEFAULT_TIME_ZONE),
        instant_rp_days=instant,
        retention=_retention(props.obj("retentionPolicy", _RETENTION_KEYS)),
    )
    validate(policy)
    return policy


def _sub_type(props: ArmObject, schedule: ArmObject) -> SubType:
    kind = schedule.string("schedulePolicyType")
    if kind not in (V1_SCHEDULE, V2_SCHEDULE):
        raise PolicyValidationError(
            f"schedulePolicy.schedulePolicyType {kind!r} is not valid: allowed values are "
            f"{V1_SCHEDULE} (Standard, V1) and {V2_SCHEDULE} (Enhanced, V2)"
        )
    implied = SubType.STANDARD if kind == V1_SCHEDULE else SubType.ENHANCED
    if not props.has("policyType"):
        return implied
    wire = props.string("policyType")
    if wire not in ("V1", "V2"):
        raise PolicyValidationError(
            f"policyType {wire!r} is not valid: allowed values are V1 (Standard) and V2 (Enhanced)"
        )
    sub_type = SubType.from_wire(wire)
    if sub_type is not implied:
        raise PolicyValidationError(
            f"policyType {wire!r} does not match schedulePolicy.schedulePolicyType {kind!r}: "
            f"a V1 (Standard) policy uses {V1_SCHEDULE}, a V2 (Enhanced) policy {V2_SCHEDULE}"
        )
    return sub_type


def _schedule(raw: ArmObject, sub_type: SubType) -> Schedule:
    allowed = _V1_SCHEDULE_KEYS if sub_type is SubType.STANDARD else _V2_SCHEDULE_KEYS
    raw = ArmObject(raw.data, raw.path, allowed)
    frequency = raw.enum("scheduleRunFrequency", Frequency)
    if frequency is Frequency.HOURLY:
        h = raw.obj(
            "hourlySchedule", ("interval", "scheduleWindowStartTime", "scheduleWindowDuration")
        )
        start = parse_utc_time(
            h.require("scheduleWindowStartTime"), f"{h.path}.scheduleWindowStartTime"
        )
        hourly = HourlySchedule(
            interval_hours=h.integer("interval"),
            window_start=start,
            window_duration_hours=h.integer("scheduleWindowDuration"),
        )
        return Schedule(frequency=frequency, hourly=hourly)
    if sub_type is SubType.STANDARD:
        times_at, days_at = raw, raw
    elif frequency is Frequency.DAILY:
        times_at = days_at = raw.obj("dailySchedule", ("scheduleRunTimes",))
    else:
        times_at = days_at = raw.obj("weeklySchedule", ("scheduleRunDays", "scheduleRunTimes"))
    run_times = times_at.times("scheduleRunTimes")
    if len(run_times) != 1:
        raise PolicyValidationError(
            f"{times_at.path}.scheduleRunTimes must hold exactly one time, got {len(run_times)}"
        )
    run_days: frozenset[Weekday] = frozenset()
    if frequency is Frequency.WEEKLY:
        run_days = frozenset(days_at.enum_list("scheduleRunDays", Weekday))
    return Schedule(frequency=frequency, run_time=run_times[0], run_days=run_days)


def _retention(raw: ArmObject) -> Retention:
    kind = raw.string("retentionPolicyType")
    if kind != RETENTION_TYPE:
        raise PolicyValidationError(
            f"retentionPolicy.retentionPolicyType {kind!r} is not valid: VM policies use "
            f"{RETENTION_TYPE}"
        )
    daily = weekly = monthly = yearly = None
    if raw.has("dailySchedule"):
        d = raw.obj("dailySchedule", ("retentionTimes", "retentionDuration"))
        daily = DailyRetention(days=_duration(d, "Days"))
        d.times("retentionTimes", required=False)
    if raw.has("weeklySchedule"):
        w = raw.obj("weeklySchedule", ("daysOfTheWeek", "retentionTimes", "retentionDuration"))
        w.times("retentionTimes", required=False)
        weekly = WeeklyRetention(
            days_of_week=frozenset(w.enum_list("daysOfTheWeek", Weekday)),
            weeks=_duration(w, "Weeks"),
        )
    if raw.has("monthlySchedule"):
        m = raw.obj("monthlySchedule", (*_FORMAT_KEYS, "retentionTimes", "retentionDuration"))
        m.times("retentionTimes", required=False)
        monthly = MonthlyRetention(rule=_day_rule(m), months=_duration(m, "Months"))
    if raw.has("yearlySchedule"):
        y = raw.obj(
            "yearlySchedule",
            (*_FORMAT_KEYS, "monthsOfYear", "retentionTimes", "retentionDuration"),
        )
        y.times("retentionTimes", required=False)
        yearly = YearlyRetention(
            months_of_year=frozenset(y.enum_list("monthsOfYear", Month)),
            rule=_day_rule(y),
            years=_duration(y, "Years"),
        )
    return Retention(daily=daily, weekly=weekly, monthly=monthly, yearly=yearly)


def _duration(obj: ArmObject, unit: str) -> int:
    d = obj.obj("retentionDuration", _DURATION_KEYS)
    given = d.string("durationType", unit)
    if given.lower() != unit.lower():
        raise PolicyValidationError(
            f"{d.path}.durationType {given!r} is not valid here: this range counts {unit}"
        )
    return d.integer("count")


def _day_rule(obj: ArmObject) -> DayRule:
    fmt = obj.enum("retentionScheduleFormatType", RetentionFormat)
    if fmt is RetentionFormat.DAILY:
        daily = obj.obj("retentionScheduleDaily", ("daysOfTheMonth",))
        days = tuple(
            DayOfMonth(day=d.integer("date", 0), is_last=_boolean(d, "isLast"))
            for d in daily.objects("daysOfTheMonth", ("date", "isLast"))
        )
        if not days:
            raise PolicyValidationError(f"{daily.path}.daysOfTheMonth must list at least one day")
        return DayRule(format=fmt, days_of_month=days)
    weekly = obj.obj("retentionScheduleWeekly", ("daysOfTheWeek", "weeksOfTheMonth"))
    return DayRule(
        format=fmt,
        weeks_of_month=frozenset(weekly.enum_list("weeksOfTheMonth", WeekOfMonth)),
        days_of_week=frozenset(weekly.enum_list("daysOfTheWeek", Weekday)),
    )


def _boolean(obj: ArmObject, key: str) -> bool:
    value = obj.raw(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise PolicyValidationError(f"{obj.path}.{key} must be true or false, got {value!r}")
    return value


def _check_passthrough(props: ArmObject) -> None:
    """Fields vmvault keeps as written but must still be sensible."""
    if props.has("snapshotConsistencyType"):
        value = props.raw("snapshotConsistencyType")
        if value not in _SNAPSHOT_CONSISTENCY:
            raise PolicyValidationError(
                f"snapshotConsistencyType {value!r} is not valid: allowed values are "
                + ", ".join(_SNAPSHOT_CONSISTENCY)
            )
    if props.has("instantRPDetails"):
        ArmObject(
            props.raw("instantRPDetails"),
            "instantRPDetails",
            ("azureBackupRGNamePrefix", "azureBackupRGNameSuffix",
             "azureBackupRgNamePrefix", "azureBackupRgNameSuffix"),
        )  # fmt: skip
    if props.has("tieringPolicy"):
        tiering = ArmObject(props.raw("tieringPolicy"), "tieringPolicy", _TIER_NAMES)
        for name in tiering.data:
            if tiering.raw(name) is None:
                continue
            tier = tiering.obj(name, ("tieringMode", "duration", "durationType"))
            mode = tier.string("tieringMode", "DoNotTier")
            if mode.lower() not in ("donottier", "invalid"):
                raise PolicyValidationError(
                    f"tieringPolicy.{name}.tieringMode {mode!r} is not supported: vmvault has no "
                    "archive tier; use DoNotTier"
                )


def policy_to_arm(policy: Policy) -> dict[str, Any]:
    """The canonical ARM ``properties`` of a policy (without ``protectedItemsCount``)."""
    return {
        "backupManagementType": BACKUP_MANAGEMENT_TYPE,
        "policyType": policy.sub_type.wire,
        "schedulePolicy": _schedule_to_arm(policy),
        "retentionPolicy": _retention_to_arm(policy),
        "instantRpRetentionRangeInDays": policy.instant_rp_days,
        "timeZone": policy.time_zone,
        **(
            {"snapshotConsistencyType": "OnlyCrashConsistent"}
            if policy.sub_type is SubType.ENHANCED
            else {}
        ),
        "tieringPolicy": {
            "ArchivedRP": {"tieringMode": "DoNotTier", "duration": 0, "durationType": "Invalid"}
        },
    }


def wire_time(value: time) -> str:
    """A time of day written as Azure writes it: a UTC date-time."""
    return f"{CANONICAL_DATE}T{value.strftime('%H:%M:%S')}Z"


def _schedule_to_arm(policy: Policy) -> dict[str, Any]:
    s = policy.schedule
    standard = policy.sub_type is SubType.STANDARD
    out: dict[str, Any] = {
        "schedulePolicyType": V1_SCHEDULE if standard else V2_SCHEDULE,
        "scheduleRunFrequency": s.frequency.value,
    }
    if s.hourly is not None:
        out["hourlySchedule"] = {
            "interval": s.hourly.interval_hours,
            "scheduleWindowStartTime": wire_time(s.hourly.window_start),
            "scheduleWindowDuration": s.hourly.window_duration_hours,
        }
        return out
    assert s.run_time is not None
    runs: dict[str, Any] = {}
    if s.frequency is Frequency.WEEKLY:
        runs["scheduleRunDays"] = _days(s.run_days)
    runs["scheduleRunTimes"] = [wire_time(s.run_time)]
    if standard:
        out.update(runs)
    else:
        out["dailySchedule" if s.frequency is Frequency.DAILY else "weeklySchedule"] = runs
    return out


def _retention_to_arm(policy: Policy) -> dict[str, Any]:
    r = policy.retention
    times = [wire_time(_retention_time(policy))]
    out: dict[str, Any] = {"retentionPolicyType": RETENTION_TYPE}
    if r.daily is not None:
        out["dailySchedule"] = {
            "retentionTimes": times,
            "retentionDuration": _dur(r.daily.days, "Days"),
        }
    if r.weekly is not None:
        out["weeklySchedule"] = {
            "daysOfTheWeek": _days(r.weekly.days_of_week),
            "retentionTimes": times,
            "retentionDuration": _dur(r.weekly.weeks, "Weeks"),
        }
    if r.monthly is not None:
        out["monthlySchedule"] = {
            **_rule_to_arm(r.monthly.rule),
            "retentionTimes": times,
            "retentionDuration": _dur(r.monthly.months, "Months"),
        }
    if r.yearly is not None:
        out["yearlySchedule"] = {
            **_rule_to_arm(r.yearly.rule),
            "monthsOfYear": [m.value for m in Month if m in r.yearly.months_of_year],
            "retentionTimes": times,
            "retentionDuration": _dur(r.yearly.years, "Years"),
        }
    return out


def _retention_time(policy: Policy) -> time:
    s = policy.schedule
    if s.hourly is not None:
        return s.hourly.window_start
    assert s.run_time is not None
    return s.run_time


def _rule_to_arm(rule: DayRule) -> dict[str, Any]:
    if rule.format is RetentionFormat.DAILY:
        return {
            "retentionScheduleFormatType": "Daily",
            "retentionScheduleDaily": {
                "daysOfTheMonth": [{"date": d.day, "isLast": d.is_last} for d in rule.days_of_month]
            },
        }
    return {
        "retentionScheduleFormatType": "Weekly",
        "retentionScheduleWeekly": {
            "daysOfTheWeek": _days(rule.days_of_week),
            "weeksOfTheMonth": [w.value for w in WeekOfMonth if w in rule.weeks_of_month],
        },
    }


def _days(days: frozenset[Weekday]) -> list[str]:
    return [d.value for d in _AZURE_WEEK if d in days]


_AZURE_WEEK = (Weekday.SUNDAY, *list(Weekday)[:6])


def _dur(count: int, unit: str) -> dict[str, Any]:
    return {"count": count, "durationType": unit}


__all__ = ["parse_enum", "policy_from_arm", "policy_to_arm", "wire_time"]
