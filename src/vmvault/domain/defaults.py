"""The default VM policies of each subtype, as ``az backup policy get-default-for-vm`` gives.

Standard: daily at 08:00 (noted in UTC), 2 days of snapshots, 30 days of daily points, as
Azure's DefaultPolicy. Enhanced: the seed's defaults, every 4 hours for 24 hours from 08:00,
7 days of snapshots, and 180 days / 12 weeks / 60 months / 10 years of retention.
"""

from __future__ import annotations

from datetime import time

from vmvault.domain.policy import (
    DailyRetention,
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

DEFAULT_START = time(8, 0)
FIRST_SUNDAY = DayRule(
    format=RetentionFormat.WEEKLY,
    weeks_of_month=frozenset({WeekOfMonth.FIRST}),
    days_of_week=frozenset({Weekday.SUNDAY}),
)
DEFAULT_RETENTION = Retention(
    daily=DailyRetention(days=180),
    weekly=WeeklyRetention(days_of_week=frozenset({Weekday.SUNDAY}), weeks=12),
    monthly=MonthlyRetention(rule=FIRST_SUNDAY, months=60),
    yearly=YearlyRetention(months_of_year=frozenset({Month.JANUARY}), rule=FIRST_SUNDAY, years=10),
)


def default_policy(sub_type: SubType) -> Policy:
    if sub_type is SubType.STANDARD:
        return Policy(
            sub_type=SubType.STANDARD,
            schedule=Schedule(frequency=Frequency.DAILY, run_time=DEFAULT_START),
            time_zone="UTC",
            instant_rp_days=2,
            retention=Retention(daily=DailyRetention(days=30)),
        )
    return Policy(
        sub_type=SubType.ENHANCED,
        schedule=Schedule(
            frequency=Frequency.HOURLY,
            hourly=HourlySchedule(
                interval_hours=4, window_start=DEFAULT_START, window_duration_hours=24
            ),
        ),
        time_zone="UTC",
        instant_rp_days=7,
        retention=DEFAULT_RETENTION,
    )
