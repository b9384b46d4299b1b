"""Builders, zone lists and hypothesis strategies shared by the domain tests.

Not a test module (pytest collects ``test_*.py`` only); the test modules of this folder import it
by name because pytest puts ``tests/domain`` on ``sys.path`` (no ``__init__.py`` here).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from vmvault.domain.defaults import DEFAULT_RETENTION
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
from vmvault.domain.policy_rules import instant_rp_max_days
from vmvault.domain.schedule import slots_per_day
from vmvault.domain.timezones import resolve_time_zone

# ---------------------------------------------------------------------------------------------
# hypothesis: deterministic by default (the same examples on every run and machine); set
# VMVAULT_DOMAIN_EXPLORE=<n> to run n random examples per property instead.
_EXPLORE = int(os.environ.get("VMVAULT_DOMAIN_EXPLORE", "0") or 0)
PROPERTY = settings(
    max_examples=_EXPLORE or 200,
    deadline=None,
    derandomize=not _EXPLORE,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------------------------------------
# plain values


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def iso(value: str) -> datetime:
    """An aware UTC datetime from '2026-03-08T07:30Z' (or with seconds / an offset)."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed.astimezone(UTC)


def hm(value: str) -> time:
    """'08:30' -> time(8, 30)."""
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def days(*names: str) -> frozenset[Weekday]:
    return frozenset(Weekday(n) for n in names)


def months(*names: str) -> frozenset[Month]:
    return frozenset(Month(n) for n in names)


def weeks(*names: str) -> frozenset[WeekOfMonth]:
    return frozenset(WeekOfMonth(n) for n in names)


def by_week(week_names: Iterable[str], day_names: Iterable[str]) -> DayRule:
    return DayRule(
        format=RetentionFormat.WEEKLY,
        weeks_of_month=weeks(*week_names),
        days_of_week=days(*day_names),
    )


def by_day(*dates: int | str) -> DayRule:
    """Daily-format rule: ints are dates, 'last' is the last day of the month."""
    return DayRule(
        format=RetentionFormat.DAILY,
        days_of_month=tuple(
            DayOfMonth(day=0, is_last=True) if d == "last" else DayOfMonth(day=int(d))
            for d in dates
        ),
    )


# ---------------------------------------------------------------------------------------------
# policies (built without validation: tests validate them explicitly)


def standard_daily(
    at: str = "08:00",
    zone: str = "UTC",
    instant: int = 2,
    retention: Retention | None = None,
) -> Policy:
    return Policy(
        sub_type=SubType.STANDARD,
        schedule=Schedule(frequency=Frequency.DAILY, run_time=hm(at)),
        time_zone=zone,
        instant_rp_days=instant,
        retention=retention or Retention(daily=DailyRetention(days=30)),
    )


def weekly_retention(
    run_days: frozenset[Weekday], weeks_count: int = 12, **ranges: Any
) -> Retention:
    return Retention(weekly=WeeklyRetention(days_of_week=run_days, weeks=weeks_count), **ranges)


def standard_weekly(
    run: Iterable[str] = ("Sunday",),
    at: str = "08:00",
    zone: str = "UTC",
    instant: int = 5,
    retention: Retention | None = None,
) -> Policy:
    run_days = days(*run)
    return Policy(
        sub_type=SubType.STANDARD,
        schedule=Schedule(frequency=Frequency.WEEKLY, run_time=hm(at), run_days=run_days),
        time_zone=zone,
        instant_rp_days=instant,
        retention=retention or weekly_retention(run_days),
    )


def enhanced_hourly(
    interval: int = 4,
    start: str = "08:00",
    duration: int = 24,
    zone: str = "UTC",
    instant: int = 7,
    retention: Retention | None = None,
) -> Policy:
    return Policy(
        sub_type=SubType.ENHANCED,
        schedule=Schedule(
            frequency=Frequency.HOURLY,
            hourly=HourlySchedule(
                interval_hours=interval, window_start=hm(start), window_duration_hours=duration
            ),
        ),
        time_zone=zone,
        instant_rp_days=instant,
        retention=retention or DEFAULT_RETENTION,
    )


