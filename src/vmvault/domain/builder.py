"""Policies built from command-line flags instead of JSON (``vmvault policy create --sub-type``).

Anything not given takes the subtype's default (``defaults.default_policy``): Enhanced runs every
4 hours for 24 hours from 08:00 and keeps 180 days / 12 weeks / 60 months / 10 years; Standard
runs daily at 08:00 and keeps 30 daily points. A retention count of 0 turns that range off.
For Weekly schedules, weekly retention days default to the run days and monthly/yearly points
to the first week's first run day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from typing import TypeVar

from vmvault.domain.arm_reader import parse_enum
from vmvault.domain.defaults import default_policy
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

E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class PolicyFlags:
    """Flag values as given; None means "use the default"."""

    sub_type: str = "Enhanced"
    frequency: str | None = None
    run_time: str | None = None
    run_days: list[str] = field(default_factory=list)
    interval: int | None = None
    window_start: str | None = None
    window_duration: int | None = None
    time_zone: str | None = None
    instant_rp_days: int | None = None
    daily_retention: int | None = None
    weekly_retention: int | None = None
    weekly_days: list[str] = field(default_factory=list)
    monthly_retention: int | None = None
    monthly_days: list[str] = field(default_factory=list)
    monthly_weeks: list[str] = field(default_factory=list)
    monthly_weekdays: list[str] = field(default_factory=list)
    yearly_retention: int | None = None
    yearly_months: list[str] = field(default_factory=list)


def build_policy(flags: PolicyFlags) -> Policy:
    """A validated policy from flags; PolicyValidationError names the flag or rule broken."""
    sub_type = parse_enum(flags.sub_type, SubType, "--sub-type")
    base = default_policy(sub_type)
    default_frequency = base.schedule.frequency.value
    frequency = parse_enum(flags.frequency or default_frequency, Frequency, "--frequency")
    schedule = _schedule(flags, frequency)
    policy = Policy(
        sub_type=sub_type,
        schedule=schedule,
        time_zone=flags.time_zone or base.time_zone,
        instant_rp_days=(
            flags.instant_rp_days
            if flags.instant_rp_days is not None
            else default_instant_rp_days(sub_type, frequency)
        ),
        retention=_retention(flags, base.retention, schedule),
    )
    validate(policy)
    return policy


def _schedule(flags: PolicyFlags, frequency: Frequency) -> Schedule:
    if frequency is Frequency.HOURLY:
        return Schedule(
            frequency=frequency,
            hourly=HourlySchedule(
                interval_hours=flags.interval if flags.interval is not None else 4,
                window_start=parse_clock(flags.window_start or "08:00", "--window-start"),
                window_duration_hours=(
                    flags.window_duration if flags.window_duration is not None else 24
                ),
            ),
        )
    run_days: frozenset[Weekday] = frozenset()
    if frequency is Frequency.WEEKLY:
        run_days = frozenset(_enums(flags.run_days or ["Sunday"], Weekday, "--run-days"))
    return Schedule(
        frequency=frequency,
        run_time=parse_clock(flags.run_time or "08:00", "--run-time"),
        run_days=run_days,
    )


def _retention(flags: PolicyFlags, base: Retention, schedule: Schedule) -> Retention:
    weekly_schedule = schedule.frequency is Frequency.WEEKLY
    first_run_day = min(schedule.run_days, key=lambda d: d.weekday) if weekly_schedule else None
    daily = None
    if not weekly_schedule:
        days = _count(flags.daily_retention, base.daily.days if base.daily else 30)
        daily = DailyRetention(days) if days else None
    weekly = None
    weeks = _count(
        flags.weekly_retention, base.weekly.weeks if base.weekly else (12 if weekly_schedule else 0)
    )
    if weeks:
        default_days = schedule.run_days if weekly_schedule else frozenset({Weekday.SUNDAY})
        wdays = frozenset(_enums(flags.weekly_days, Weekday, "--weekly-days")) or default_days
        weekly = WeeklyRetention(days_of_week=wdays, weeks=weeks)
    rule = _day_rule(flags, first_run_day)
    monthly = None
    months = _count(flags.monthly_retention, base.monthly.months if base.monthly else 0)
    if months:
        monthly = MonthlyRetention(rule=rule, months=months)
    yearly = None
    years = _count(flags.yearly_retention, base.yearly.years if base.yearly else 0)
    if years:
        months_of_year = frozenset(_enums(flags.yearly_months, Month, "--yearly-months"))
        yearly = YearlyRetention(
            months_of_year=months_of_year or frozenset({Month.JANUARY}), rule=rule, years=years
        )
    return Retention(daily=daily, weekly=weekly, monthly=monthly, yearly=yearly)


def _day_rule(flags: PolicyFlags, first_run_day: Weekday | None) -> DayRule:
    if flags.monthly_days:
        return DayRule(
            format=RetentionFormat.DAILY,
            days_of_month=tuple(_day_of_month(d) for d in flags.monthly_days),
        )
    weeks = _enums(flags.monthly_weeks, WeekOfMonth, "--monthly-weeks") or [WeekOfMonth.FIRST]
    weekdays = _enums(flags.monthly_weekdays, Weekday, "--monthly-weekdays") or [
        first_run_day or Weekday.SUNDAY
    ]
    return DayRule(
        format=RetentionFormat.WEEKLY,
        weeks_of_month=frozenset(weeks),
        days_of_week=frozenset(weekdays),
    )


def _day_of_month(text: str) -> DayOfMonth:
    if text.lower() == "last":
        return DayOfMonth(day=0, is_last=True)
    if not text.isdigit():
        raise PolicyValidationError(
            f"--monthly-days {text!r} is not valid: allowed values are 1 to 28 and Last"
        )
    return DayOfMonth(day=int(text))


def _count(given: int | None, default: int) -> int:
    return default if given is None else given


def _enums(values: list[str], kind: type[E], flag: str) -> list[E]:
    return [parse_enum(v, kind, flag) for v in values]


def parse_clock(text: str, flag: str) -> time:
    """A time of day written HH:MM (24-hour clock)."""
    try:
        hour, minute = (int(part) for part in text.split(":"))
        return time(hour, minute)
    except ValueError:
        raise PolicyValidationError(
            f"{flag} {text!r} is not a time of day: write HH:MM, e.g. 08:00 or 20:30"
        ) from None
