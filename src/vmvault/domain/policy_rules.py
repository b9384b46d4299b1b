"""The rules a Standard (V1) or Enhanced (V2) VM backup policy must satisfy.

From seed 001 ("Back up an Azure VM by using the Enhanced policy") and Azure's published limits:

* Standard: Daily or Weekly, never Hourly. Instant restore 1-5 days for Daily (default 2),
  exactly 5 for Weekly.
* Enhanced: Hourly, Daily or Weekly. Hourly interval 4, 6, 8, 12 or 24 hours; window duration
  in whole hours from the interval up to 24. Instant restore 1-30 days (default 7), with a
  maximum that falls as snapshots a day rise (``INSTANT_RP_MAX_DAYS``).
* Schedule times fall on the hour or the half hour.
* Retention counts: daily 7-9999 days, weekly 1-5163 weeks, monthly 1-1188 months,
  yearly 1-99 years. Daily and Hourly schedules need a daily range; Weekly schedules take no
  daily range but need a weekly one, and every weekday a range names must be a run day.
* Monthly/yearly by day of month take days 1-28 or "last"; by week take First..Fourth or Last.
"""

from __future__ import annotations

from datetime import time

from vmvault.domain.errors import PolicyValidationError
from vmvault.domain.policy import (
    DayRule,
    Frequency,
    HourlySchedule,
    Policy,
    RetentionFormat,
    Schedule,
    SubType,
    Weekday,
)
from vmvault.domain.schedule import slots_per_day

HOURLY_INTERVALS = (4, 6, 8, 12, 24)
MAX_WINDOW_HOURS = 24

STANDARD_DAILY_INSTANT_RP = (1, 5)
STANDARD_DAILY_INSTANT_RP_DEFAULT = 2
STANDARD_WEEKLY_INSTANT_RP = 5
ENHANCED_INSTANT_RP_DEFAULT = 7

# Maximum instant-restore days by scheduled snapshots a day (Enhanced). The seed gives 6 a day
# (every 4 hours) -> 17, 4 a day (every 6 hours) -> 22, 2 or fewer (every 12 hours) -> 30.
# vmvault fills 3 and 5 a day by linear interpolation rounded down: 3 -> 26, 5 -> 19.
INSTANT_RP_MAX_DAYS = {1: 30, 2: 30, 3: 26, 4: 22, 5: 19, 6: 17}

RETENTION_LIMITS = {
    "daily": (7, 9999, "days"),
    "weekly": (1, 5163, "weeks"),
    "monthly": (1, 1188, "months"),
    "yearly": (1, 99, "years"),
}
_RETENTION_PATH = "retentionPolicy.{}Schedule.retentionDuration.count"


def default_instant_rp_days(sub_type: SubType, frequency: Frequency) -> int:
    """Instant-restore days when a document leaves ``instantRpRetentionRangeInDays`` out."""
    if sub_type is SubType.ENHANCED:
        return ENHANCED_INSTANT_RP_DEFAULT
    if frequency is Frequency.WEEKLY:
        return STANDARD_WEEKLY_INSTANT_RP
    return STANDARD_DAILY_INSTANT_RP_DEFAULT


def instant_rp_max_days(snapshots_per_day: int) -> int:
    return INSTANT_RP_MAX_DAYS[min(max(snapshots_per_day, 1), 6)]


def validate(policy: Policy) -> None:
    """Raise PolicyValidationError naming the first rule ``policy`` breaks."""
    _check_schedule(policy.sub_type, policy.schedule)
    _check_instant_rp(policy)
    _check_retention(policy)


def _check_schedule(sub_type: SubType, s: Schedule) -> None:
    if s.frequency is Frequency.HOURLY:
        if sub_type is SubType.STANDARD:
            raise PolicyValidationError(
                "schedulePolicy.scheduleRunFrequency 'Hourly' is not allowed for a Standard (V1) "
                "policy: use Daily or Weekly, or an Enhanced (V2) policy for hourly backups"
            )
        assert s.hourly is not None
        _check_hourly(s.hourly)
        return
    assert s.run_time is not None
    path = "schedulePolicy"
    if sub_type is SubType.ENHANCED:
        path += ".dailySchedule" if s.frequency is Frequency.DAILY else ".weeklySchedule"
    _check_half_hour(f"{path}.scheduleRunTimes", s.run_time)
    if s.frequency is Frequency.WEEKLY and not s.run_days:
        raise PolicyValidationError(f"{path}.scheduleRunDays must name at least one day for Weekly")


def _check_hourly(h: HourlySchedule) -> None:
    path = "schedulePolicy.hourlySchedule"
    if h.interval_hours not in HOURLY_INTERVALS:
        raise PolicyValidationError(
            f"{path}.interval {h.interval_hours} is not valid: allowed values are "
            + ", ".join(map(str, HOURLY_INTERVALS))
            + " hours"
        )
    if not h.interval_hours <= h.window_duration_hours <= MAX_WINDOW_HOURS:
        raise PolicyValidationError(
            f"{path}.scheduleWindowDuration {h.window_duration_hours} is not valid: allowed "
            f"values are whole hours from the interval ({h.interval_hours}) to {MAX_WINDOW_HOURS}"
        )
    start = h.window_start
    _check_half_hour(f"{path}.scheduleWindowStartTime", start)


def _check_half_hour(path: str, value: time) -> None:
    if value.minute not in (0, 30) or value.second != 0 or value.microsecond != 0:
        raise PolicyValidationError(
            f"{path} {value.isoformat()} is not valid: schedule times must be "
            "on the hour or the half hour (e.g. 08:00 or 08:30)"
        )


