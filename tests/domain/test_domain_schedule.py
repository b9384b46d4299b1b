"""schedule.py: exact UTC slots for table cases, DST gaps and repeats, next_slot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from itertools import pairwise

import pytest
from domain_builders import (
    enhanced_daily,
    enhanced_hourly,
    enhanced_weekly,
    iso,
    standard_daily,
    standard_weekly,
    utc,
)

from vmvault.domain.policy import Frequency, Policy
from vmvault.domain.schedule import (
    iter_slots,
    local_slots,
    next_slot,
    slots_between,
    slots_per_day,
    window_day_slots,
)

Build = Callable[[], Policy]
PST = "Pacific Standard Time"  # America/Los_Angeles: DST 2026-03-08 and 2026-11-01
NY = "America/New_York"  # the same dates
IST = "India Standard Time"  # +05:30, no DST


def case(case_id: str, build: Build, start: str, end: str, expected: list[str]) -> object:
    return pytest.param(build, iso(start), iso(end), [iso(e) for e in expected], id=case_id)


SLOT_CASES = [
    case(
        "std-daily-10:00-pacific-spring-forward-2026-03-08",
        lambda: standard_daily(at="10:00", zone=PST),
        "2026-03-06T00:00Z",
        "2026-03-11T00:00Z",
        [
            "2026-03-06T18:00Z",  # PST -08:00
            "2026-03-07T18:00Z",
            "2026-03-08T17:00Z",  # PDT -07:00 from 2026-03-08
            "2026-03-09T17:00Z",
            "2026-03-10T17:00Z",
        ],
    ),
    case(
        "std-daily-10:00-pacific-fall-back-2026-11-01",
        lambda: standard_daily(at="10:00", zone=PST),
        "2026-10-30T00:00Z",
        "2026-11-04T00:00Z",
        [
            "2026-10-30T17:00Z",
            "2026-10-31T17:00Z",
            "2026-11-01T18:00Z",  # PST again
            "2026-11-02T18:00Z",
            "2026-11-03T18:00Z",
        ],
    ),
    case(
        "std-daily-range-is-half-open",
        lambda: standard_daily(at="10:00", zone=PST),
        "2026-03-06T18:00Z",
        "2026-03-08T17:00Z",
        ["2026-03-06T18:00Z", "2026-03-07T18:00Z"],
    ),
    case(
        "std-weekly-mon-wed-thu-10:00-pacific",
        lambda: standard_weekly(run=("Monday", "Wednesday", "Thursday"), at="10:00", zone=PST),
        "2026-01-04T00:00Z",  # a Sunday
        "2026-01-18T00:00Z",
        [
            "2026-01-05T18:00Z",
            "2026-01-07T18:00Z",
            "2026-01-08T18:00Z",
            "2026-01-12T18:00Z",
            "2026-01-14T18:00Z",
            "2026-01-15T18:00Z",
        ],
    ),
    case(
        "std-weekly-sunday-across-spring-forward",
        lambda: standard_weekly(run=("Sunday",), at="10:00", zone=NY),
        "2026-03-01T00:00Z",
        "2026-03-16T00:00Z",
        ["2026-03-01T15:00Z", "2026-03-08T14:00Z", "2026-03-15T14:00Z"],
    ),
    case(
        "enh-weekly-saturday-local-date-not-utc-date",
        lambda: enhanced_weekly(run=("Saturday",), at="02:00", zone=IST),
        "2026-05-01T00:00Z",
        "2026-05-17T00:00Z",
        # Saturday 02:00 IST is Friday 20:30 in UTC (2026-05-02 is a Saturday)
        ["2026-05-01T20:30Z", "2026-05-08T20:30Z", "2026-05-15T20:30Z"],
    ),
    case(
        "enh-daily-23:30-ist",
        lambda: enhanced_daily(at="23:30", zone=IST),
        "2026-05-01T00:00Z",
        "2026-05-03T00:00Z",
        ["2026-05-01T18:00Z", "2026-05-02T18:00Z"],
    ),
    case(
        "enh-hourly-08:00-every-4h-24h-ist-6-a-day",
        lambda: enhanced_hourly(interval=4, start="08:00", duration=24, zone=IST),
        "2026-05-01T00:00Z",
        "2026-05-02T00:00Z",
        [
            "2026-05-01T02:30Z",  # 08:00 IST
            "2026-05-01T06:30Z",  # 12:00
            "2026-05-01T10:30Z",  # 16:00
            "2026-05-01T14:30Z",  # 20:00
            "2026-05-01T18:30Z",  # 00:00 IST on 05-02: the window runs past midnight
            "2026-05-01T22:30Z",  # 04:00 IST on 05-02
        ],
    ),
    case(
        "enh-hourly-20:00-every-4h-for-24h",
        lambda: enhanced_hourly(interval=4, start="20:00", duration=24),
        "2026-05-01T00:00Z",
        "2026-05-02T00:00Z",
        [
            "2026-05-01T00:00Z",  # from the window of 04-30
            "2026-05-01T04:00Z",
            "2026-05-01T08:00Z",
            "2026-05-01T12:00Z",
            "2026-05-01T16:00Z",
            "2026-05-01T20:00Z",  # the window of 05-01 starts
        ],
    ),
    case(
        "enh-hourly-duration-16-gives-4",
        lambda: enhanced_hourly(interval=4, start="08:00", duration=16),
        "2026-05-01T00:00Z",
        "2026-05-03T00:00Z",
        [
            "2026-05-01T08:00Z",
            "2026-05-01T12:00Z",
            "2026-05-01T16:00Z",
            "2026-05-01T20:00Z",
            "2026-05-02T08:00Z",
            "2026-05-02T12:00Z",
            "2026-05-02T16:00Z",
            "2026-05-02T20:00Z",
        ],
    ),
    case(
        "enh-hourly-every-12h-over-13h-gives-2",
        lambda: enhanced_hourly(interval=12, start="06:30", duration=13),
        "2026-05-01T00:00Z",
        "2026-05-02T00:00Z",
        ["2026-05-01T06:30Z", "2026-05-01T18:30Z"],
    ),
    case(
        "enh-hourly-every-24h",
        lambda: enhanced_hourly(interval=24, start="23:30", duration=24),
        "2026-05-01T00:00Z",
        "2026-05-03T00:00Z",
        ["2026-05-01T23:30Z", "2026-05-02T23:30Z"],
    ),
    case(
        "enh-hourly-ny-spring-forward-00:00-to-04:00-is-3-real-hours",
        lambda: enhanced_hourly(interval=4, start="08:00", duration=24, zone=NY),
        "2026-03-07T23:00Z",
        "2026-03-08T13:00Z",
        [
            "2026-03-08T01:00Z",  # 20:00 EST on 03-07
            "2026-03-08T05:00Z",  # 00:00 EST
            "2026-03-08T08:00Z",  # 04:00 EDT
            "2026-03-08T12:00Z",  # 08:00 EDT
        ],
    ),
    case(
        "enh-hourly-ny-fall-back-00:00-to-04:00-is-5-real-hours",
        lambda: enhanced_hourly(interval=4, start="08:00", duration=24, zone=NY),
        "2026-11-01T03:00Z",
        "2026-11-01T14:00Z",
        ["2026-11-01T04:00Z", "2026-11-01T09:00Z", "2026-11-01T13:00Z"],
    ),
    # --- DST: a wall time in the spring-forward gap runs once, shifted by the gap ------------
    case(
        "gap-daily-02:30-new-york-runs-at-03:30-edt",
        lambda: standard_daily(at="02:30", zone=NY),
        "2026-03-07T00:00Z",
        "2026-03-10T00:00Z",
        ["2026-03-07T07:30Z", "2026-03-08T07:30Z", "2026-03-09T06:30Z"],
    ),
    case(
        "gap-hourly-02:00-new-york-runs-at-03:00-edt",
        lambda: enhanced_hourly(interval=6, start="02:00", duration=24, zone=NY),
        "2026-03-08T00:00Z",
        "2026-03-09T00:00Z",
        [
            "2026-03-08T01:00Z",  # 20:00 EST on 03-07
            "2026-03-08T07:00Z",  # 02:00 in the gap -> 03:00 EDT
            "2026-03-08T12:00Z",  # 08:00 EDT
            "2026-03-08T18:00Z",  # 14:00 EDT
        ],
    ),
    case(
        "gap-lord-howe-30-minute-shift",
        lambda: standard_daily(at="02:00", zone="Australia/Lord_Howe"),
        "2026-10-02T00:00Z",
        "2026-10-05T00:00Z",
        ["2026-10-02T15:30Z", "2026-10-03T15:30Z", "2026-10-04T15:00Z"],
    ),
    case(
        "gap-santiago-midnight-does-not-exist",
        lambda: standard_daily(at="00:00", zone="America/Santiago"),
        "2026-09-05T00:00Z",
        "2026-09-08T00:00Z",
        ["2026-09-05T04:00Z", "2026-09-06T04:00Z", "2026-09-07T03:00Z"],
    ),
    # --- DST: a wall time that occurs twice runs once, at its first occurrence ---------------
    case(
        "repeat-daily-01:30-new-york-runs-at-first-occurrence",
        lambda: standard_daily(at="01:30", zone=NY),
        "2026-10-31T00:00Z",
        "2026-11-03T00:00Z",
        ["2026-10-31T05:30Z", "2026-11-01T05:30Z", "2026-11-02T06:30Z"],
    ),
    case(
        "repeat-lord-howe-01:30",
        lambda: standard_daily(at="01:30", zone="Australia/Lord_Howe"),
        "2026-04-03T00:00Z",
        "2026-04-07T00:00Z",
        [
            "2026-04-03T14:30Z",
            "2026-04-04T14:30Z",  # 01:30 +11:00, first of two
            "2026-04-05T15:00Z",
            "2026-04-06T15:00Z",
        ],
    ),
    case(
        "repeat-santiago-23:00-on-04-04",
        lambda: standard_daily(at="23:00", zone="America/Santiago"),
        "2026-04-03T00:00Z",
        "2026-04-07T00:00Z",
        [
            "2026-04-03T02:00Z",  # 04-02 23:00 -03:00
            "2026-04-04T02:00Z",
            "2026-04-05T02:00Z",  # 04-04 23:00 -03:00, the first of two
            "2026-04-06T03:00Z",  # 04-05 23:00 -04:00
        ],
    ),
    # --- a deleted day: Samoa skipped 2011-12-30 --------------------------------------------
    case(
        "deleted-day-apia-daily-runs-once",
        lambda: standard_daily(at="10:00", zone="Pacific/Apia"),
        "2011-12-28T00:00Z",
        "2012-01-02T00:00Z",
        [
            "2011-12-28T20:00Z",  # 12-28 10:00 -10:00
            "2011-12-29T20:00Z",  # 12-29 10:00 -10:00
            "2011-12-30T20:00Z",  # 12-31 10:00 +14:00 (12-30 does not exist: the same instant)
            "2011-12-31T20:00Z",  # 2012-01-01 10:00 +14:00
            "2012-01-01T20:00Z",
        ],
    ),
]


@pytest.mark.parametrize(("build", "start", "end", "expected"), SLOT_CASES)
def test_slots_between(
    build: Build, start: datetime, end: datetime, expected: list[datetime]
) -> None:
    policy = build()
    slots = slots_between(policy, start, end)
    assert slots == expected
    assert all(s.utcoffset() == timedelta(0) for s in slots)


def test_gap_slot_is_03_30_local_exactly_once() -> None:
    policy = standard_daily(at="02:30", zone=NY)
    day_start, day_end = iso("2026-03-08T00:00-05:00"), iso("2026-03-09T00:00-04:00")
    (slot,) = slots_between(policy, day_start, day_end)
    assert slot == utc(2026, 3, 8, 7, 30)
    assert slot.astimezone(policy.zone).time() == time(3, 30)


def test_repeated_slot_runs_at_first_occurrence_only() -> None:
    policy = standard_daily(at="01:30", zone=NY)
    first, second = utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)  # 01:30 EDT, 01:30 EST
    assert first.astimezone(policy.zone).time() == second.astimezone(policy.zone).time()
    assert slots_between(policy, utc(2026, 11, 1), utc(2026, 11, 2)) == [first]
    assert next_slot(policy, first) == utc(2026, 11, 2, 6, 30)


@pytest.mark.parametrize(
    ("build", "after", "expected"),
    [
        pytest.param(
            lambda: standard_daily(at="10:00", zone=PST),
            "2026-03-07T18:00Z",
            "2026-03-08T17:00Z",
            id="daily-strictly-after-a-slot",
        ),
        pytest.param(
            lambda: standard_daily(at="10:00", zone=PST),
            "2026-03-07T17:59:59.999999Z",
            "2026-03-07T18:00Z",
            id="daily-one-microsecond-before",
        ),
        pytest.param(
            lambda: standard_weekly(run=("Wednesday",), at="10:00", zone=PST),
            "2026-01-07T18:00Z",
            "2026-01-14T18:00Z",
            id="weekly-next-week",
        ),
        pytest.param(
            lambda: enhanced_hourly(zone=IST),
            "2026-05-01T22:30Z",
            "2026-05-02T02:30Z",
            id="hourly-last-of-window-to-first-of-next",
        ),
        pytest.param(
            lambda: enhanced_hourly(zone=IST),
            "2026-05-01T18:00+05:30",
            "2026-05-01T14:30Z",
            id="hourly-after-given-with-an-offset",
        ),
        pytest.param(
            lambda: standard_daily(at="02:30", zone=NY),
            "2026-03-08T07:29Z",
            "2026-03-08T07:30Z",
            id="gap-slot-is-next",
        ),
    ],
)
def test_next_slot(build: Build, after: str, expected: str) -> None:
    policy = build()
    found = next_slot(policy, iso(after))
    assert found == iso(expected)
    assert found is not None and found > iso(after)


def test_schedule_without_run_days_has_no_slots() -> None:
    policy = standard_weekly(run=())
    assert next_slot(policy, utc(2026, 1, 1)) is None
    assert slots_between(policy, utc(2026, 1, 1), utc(2026, 3, 1)) == []


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda p: slots_between(p, datetime(2026, 1, 1), utc(2026, 1, 2)), id="start"),
        pytest.param(lambda p: slots_between(p, utc(2026, 1, 1), datetime(2026, 1, 2)), id="end"),
        pytest.param(lambda p: next_slot(p, datetime(2026, 1, 1)), id="next-slot"),
        pytest.param(lambda p: next(iter_slots(p, datetime(2026, 1, 1))), id="iter-slots"),
    ],
)
def test_naive_datetimes_refused(call: Callable[[Policy], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(standard_daily())


def test_iter_slots_is_endless_and_increasing() -> None:
    policy = enhanced_hourly(zone=NY)
    it = iter_slots(policy, utc(2026, 1, 1))
    slots = [next(it) for _ in range(6 * 400)]
    assert all(a < b for a, b in pairwise(slots))
    assert slots[-1] > utc(2027, 2, 1)


# ---------------------------------------------------------------------------------------------
# local slots, window days and slots a day


@pytest.mark.parametrize(
    ("build", "day", "expected"),
    [
        pytest.param(
            lambda: enhanced_hourly(interval=4, start="20:00", duration=24),
            date(2026, 5, 1),
            [
                "05-01 20:00",
                "05-02 00:00",
                "05-02 04:00",
                "05-02 08:00",
                "05-02 12:00",
                "05-02 16:00",
            ],
            id="hourly-window-runs-past-midnight",
        ),
        pytest.param(
            lambda: enhanced_hourly(interval=6, start="08:30", duration=13),
            date(2026, 5, 1),
            ["05-01 08:30", "05-01 14:30", "05-01 20:30"],
            id="hourly-k-times-interval-below-duration",
        ),
        pytest.param(
            lambda: standard_weekly(run=("Friday",)),
            date(2026, 5, 1),  # a Friday
            ["05-01 08:00"],
            id="weekly-on-a-run-day",
        ),
        pytest.param(
            lambda: standard_weekly(run=("Friday",)),
            date(2026, 5, 2),
            [],
            id="weekly-not-a-run-day",
        ),
        pytest.param(
            lambda: standard_daily(at="23:30"), date(2026, 5, 2), ["05-02 23:30"], id="daily"
        ),
    ],
)
def test_local_slots(build: Build, day: date, expected: list[str]) -> None:
    walls = local_slots(build().schedule, day)
    assert [w.strftime("%m-%d %H:%M") for w in walls] == expected
    assert all(w.tzinfo is None for w in walls)


@pytest.mark.parametrize(
    ("build", "day", "expected"),
    [
        pytest.param(
            lambda: enhanced_hourly(zone=IST),
            date(2026, 5, 1),
            ["00:00", "04:00", "08:00", "12:00", "16:00", "20:00"],
            id="ist-calendar-day-takes-slots-of-two-windows",
        ),
        pytest.param(
            lambda: enhanced_hourly(start="08:00", duration=16, zone=NY),
            date(2026, 3, 8),
            ["08:00", "12:00", "16:00", "20:00"],
            id="ny-spring-forward-day",
        ),
        pytest.param(
            lambda: enhanced_hourly(interval=6, start="02:00", zone=NY),
            date(2026, 3, 8),
            ["03:00", "08:00", "14:00", "20:00"],
            id="ny-gap-slot-counts-on-its-day",
        ),
    ],
)
def test_window_day_slots(build: Build, day: date, expected: list[str]) -> None:
    policy = build()
    slots = window_day_slots(policy, day)
    local = [s.astimezone(policy.zone) for s in slots]
    assert [t.strftime("%H:%M") for t in local] == expected
    assert all(t.date() == day for t in local)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        pytest.param(lambda: enhanced_hourly(interval=4, duration=24), 6, id="every-4h-over-24h-6"),
        pytest.param(lambda: enhanced_hourly(interval=4, duration=20), 5, id="every-4h-over-20h-5"),
        pytest.param(lambda: enhanced_hourly(interval=4, duration=16), 4, id="every-4h-over-16h-4"),
        pytest.param(lambda: enhanced_hourly(interval=4, duration=17), 5, id="every-4h-over-17h-5"),
        pytest.param(lambda: enhanced_hourly(interval=6, duration=24), 4, id="every-6h-over-24h-4"),
        pytest.param(lambda: enhanced_hourly(interval=8, duration=24), 3, id="every-8h-over-24h-3"),
        pytest.param(lambda: enhanced_hourly(interval=12, duration=24), 2, id="every-12h-2"),
        pytest.param(
            lambda: enhanced_hourly(interval=12, duration=12), 1, id="every-12h-over-12h-1"
        ),
        pytest.param(lambda: enhanced_hourly(interval=24, duration=24), 1, id="every-24h-1"),
        pytest.param(lambda: standard_daily(), 1, id="daily-1"),
        pytest.param(lambda: standard_weekly(run=("Monday", "Friday")), 1, id="weekly-1"),
    ],
)
def test_slots_per_day(build: Build, expected: int) -> None:
    policy = build()
    assert slots_per_day(policy.schedule) == expected
    if policy.schedule.frequency is Frequency.HOURLY:
        assert len(local_slots(policy.schedule, date(2026, 5, 1))) == expected


@pytest.mark.parametrize(
    "split",
    [
        pytest.param(iso("2011-12-30T10:00Z"), id="at-the-deleted-day"),
        pytest.param(iso("2011-12-30T13:00Z"), id="in-the-first-window-after"),
        pytest.param(iso("2011-12-31T05:00Z"), id="before-a-slot-of-the-day-before-yesterday"),
    ],
)
def test_deleted_day_split_loses_no_slot(split: datetime) -> None:
    """Regression: slots of the window of the day before yesterday were lost at a split."""
    policy = enhanced_hourly(interval=4, start="23:30", duration=24, zone="Pacific/Apia")
    start, end = utc(2011, 12, 27), utc(2012, 1, 3)
    whole = slots_between(policy, start, end)
    assert slots_between(policy, start, split) + slots_between(policy, split, end) == whole
    assert next_slot(policy, split - timedelta(microseconds=1)) == next(
        s for s in whole if s >= split
    )
    assert utc(2011, 12, 31, 5, 30) in whole  # 12-31 19:30 +14:00, the 12-29 window's last