def enhanced_daily(
    at: str = "08:00", zone: str = "UTC", instant: int = 7, retention: Retention | None = None
) -> Policy:
    return Policy(
        sub_type=SubType.ENHANCED,
        schedule=Schedule(frequency=Frequency.DAILY, run_time=hm(at)),
        time_zone=zone,
        instant_rp_days=instant,
        retention=retention or DEFAULT_RETENTION,
    )


def enhanced_weekly(
    run: Iterable[str] = ("Sunday",),
    at: str = "08:00",
    zone: str = "UTC",
    instant: int = 7,
    retention: Retention | None = None,
) -> Policy:
    run_days = days(*run)
    return Policy(
        sub_type=SubType.ENHANCED,
        schedule=Schedule(frequency=Frequency.WEEKLY, run_time=hm(at), run_days=run_days),
        time_zone=zone,
        instant_rp_days=instant,
        retention=retention or weekly_retention(run_days),
    )


# ---------------------------------------------------------------------------------------------
# ARM documents

DELETE = object()
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def edit(doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``doc`` with each ``path -> value`` applied (``DELETE`` removes the key).

    Paths are dotted with list indexes, e.g. ``schedulePolicy.scheduleRunTimes[0]``; missing
    objects on the way are created.
    """
    out = copy.deepcopy(doc)
    for path, value in changes.items():
        steps = [
            m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _STEP.finditer(path)
        ]
        node: Any = out
        for step in steps[:-1]:
            if isinstance(step, str) and step not in node:
                node[step] = {}
            node = node[step]
        last = steps[-1]
        if value is DELETE:
            del node[last]
        else:
            node[last] = copy.deepcopy(value)
    return out


# ---------------------------------------------------------------------------------------------
# time zones for property tests: zones with DST (several with unusual rules), as IANA and
# Windows names, plus one without DST.

PROPERTY_ZONES = (
    "America/New_York",
    "Europe/London",
    "Europe/Dublin",  # negative DST in tzdata (winter is the "daylight" period)
    "Europe/Berlin",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Australia/Sydney",
    "America/Santiago",  # changes at midnight: 00:00 does not exist on the spring day
    "America/Havana",  # changes at midnight too
    "America/St_Johns",  # -03:30 / -02:30
    "Pacific/Chatham",  # +12:45 / +13:45
    "Pacific/Apia",  # deleted 2011-12-30; DST 2010-2021
    "Pacific/Auckland",
    "Asia/Kolkata",  # no DST
    "Pacific Standard Time",  # Windows names, mapped through tzlocal
    "GMT Standard Time",
    "Lord Howe Standard Time",
    "Pacific SA Standard Time",  # America/Santiago
)

# Days that do not exist in a zone's calendar (UTC offset jumped by a whole day).
DELETED_DAYS = {"Pacific/Apia": (date(2011, 12, 30),)}


def iana(name: str) -> str:
    return resolve_time_zone(name).key


@cache
def transitions(
    zone_name: str, first_year: int = 2010, last_year: int = 2027
) -> tuple[datetime, ...]:
    """UTC instants (to within 6 hours) near which ``zone_name`` changes its UTC offset."""
    zone = resolve_time_zone(zone_name)
    t = utc(first_year, 1, 1)
    end = utc(last_year + 1, 1, 1)
    step = timedelta(hours=6)
    found: list[datetime] = []
    previous = t.astimezone(zone).utcoffset()
    while t < end:
        t += step
        offset = t.astimezone(zone).utcoffset()
        if offset != previous:
            found.append(t)
            previous = offset
    return tuple(found)


def zone_of(name: str) -> ZoneInfo:
    return resolve_time_zone(name)


# ---------------------------------------------------------------------------------------------
# hypothesis strategies

half_hours = st.builds(time, st.integers(0, 23), st.sampled_from([0, 30]))
weekday_sets = st.frozensets(st.sampled_from(list(Weekday)), min_size=1)


def _subset_of(values: frozenset[Weekday]) -> st.SearchStrategy[frozenset[Weekday]]:
    ordered = sorted(values, key=lambda d: d.weekday)
    return st.frozensets(st.sampled_from(ordered), min_size=1)


day_of_month = st.one_of(
    st.builds(DayOfMonth, st.integers(1, 28)),
    st.just(DayOfMonth(day=0, is_last=True)),
    st.builds(DayOfMonth, st.integers(1, 28), st.just(True)),  # a date Azure ignores when isLast
)


def day_rules(run_days: frozenset[Weekday] | None) -> st.SearchStrategy[DayRule]:
    """A monthly/yearly day rule; with ``run_days`` (Weekly schedule) Weekly format on run days."""
    weekly = st.builds(
        DayRule,
        format=st.just(RetentionFormat.WEEKLY),
        weeks_of_month=st.frozensets(st.sampled_from(list(WeekOfMonth)), min_size=1),
        days_of_week=_subset_of(run_days) if run_days else weekday_sets,
    )
    if run_days is not None:
        return weekly
    daily = st.builds(
        DayRule,
        format=st.just(RetentionFormat.DAILY),
        days_of_month=st.lists(day_of_month, min_size=1, max_size=3).map(tuple),
    )
    return st.one_of(weekly, daily)


@st.composite
def retentions(draw: st.DrawFn, run_days: frozenset[Weekday] | None) -> Retention:
    """A valid retention for a Daily/Hourly schedule (``run_days`` None) or a Weekly one."""
    if run_days is None:
        daily: DailyRetention | None = DailyRetention(days=draw(st.integers(7, 9999)))
        weekly = draw(st.none() | st.builds(WeeklyRetention, weekday_sets, st.integers(1, 5163)))
    else:
        daily = None
        weekly = WeeklyRetention(
            days_of_week=draw(_subset_of(run_days)), weeks=draw(st.integers(1, 5163))
        )
    monthly = draw(
        st.none() | st.builds(MonthlyRetention, day_rules(run_days), st.integers(1, 1188))
    )
    yearly = draw(
        st.none()
        | st.builds(
            YearlyRetention,
            st.frozensets(st.sampled_from(list(Month)), min_size=1),
            day_rules(run_days),
            st.integers(1, 99),
        )
    )
    return Retention(daily=daily, weekly=weekly, monthly=monthly, yearly=yearly)


@st.composite
def schedules(draw: st.DrawFn, sub_type: SubType, frequency: Frequency) -> Schedule:
    if frequency is Frequency.HOURLY:
        interval = draw(st.sampled_from([4, 6, 8, 12, 24]))
        hourly = HourlySchedule(
            interval_hours=interval,
            window_start=draw(half_hours),
            window_duration_hours=draw(st.integers(interval, 24)),
        )
        return Schedule(frequency=frequency, hourly=hourly)
    run_days = draw(weekday_sets) if frequency is Frequency.WEEKLY else frozenset()
    return Schedule(frequency=frequency, run_time=draw(half_hours), run_days=run_days)


def instant_days(sub_type: SubType, schedule: Schedule) -> st.SearchStrategy[int]:
    if sub_type is SubType.STANDARD:
        return st.just(5) if schedule.frequency is Frequency.WEEKLY else st.integers(1, 5)
    return st.integers(1, instant_rp_max_days(slots_per_day(schedule)))


@st.composite
def valid_policies(
    draw: st.DrawFn,
    kinds: tuple[tuple[SubType, Frequency], ...] = (
        (SubType.STANDARD, Frequency.DAILY),
        (SubType.STANDARD, Frequency.WEEKLY),
        (SubType.ENHANCED, Frequency.HOURLY),
        (SubType.ENHANCED, Frequency.DAILY),
        (SubType.ENHANCED, Frequency.WEEKLY),
    ),
    zones: tuple[str, ...] = (*PROPERTY_ZONES, "UTC", "India Standard Time"),
) -> Policy:
    """Any policy ``policy_rules.validate`` accepts, in canonical shape (no stray fields)."""
    sub_type, frequency = draw(st.sampled_from(kinds))
    schedule = draw(schedules(sub_type, frequency))
    run_days = schedule.run_days if frequency is Frequency.WEEKLY else None
    return Policy(
        sub_type=sub_type,
        schedule=schedule,
        time_zone=draw(st.sampled_from(zones)),
        instant_rp_days=draw(instant_days(sub_type, schedule)),
        retention=draw(retentions(run_days)),
    )
