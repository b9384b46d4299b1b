"""policy_from_arm on hand-written ARM documents: defaults, paths in errors, strict reading."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from typing import Any

import pytest
from domain_builders import DELETE, edit

from vmvault.domain.arm_policy import policy_from_arm
from vmvault.domain.errors import PolicyValidationError
from vmvault.domain.policy import (
    DayOfMonth,
    Frequency,
    Policy,
    RetentionFormat,
    SubType,
    Weekday,
)
from vmvault.domain.timezones import resolve_time_zone, windows_zone_names

T8 = "2024-01-01T08:00:00Z"


def _duration(count: int, unit: str) -> dict[str, Any]:
    return {"count": count, "durationType": unit}


FIRST_SUNDAY = {
    "retentionScheduleFormatType": "Weekly",
    "retentionScheduleWeekly": {"daysOfTheWeek": ["Sunday"], "weeksOfTheMonth": ["First"]},
}

V1_DAILY: dict[str, Any] = {
    "backupManagementType": "AzureIaasVM",
    "schedulePolicy": {
        "schedulePolicyType": "SimpleSchedulePolicy",
        "scheduleRunFrequency": "Daily",
        "scheduleRunTimes": [T8],
    },
    "retentionPolicy": {
        "retentionPolicyType": "LongTermRetentionPolicy",
        "dailySchedule": {"retentionTimes": [T8], "retentionDuration": _duration(30, "Days")},
    },
    "timeZone": "UTC",
}

V1_WEEKLY: dict[str, Any] = {
    "backupManagementType": "AzureIaasVM",
    "schedulePolicy": {
        "schedulePolicyType": "SimpleSchedulePolicy",
        "scheduleRunFrequency": "Weekly",
        "scheduleRunDays": ["Sunday", "Wednesday"],
        "scheduleRunTimes": [T8],
    },
    "retentionPolicy": {
        "retentionPolicyType": "LongTermRetentionPolicy",
        "weeklySchedule": {
            "daysOfTheWeek": ["Sunday"],
            "retentionTimes": [T8],
            "retentionDuration": _duration(12, "Weeks"),
        },
    },
    "timeZone": "Pacific Standard Time",
}

_V2_RETENTION: dict[str, Any] = {
    "retentionPolicyType": "LongTermRetentionPolicy",
    "dailySchedule": {"retentionTimes": [T8], "retentionDuration": _duration(180, "Days")},
    "weeklySchedule": {
        "daysOfTheWeek": ["Sunday"],
        "retentionTimes": [T8],
        "retentionDuration": _duration(12, "Weeks"),
    },
    "monthlySchedule": {
        **FIRST_SUNDAY,
        "retentionTimes": [T8],
        "retentionDuration": _duration(60, "Months"),
    },
    "yearlySchedule": {
        **FIRST_SUNDAY,
        "monthsOfYear": ["January"],
        "retentionTimes": [T8],
        "retentionDuration": _duration(10, "Years"),
    },
}

V2_HOURLY: dict[str, Any] = {
    "backupManagementType": "AzureIaasVM",
    "policyType": "V2",
    "schedulePolicy": {
        "schedulePolicyType": "SimpleSchedulePolicyV2",
        "scheduleRunFrequency": "Hourly",
        "hourlySchedule": {
            "interval": 4,
            "scheduleWindowStartTime": T8,
            "scheduleWindowDuration": 24,
        },
    },
    "retentionPolicy": _V2_RETENTION,
    "instantRpRetentionRangeInDays": 7,
    "timeZone": "India Standard Time",
    "snapshotConsistencyType": "OnlyCrashConsistent",
}

V2_DAILY: dict[str, Any] = {
    "backupManagementType": "AzureIaasVM",
    "policyType": "V2",
    "schedulePolicy": {
        "schedulePolicyType": "SimpleSchedulePolicyV2",
        "scheduleRunFrequency": "Daily",
        "dailySchedule": {"scheduleRunTimes": [T8]},
    },
    "retentionPolicy": _V2_RETENTION,
    "timeZone": "Europe/Berlin",
}

V2_WEEKLY: dict[str, Any] = {
    "backupManagementType": "AzureIaasVM",
    "policyType": "V2",
    "schedulePolicy": {
        "schedulePolicyType": "SimpleSchedulePolicyV2",
        "scheduleRunFrequency": "Weekly",
        "weeklySchedule": {"scheduleRunDays": ["Sunday", "Friday"], "scheduleRunTimes": [T8]},
    },
    "retentionPolicy": {
        "retentionPolicyType": "LongTermRetentionPolicy",
        "weeklySchedule": {
            "daysOfTheWeek": ["Sunday", "Friday"],
            "retentionTimes": [T8],
            "retentionDuration": _duration(12, "Weeks"),
        },
        "monthlySchedule": {
            **FIRST_SUNDAY,
            "retentionTimes": [T8],
            "retentionDuration": _duration(6, "Months"),
        },
    },
    "timeZone": "Asia/Kolkata",
}

Check = Callable[[Policy], object]


def ok(case_id: str, doc: dict[str, Any], changes: dict[str, Any], check: Check) -> object:
    return pytest.param(doc, changes, None, check, id=case_id)


def bad(case_id: str, doc: dict[str, Any], changes: dict[str, Any], *fragments: str) -> object:
    return pytest.param(doc, changes, fragments, None, id=case_id)


HOURLY = "schedulePolicy.hourlySchedule"
DAILY_DUR = "retentionPolicy.dailySchedule.retentionDuration"
PLUS_0530 = "2024-01-01T08:00:00+05:30"

CASES = [
    # --- the base documents parse ---------------------------------------------------------
    ok("v1-daily-base", V1_DAILY, {}, lambda p: p.sub_type is SubType.STANDARD),
    ok("v1-weekly-base", V1_WEEKLY, {}, lambda p: p.schedule.frequency is Frequency.WEEKLY),
    ok("v2-hourly-base", V2_HOURLY, {}, lambda p: p.schedule.hourly is not None),
    ok("v2-daily-base", V2_DAILY, {}, lambda p: p.schedule.run_time == time(8)),
    ok(
        "v2-weekly-base",
        V2_WEEKLY,
        {},
        lambda p: p.schedule.run_days == {Weekday.SUNDAY, Weekday.FRIDAY},
    ),
    # --- defaults when a field is absent ----------------------------------------------------
    ok("v1-daily-instant-absent-is-2", V1_DAILY, {}, lambda p: p.instant_rp_days == 2),
    ok("v1-weekly-instant-absent-is-5", V1_WEEKLY, {}, lambda p: p.instant_rp_days == 5),
    ok(
        "v2-hourly-instant-absent-is-7",
        V2_HOURLY,
        {"instantRpRetentionRangeInDays": DELETE},
        lambda p: p.instant_rp_days == 7,
    ),
    ok("v2-daily-instant-absent-is-7", V2_DAILY, {}, lambda p: p.instant_rp_days == 7),
    ok(
        "instant-null-is-absent",
        V1_DAILY,
        {"instantRpRetentionRangeInDays": None},
        lambda p: p.instant_rp_days == 2,
    ),
    ok(
        "time-zone-absent-is-UTC",
        V1_DAILY,
        {"timeZone": DELETE},
        lambda p: p.time_zone == "UTC",
    ),
    ok(
        "policyType-absent-implied-V2-by-schedule-type",
        V2_DAILY,
        {"policyType": DELETE},
        lambda p: p.sub_type is SubType.ENHANCED,
    ),
    ok(
        "policyType-V1-with-SimpleSchedulePolicy",
        V1_DAILY,
        {"policyType": "V1"},
        lambda p: p.sub_type is SubType.STANDARD,
    ),
    ok(
        "durationType-absent-ok",
        V1_DAILY,
        {f"{DAILY_DUR}.durationType": DELETE},
        lambda p: p.retention.daily is not None and p.retention.daily.days == 30,
    ),
    # --- Standard instant-restore via documents ---------------------------------------------
    ok("v1-daily-instant-5-ok", V1_DAILY, {"instantRpRetentionRangeInDays": 5}, lambda p: True),
    bad(
        "v1-daily-instant-0-refused",
        V1_DAILY,
        {"instantRpRetentionRangeInDays": 0},
        "instantRpRetentionRangeInDays 0 is not valid",
    ),
    bad(
        "v1-daily-instant-6-refused",
        V1_DAILY,
        {"instantRpRetentionRangeInDays": 6},
        "instantRpRetentionRangeInDays 6 is not valid",
    ),
    bad(
        "v1-weekly-instant-4-refused",
        V1_WEEKLY,
        {"instantRpRetentionRangeInDays": 4},
        "instantRpRetentionRangeInDays 4 is not valid",
        "exactly 5",
    ),
    bad(
        "v1-hourly-refused",
        V1_DAILY,
        {
            "schedulePolicy.scheduleRunFrequency": "Hourly",
            "schedulePolicy.scheduleRunTimes": DELETE,
            "schedulePolicy.hourlySchedule": V2_HOURLY["schedulePolicy"]["hourlySchedule"],
        },
        "schedulePolicy.scheduleRunFrequency 'Hourly' is not allowed for a Standard (V1) policy",
    ),
    # --- Enhanced hourly via documents --------------------------------------------------------
    bad(
        "v2-instant-18-for-6-a-day-exact-message",
        V2_HOURLY,
        {"instantRpRetentionRangeInDays": 18},
        "instantRpRetentionRangeInDays 18 exceeds the maximum of 17 days for 6 snapshots a day "
        "(every 4 hours over 24 hours)",
    ),
    ok(
        "v2-instant-22-for-every-6h-ok",
        V2_HOURLY,
        {f"{HOURLY}.interval": 6, "instantRpRetentionRangeInDays": 22},
        lambda p: p.instant_rp_days == 22,
    ),
    bad("v2-interval-5-refused", V2_HOURLY, {f"{HOURLY}.interval": 5}, f"{HOURLY}.interval 5"),
    bad(
        "v2-window-25-refused",
        V2_HOURLY,
        {f"{HOURLY}.scheduleWindowDuration": 25},
        f"{HOURLY}.scheduleWindowDuration 25 is not valid",
    ),
    bad(
        "v2-instant-0-refused",
        V2_DAILY,
        {"instantRpRetentionRangeInDays": 0},
        "instantRpRetentionRangeInDays 0 is not valid: the minimum is 1 day",
    ),
    # --- times: UTC date-times on the hour or half hour --------------------------------------
    bad(
        "v1-run-time-08:15-refused",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": ["2024-01-01T08:15:00Z"]},
        "schedulePolicy.scheduleRunTimes 08:15:00 is not valid",
    ),
    ok(
        "v1-run-time-08:30-ok",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": ["2024-01-01T08:30:00Z"]},
        lambda p: p.schedule.run_time == time(8, 30),
    ),
    bad(
        "run-time-fraction-of-second-refused",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": ["2024-01-01T08:00:00.5Z"]},
        "schedulePolicy.scheduleRunTimes 08:00:00.500000 is not valid",
    ),
    bad(
        "v2-daily-run-time-08:15-refused",
        V2_DAILY,
        {"schedulePolicy.dailySchedule.scheduleRunTimes": ["2024-01-01T08:15:00Z"]},
        "schedulePolicy.dailySchedule.scheduleRunTimes 08:15:00 is not valid",
    ),
    bad(
        "v2-hourly-start-08:15-refused",
        V2_HOURLY,
        {f"{HOURLY}.scheduleWindowStartTime": "2024-01-01T08:15:00Z"},
        f"{HOURLY}.scheduleWindowStartTime 08:15:00 is not valid",
    ),
    bad(
        "v1-run-time-not-utc-refused",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": [PLUS_0530]},
        f"schedulePolicy.scheduleRunTimes[0] '{PLUS_0530}' must be written in UTC",
    ),
    bad(
        "v2-daily-run-time-not-utc-refused",
        V2_DAILY,
        {"schedulePolicy.dailySchedule.scheduleRunTimes": [PLUS_0530]},
        f"schedulePolicy.dailySchedule.scheduleRunTimes[0] '{PLUS_0530}' must be written in UTC",
    ),
    bad(
        "v2-weekly-run-time-not-utc-refused",
        V2_WEEKLY,
        {"schedulePolicy.weeklySchedule.scheduleRunTimes": ["2024-01-01T08:00:00-08:00"]},
        "schedulePolicy.weeklySchedule.scheduleRunTimes[0] '2024-01-01T08:00:00-08:00' must be "
        "written in UTC",
    ),
    bad(
        "v2-hourly-start-not-utc-refused",
        V2_HOURLY,
        {f"{HOURLY}.scheduleWindowStartTime": PLUS_0530},
        f"{HOURLY}.scheduleWindowStartTime '{PLUS_0530}' must be written in UTC",
    ),
    bad(
        "retention-time-not-utc-refused",
        V1_DAILY,
        {"retentionPolicy.dailySchedule.retentionTimes": [PLUS_0530]},
        f"retentionPolicy.dailySchedule.retentionTimes[0] '{PLUS_0530}' must be written in UTC",
    ),
    ok(
        "time-with-+00:00-offset-ok",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": ["2021-12-17T08:00:00+00:00"]},
        lambda p: p.schedule.run_time == time(8),
    ),
    ok(
        "only-the-time-of-day-counts",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": ["1999-07-04T23:30:00Z"]},
        lambda p: p.schedule.run_time == time(23, 30),
    ),
    bad(
        "time-not-a-date-time-refused",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": ["8am"]},
        "schedulePolicy.scheduleRunTimes[0] '8am' is not a date-time",
    ),
    bad(
        "time-not-a-string-refused",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": [800]},
        "schedulePolicy.scheduleRunTimes[0] must be a UTC date-time string, got 800",
    ),
    bad(
        "two-run-times-refused",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": [T8, "2024-01-01T20:00:00Z"]},
        "schedulePolicy.scheduleRunTimes must hold exactly one time, got 2",
    ),
    bad(
        "no-run-time-refused",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": []},
        "schedulePolicy.scheduleRunTimes must hold one UTC date-time",
    ),
    bad(
        "run-times-not-a-list-refused",
        V1_DAILY,
        {"schedulePolicy.scheduleRunTimes": T8},
        "schedulePolicy.scheduleRunTimes must be a JSON list",
    ),
    # --- subtype ---------------------------------------------------------------------------
    bad(
        "policyType-V1-with-SimpleSchedulePolicyV2-refused",
        V2_DAILY,
        {"policyType": "V1"},
        "policyType 'V1' does not match schedulePolicy.schedulePolicyType 'SimpleSchedulePolicyV2'",
    ),
    bad(
        "policyType-V2-with-SimpleSchedulePolicy-refused",
        V1_DAILY,
        {"policyType": "V2"},
        "policyType 'V2' does not match schedulePolicy.schedulePolicyType 'SimpleSchedulePolicy'",
    ),
    bad("policyType-V3-refused", V1_DAILY, {"policyType": "V3"}, "policyType 'V3' is not valid"),
    bad(
        "schedulePolicyType-unknown-refused",
        V1_DAILY,
        {"schedulePolicy.schedulePolicyType": "LogSchedulePolicy"},
        "schedulePolicy.schedulePolicyType 'LogSchedulePolicy' is not valid",
    ),
    bad(
        "backupManagementType-other-workload-refused",
        V1_DAILY,
        {"backupManagementType": "AzureStorage"},
        "backupManagementType 'AzureStorage' is not supported",
    ),
    ok(
        "backupManagementType-case-insensitive",
        V1_DAILY,
        {"backupManagementType": "AzureIaaSVM"},
        lambda p: True,
    ),
    # --- unknown fields, named by path -----------------------------------------------------
    bad("unknown-top-level-field", V1_DAILY, {"colour": "blue"}, "colour is not a known field"),
    bad(
        "unknown-schedule-field",
        V1_DAILY,
        {"schedulePolicy.runEvery": 3},
        "schedulePolicy.runEvery is not a known field",
    ),
    bad(
        "v1-field-in-v2-schedule-refused",
        V2_DAILY,
        {"schedulePolicy.scheduleRunTimes": [T8]},
        "schedulePolicy.scheduleRunTimes is not a known field",
    ),
    bad(
        "v2-field-in-v1-schedule-refused",
        V1_DAILY,
        {"schedulePolicy.dailySchedule": {"scheduleRunTimes": [T8]}},
        "schedulePolicy.dailySchedule is not a known field",
    ),
    bad(
        "unknown-hourly-field",
        V2_HOURLY,
        {f"{HOURLY}.jitter": 5},
        f"{HOURLY}.jitter is not a known field",
    ),
    bad(
        "unknown-daily-schedule-field",
        V2_DAILY,
        {"schedulePolicy.dailySchedule.scheduleRunDays": ["Monday"]},
        "schedulePolicy.dailySchedule.scheduleRunDays is not a known field",
    ),
    bad(
        "unknown-retention-duration-field",
        V1_DAILY,
        {f"{DAILY_DUR}.unit": "d"},
        f"{DAILY_DUR}.unit is not a known field",
    ),
    bad(
        "unknown-retention-weekly-format-field",
        V2_DAILY,
        {"retentionPolicy.monthlySchedule.retentionScheduleWeekly.dayOfMonth": 3},
        "retentionPolicy.monthlySchedule.retentionScheduleWeekly.dayOfMonth is not a known field",
    ),
    bad(
        "unknown-day-of-month-field",
        V2_DAILY,
        {
            "retentionPolicy.monthlySchedule.retentionScheduleFormatType": "Daily",
            "retentionPolicy.monthlySchedule.retentionScheduleDaily": {
                "daysOfTheMonth": [{"date": 1, "isFirst": True}]
            },
        },
        "retentionPolicy.monthlySchedule.retentionScheduleDaily.daysOfTheMonth[0].isFirst "
        "is not a known field",
    ),
    ok(
        "read-only-fields-ignored",
        V2_DAILY,
        {"protectedItemsCount": 3, "resourceGuardOperationRequests": ["x"]},
        lambda p: True,
    ),
    ok(
        "null-retentionScheduleDaily-with-weekly-format-ok",
        V2_DAILY,
        {"retentionPolicy.monthlySchedule.retentionScheduleDaily": None},
        lambda p: (
            p.retention.monthly is not None
            and p.retention.monthly.rule.format is RetentionFormat.WEEKLY
        ),
    ),
    # --- pass-through fields ---------------------------------------------------------------
    ok(
        "tiering-DoNotTier-ok",
        V2_DAILY,
        {
            "tieringPolicy": {
                "ArchivedRP": {"tieringMode": "DoNotTier", "duration": 0, "durationType": "Invalid"}
            }
        },
        lambda p: True,
    ),
    ok(
        "tiering-null-tier-ok",
        V2_DAILY,
        {"tieringPolicy": {"ArchivedRP": None}},
        lambda p: True,
    ),
    bad(
        "tiering-TierAfter-refused",
        V2_DAILY,
        {
            "tieringPolicy": {
                "ArchivedRP": {"tieringMode": "TierAfter", "duration": 3, "durationType": "Months"}
            }
        },
        "tieringPolicy.ArchivedRP.tieringMode 'TierAfter' is not supported",
    ),
    bad(
        "tiering-TierRecommended-refused",
        V1_DAILY,
        {"tieringPolicy": {"ArchivedRP": {"tieringMode": "TierRecommended"}}},
        "tieringPolicy.ArchivedRP.tieringMode 'TierRecommended' is not supported",
    ),
    bad(
        "tiering-unknown-tier-refused",
        V1_DAILY,
        {"tieringPolicy": {"ColdRP": {"tieringMode": "DoNotTier"}}},
        "tieringPolicy.ColdRP is not a known field",
    ),
    bad(
        "snapshot-consistency-other-refused",
        V2_HOURLY,
        {"snapshotConsistencyType": "ApplicationConsistent"},
        "snapshotConsistencyType 'ApplicationConsistent' is not valid",
    ),
    ok(
        "instantRPDetails-prefix-ok",
        V2_DAILY,
        {"instantRPDetails": {"azureBackupRGNamePrefix": "rp-"}},
        lambda p: True,
    ),
    bad(
        "instantRPDetails-unknown-field-refused",
        V2_DAILY,
        {"instantRPDetails": {"location": "here"}},
        "instantRPDetails.location is not a known field",
    ),
    # --- values and types ------------------------------------------------------------------
    ok(
        "enums-case-insensitive",
        V1_WEEKLY,
        {
            "schedulePolicy.scheduleRunFrequency": "weekly",
            "schedulePolicy.scheduleRunDays": ["SUNDAY", "wednesday"],
        },
        lambda p: p.schedule.run_days == {Weekday.SUNDAY, Weekday.WEDNESDAY},
    ),
    bad(
        "weekday-typo-refused",
        V1_WEEKLY,
        {"schedulePolicy.scheduleRunDays": ["Sunday", "Funday"]},
        "schedulePolicy.scheduleRunDays[1] 'Funday' is not valid",
        "Monday, Tuesday",
    ),
    bad(
        "frequency-unknown-refused",
        V1_DAILY,
        {"schedulePolicy.scheduleRunFrequency": "Monthly"},
        "schedulePolicy.scheduleRunFrequency 'Monthly' is not valid",
    ),
    bad(
        "month-typo-refused",
        V2_DAILY,
        {"retentionPolicy.yearlySchedule.monthsOfYear": ["Smarch"]},
        "retentionPolicy.yearlySchedule.monthsOfYear[0] 'Smarch' is not valid",
    ),
    bad(
        "week-of-month-typo-refused",
        V2_DAILY,
        {"retentionPolicy.monthlySchedule.retentionScheduleWeekly.weeksOfTheMonth": ["Fifth"]},
        "retentionPolicy.monthlySchedule.retentionScheduleWeekly.weeksOfTheMonth[0] 'Fifth' "
        "is not valid",
    ),
    bad(
        "empty-run-days-refused",
        V1_WEEKLY,
        {"schedulePolicy.scheduleRunDays": []},
        "schedulePolicy.scheduleRunDays must list at least one of",
    ),
    bad(
        "interval-as-string-refused",
        V2_HOURLY,
        {f"{HOURLY}.interval": "4"},
        f"{HOURLY}.interval must be a whole number, got '4'",
    ),
    bad(
        "count-as-boolean-refused",
        V1_DAILY,
        {f"{DAILY_DUR}.count": True},
        f"{DAILY_DUR}.count must be a whole number, got True",
    ),
    bad(
        "instant-as-float-refused",
        V1_DAILY,
        {"instantRpRetentionRangeInDays": 2.0},
        "instantRpRetentionRangeInDays must be a whole number, got 2.0",
    ),
    bad(
        "count-missing-refused",
        V1_DAILY,
        {f"{DAILY_DUR}.count": DELETE},
        f"{DAILY_DUR}.count is required",
    ),
    bad(
        "durationType-mismatch-refused",
        V1_DAILY,
        {f"{DAILY_DUR}.durationType": "Weeks"},
        f"{DAILY_DUR}.durationType 'Weeks' is not valid here: this range counts Days",
    ),
    ok(
        "durationType-case-insensitive",
        V1_DAILY,
        {f"{DAILY_DUR}.durationType": "days"},
        lambda p: True,
    ),
    bad(
        "retentionPolicyType-other-refused",
        V1_DAILY,
        {"retentionPolicy.retentionPolicyType": "SimpleRetentionPolicy"},
        "retentionPolicy.retentionPolicyType 'SimpleRetentionPolicy' is not valid",
    ),
    bad(
        "schedulePolicy-missing-refused",
        V1_DAILY,
        {"schedulePolicy": DELETE},
        "schedulePolicy is required",
    ),
    bad(
        "retentionPolicy-missing-refused",
        V1_DAILY,
        {"retentionPolicy": DELETE},
        "retentionPolicy is required",
    ),
    bad(
        "schedulePolicy-not-an-object-refused",
        V1_DAILY,
        {"schedulePolicy": ["Daily"]},
        "schedulePolicy must be a JSON object",
    ),
    bad(
        "hourly-schedule-missing-refused",
        V2_HOURLY,
        {HOURLY: DELETE},
        f"{HOURLY} is required",
    ),
    bad(
        "isLast-not-boolean-refused",
        V2_DAILY,
        {
            "retentionPolicy.monthlySchedule.retentionScheduleFormatType": "Daily",
            "retentionPolicy.monthlySchedule.retentionScheduleDaily": {
                "daysOfTheMonth": [{"date": 0, "isLast": "yes"}]
            },
        },
        "retentionPolicy.monthlySchedule.retentionScheduleDaily.daysOfTheMonth[0].isLast must be "
        "true or false, got 'yes'",
    ),
    bad(
        "days-of-month-empty-refused",
        V2_DAILY,
        {
            "retentionPolicy.monthlySchedule.retentionScheduleFormatType": "Daily",
            "retentionPolicy.monthlySchedule.retentionScheduleDaily": {"daysOfTheMonth": []},
        },
        "retentionPolicy.monthlySchedule.retentionScheduleDaily.daysOfTheMonth must list at least "
        "one day",
    ),
    ok(
        "day-of-month-isLast-without-date-ok",
        V2_DAILY,
        {
            "retentionPolicy.monthlySchedule.retentionScheduleFormatType": "Daily",
            "retentionPolicy.monthlySchedule.retentionScheduleDaily": {
                "daysOfTheMonth": [{"isLast": True}, {"date": 15}]
            },
        },
        lambda p: (
            p.retention.monthly is not None
            and p.retention.monthly.rule.days_of_month
            == (DayOfMonth(0, is_last=True), DayOfMonth(15))
        ),
    ),
    bad(
        "day-of-month-29-refused",
        V2_DAILY,
        {
            "retentionPolicy.monthlySchedule.retentionScheduleFormatType": "Daily",
            "retentionPolicy.monthlySchedule.retentionScheduleDaily": {
                "daysOfTheMonth": [{"date": 29, "isLast": False}]
            },
        },
        "retentionPolicy.monthlySchedule.retentionScheduleDaily.daysOfTheMonth[0].date 29 "
        "is not valid",
    ),
    bad(
        "weekly-schedule-with-daily-range-refused",
        V2_WEEKLY,
        {"retentionPolicy.dailySchedule": _V2_RETENTION["dailySchedule"]},
        "retentionPolicy.dailySchedule is not allowed with a Weekly schedule",
    ),
    bad(
        "weekly-schedule-retention-day-not-run-day-refused",
        V1_WEEKLY,
        {"retentionPolicy.weeklySchedule.daysOfTheWeek": ["Saturday"]},
        "retentionPolicy.weeklySchedule.daysOfTheWeek 'Saturday' is not a run day",
    ),
    bad(
        "daily-count-1-refused",
        V1_DAILY,
        {f"{DAILY_DUR}.count": 1},
        f"{DAILY_DUR}.count 1 is not valid: daily retention keeps points for 7 to 9999 days",
    ),
    # --- time zones -------------------------------------------------------------------------
    *[
        ok(f"time-zone-{name}-ok", V1_DAILY, {"timeZone": name}, lambda p, n=name: p.time_zone == n)
        for name in (
            "India Standard Time",
            "Pacific Standard Time",
            "UTC",
            "Asia/Kolkata",
            "Europe/Berlin",
        )
    ],
    *[
        bad(
            f"time-zone-{name or 'empty'}-refused",
            V1_DAILY,
            {"timeZone": name},
            f"timeZone {name!r} is not a known time zone",
        )
        for name in ("Mars/Olympus", "", "America", "../../etc/passwd", "/etc/localtime")
    ],
    bad(
        "time-zone-not-a-string-refused",
        V1_DAILY,
        {"timeZone": 5.5},
        "timeZone must be a string, got 5.5",
    ),
]


@pytest.mark.parametrize(("doc", "changes", "fragments", "check"), CASES)
def test_policy_from_arm(
    doc: dict[str, Any],
    changes: dict[str, Any],
    fragments: tuple[str, ...] | None,
    check: Check | None,
) -> None:
    document = edit(doc, changes)
    if fragments is None:
        assert check is not None
        policy = policy_from_arm(document)
        assert check(policy)
        return
    with pytest.raises(PolicyValidationError) as caught:
        policy_from_arm(document)
    for fragment in fragments:
        assert fragment in caught.value.message
    assert caught.value.code == "BMSUserErrorInvalidPolicyInput"


def test_body_must_be_an_object() -> None:
    with pytest.raises(PolicyValidationError, match="body must be a JSON object"):
        policy_from_arm([])  # type: ignore[arg-type]


def test_document_is_not_modified() -> None:
    document = edit(V2_HOURLY, {})
    policy_from_arm(document)
    assert document == V2_HOURLY


# ---------------------------------------------------------------------------------------------
# time zones


@pytest.mark.parametrize(
    ("name", "key"),
    [
        pytest.param("India Standard Time", "Asia/Calcutta", id="windows-india"),
        pytest.param("Pacific Standard Time", "America/Los_Angeles", id="windows-pacific"),
        pytest.param("UTC", "Etc/UTC", id="windows-utc"),
        pytest.param("GMT Standard Time", "Europe/London", id="windows-gmt-is-london"),
        pytest.param("Asia/Kolkata", "Asia/Kolkata", id="iana-kolkata"),
        pytest.param("Europe/Berlin", "Europe/Berlin", id="iana-berlin"),
    ],
)
def test_time_zone_names_resolve(name: str, key: str) -> None:
    assert resolve_time_zone(name).key == key


def test_every_windows_name_resolves() -> None:
    names = windows_zone_names()
    assert names == sorted(names)
    assert {"UTC", "India Standard Time", "Pacific Standard Time"} <= set(names)
    for name in names:
        resolve_time_zone(name)


def test_time_zone_is_kept_as_written() -> None:
    policy = policy_from_arm(edit(V1_DAILY, {"timeZone": "India Standard Time"}))
    assert policy.time_zone == "India Standard Time"
    assert policy.zone.key == "Asia/Calcutta"
