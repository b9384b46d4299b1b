"""Azure's own REST examples (tests/fixtures/azure_policies, see SOURCES.md) and round trips.

Each fixture file, and each entry of the list response, has a stated outcome: it parses (with
the values asserted) or it is refused (with the message asserted). A new fixture file without a
row in the table fails the suite.
"""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from domain_builders import PROPERTY, valid_policies
from hypothesis import given

from vmvault.domain.arm_policy import policy_from_arm, policy_to_arm
from vmvault.domain.defaults import default_policy
from vmvault.domain.errors import PolicyValidationError
from vmvault.domain.policy import (
    DayRule,
    Frequency,
    Month,
    Policy,
    RetentionFormat,
    SubType,
    Weekday,
    WeekOfMonth,
)
from vmvault.domain.policy_rules import validate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "azure_policies"

DAILY_COUNT_1 = (
    "retentionPolicy.dailySchedule.retentionDuration.count 1 is not valid: daily retention keeps "
    "points for 7 to 9999 days"
)
V2_HOURLY_MAX = (
    "instantRpRetentionRangeInDays 30 exceeds the maximum of 22 days for 4 snapshots a day "
    "(every 4 hours over 16 hours)"
)
MON, WED, THU, SUN = Weekday.MONDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.SUNDAY


def _v1_weekly_complex(p: Policy) -> None:
    assert p.sub_type is SubType.STANDARD
    assert p.time_zone == "Pacific Standard Time"
    assert p.schedule.frequency is Frequency.WEEKLY
    assert p.schedule.run_time == time(10, 0)
    assert p.schedule.run_days == {MON, WED, THU}
    assert p.instant_rp_days == 5  # absent: a Standard weekly policy keeps exactly 5
    r = p.retention
    assert r.daily is None
    assert r.weekly is not None and (r.weekly.days_of_week, r.weekly.weeks) == ({MON, WED, THU}, 1)
    assert r.monthly is not None and r.monthly.months == 2
    assert r.monthly.rule == DayRule(
        format=RetentionFormat.WEEKLY,
        weeks_of_month=frozenset({WeekOfMonth.FIRST, WeekOfMonth.THIRD}),
        days_of_week=frozenset({WED, THU}),
    )
    assert r.yearly is not None and r.yearly.years == 4
    assert r.yearly.months_of_year == {Month.FEBRUARY, Month.NOVEMBER}
    assert r.yearly.rule == DayRule(
        format=RetentionFormat.WEEKLY,
        weeks_of_month=frozenset({WeekOfMonth.FOURTH}),
        days_of_week=frozenset({MON, THU}),
    )


def _v2_daily(p: Policy) -> None:
    assert p.sub_type is SubType.ENHANCED
    assert p.time_zone == "India Standard Time"
    assert p.schedule.frequency is Frequency.DAILY
    assert p.schedule.run_time == time(10, 0)
    assert p.schedule.run_days == frozenset()
    assert p.instant_rp_days == 30
    r = p.retention
    assert r.daily is not None and r.daily.days == 180
    assert r.weekly is not None and (r.weekly.days_of_week, r.weekly.weeks) == ({SUN}, 12)
    first_sunday = DayRule(
        format=RetentionFormat.WEEKLY,
        weeks_of_month=frozenset({WeekOfMonth.FIRST}),
        days_of_week=frozenset({SUN}),
    )
    assert r.monthly is not None and (r.monthly.rule, r.monthly.months) == (first_sunday, 60)
    assert r.yearly is not None
    assert (r.yearly.months_of_year, r.yearly.rule, r.yearly.years) == (
        {Month.JANUARY},
        first_sunday,
        10,
    )


def _default_policy_entry(p: Policy) -> None:
    assert p.sub_type is SubType.STANDARD
    assert p.time_zone == "UTC"  # absent
    assert p.schedule.frequency is Frequency.DAILY
    assert p.schedule.run_time == time(19, 0)
    assert p.instant_rp_days == 2  # absent: a Standard daily policy keeps 2
    assert p.retention.daily is not None and p.retention.daily.days == 30
    assert (p.retention.weekly, p.retention.monthly, p.retention.yearly) == (None, None, None)


# (file, list entry name or None) -> a check of the parsed policy, or the refusal message
OUTCOMES: dict[tuple[str, str | None], Any] = {
    ("v1_weekly_complex.request.json", None): _v1_weekly_complex,
    ("v1_weekly_complex.response.json", None): _v1_weekly_complex,
    ("v2_daily.request.json", None): _v2_daily,
    ("v2_daily.response.json", None): _v2_daily,
    ("v2_hourly.request.json", None): V2_HOURLY_MAX,
    ("v2_hourly.response.json", None): V2_HOURLY_MAX,
    ("v1_daily_simple.request.json", None): DAILY_COUNT_1,
    ("v1_daily_simple.response.json", None): DAILY_COUNT_1,
    ("v1_get.response.json", None): DAILY_COUNT_1,
    ("v2_get.response.json", None): DAILY_COUNT_1,
    ("list_v1_v2.response.json", "DefaultPolicy"): _default_policy_entry,
    ("list_v1_v2.response.json", "testPolicy1"): DAILY_COUNT_1,
    ("list_v1_v2.response.json", "v2-daily-policy"): DAILY_COUNT_1,
}


