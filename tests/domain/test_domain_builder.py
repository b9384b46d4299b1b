"""Policies built from CLI flags: defaults for `create`, current values kept for `set`."""

from __future__ import annotations

from datetime import time

import pytest

from vmvault.domain.builder import PolicyFlags, build_policy
from vmvault.domain.defaults import default_policy
from vmvault.domain.errors import PolicyValidationError
from vmvault.domain.policy import Frequency, Month, RetentionFormat, SubType, Weekday


def test_no_flags_gives_the_enhanced_default() -> None:
    assert build_policy(PolicyFlags()) == default_policy(SubType.ENHANCED)


def test_standard_sub_type_alone_gives_the_standard_default() -> None:
    assert build_policy(PolicyFlags(sub_type="standard")) == default_policy(SubType.STANDARD)


def test_issue_example_flags() -> None:
    p = build_policy(
        PolicyFlags(
            sub_type="Enhanced",
            frequency="Hourly",
            interval=6,
            window_start="08:00",
            window_duration=24,
            time_zone="India Standard Time",
            instant_rp_days=10,
            daily_retention=180,
        )
    )
    assert p.schedule.hourly is not None
    assert (p.schedule.hourly.interval_hours, p.schedule.hourly.window_duration_hours) == (6, 24)
    assert p.schedule.hourly.window_start == time(8, 0)
    assert p.instant_rp_days == 10 and p.retention.daily is not None
    assert p.retention.daily.days == 180
    assert p.retention.yearly is not None and p.retention.yearly.years == 10  # default kept


def test_weekly_schedule_defaults_follow_the_run_days() -> None:
    p = build_policy(
        PolicyFlags(
            sub_type="Standard",
            frequency="Weekly",
            run_days=["Friday", "Tuesday"],
            monthly_retention=6,
            yearly_retention=2,
            yearly_months=["March"],
        )
    )
    assert p.instant_rp_days == 5
    assert p.retention.daily is None
    assert p.retention.weekly is not None
    assert p.retention.weekly.days_of_week == {Weekday.TUESDAY, Weekday.FRIDAY}
    assert p.retention.monthly is not None
    assert p.retention.monthly.rule.days_of_week == {Weekday.TUESDAY}
    assert p.retention.yearly is not None
    assert p.retention.yearly.months_of_year == {Month.MARCH}


def test_monthly_days_use_the_day_of_month_format() -> None:
    p = build_policy(PolicyFlags(frequency="Daily", monthly_days=["1", "Last"]))
    assert p.retention.monthly is not None
    assert p.retention.monthly.rule.format is RetentionFormat.DAILY
    assert [(d.day, d.is_last) for d in p.retention.monthly.rule.days_of_month] == [
        (1, False),
        (0, True),
    ]


def test_zero_turns_a_range_off() -> None:
    p = build_policy(PolicyFlags(weekly_retention=0, monthly_retention=0, yearly_retention=0))
    assert p.retention.weekly is None and p.retention.monthly is None
    assert p.retention.yearly is None


def test_set_keeps_current_values_and_resets_instant_days_on_frequency_change() -> None:
    base = build_policy(PolicyFlags(sub_type="Standard", instant_rp_days=4, time_zone="UTC"))
    changed = build_policy(PolicyFlags(daily_retention=40), base)
    assert changed.instant_rp_days == 4 and changed.retention.daily is not None
    assert changed.retention.daily.days == 40
    weekly = build_policy(PolicyFlags(frequency="Weekly", run_days=["Monday"]), base)
    assert weekly.schedule.frequency is Frequency.WEEKLY and weekly.instant_rp_days == 5


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (PolicyFlags(sub_type="Gold"), "--sub-type 'Gold' is not valid"),
        (PolicyFlags(frequency="Monthly"), "--frequency 'Monthly' is not valid"),
        (PolicyFlags(window_start="8am"), "--window-start '8am' is not a time of day"),
        (PolicyFlags(run_time="25:00", frequency="Daily"), "--run-time '25:00'"),
        (PolicyFlags(frequency="Weekly", run_days=["Funday"]), "--run-days 'Funday'"),
        (PolicyFlags(monthly_days=["first"]), "--monthly-days 'first' is not valid"),
        (PolicyFlags(monthly_days=["30"]), "date 30 is not valid"),
        (PolicyFlags(interval=5), "interval 5 is not valid"),
    ],
    ids=[
        "sub-type",
        "frequency",
        "window-start",
        "run-time",
        "run-days",
        "monthly-days-word",
        "monthly-days-30",
        "interval",
    ],
)
def test_bad_flags_name_the_flag_and_value(flags: PolicyFlags, message: str) -> None:
    with pytest.raises(PolicyValidationError, match=message.replace("(", r"\(")):
        build_policy(flags)
