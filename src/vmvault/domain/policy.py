"""The backup policy model: what a Standard (V1) or Enhanced (V2) Azure VM policy says.

These are plain values. Parsing from and writing to Azure's ARM JSON lives in ``arm_policy``;
the rules a policy must satisfy live in ``policy_rules``; what a policy implies over time lives
in ``schedule``, ``tiers`` and ``retention``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from zoneinfo import ZoneInfo

from vmvault.domain.timezones import resolve_time_zone


class SubType(StrEnum):
    """Policy subtype; on the wire ``policyType`` is V1 (Standard) or V2 (Enhanced)."""

    STANDARD = "Standard"
    ENHANCED = "Enhanced"

    @property
    def wire(self) -> str:
        return "V1" if self is SubType.STANDARD else "V2"

    @classmethod
    def from_wire(cls, value: str) -> SubType:
        return {"V1": cls.STANDARD, "V2": cls.ENHANCED}[value]


class Frequency(StrEnum):
    HOURLY = "Hourly"
    DAILY = "Daily"
    WEEKLY = "Weekly"


class Weekday(StrEnum):
    """Days as Azure spells them; ``weekday`` follows Python's ``date.weekday()`` (Monday = 0)."""

    MONDAY = "Monday"
    TUESDAY = "Tuesday"
    WEDNESDAY = "Wednesday"
    THURSDAY = "Thursday"
    FRIDAY = "Friday"
    SATURDAY = "Saturday"
    SUNDAY = "Sunday"

    @property
    def weekday(self) -> int:
        return list(Weekday).index(self)


class WeekOfMonth(StrEnum):
    FIRST = "First"
    SECOND = "Second"
    THIRD = "Third"
    FOURTH = "Fourth"
    LAST = "Last"


class Month(StrEnum):
    JANUARY = "January"
    FEBRUARY = "February"
    MARCH = "March"
    APRIL = "April"
    MAY = "May"
    JUNE = "June"
    JULY = "July"
    AUGUST = "August"
    SEPTEMBER = "September"
    OCTOBER = "October"
    NOVEMBER = "November"
    DECEMBER = "December"

    @property
    def number(self) -> int:
        return list(Month).index(self) + 1


class RetentionFormat(StrEnum):
    """``retentionScheduleFormatType``: by day of month (Daily) or by week and weekday (Weekly)."""

    DAILY = "Daily"
    WEEKLY = "Weekly"


@dataclass(frozen=True)
class HourlySchedule:
    """Enhanced hourly schedule: slots at start + k*interval for every k*interval < duration."""

    interval_hours: int
    window_start: time
    window_duration_hours: int


@dataclass(frozen=True)
class Schedule:
    """When backups run. ``run_time`` for Daily/Weekly, ``run_days`` for Weekly."""

    frequency: Frequency
    run_time: time | None = None
    run_days: frozenset[Weekday] = frozenset()
    hourly: HourlySchedule | None = None


@dataclass(frozen=True)
class DayOfMonth:
    """A day of the month, 1-28, or the last day (``is_last``)."""

    day: int
    is_last: bool = False


@dataclass(frozen=True)
class DayRule:
    """Which day a monthly or yearly point falls on.

    Daily format: ``days_of_month``. Weekly format: ``weeks_of_month`` x ``days_of_week``.
    """

    format: RetentionFormat
    days_of_month: tuple[DayOfMonth, ...] = ()
    weeks_of_month: frozenset[WeekOfMonth] = frozenset()
    days_of_week: frozenset[Weekday] = frozenset()


@dataclass(frozen=True)
class DailyRetention:
    days: int


@dataclass(frozen=True)
class WeeklyRetention:
    days_of_week: frozenset[Weekday]
    weeks: int


@dataclass(frozen=True)
class MonthlyRetention:
    rule: DayRule
    months: int


@dataclass(frozen=True)
class YearlyRetention:
    months_of_year: frozenset[Month]
    rule: DayRule
    years: int


@dataclass(frozen=True)
class Retention:
    """LongTermRetentionPolicy: any of daily, weekly, monthly and yearly ranges."""

    daily: DailyRetention | None = None
    weekly: WeeklyRetention | None = None
    monthly: MonthlyRetention | None = None
    yearly: YearlyRetention | None = None


@dataclass(frozen=True)
class Policy:
    """A validated Azure VM backup policy (see ``policy_rules.validate``)."""

    sub_type: SubType
    schedule: Schedule
    time_zone: str
    instant_rp_days: int
    retention: Retention
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", resolve_time_zone(self.time_zone))
