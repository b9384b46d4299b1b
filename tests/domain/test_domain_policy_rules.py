"""policy_rules.validate: the rules of Standard (V1) and Enhanced (V2) policies.

Every case is run twice: on the Policy object (``validate``) and on its ARM document
(``policy_from_arm(policy_to_arm(policy))``, since ``policy_to_arm`` writes invalid policies too),
and both must give the same verdict and a message naming the field path and the value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time

import pytest
from domain_builders import (
    by_day,
    by_week,
    days,
    enhanced_daily,
    enhanced_hourly,
    enhanced_weekly,
    months,
    standard_daily,
    standard_weekly,
    weekly_retention,
)

from vmvault.domain.arm_policy import policy_from_arm, policy_to_arm
from vmvault.domain.defaults import DEFAULT_RETENTION
from vmvault.domain.errors import PolicyValidationError
from vmvault.domain.policy import (
    DailyRetention,
    Frequency,
    HourlySchedule,
    MonthlyRetention,
    Policy,
    Retention,
    Schedule,
    SubType,
    WeeklyRetention,
    YearlyRetention,
)
from vmvault.domain.policy_rules import (
    default_instant_rp_days,
    instant_rp_max_days,
    validate,
)

Build = Callable[[], Policy]

DAILY_30 = DailyRetention(days=30)
FIRST_SUNDAY = by_week(["First"], ["Sunday"])
RUN_SUN_WED = ("Sunday", "Wednesday")


def ok(case_id: str, build: Build) -> object:
    return pytest.param(build, None, id=case_id)


def bad(case_id: str, build: Build, *fragments: str) -> object:
    return pytest.param(build, fragments, id=case_id)


def _std_hourly() -> Policy:
    return Policy(
        sub_type=SubType.STANDARD,
        schedule=Schedule(
            frequency=Frequency.HOURLY,
            hourly=HourlySchedule(interval_hours=4, window_start=time(8), window_duration_hours=24),
        ),
        time_zone="UTC",
        instant_rp_days=2,
        retention=Retention(daily=DAILY_30),
    )


def _with_run_time(policy: Policy, value: time) -> Policy:
    s = policy.schedule
    return Policy(
        sub_type=policy.sub_type,
        schedule=Schedule(frequency=s.frequency, run_time=value, run_days=s.run_days),
        time_zone=policy.time_zone,
        instant_rp_days=policy.instant_rp_days,
        retention=policy.retention,
    )


def _daily_plus(**ranges: object) -> Retention:
    return Retention(daily=DAILY_30, **ranges)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Standard (V1)

STANDARD_CASES = [
    bad(
        "std-hourly-refused",
        _std_hourly,
        "schedulePolicy.scheduleRunFrequency 'Hourly' is not allowed for a Standard (V1) policy",
    ),
    *[ok(f"std-daily-instant-{n}-ok", lambda n=n: standard_daily(instant=n)) for n in range(1, 6)],
    bad(
        "std-daily-instant-0-refused",
        lambda: standard_daily(instant=0),
        "instantRpRetentionRangeInDays 0 is not valid",
        "1 to 5 days",
    ),
    bad(
        "std-daily-instant-6-refused",
        lambda: standard_daily(instant=6),
        "instantRpRetentionRangeInDays 6 is not valid",
        "1 to 5 days",
    ),
    ok("std-weekly-instant-exactly-5-ok", lambda: standard_weekly(instant=5)),
    bad(
        "std-weekly-instant-4-refused",
        lambda: standard_weekly(instant=4),
        "instantRpRetentionRangeInDays 4 is not valid",
        "exactly 5 days",
    ),
    bad(
        "std-weekly-instant-6-refused",
        lambda: standard_weekly(instant=6),
        "instantRpRetentionRangeInDays 6 is not valid",
        "exactly 5 days",
    ),
]

# ---------------------------------------------------------------------------------------------
# Enhanced (V2): interval, window, instant-restore maximum by snapshots a day

ENHANCED_SCHEDULE_CASES = [
    *[
        ok(f"enh-interval-{i}-ok", lambda i=i: enhanced_hourly(interval=i, duration=24))
        for i in (4, 6, 8, 12, 24)
    ],
    *[
        bad(
            f"enh-interval-{i}-refused",
            lambda i=i: enhanced_hourly(interval=i, duration=24),
            f"schedulePolicy.hourlySchedule.interval {i} is not valid",
            "4, 6, 8, 12, 24 hours",
        )
        for i in (5, 3, 48, 0)
    ],
    ok("enh-window-equal-to-interval-ok", lambda: enhanced_hourly(interval=4, duration=4)),
    ok("enh-window-12-of-interval-12-ok", lambda: enhanced_hourly(interval=12, duration=12)),
    ok("enh-window-not-multiple-of-interval-ok", lambda: enhanced_hourly(interval=4, duration=23)),
    ok("enh-window-24-ok", lambda: enhanced_hourly(interval=24, duration=24)),
    bad(
        "enh-window-below-interval-refused",
        lambda: enhanced_hourly(interval=4, duration=3),
        "schedulePolicy.hourlySchedule.scheduleWindowDuration 3 is not valid",
        "from the interval (4) to 24",
    ),
    bad(
        "enh-window-11-below-interval-12-refused",
        lambda: enhanced_hourly(interval=12, duration=11),
        "scheduleWindowDuration 11 is not valid",
        "from the interval (12) to 24",
    ),
    bad(
        "enh-window-25-refused",
        lambda: enhanced_hourly(interval=4, duration=25),
        "schedulePolicy.hourlySchedule.scheduleWindowDuration 25 is not valid",
    ),
]

# (interval, duration, snapshots a day, maximum instant-restore days)
INSTANT_MAX = [
    (4, 24, 6, 17),
    (6, 24, 4, 22),
    (4, 16, 4, 22),
    (4, 20, 5, 19),
    (8, 24, 3, 26),
    (4, 12, 3, 26),
    (12, 24, 2, 30),
    (4, 8, 2, 30),
    (24, 24, 1, 30),
    (4, 4, 1, 30),
]


def _instant_cases() -> list[object]:
    cases: list[object] = []
    for interval, duration, per_day, maximum in INSTANT_MAX:
        rule = f"{per_day}-a-day-every-{interval}h-over-{duration}h"
        cases.append(
            ok(
                f"enh-instant-{maximum}-max-{rule}",
                lambda i=interval, d=duration, m=maximum: enhanced_hourly(
                    interval=i, duration=d, instant=m
                ),
            )
        )
        noun = "snapshot" if per_day == 1 else "snapshots"
        cases.append(
            bad(
                f"enh-instant-{maximum + 1}-over-max-{rule}",
                lambda i=interval, d=duration, m=maximum: enhanced_hourly(
                    interval=i, duration=d, instant=m + 1
                ),
                f"instantRpRetentionRangeInDays {maximum + 1} exceeds the maximum of {maximum} "
                f"days for {per_day} {noun} a day (every {interval} hours over {duration} hours)",
            )
        )
    return cases


INSTANT_CASES = [
    bad(
        "enh-instant-18-for-6-a-day-exact-message",
        lambda: enhanced_hourly(interval=4, duration=24, instant=18),
        "instantRpRetentionRangeInDays 18 exceeds the maximum of 17 days for 6 snapshots a day "
        "(every 4 hours over 24 hours)",
    ),
    *_instant_cases(),
    ok("enh-daily-instant-30-ok", lambda: enhanced_daily(instant=30)),
    bad(
        "enh-daily-instant-31-refused",
        lambda: enhanced_daily(instant=31),
        "instantRpRetentionRangeInDays 31 exceeds the maximum of 30 days for 1 snapshot a day",
    ),
    ok("enh-weekly-instant-30-ok", lambda: enhanced_weekly(instant=30)),
    ok("enh-weekly-instant-1-ok", lambda: enhanced_weekly(instant=1)),
    bad(
        "enh-weekly-instant-31-refused",
        lambda: enhanced_weekly(instant=31),
        "instantRpRetentionRangeInDays 31 exceeds the maximum of 30 days",
    ),
    ok("enh-instant-default-7-ok", lambda: enhanced_hourly(instant=7)),
    ok("enh-instant-1-ok", lambda: enhanced_hourly(instant=1)),
    bad(
        "enh-instant-0-refused",
        lambda: enhanced_hourly(instant=0),
        "instantRpRetentionRangeInDays 0 is not valid: the minimum is 1 day",
    ),
    bad(
        "enh-instant-negative-refused",
        lambda: enhanced_daily(instant=-1),
        "instantRpRetentionRangeInDays -1 is not valid",
    ),
]

# ---------------------------------------------------------------------------------------------
# times of day: on the hour or the half hour

TIME_CASES = [
    ok("std-run-time-08:30-ok", lambda: standard_daily(at="08:30")),
    ok("std-run-time-00:00-ok", lambda: standard_daily(at="00:00")),
    ok("std-run-time-23:30-ok", lambda: standard_daily(at="23:30")),
    bad(
        "std-run-time-08:15-refused",
        lambda: standard_daily(at="08:15"),
        "schedulePolicy.scheduleRunTimes 08:15:00 is not valid",
        "on the hour or the half hour",
    ),
    bad(
        "std-weekly-run-time-08:45-refused",
        lambda: standard_weekly(at="08:45"),
        "schedulePolicy.scheduleRunTimes 08:45:00 is not valid",
    ),
    bad(
        "std-run-time-with-seconds-refused",
        lambda: _with_run_time(standard_daily(), time(8, 0, 30)),
        "schedulePolicy.scheduleRunTimes 08:00:30 is not valid",
    ),
    bad(
        "enh-daily-run-time-08:15-refused",
        lambda: enhanced_daily(at="08:15"),
        "schedulePolicy.dailySchedule.scheduleRunTimes 08:15:00 is not valid",
    ),
    bad(
        "enh-weekly-run-time-10:10-refused",
        lambda: enhanced_weekly(at="10:10"),
        "schedulePolicy.weeklySchedule.scheduleRunTimes 10:10:00 is not valid",
    ),
    ok("enh-hourly-start-08:30-ok", lambda: enhanced_hourly(start="08:30")),
    bad(
        "enh-hourly-start-08:15-refused",
        lambda: enhanced_hourly(start="08:15"),
        "schedulePolicy.hourlySchedule.scheduleWindowStartTime 08:15:00 is not valid",
    ),
]

# ---------------------------------------------------------------------------------------------
# retention counts: both bounds and one past each

RETENTION_LIMITS = {
    "daily": (7, 9999, "days"),
    "weekly": (1, 5163, "weeks"),
    "monthly": (1, 1188, "months"),
    "yearly": (1, 99, "years"),
}


def _retention_with(name: str, count: int) -> Retention:
    if name == "daily":
        return Retention(daily=DailyRetention(days=count))
    if name == "weekly":
        return _daily_plus(weekly=WeeklyRetention(days_of_week=days("Sunday"), weeks=count))
    if name == "monthly":
        return _daily_plus(monthly=MonthlyRetention(rule=FIRST_SUNDAY, months=count))
    return _daily_plus(
        yearly=YearlyRetention(months_of_year=months("January"), rule=FIRST_SUNDAY, years=count)
    )


def _count_cases() -> list[object]:
    cases: list[object] = []
    for name, (low, high, unit) in RETENTION_LIMITS.items():
        for count in (low, high):
            cases.append(
                ok(
                    f"{name}-count-{count}-ok",
                    lambda n=name, c=count: enhanced_daily(retention=_retention_with(n, c)),
                )
            )
        for count in (low - 1, high + 1):
            cases.append(
                bad(
                    f"{name}-count-{count}-refused",
                    lambda n=name, c=count: enhanced_daily(retention=_retention_with(n, c)),
                    f"retentionPolicy.{name}Schedule.retentionDuration.count {count} is not valid",
                    f"{low} to {high} {unit}",
                )
            )
    return cases


RETENTION_COUNT_CASES = [
    *_count_cases(),
    bad(
        "std-daily-count-6-refused",
        lambda: standard_daily(retention=Retention(daily=DailyRetention(days=6))),
        "retentionPolicy.dailySchedule.retentionDuration.count 6 is not valid",
    ),
    bad(
        "weekly-schedule-weekly-count-5164-refused",
        lambda: standard_weekly(run=RUN_SUN_WED, retention=weekly_retention(days("Sunday"), 5164)),
        "retentionPolicy.weeklySchedule.retentionDuration.count 5164 is not valid",
    ),
]

# ---------------------------------------------------------------------------------------------
# which ranges a schedule takes, and on which days


def _weekly(retention: Retention, *, enhanced: bool = False) -> Callable[[], Policy]:
    if enhanced:
        return lambda: enhanced_weekly(run=RUN_SUN_WED, retention=retention)
    return lambda: standard_weekly(run=RUN_SUN_WED, retention=retention)


SUN = days("Sunday")
SUN_WED = days(*RUN_SUN_WED)

RANGE_CASES = [
    ok("weekly-schedule-weekly-range-on-run-days-ok", _weekly(weekly_retention(SUN_WED))),
    ok(
        "weekly-schedule-monthly-yearly-by-week-on-run-days-ok",
        _weekly(
            weekly_retention(
                SUN,
                monthly=MonthlyRetention(rule=by_week(["First", "Last"], ["Wednesday"]), months=6),
                yearly=YearlyRetention(months_of_year=months("March"), rule=FIRST_SUNDAY, years=2),
            )
        ),
    ),
    ok("enh-weekly-schedule-ok", _weekly(weekly_retention(SUN_WED), enhanced=True)),
    bad(
        "weekly-schedule-daily-range-refused",
        _weekly(weekly_retention(SUN, daily=DAILY_30)),
        "retentionPolicy.dailySchedule is not allowed with a Weekly schedule",
    ),
    bad(
        "enh-weekly-schedule-daily-range-refused",
        _weekly(weekly_retention(SUN, daily=DAILY_30), enhanced=True),
        "retentionPolicy.dailySchedule is not allowed with a Weekly schedule",
    ),
    bad(
        "weekly-schedule-weekly-range-required",
        _weekly(Retention(monthly=MonthlyRetention(rule=FIRST_SUNDAY, months=6))),
        "retentionPolicy.weeklySchedule is required with a Weekly schedule",
    ),
    bad(
        "weekly-schedule-weekly-day-not-run-day-refused",
        _weekly(weekly_retention(days("Sunday", "Tuesday"))),
        "retentionPolicy.weeklySchedule.daysOfTheWeek 'Tuesday' is not a run day",
        "must be among scheduleRunDays (Wednesday, Sunday)",
    ),
    bad(
        "weekly-schedule-monthly-daily-format-refused",
        _weekly(weekly_retention(SUN, monthly=MonthlyRetention(rule=by_day(1), months=6))),
        "retentionPolicy.monthlySchedule.retentionScheduleFormatType 'Daily' is not allowed "
        "with a Weekly schedule",
    ),
    bad(
        "weekly-schedule-yearly-daily-format-refused",
        _weekly(
            weekly_retention(
                SUN,
                yearly=YearlyRetention(
                    months_of_year=months("January"), rule=by_day("last"), years=3
                ),
            )
        ),
        "retentionPolicy.yearlySchedule.retentionScheduleFormatType 'Daily' is not allowed",
    ),
    bad(
        "weekly-schedule-monthly-weekday-not-run-day-refused",
        _weekly(
            weekly_retention(
                SUN, monthly=MonthlyRetention(rule=by_week(["First"], ["Friday"]), months=6)
            )
        ),
        "retentionPolicy.monthlySchedule.retentionScheduleWeekly.daysOfTheWeek 'Friday' "
        "is not a run day",
    ),
    bad(
        "weekly-schedule-yearly-weekday-not-run-day-refused",
        _weekly(
            weekly_retention(
                SUN,
                yearly=YearlyRetention(
                    months_of_year=months("May"),
                    rule=by_week(["Second"], ["Sunday", "Monday"]),
                    years=3,
                ),
            ),
            enhanced=True,
        ),
        "retentionPolicy.yearlySchedule.retentionScheduleWeekly.daysOfTheWeek 'Monday' "
        "is not a run day",
    ),
    bad(
        "std-daily-schedule-needs-daily-range",
        lambda: standard_daily(retention=Retention(weekly=WeeklyRetention(SUN, 4))),
        "retentionPolicy.dailySchedule is required with a Daily schedule",
    ),
    bad(
        "enh-hourly-schedule-needs-daily-range",
        lambda: enhanced_hourly(retention=Retention(weekly=WeeklyRetention(SUN, 4))),
        "retentionPolicy.dailySchedule is required with an Hourly schedule",
    ),
    ok(
        "daily-schedule-weekly-range-any-weekday-ok",
        lambda: enhanced_daily(retention=_daily_plus(weekly=WeeklyRetention(days("Friday"), 4))),
    ),
    ok(
        "daily-schedule-monthly-daily-format-ok",
        lambda: enhanced_daily(
            retention=_daily_plus(monthly=MonthlyRetention(rule=by_day(1, 15, "last"), months=6))
        ),
    ),
]

# ---------------------------------------------------------------------------------------------
# days of the month: 1-28 or isLast


def _monthly_on(*dates: int | str) -> Callable[[], Policy]:
    return lambda: enhanced_daily(
        retention=_daily_plus(monthly=MonthlyRetention(rule=by_day(*dates), months=6))
    )


def _yearly_on(*dates: int | str) -> Callable[[], Policy]:
    return lambda: enhanced_daily(
        retention=_daily_plus(
            yearly=YearlyRetention(months_of_year=months("June"), rule=by_day(*dates), years=2)
        )
    )


MONTHLY_DAILY = "retentionPolicy.monthlySchedule.retentionScheduleDaily.daysOfTheMonth"
DAY_OF_MONTH_CASES = [
    ok("day-of-month-1-ok", _monthly_on(1)),
    ok("day-of-month-28-ok", _monthly_on(28)),
    ok("day-of-month-last-ok", _monthly_on("last")),
    ok("yearly-day-of-month-last-ok", _yearly_on("last")),
    bad(
        "day-of-month-29-refused",
        _monthly_on(29),
        f"{MONTHLY_DAILY}[0].date 29 is not valid",
        "1 to 28, or isLast",
    ),
    bad("day-of-month-31-refused", _monthly_on(31), f"{MONTHLY_DAILY}[0].date 31 is not valid"),
    bad(
        "day-of-month-0-without-isLast-refused",
        _monthly_on(0),
        f"{MONTHLY_DAILY}[0].date 0 is not valid",
    ),
    bad(
        "day-of-month-second-entry-29-refused",
        _monthly_on(1, 29),
        f"{MONTHLY_DAILY}[1].date 29 is not valid",
    ),
    bad(
        "yearly-day-of-month-30-refused",
        _yearly_on(30),
        "retentionPolicy.yearlySchedule.retentionScheduleDaily.daysOfTheMonth[0].date 30 "
        "is not valid",
    ),
]

ALL_CASES = [
    *STANDARD_CASES,
    *ENHANCED_SCHEDULE_CASES,
    *INSTANT_CASES,
    *TIME_CASES,
    *RETENTION_COUNT_CASES,
    *RANGE_CASES,
    *DAY_OF_MONTH_CASES,
]


# Cases whose ARM form differs: wire times have no fractions of a second (the ARM reader's
# refusal of "08:00:00.5Z" is in test_domain_arm_reader.py).
POLICY_ONLY_CASES = [
    bad(
        "std-run-time-with-microseconds-refused",
        lambda: _with_run_time(standard_daily(), time(8, 0, 0, 500000)),
        "schedulePolicy.scheduleRunTimes 08:00:00.500000 is not valid",
    ),
]


@pytest.mark.parametrize(("build", "fragments"), ALL_CASES + POLICY_ONLY_CASES)
def test_validate_policy_object(build: Build, fragments: tuple[str, ...] | None) -> None:
    policy = build()
    if fragments is None:
        validate(policy)
        return
    with pytest.raises(PolicyValidationError) as caught:
        validate(policy)
    for fragment in fragments:
        assert fragment in caught.value.message
    assert caught.value.code == "BMSUserErrorInvalidPolicyInput"


@pytest.mark.parametrize(("build", "fragments"), ALL_CASES)
def test_policy_from_arm_gives_the_same_verdict(
    build: Build, fragments: tuple[str, ...] | None
) -> None:
    policy = build()
    document = policy_to_arm(policy)
    if fragments is None:
        assert policy_from_arm(document) == policy
        return
    with pytest.raises(PolicyValidationError) as caught:
        policy_from_arm(document)
    for fragment in fragments:
        assert fragment in caught.value.message


# ---------------------------------------------------------------------------------------------
# Policy objects only (their ARM form is refused earlier, by the reader)


def test_weekly_schedule_without_run_days_refused() -> None:
    policy = Policy(
        sub_type=SubType.STANDARD,
        schedule=Schedule(frequency=Frequency.WEEKLY, run_time=time(8)),
        time_zone="UTC",
        instant_rp_days=5,
        retention=weekly_retention(SUN),
    )
    with pytest.raises(PolicyValidationError, match=r"schedulePolicy\.scheduleRunDays must name"):
        validate(policy)
    with pytest.raises(PolicyValidationError, match=r"schedulePolicy\.scheduleRunDays must list"):
        policy_from_arm(policy_to_arm(policy))


def test_yearly_without_months_refused() -> None:
    policy = enhanced_daily(
        retention=_daily_plus(
            yearly=YearlyRetention(months_of_year=frozenset(), rule=FIRST_SUNDAY, years=2)
        )
    )
    with pytest.raises(PolicyValidationError, match=r"yearlySchedule\.monthsOfYear is required"):
        validate(policy)


# ---------------------------------------------------------------------------------------------
# defaults and limits as functions


@pytest.mark.parametrize(
    ("sub_type", "frequency", "expected"),
    [
        pytest.param(SubType.STANDARD, Frequency.DAILY, 2, id="std-daily-default-2"),
        pytest.param(SubType.STANDARD, Frequency.WEEKLY, 5, id="std-weekly-default-5"),
        pytest.param(SubType.ENHANCED, Frequency.HOURLY, 7, id="enh-hourly-default-7"),
        pytest.param(SubType.ENHANCED, Frequency.DAILY, 7, id="enh-daily-default-7"),
        pytest.param(SubType.ENHANCED, Frequency.WEEKLY, 7, id="enh-weekly-default-7"),
    ],
)
def test_default_instant_rp_days(sub_type: SubType, frequency: Frequency, expected: int) -> None:
    assert default_instant_rp_days(sub_type, frequency) == expected


@pytest.mark.parametrize(
    ("per_day", "maximum"),
    [
        pytest.param(1, 30, id="1-a-day-30"),
        pytest.param(2, 30, id="2-a-day-30"),
        pytest.param(3, 26, id="3-a-day-26"),
        pytest.param(4, 22, id="4-a-day-22"),
        pytest.param(5, 19, id="5-a-day-19"),
        pytest.param(6, 17, id="6-a-day-17"),
    ],
)
def test_instant_rp_max_days(per_day: int, maximum: int) -> None:
    assert instant_rp_max_days(per_day) == maximum


def test_default_retention_is_the_seed_default() -> None:
    r = DEFAULT_RETENTION
    assert (r.daily, r.weekly and r.weekly.weeks) == (DailyRetention(180), 12)
    assert r.monthly is not None and r.monthly.months == 60
    assert r.yearly is not None and r.yearly.years == 10
