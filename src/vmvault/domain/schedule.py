"""When a policy's backups are due: its slots in any range and the next one after a time.

Slots are wall-clock times in the policy's time zone. Each *window day* D yields:

* Daily:  D at the run time.
* Weekly: D at the run time, when D's weekday is a run day.
* Hourly: D at start + k*interval hours, for every k with k*interval < duration. A window may
  run past midnight into D+1 (start 20:00, every 4 hours for 24 hours ends at 16:00 on D+1);
  since the duration is at most 24 hours, windows of consecutive days never overlap.

Daylight-saving time (the rule that no slot is lost or doubled):

* A wall time that occurs twice (clocks go back) runs once, at its first occurrence.
* A wall time that does not exist (clocks go forward) runs at the same instant as the wall time
  shifted forward by the gap (02:30 in a 02:00-03:00 gap runs at 03:30 new time).
* Should two slots ever fall on one instant (only where a zone deletes a whole day, as
  Pacific/Apia did on 2011-12-30), that instant runs once.

Slots are returned as aware UTC datetimes, strictly increasing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from vmvault.domain.policy import Frequency, Policy, Schedule

ONE_DAY = timedelta(days=1)


def slots_per_day(schedule: Schedule) -> int:
    """Scheduled backups in one window day (the figure instant-restore limits depend on)."""
    if schedule.frequency is Frequency.HOURLY:
        assert schedule.hourly is not None
        h = schedule.hourly
        return math.ceil(h.window_duration_hours / h.interval_hours)
    return 1


def snapshots_kept(schedule: Schedule, instant_rp_days: int) -> int:
    """How many snapshots a policy keeps at once: its instant-restore days times its
    snapshots a day (Weekly: the run days that fall in those days, at least one)."""
    if schedule.frequency is Frequency.WEEKLY:
        return max(1, math.ceil(instant_rp_days * len(schedule.run_days) / 7))
    return instant_rp_days * slots_per_day(schedule)


def local_slots(schedule: Schedule, day: date) -> list[datetime]:
    """The naive wall-clock slots of the window that starts on ``day``, in order."""
    if schedule.frequency is Frequency.HOURLY:
        assert schedule.hourly is not None
        h = schedule.hourly
        start = datetime.combine(day, h.window_start)
        return [
            start + timedelta(hours=k * h.interval_hours) for k in range(slots_per_day(schedule))
        ]
    assert schedule.run_time is not None
    if schedule.frequency is Frequency.WEEKLY and not any(
        d.weekday == day.weekday() for d in schedule.run_days
    ):
        return []
    return [datetime.combine(day, schedule.run_time)]


def wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall time in ``zone`` as an aware UTC instant (first occurrence; gaps shift)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    """The calendar date of an aware instant in ``zone``."""
    return instant.astimezone(zone).date()


def iter_slots(policy: Policy, start: datetime) -> Iterator[datetime]:
    """Every slot at or after the aware instant ``start``, strictly increasing, without end."""
    _require_aware(start, "start")
    zone = policy.zone
    # Yesterday's window may run into today; where a zone deletes a day (Pacific/Apia,
    # 2011-12-30) the window of the day before that runs into today too.
    day = local_date(start, zone) - 2 * ONE_DAY
    last: datetime | None = None
    empty_days = 0
    while True:
        walls = local_slots(policy.schedule, day)
        empty_days = 0 if walls else empty_days + 1
        if empty_days > 7:
            return  # a schedule without run days has no slots at all
        for wall in walls:
            slot = wall_to_utc(wall, zone)
            if slot >= start and (last is None or slot > last):
                last = slot
                yield slot
        day += ONE_DAY


def slots_between(policy: Policy, start: datetime, end: datetime) -> list[datetime]:
    """The slots in the half-open range [start, end), as aware UTC datetimes."""
    _require_aware(end, "end")
    result: list[datetime] = []
    for slot in iter_slots(policy, start):
        if slot >= end:
            break
        result.append(slot)
    return result


def next_slot(policy: Policy, after: datetime) -> datetime | None:
    """The first slot strictly after ``after`` (None only for a schedule without slots)."""
    for slot in iter_slots(policy, after):
        if slot > after:
            return slot
    return None


def window_day_slots(policy: Policy, day: date) -> list[datetime]:
    """The UTC slots whose *calendar* date in the policy's zone is ``day``, in order.

    Used by the tier rule "the last backup of the day goes to the vault": the day is the
    calendar day in the policy's time zone, whichever window a slot belongs to.
    """
    zone = policy.zone
    start = wall_to_utc(datetime.combine(day, time()), zone)
    end = wall_to_utc(datetime.combine(day + ONE_DAY, time()), zone)
    return slots_between(policy, start, end)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
