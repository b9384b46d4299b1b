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
from vmvault.domain.defaults import DEFAULT_START, default_policy
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

    sub_type: str | None = None
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


def build_policy(flags: PolicyFlags, base: Policy | None = None) -> Policy:
    """A validated policy from flags; PolicyValidationError names the flag or rule broken.

    Without ``base`` every flag not given takes the subtype's default. With ``base`` (``policy
    set`` with flags) every flag not given keeps the base policy's value, as far as it still
    fits the schedule (changing the frequency resets the instant-restore days to the default).
    """
    inherit = base is not None
    if base is None:
        sub_type = parse_enum(flags.sub_type or "Enhanced", SubType, "--sub-type")
        base = default_policy(sub_type)
    else:
        sub_type = (
            parse_enum(flags.sub_type, SubType, "--sub-type") if flags.sub_type else base.sub_type
        )
    given = flags.frequency or base.schedule.frequency.value
    if sub_type is not base.sub_type:
        given = flags.frequency or default_policy(sub_type).schedule.frequency.value
    frequency = parse_enum(given, Frequency, "--frequency")
    schedule = _schedule(flags, frequency, base.schedule)
    same_frequency = inherit and frequency is base.schedule.frequency
    instant = flags.instant_rp_days
    if instant is None:
        instant = (
            base.instant_rp_days if same_frequency else default_instant_rp_days(sub_type, frequency)
        )
    policy = Policy(
        sub_type=sub_type,
        schedule=schedule,
        time_zone=flags.time_zone or base.time_zone,
        instant_rp_days=instant,
        retention=_retention(flags, base.retention, schedule),
    )
    validate(policy)
    return policy


def _schedule(flags: PolicyFlags, frequency: Frequency, base: Schedule) -> Schedule:
    if frequency is Frequency.HOURLY:
        h = base.hourly or HourlySchedule(4, DEFAULT_START, 24)
        start = parse_clock(flags.window_start, "--window-start") if flags.window_start else None
        return Schedule(
            frequency=frequency,
            hourly=HourlySchedule(
                interval_hours=_pick(flags.interval, h.interval_hours),
                window_start=start or h.window_start,
                window_duration_hours=_pick(flags.window_duration, h.window_duration_hours),
            ),
        )
    run_days: frozenset[Weekday] = frozenset()
    if frequency is Frequency.WEEKLY:
        run_days = frozenset(_enums(flags.run_days, Weekday, "--run-days")) or (
            base.run_days or frozenset({Weekday.SUNDAY})
        )
    run_time = parse_clock(flags.run_time, "--run-time") if flags.run_time else None
    return Schedule(
        frequency=frequency,
        run_time=run_time or base.run_time or DEFAULT_START,
        run_days=run_days,
    )


def _retention(flags: PolicyFlags, base: Retention, schedule: Schedule) -> Retention:
    weekly_schedule = schedule.frequency is Frequency.WEEKLY
    run_days = schedule.run_days
    daily = None
    if not weekly_schedule:
        days = _pick(flags.daily_retention, base.daily.days if base.daily else 30)
        daily = DailyRetention(days) if days else None
    weekly = None
    default_weeks = 12 if weekly_schedule else 0
    weeks = _pick(flags.weekly_retention, base.weekly.weeks if base.weekly else default_weeks)
    if weeks:
        kept = base.weekly.days_of_week if base.weekly else frozenset({Weekday.SUNDAY})
        if weekly_schedule:
            kept = (kept & run_days) or run_days
        given = frozenset(_enums(flags.weekly_days, Weekday, "--weekly-days"))
        weekly = WeeklyRetention(days_of_week=given or kept, weeks=weeks)
    monthly = None
    months = _pick(flags.monthly_retention, base.monthly.months if base.monthly else 0)
    if months:
        rule = _day_rule(flags, base.monthly.rule if base.monthly else None, schedule)
        monthly = MonthlyRetention(rule=rule, months=months)
    yearly = None
    years = _pick(flags.yearly_retention, base.yearly.years if base.yearly else 0)
    if years:
        rule = _day_rule(flags, base.yearly.rule if base.yearly else None, schedule)
        months_of_year = frozenset(_enums(flags.yearly_months, Month, "--yearly-months"))
        kept_months = base.yearly.months_of_year if base.yearly else frozenset({Month.JANUARY})
        yearly = YearlyRetention(
            months_of_year=months_of_year or kept_months, rule=rule, years=years
        )
    return Retention(daily=daily, weekly=weekly, monthly=monthly, yearly=yearly)


def _day_rule(flags: PolicyFlags, kept: DayRule | None, schedule: Schedule) -> DayRule:
    """The monthly/yearly day rule: from flags, else the base policy's if it fits, else the
    first week's first run day (Sunday for Daily and Hourly schedules)."""
    if flags.monthly_days:
        return DayRule(
            format=RetentionFormat.DAILY,
            days_of_month=tuple(_day_of_month(d) for d in flags.monthly_days),
        )
    weeks = frozenset(_enums(flags.monthly_weeks, WeekOfMonth, "--monthly-weeks"))
    weekdays = frozenset(_enums(flags.monthly_weekdays, Weekday, "--monthly-weekdays"))
    weekly_schedule = schedule.frequency is Frequency.WEEKLY
    if kept is not None and not (weeks or weekdays):
        fits = kept.format is RetentionFormat.WEEKLY and kept.days_of_week <= schedule.run_days
        if fits or not weekly_schedule:
            return kept
    first_run_day = (
        min(schedule.run_days, key=lambda d: d.weekday) if weekly_schedule else Weekday.SUNDAY
    )
    return DayRule(
        format=RetentionFormat.WEEKLY,
        weeks_of_month=weeks or frozenset({WeekOfMonth.FIRST}),
        days_of_week=weekdays or frozenset({first_run_day}),
    )


def _day_of_month(text: str) -> DayOfMonth:
    if text.lower() == "last":
        return DayOfMonth(day=0, is_last=True)
    if not text.isdigit():
        raise PolicyValidationError(
            f"--monthly-days {text!r} is not valid: allowed values are 1 to 28 and Last"
        )
    return DayOfMonth(day=int(text))


def _pick(given: int | None, default: int) -> int:
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