def _documents() -> dict[tuple[str, str | None], dict[str, Any]]:
    found: dict[tuple[str, str | None], dict[str, Any]] = {}
    for path in sorted(FIXTURES.glob("*.json")):
        body = json.loads(path.read_text())
        if "value" in body:
            for entry in body["value"]:
                found[(path.name, entry["name"])] = entry["properties"]
        else:
            found[(path.name, None)] = body["properties"]
    return found


DOCUMENTS = _documents()


def _case_id(key: tuple[str, str | None]) -> str:
    name, entry = key
    outcome = "parses" if callable(OUTCOMES.get(key)) else "refused"
    return f"{name.removesuffix('.json')}{'/' + entry if entry else ''}-{outcome}"


def test_every_fixture_has_a_stated_outcome() -> None:
    assert set(DOCUMENTS) == set(OUTCOMES)


@pytest.mark.parametrize("key", sorted(OUTCOMES, key=str), ids=_case_id)
def test_fixture_outcome(key: tuple[str, str | None]) -> None:
    expected = OUTCOMES[key]
    document = DOCUMENTS[key]
    if callable(expected):
        expected(policy_from_arm(document))
        return
    with pytest.raises(PolicyValidationError) as caught:
        policy_from_arm(document)
    assert expected in caught.value.message


PARSED = [k for k, v in OUTCOMES.items() if callable(v)]


@pytest.mark.parametrize("key", PARSED, ids=_case_id)
def test_fixture_round_trip(key: tuple[str, str | None]) -> None:
    policy = policy_from_arm(DOCUMENTS[key])
    written = policy_to_arm(policy)
    assert policy_from_arm(written) == policy
    assert json.dumps(policy_to_arm(policy_from_arm(written))) == json.dumps(written)


def test_request_and_response_parse_to_the_same_policy() -> None:
    for name in ("v1_weekly_complex", "v2_daily"):
        request = policy_from_arm(DOCUMENTS[(f"{name}.request.json", None)])
        assert policy_from_arm(DOCUMENTS[(f"{name}.response.json", None)]) == request


# ---------------------------------------------------------------------------------------------
# round trips of the defaults and of generated valid policies


@pytest.mark.parametrize("sub_type", list(SubType), ids=lambda s: f"default-{s.value}")
def test_default_policy_round_trip(sub_type: SubType) -> None:
    policy = default_policy(sub_type)
    validate(policy)
    written = policy_to_arm(policy)
    assert policy_from_arm(written) == policy
    assert json.dumps(policy_to_arm(policy_from_arm(written))) == json.dumps(written)
    assert written["policyType"] == sub_type.wire


def test_default_policies_match_azure() -> None:
    standard = policy_to_arm(default_policy(SubType.STANDARD))
    assert standard["schedulePolicy"] == {
        "schedulePolicyType": "SimpleSchedulePolicy",
        "scheduleRunFrequency": "Daily",
        "scheduleRunTimes": ["2024-01-01T08:00:00Z"],
    }
    assert standard["instantRpRetentionRangeInDays"] == 2
    assert "snapshotConsistencyType" not in standard
    enhanced = policy_to_arm(default_policy(SubType.ENHANCED))
    assert enhanced["schedulePolicy"]["hourlySchedule"] == {
        "interval": 4,
        "scheduleWindowStartTime": "2024-01-01T08:00:00Z",
        "scheduleWindowDuration": 24,
    }
    assert enhanced["instantRpRetentionRangeInDays"] == 7
    assert enhanced["snapshotConsistencyType"] == "OnlyCrashConsistent"


@PROPERTY
@given(valid_policies())
def test_generated_policy_round_trip(policy: Policy) -> None:
    validate(policy)  # the generator makes valid policies only
    written = policy_to_arm(policy)
    text = json.dumps(written)
    assert json.dumps(policy_to_arm(policy)) == text  # the same document every time
    parsed = policy_from_arm(json.loads(text))
    assert parsed == policy
    assert parsed.time_zone == policy.time_zone
    assert json.dumps(policy_to_arm(parsed)) == text


def test_weekday_and_month_lists_are_in_azure_order() -> None:
    policy = policy_from_arm(DOCUMENTS[("v1_weekly_complex.request.json", None)])
    written = policy_to_arm(policy)
    assert written["schedulePolicy"]["scheduleRunDays"] == ["Monday", "Wednesday", "Thursday"]
    yearly = written["retentionPolicy"]["yearlySchedule"]
    assert yearly["monthsOfYear"] == ["February", "November"]
    assert yearly["retentionScheduleWeekly"] == {
        "daysOfTheWeek": ["Monday", "Thursday"],
        "weeksOfTheMonth": ["Fourth"],
    }
