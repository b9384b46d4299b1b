"""tiers.py: which tiers a backup gets, and when each tier of a point expires."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from domain_builders import (
    by_day,
    by_week,
    days,
    enhanced_daily,
    enhanced_hourly,
    enhanced_weekly,
    iso,
    months,
    standard_daily,
    standard_weekly,
    utc,
    weekly_retention,
)

from vmvault.domain.policy import (
    DailyRetention,
    DayRule,
    MonthlyRetention,
    Policy,
    Retention,
    WeeklyRetention,
    YearlyRetention,
)
from vmvault.domain.schedule import slots_between, window_day_slots
from vmvault.domain.tiers import (
    BOTH_TIERS,
    SNAPSHOT_ONLY,
    Tier,
    matches_day_rule,
    planned_tiers,
    scheduled_tiers,
    snapshot_expiry,
    vault_expiry,
)

Build = Callable[[], Policy]
IST = "India Standard Time"
NY = "America/New_York"
PST = "Pacific Standard Time"
S, SV = SNAPSHOT_ONLY, BOTH_TIERS


def _tiers(code: str) -> frozenset[Tier]:
    return SV if code == "SV" else S


# ---------------------------------------------------------------------------------------------
# planned tiers: what show-schedule prints


@pytest.mark.parametrize(
    ("build", "day", "expected"),
    [
        pytest.param(
            lambda: enhanced_hourly(interval=4, start="08:00", duration=24),
            date(2026, 5, 1),
            {
                "2026-05-01T00:00Z": "S",
                "2026-05-01T04:00Z": "S",
                "2026-05-01T08:00Z": "S",
                "2026-05-01T12:00Z": "S",
                "2026-05-01T16:00Z": "S",
                "2026-05-01T20:00Z": "SV",  # the last of the calendar day goes to the vault
            },
            id="enh-4-hourly-utc-only-the-last-of-the-day-to-vault",
        ),
        pytest.param(
            lambda: enhanced_hourly(interval=4, start="08:00", duration=24, zone=IST),
            date(2026, 5, 1),
            {
                "2026-04-30T18:30Z": "S",  # 00:00 IST, from the window of 04-30
                "2026-04-30T22:30Z": "S",
                "2026-05-01T02:30Z": "S",
                "2026-05-01T06:30Z": "S",
                "2026-05-01T10:30Z": "S",
                "2026-05-01T14:30Z": "SV",  # 20:00 IST
            },
            id="enh-4-hourly-ist-local-calendar-day",
        ),
        pytest.param(
            lambda: enhanced_hourly(interval=4, start="08:00", duration=16),
            date(2026, 5, 1),
            {
                "2026-05-01T08:00Z": "S",
                "2026-05-01T12:00Z": "S",
                "2026-05-01T16:00Z": "S",
                "2026-05-01T20:00Z": "SV",
            },
            id="enh-4-a-day-last-to-vault",
        ),
        pytest.param(
            lambda: enhanced_hourly(interval=8, start="20:00", duration=24),
            date(2026, 5, 1),
            {"2026-05-01T04:00Z": "S", "2026-05-01T12:00Z": "S", "2026-05-01T20:00Z": "SV"},
            id="enh-window-past-midnight-calendar-day-not-window",
        ),
        pytest.param(
            lambda: enhanced_hourly(interval=24, start="08:00", duration=24),
            date(2026, 5, 1),
            {"2026-05-01T08:00Z": "SV"},
            id="enh-one-a-day-always-vault",
        ),
        pytest.param(
            lambda: standard_daily(),
            date(2026, 5, 1),
            {"2026-05-01T08:00Z": "SV"},
            id="std-daily-both-tiers",
        ),
        pytest.param(
            lambda: standard_weekly(run=("Friday",)),
            date(2026, 5, 1),
            {"2026-05-01T08:00Z": "SV"},
            id="std-weekly-both-tiers",
        ),
        pytest.param(
            lambda: enhanced_daily(),
            date(2026, 5, 1),
            {"2026-05-01T08:00Z": "SV"},
            id="enh-daily-both-tiers",
        ),
        pytest.param(
            lambda: enhanced_weekly(run=("Friday",)),
            date(2026, 5, 1),
            {"2026-05-01T08:00Z": "SV"},
            id="enh-weekly-both-tiers",
        ),
    ],
)
def test_planned_tiers(build: Build, day: date, expected: dict[str, str]) -> None:
    policy = build()
    slots = window_day_slots(policy, day)
    assert slots == [iso(s) for s in expected]
    assert {s: planned_tiers(policy, iso(s)) for s in expected} == {
        s: _tiers(code) for s, code in expected.items()
    }


def test_planned_tiers_one_vault_point_per_day_over_a_month() -> None:
    policy = enhanced_hourly(interval=6, start="01:30", duration=24, zone=NY)
    slots = slots_between(policy, iso("2026-03-01T00:00-05:00"), iso("2026-04-01T00:00-04:00"))
    vault = [s for s in slots if Tier.VAULT in planned_tiers(policy, s)]
    assert len(vault) == 31
    assert len({s.astimezone(policy.zone).date() for s in vault}) == 31
    assert all(planned_tiers(policy, s) == scheduled_tiers(policy, s, s) for s in slots)


# ---------------------------------------------------------------------------------------------
# scheduled tiers: the fallback when the last backup of a day failed


@pytest.mark.parametrize(
    ("build", "slot", "last_vault_point", "expected"),
    [
        pytest.param(
            enhanced_hourly,
            "2026-05-02T00:00Z",
            "2026-05-01T20:00Z",
            "S",
            id="first-of-day-previous-last-reached-vault-snapshot-only",
        ),
        pytest.param(
            enhanced_hourly,
            "2026-05-02T00:00Z",
            None,
            "SV",
            id="first-of-day-no-vault-point-ever-to-vault",
        ),
        pytest.param(
            enhanced_hourly,
            "2026-05-02T00:00Z",
            "2026-04-30T20:00Z",
            "SV",
            id="first-of-day-last-vault-2-days-ago-to-vault",
        ),
        pytest.param(
            enhanced_hourly,
            "2026-05-02T00:00Z",
            "2026-05-01T00:00Z",
            "SV",
            id="first-of-day-previous-day-vault-only-earlier-than-its-last-to-vault",
        ),
        pytest.param(
            enhanced_hourly,
            "2026-05-02T00:00Z",
            "2026-05-01T21:15Z",
            "S",
            id="first-of-day-on-demand-after-previous-last-snapshot-only",
        ),
        pytest.param(
            enhanced_hourly,
            "2026-05-02T04:00Z",
            None,
            "S",
            id="second-of-day-never-falls-back",
        ),
        pytest.param(
            enhanced_hourly,
            "2026-05-02T20:00Z",
            "2026-05-02T00:00Z",
            "SV",
            id="last-of-day-always-vault",
        ),
        pytest.param(
            lambda: enhanced_hourly(zone=IST),
            "2026-05-01T18:30Z",  # 00:00 IST on 05-02
            "2026-05-01T14:30Z",  # 20:00 IST on 05-01
            "S",
            id="ist-previous-local-day-last-reached-vault",
        ),
        pytest.param(
            lambda: enhanced_hourly(zone=IST),
            "2026-05-01T18:30Z",
            "2026-05-01T02:30Z",  # 08:00 IST on 05-01: the day's last (20:00) failed
            "SV",
            id="ist-previous-local-day-last-failed",
        ),
        pytest.param(
            lambda: enhanced_hourly(duration=16),
            "2026-05-02T08:00Z",
            "2026-05-01T16:00Z",
            "SV",
            id="window-16h-first-of-next-day-after-failed-last",
        ),
        pytest.param(standard_daily, "2026-05-02T08:00Z", None, "SV", id="std-daily-always-both"),
        pytest.param(
            enhanced_daily,
            "2026-05-02T08:00Z",
            "2026-05-02T08:00Z",
            "SV",
            id="enh-daily-always-both",
        ),
    ],
)
def test_scheduled_tiers(
    build: Build, slot: str, last_vault_point: str | None, expected: str
) -> None:
    policy = build()
    last = iso(last_vault_point) if last_vault_point else None
    assert scheduled_tiers(policy, iso(slot), last) == _tiers(expected)


def _run_days(policy: Policy, failed: set[str], start: datetime, end: datetime) -> list[str]:
    """Run every slot in order; the slots whose backup reached the vault, as 'MM-DD HH:MM'."""
    last_vault: datetime | None = start - timedelta(hours=4)  # the day before ended well
    vaulted: list[str] = []
    for slot in slots_between(policy, start, end):
        name = slot.strftime("%m-%d %H:%M")
        if name not in failed and Tier.VAULT in scheduled_tiers(policy, slot, last_vault):
            last_vault = slot
            vaulted.append(name)
    return vaulted


@pytest.mark.parametrize(
    ("failed", "vaulted"),
    [
        pytest.param(
            set(),
            ["05-01 20:00", "05-02 20:00", "05-03 20:00", "05-04 20:00"],
            id="no-failures-last-of-each-day",
        ),
        pytest.param(
            {"05-01 20:00"},
            ["05-02 00:00", "05-02 20:00", "05-03 20:00", "05-04 20:00"],
            id="one-failed-last-first-of-next-day-instead",
        ),
        pytest.param(
            {"05-01 20:00", "05-02 20:00"},
            ["05-02 00:00", "05-03 00:00", "05-03 20:00", "05-04 20:00"],
            id="failed-last-two-nights-running-fallback-both-mornings",
        ),
        pytest.param(
            {"05-01 20:00", "05-02 00:00"},
            ["05-02 20:00", "05-03 20:00", "05-04 20:00"],
            id="fallback-fails-too-no-second-fallback",
        ),
    ],
)
def test_fallback_over_days(failed: set[str], vaulted: list[str]) -> None:
    """Enhanced hourly, UTC: slots 00:00 04:00 08:00 12:00 16:00 20:00 each day."""
    policy = enhanced_hourly()
    assert _run_days(policy, failed, utc(2026, 5, 1), utc(2026, 5, 5)) == vaulted


# ---------------------------------------------------------------------------------------------
# expiry


@pytest.mark.parametrize(
    ("build", "point", "expected"),
    [
        pytest.param(lambda: standard_daily(instant=2), "2026-05-01T08:00Z", "2026-05-03T08:00Z"),
        pytest.param(lambda: enhanced_hourly(instant=17), "2026-05-01T04:00Z", "2026-05-18T04:00Z"),
        pytest.param(
            lambda: enhanced_daily(instant=30, zone=NY),
            "2026-03-01T13:00Z",
            "2026-03-31T13:00Z",  # 24-hour days, not local days
        ),
    ],
    ids=["std-2-days", "enh-17-days", "enh-30-days-elapsed-time-across-dst"],
)
def test_snapshot_expiry(build: Build, point: str, expected: str) -> None:
    policy = build()
    expiry = snapshot_expiry(policy, iso(point))
    assert expiry.at == iso(expected)
    assert expiry.reason == f"instant restore ({policy.instant_rp_days} days)"


def _daily7(**ranges: object) -> Retention:
    return Retention(daily=DailyRetention(days=7), **ranges)  # type: ignore[arg-type]


FIRST_SUNDAY = by_week(["First"], ["Sunday"])
WEEKLY_SUNDAY_4 = WeeklyRetention(days_of_week=days("Sunday"), weeks=4)


def _monthly(rule: DayRule, count: int, zone: str = "UTC") -> Build:
    return lambda: enhanced_daily(
        zone=zone, retention=_daily7(monthly=MonthlyRetention(rule=rule, months=count))
    )


def _yearly(month: str, rule: DayRule, count: int) -> Build:
    return lambda: enhanced_daily(
        retention=_daily7(
            yearly=YearlyRetention(months_of_year=months(month), rule=rule, years=count)
        )
    )


def _v1_weekly_complex() -> Policy:
    run = days("Monday", "Wednesday", "Thursday")
    return standard_weekly(
        run=("Monday", "Wednesday", "Thursday"),
        at="10:00",
        zone=PST,
        retention=weekly_retention(
            run,
            1,
            monthly=MonthlyRetention(
                rule=by_week(["First", "Third"], ["Wednesday", "Thursday"]), months=2
            ),
            yearly=YearlyRetention(
                months_of_year=months("February", "November"),
                rule=by_week(["Fourth"], ["Monday", "Thursday"]),
                years=4,
            ),
        ),
    )


def exp(
    case_id: str, build: Build, point: str, at: str, reason: str, retain_until: str | None = None
) -> object:
    return pytest.param(build, point, retain_until, at, reason, id=case_id)


VAULT_CASES = [
    exp(
        "daily-plus-30-days",
        standard_daily,
        "2026-05-01T08:00Z",
        "2026-05-31T08:00Z",
        "daily (30 days)",
    ),
    exp(
        "weekly-applies-on-its-weekday",
        lambda: enhanced_daily(retention=_daily7(weekly=WEEKLY_SUNDAY_4)),
        "2026-05-10T08:00Z",  # a Sunday
        "2026-06-07T08:00Z",
        "weekly (4 weeks)",
    ),
    exp(
        "weekly-not-on-other-days",
        lambda: enhanced_daily(retention=_daily7(weekly=WEEKLY_SUNDAY_4)),
        "2026-05-11T08:00Z",  # a Monday
        "2026-05-18T08:00Z",
        "daily (7 days)",
    ),
    exp(
        "monthly-first-sunday",
        _monthly(FIRST_SUNDAY, 2),
        "2026-03-01T08:00Z",
        "2026-05-01T08:00Z",
        "monthly (2 months)",
    ),
    exp(
        "monthly-not-second-sunday",
        _monthly(FIRST_SUNDAY, 2),
        "2026-03-08T08:00Z",
        "2026-03-15T08:00Z",
        "daily (7 days)",
    ),
    exp(
        "monthly-clamped-jan-31-plus-1-is-feb-28",
        _monthly(by_day("last"), 1),
        "2026-01-31T10:00Z",
        "2026-02-28T10:00Z",
        "monthly (1 months)",
    ),
    exp(
        "monthly-clamped-leap-year-jan-31-plus-1-is-feb-29",
        _monthly(by_day("last"), 1),
        "2024-01-31T10:00Z",
        "2024-02-29T10:00Z",
        "monthly (1 months)",
    ),
    exp(
        "monthly-clamped-mar-31-plus-1-is-apr-30",
        _monthly(by_day("last"), 1),
        "2026-03-31T10:00Z",
        "2026-04-30T10:00Z",
        "monthly (1 months)",
    ),
    exp(
        "monthly-last-day-not-the-day-before",
        _monthly(by_day("last"), 1),
        "2026-04-29T10:00Z",
        "2026-05-06T10:00Z",
        "daily (7 days)",
    ),
    exp(
        "monthly-added-in-local-time-across-dst",
        _monthly(by_day("last"), 1, zone=NY),
        "2026-02-28T15:00Z",  # 10:00 EST
        "2026-03-28T14:00Z",  # 10:00 EDT
        "monthly (1 months)",
    ),
    exp(
        "monthly-landing-in-a-gap-shifts-forward",
        _monthly(by_day(8), 1, zone=NY),
        "2026-02-08T07:30Z",  # 02:30 EST
        "2026-03-08T07:30Z",  # 02:30 does not exist on 03-08: 03:30 EDT
        "monthly (1 months)",
    ),
    exp(
        "monthly-by-local-calendar-day-ist",
        _monthly(by_day("last"), 1, zone=IST),
        "2026-04-30T10:00Z",  # 15:30 IST on 04-30
        "2026-05-30T10:00Z",
        "monthly (1 months)",
    ),
    exp(
        "monthly-utc-last-day-is-next-day-in-ist",
        _monthly(by_day("last"), 1, zone=IST),
        "2026-04-30T20:00Z",  # 01:30 IST on 05-01
        "2026-05-07T20:00Z",
        "daily (7 days)",
    ),
    exp(
        "monthly-weekly-format-last-week",
        _monthly(by_week(["Last"], ["Sunday"]), 3),
        "2026-05-31T08:00Z",
        "2026-08-31T08:00Z",
        "monthly (3 months)",
    ),
    exp(
        "monthly-weekly-format-fourth-is-not-last-in-a-5-sunday-month",
        _monthly(by_week(["Last"], ["Sunday"]), 3),
        "2026-05-24T08:00Z",
        "2026-05-31T08:00Z",
        "daily (7 days)",
    ),
    exp(
        "yearly-january-first-sunday",
        _yearly("January", FIRST_SUNDAY, 10),
        "2026-01-04T08:00Z",
        "2036-01-04T08:00Z",
        "yearly (10 years)",
    ),
    exp(
        "yearly-other-month-not-kept",
        _yearly("January", FIRST_SUNDAY, 10),
        "2026-02-01T08:00Z",
        "2026-02-08T08:00Z",
        "daily (7 days)",
    ),
    exp(
        "yearly-feb-29-plus-1-year-clamped",
        _yearly("February", by_day("last"), 1),
        "2024-02-29T08:00Z",
        "2025-02-28T08:00Z",
        "yearly (1 years)",
    ),
    exp(
        "longest-range-wins-default-retention",
        enhanced_hourly,
        "2026-01-04T20:00Z",  # first Sunday of January: daily, weekly, monthly and yearly apply
        "2036-01-04T20:00Z",
        "yearly (10 years)",
    ),
    exp(
        "default-retention-first-sunday-of-may-monthly",
        enhanced_hourly,
        "2026-05-03T20:00Z",
        "2031-05-03T20:00Z",
        "monthly (60 months)",
    ),
    exp(
        "default-retention-daily-180-beats-weekly-12",
        enhanced_hourly,
        "2026-05-10T20:00Z",
        "2026-11-06T20:00Z",
        "daily (180 days)",
    ),
    exp(
        "weekly-schedule-base-weekly-on-every-run-day",
        _v1_weekly_complex,
        "2026-01-12T18:00Z",  # Monday, second week
        "2026-01-19T18:00Z",
        "weekly (1 weeks)",
    ),
    exp(
        "weekly-schedule-monthly-first-wednesday",
        _v1_weekly_complex,
        "2026-01-07T18:00Z",
        "2026-03-07T18:00Z",
        "monthly (2 months)",
    ),
    exp(
        "weekly-schedule-yearly-fourth-thursday-of-february",
        _v1_weekly_complex,
        "2026-02-26T18:00Z",
        "2030-02-26T18:00Z",
        "yearly (4 years)",
    ),
    exp(
        "on-demand-retain-until",
        standard_daily,
        "2026-05-01T13:17Z",
        "2026-07-01T00:00Z",
        "on-demand backup (retain until)",
        retain_until="2026-07-01T00:00Z",
    ),
    exp(
        "on-demand-retain-until-may-be-shorter-than-daily",
        enhanced_hourly,
        "2026-01-04T13:17Z",
        "2026-01-05T00:00Z",
        "on-demand backup (retain until)",
        retain_until="2026-01-05T00:00Z",
    ),
]


@pytest.mark.parametrize(("build", "point", "retain_until", "at", "reason"), VAULT_CASES)
def test_vault_expiry(
    build: Build, point: str, retain_until: str | None, at: str, reason: str
) -> None:
    until = iso(retain_until) if retain_until else None
    expiry = vault_expiry(build(), iso(point), until)
    assert (expiry.at, expiry.reason) == (iso(at), reason)


# ---------------------------------------------------------------------------------------------
# which days a monthly/yearly rule keeps


@pytest.mark.parametrize(
    ("rule", "day", "kept"),
    [
        pytest.param(by_day("last"), date(2026, 2, 28), True, id="last-feb-28-2026"),
        pytest.param(by_day("last"), date(2024, 2, 28), False, id="last-not-feb-28-2024"),
        pytest.param(by_day("last"), date(2024, 2, 29), True, id="last-feb-29-2024"),
        pytest.param(by_day("last"), date(2026, 4, 30), True, id="last-apr-30"),
        pytest.param(by_day("last"), date(2026, 4, 29), False, id="last-not-apr-29"),
        pytest.param(by_day("last"), date(2026, 12, 31), True, id="last-dec-31"),
        pytest.param(by_day(1, 15), date(2026, 5, 15), True, id="day-15"),
        pytest.param(by_day(1, 15), date(2026, 5, 1), True, id="day-1"),
        pytest.param(by_day(1, 15), date(2026, 5, 16), False, id="not-day-16"),
        pytest.param(FIRST_SUNDAY, date(2026, 3, 1), True, id="first-sunday"),
        pytest.param(FIRST_SUNDAY, date(2026, 3, 7), False, id="first-saturday-not-sunday"),
        pytest.param(FIRST_SUNDAY, date(2026, 3, 8), False, id="second-sunday-not-first"),
        pytest.param(by_week(["Fourth"], ["Sunday"]), date(2026, 5, 24), True, id="fourth"),
        pytest.param(by_week(["Fourth"], ["Sunday"]), date(2026, 5, 31), False, id="fifth"),
        pytest.param(by_week(["Last"], ["Sunday"]), date(2026, 5, 31), True, id="last-of-5"),
        pytest.param(by_week(["Last"], ["Sunday"]), date(2026, 5, 24), False, id="4th-of-5"),
        pytest.param(by_week(["Last"], ["Sunday"]), date(2026, 2, 22), True, id="4th-is-last"),
        pytest.param(
            by_week(["Second", "Third"], ["Monday"]), date(2026, 5, 11), True, id="second-monday"
        ),
        pytest.param(
            by_week(["Second", "Third"], ["Monday"]), date(2026, 5, 18), True, id="third-monday"
        ),
        pytest.param(
            by_week(["Second", "Third"], ["Monday"]), date(2026, 5, 4), False, id="first-monday"
        ),
    ],
)
def test_matches_day_rule(rule: DayRule, day: date, kept: bool) -> None:
    assert matches_day_rule(rule, day) is kept


def test_expiry_is_never_before_the_point() -> None:
    policy = enhanced_hourly(zone=NY)
    for slot in slots_between(policy, utc(2026, 1, 1), utc(2026, 2, 1)):
        assert snapshot_expiry(policy, slot).at == slot + timedelta(days=7)
        assert vault_expiry(policy, slot).at >= slot + timedelta(days=180)
