"""Property tests of schedule.py over zones with DST (and a deleted day), against an oracle.

The oracle computes every window day's wall times independently and maps each to UTC the way
the module documents (first occurrence of a repeated time; a time in a gap shifted by the gap).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

from domain_builders import (
    DELETED_DAYS,
    PROPERTY,
    PROPERTY_ZONES,
    iana,
    schedules,
    transitions,
    utc,
    weekly_retention,
    zone_of,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from vmvault.domain.defaults import DEFAULT_RETENTION
from vmvault.domain.policy import (
    DailyRetention,
    Frequency,
    Policy,
    Retention,
    Schedule,
    SubType,
)
from vmvault.domain.policy_rules import validate
from vmvault.domain.schedule import next_slot, slots_between

ONE_DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)
KINDS = [
    (SubType.ENHANCED, Frequency.HOURLY),
    (SubType.ENHANCED, Frequency.HOURLY),  # twice: hourly windows are the hard case
    (SubType.STANDARD, Frequency.DAILY),
    (SubType.STANDARD, Frequency.WEEKLY),
]


def _policy(sub_type: SubType, schedule: Schedule, zone: str) -> Policy:
    if schedule.frequency is Frequency.WEEKLY:
        retention = weekly_retention(schedule.run_days)
        instant = 5
    elif schedule.frequency is Frequency.DAILY:
        retention, instant = Retention(daily=DailyRetention(days=30)), 2
    else:
        retention, instant = DEFAULT_RETENTION, 1
    return Policy(
        sub_type=sub_type,
        schedule=schedule,
        time_zone=zone,
        instant_rp_days=instant,
        retention=retention,
    )


# (zone name, a day that zone deleted): Samoa skipped 2011-12-30
DELETED = [
    (z, d) for z in (*PROPERTY_ZONES, "Samoa Standard Time") for d in DELETED_DAYS.get(iana(z), ())
]


@st.composite
def instants_near_transitions(draw: st.DrawFn, zone: str) -> datetime:
    """An instant up to 25 days before or 3 days after an offset change, or any in 2024-2027."""
    anchors = transitions(zone)
    if anchors and draw(st.booleans()):
        anchor = draw(st.sampled_from(anchors))
        return anchor + timedelta(minutes=draw(st.integers(-25 * 1440, 3 * 1440)))
    return utc(2024, 1, 1) + timedelta(minutes=draw(st.integers(0, 4 * 365 * 1440)))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Policy, datetime, datetime]:
    """A valid policy (Enhanced hourly, Standard daily or weekly) and a range of up to 40 days.

    One case in four is in Samoa around its deleted day, where windows reach two calendar days.
    """
    sub_type, frequency = draw(st.sampled_from(KINDS))
    schedule = draw(schedules(sub_type, frequency))
    if draw(st.integers(0, 3)) == 0:
        zone, day = draw(st.sampled_from(DELETED))
        deleted = datetime.combine(day, time()).replace(tzinfo=zone_of(zone)).astimezone(UTC)
        start = deleted + timedelta(minutes=draw(st.integers(-12 * 60, 36 * 60)))
    else:
        zone = draw(st.sampled_from(PROPERTY_ZONES))
        start = draw(instants_near_transitions(zone))
    policy = _policy(sub_type, schedule, zone)
    validate(policy)
    start += timedelta(microseconds=draw(st.sampled_from([0, 0, 0, 1, 999_999])))
    length = timedelta(minutes=draw(st.integers(0, 40 * 1440)))
    return policy, start, start + length


# ---------------------------------------------------------------------------------------------
# the oracle


def _window_walls(schedule: Schedule, day: date) -> list[datetime]:
    """The naive wall times of the window that starts on ``day``."""
    if schedule.frequency is Frequency.HOURLY:
        h = schedule.hourly
        assert h is not None
        first = datetime.combine(day, h.window_start)
        hours = range(0, h.window_duration_hours, h.interval_hours)  # k*interval < duration
        return [first + timedelta(hours=k) for k in hours]
    assert schedule.run_time is not None
    if schedule.frequency is Frequency.WEEKLY and day.strftime("%A") not in {
        d.value for d in schedule.run_days
    }:
        return []
    return [datetime.combine(day, schedule.run_time)]


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _oracle(policy: Policy, start: datetime, end: datetime) -> tuple[list[datetime], int]:
    """The sorted distinct slots in [start, end), and the number of window-day wall times there."""
    zone = policy.zone
    first = start.astimezone(zone).date() - 3 * ONE_DAY
    last = end.astimezone(zone).date() + ONE_DAY
    found: list[datetime] = []
    for day in _days(first, last):
        for wall in _window_walls(policy.schedule, day):
            instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: first occurrence
            if start <= instant < end:
                found.append(instant)
    return sorted(set(found)), len(found)


def _touches_deleted_day(policy: Policy, start: datetime, end: datetime) -> bool:
    deleted = DELETED_DAYS.get(iana(policy.time_zone), ())
    first = start.astimezone(policy.zone).date() - 3 * ONE_DAY
    last = end.astimezone(policy.zone).date() + ONE_DAY
    return any(first <= d <= last for d in deleted)


def _scheduled_time_of_day(schedule: Schedule) -> set[time]:
    if schedule.frequency is Frequency.HOURLY:
        h = schedule.hourly
        assert h is not None
        base = datetime.combine(date(2000, 1, 1), h.window_start)
        count = math.ceil(h.window_duration_hours / h.interval_hours)
        return {(base + timedelta(hours=k * h.interval_hours)).time() for k in range(count)}
    assert schedule.run_time is not None
    return {schedule.run_time}


def _is_scheduled_wall(schedule: Schedule, wall: datetime) -> bool:
    if wall.time() not in _scheduled_time_of_day(schedule):
        return False
    if schedule.frequency is Frequency.WEEKLY:
        return wall.strftime("%A") in {d.value for d in schedule.run_days}
    return True


def _offset_before_last_change(policy: Policy, instant: datetime) -> timedelta:
    """The UTC offset in force just before the latest offset change at or before ``instant``."""
    now = instant.astimezone(policy.zone).utcoffset()
    probe = instant
    for _ in range(4 * 26):
        probe -= timedelta(minutes=15)
        offset = probe.astimezone(policy.zone).utcoffset()
        if offset != now:
            assert offset is not None
            return offset
    raise AssertionError(f"no offset change within 26 hours before {instant}")


# ---------------------------------------------------------------------------------------------
# properties


@PROPERTY
@given(cases())
def test_slots_increase_and_stay_in_range(case: tuple[Policy, datetime, datetime]) -> None:
    policy, start, end = case
    slots = slots_between(policy, start, end)
    assert all(a < b for a, b in pairwise(slots))
    assert all(start <= s < end for s in slots)
    assert all(s.tzinfo is not None and s.utcoffset() == timedelta(0) for s in slots)


@PROPERTY
@given(cases())
def test_slots_match_the_oracle(case: tuple[Policy, datetime, datetime]) -> None:
    policy, start, end = case
    slots = slots_between(policy, start, end)
    expected, wall_count = _oracle(policy, start, end)
    assert slots == expected
    if not _touches_deleted_day(policy, start, end):
        # no slot lost or doubled: one slot per wall time of each window day
        assert len(slots) == wall_count


@PROPERTY
@given(cases(), st.data())
def test_split_loses_and_doubles_nothing(
    case: tuple[Policy, datetime, datetime], data: st.DataObject
) -> None:
    policy, start, end = case
    whole = slots_between(policy, start, end)
    choices = [st.integers(0, max(0, int((end - start).total_seconds())))]
    if whole:
        choices.append(st.sampled_from(whole).map(lambda s: int((s - start).total_seconds())))
    seconds = data.draw(st.one_of(*choices), label="split seconds after start")
    split = min(end, start + timedelta(seconds=seconds))
    assert slots_between(policy, start, split) + slots_between(policy, split, end) == whole


@PROPERTY
@given(cases())
def test_each_slot_is_a_scheduled_wall_time_or_shifted_by_a_gap(
    case: tuple[Policy, datetime, datetime],
) -> None:
    policy, start, end = case
    zone = policy.zone
    for slot in slots_between(policy, start, end):
        local = slot.astimezone(zone)
        wall = local.replace(tzinfo=None)
        if _is_scheduled_wall(policy.schedule, wall):
            continue
        # in a DST gap: the intended wall time does not exist, and the slot is that wall time
        # shifted forward by the gap
        before = _offset_before_last_change(policy, slot)
        intended = (slot + before).replace(tzinfo=None)
        assert _is_scheduled_wall(policy.schedule, intended), (slot, wall, intended)
        round_trip = intended.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
        assert round_trip.replace(tzinfo=None) != intended, "intended wall time exists"
        gap = local.utcoffset() - before  # type: ignore[operator]
        assert gap > timedelta(0)
        assert wall - intended == gap


@PROPERTY
@given(cases())
def test_next_slot_is_the_first_slot_after(case: tuple[Policy, datetime, datetime]) -> None:
    policy, after, _ = case
    found = next_slot(policy, after)
    following = slots_between(policy, after + MICROSECOND, after + 9 * ONE_DAY)
    assert following, "every schedule here has a slot within 9 days"
    assert found == following[0]
    assert found > after


@PROPERTY
@given(cases())
def test_next_slot_walks_the_same_slots(case: tuple[Policy, datetime, datetime]) -> None:
    policy, start, end = case
    assume(end - start <= 10 * ONE_DAY)
    slots = slots_between(policy, start, end)
    walked: list[datetime] = []
    current = next_slot(policy, start - MICROSECOND)
    while current is not None and current < end:
        walked.append(current)
        current = next_slot(policy, current)
    assert walked == slots