def _check_instant_rp(policy: Policy) -> None:
    days = policy.instant_rp_days
    s = policy.schedule
    field = "instantRpRetentionRangeInDays"
    if policy.sub_type is SubType.STANDARD:
        if s.frequency is Frequency.WEEKLY and days != STANDARD_WEEKLY_INSTANT_RP:
            raise PolicyValidationError(
                f"{field} {days} is not valid: a Standard weekly policy keeps snapshots for "
                f"exactly {STANDARD_WEEKLY_INSTANT_RP} days"
            )
        low, high = STANDARD_DAILY_INSTANT_RP
        if not low <= days <= high:
            raise PolicyValidationError(
                f"{field} {days} is not valid: a Standard daily policy keeps snapshots for "
                f"{low} to {high} days (an Enhanced policy allows up to 30)"
            )
        return
    per_day = slots_per_day(s)
    maximum = instant_rp_max_days(per_day)
    if days < 1:
        raise PolicyValidationError(f"{field} {days} is not valid: the minimum is 1 day")
    if days > maximum:
        how = ""
        if s.hourly is not None:
            how = (
                f" (every {s.hourly.interval_hours} hours over "
                f"{s.hourly.window_duration_hours} hours)"
            )
        plural = "snapshot" if per_day == 1 else "snapshots"
        raise PolicyValidationError(
            f"{field} {days} exceeds the maximum of {maximum} days for {per_day} {plural} a "
            f"day{how}"
        )


def _check_retention(policy: Policy) -> None:
    r = policy.retention
    s = policy.schedule
    counts = {
        "daily": r.daily.days if r.daily else None,
        "weekly": r.weekly.weeks if r.weekly else None,
        "monthly": r.monthly.months if r.monthly else None,
        "yearly": r.yearly.years if r.yearly else None,
    }
    for name, count in counts.items():
        low, high, unit = RETENTION_LIMITS[name]
        if count is not None and not low <= count <= high:
            raise PolicyValidationError(
                f"{_RETENTION_PATH.format(name)} {count} is not valid: {name} retention keeps "
                f"points for {low} to {high} {unit}"
            )
    if s.frequency is Frequency.WEEKLY:
        if r.daily is not None:
            raise PolicyValidationError(
                "retentionPolicy.dailySchedule is not allowed with a Weekly schedule: "
                "keep weekly, monthly and yearly ranges"
            )
        if r.weekly is None:
            raise PolicyValidationError(
                "retentionPolicy.weeklySchedule is required with a Weekly schedule"
            )
        run_days = s.run_days
        _check_days("retentionPolicy.weeklySchedule.daysOfTheWeek", r.weekly.days_of_week, run_days)
        for name, rule in (("monthly", r.monthly and r.monthly.rule),
                           ("yearly", r.yearly and r.yearly.rule)):  # fmt: skip
            if rule:
                _check_weekly_rule(f"retentionPolicy.{name}Schedule", rule, run_days)
    elif r.daily is None:
        raise PolicyValidationError(
            f"retentionPolicy.dailySchedule is required with {_article(s.frequency.value)} "
            f"{s.frequency.value} schedule"
        )
    for name, rule in (("monthly", r.monthly and r.monthly.rule),
                       ("yearly", r.yearly and r.yearly.rule)):  # fmt: skip
        if rule and rule.format is RetentionFormat.DAILY:
            _check_days_of_month(f"retentionPolicy.{name}Schedule", rule)
        elif rule and not (rule.weeks_of_month and rule.days_of_week):
            raise PolicyValidationError(
                f"retentionPolicy.{name}Schedule.retentionScheduleWeekly needs at least one "
                "week of the month (First..Fourth, Last) and one day of the week"
            )
    if r.weekly is not None and not r.weekly.days_of_week:
        raise PolicyValidationError(
            "retentionPolicy.weeklySchedule.daysOfTheWeek must name at least one day"
        )
    if r.yearly is not None and not r.yearly.months_of_year:
        raise PolicyValidationError("retentionPolicy.yearlySchedule.monthsOfYear is required")


def _check_days(path: str, days: frozenset[Weekday], run_days: frozenset[Weekday]) -> None:
    extra = _ordered(days - run_days)
    if extra:
        raise PolicyValidationError(
            f"{path} {extra[0]!r} is not a run day: with a Weekly schedule, retention days "
            f"must be among scheduleRunDays ({', '.join(_ordered(run_days))})"
        )


def _check_weekly_rule(path: str, rule: DayRule, run_days: frozenset[Weekday]) -> None:
    if rule.format is not RetentionFormat.WEEKLY:
        raise PolicyValidationError(
            f"{path}.retentionScheduleFormatType 'Daily' is not allowed with a Weekly schedule: "
            "use 'Weekly' (week of month and weekday)"
        )
    _check_days(f"{path}.retentionScheduleWeekly.daysOfTheWeek", rule.days_of_week, run_days)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiouh" else "a"


def _check_days_of_month(path: str, rule: DayRule) -> None:
    if not rule.days_of_month:
        raise PolicyValidationError(
            f"{path}.retentionScheduleDaily.daysOfTheMonth must name at least one day"
        )
    for i, d in enumerate(rule.days_of_month):
        if not d.is_last and not 1 <= d.day <= 28:
            raise PolicyValidationError(
                f"{path}.retentionScheduleDaily.daysOfTheMonth[{i}].date {d.day} is not valid: "
                "allowed values are 1 to 28, or isLast true for the last day of the month"
            )


def _ordered(days: frozenset[Weekday]) -> list[str]:
    return [d.value for d in sorted(days, key=lambda d: d.weekday)]
