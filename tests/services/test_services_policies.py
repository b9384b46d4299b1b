"""PolicyService: create, get, set, list, delete and schedule, on each database kind."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest

from vmvault.clock import FakeClock
from vmvault.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PolicyValidationError,
)
from vmvault.domain.policy import SubType
from vmvault.domain.tiers import Tier
from vmvault.services.context import Services
from vmvault.services.policies import default_document, load_document

FIXTURES = Path(__file__).parents[1] / "fixtures" / "azure_policies"
VAULT = "vault1"


def _fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return document


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


@pytest.fixture
def vault(services: Services) -> str:
    services.vaults.create(VAULT)
    return VAULT


def test_create_from_azure_document_reads_back_identical(
    services: Services, vault: str, clock: FakeClock
) -> None:
    document = _fixture("v2_daily.request.json")
    created = services.policies.create(vault, "EnhancedDaily", document)
    assert created.policy.sub_type is SubType.ENHANCED
    assert created.record.sub_type == "Enhanced"
    assert created.record.created_at == created.record.updated_at == clock.now()
    view = services.policies.get(vault, "EnhancedDaily")
    arm = services.policies.to_arm(view)
    expected = {**document["properties"], "protectedItemsCount": 0}
    assert _json(arm["properties"]) == _json(expected)
    assert _json(services.policies.to_arm(created)["properties"]) == _json(expected)
    assert arm["name"] == "EnhancedDaily"
    assert arm["type"] == "Microsoft.RecoveryServices/vaults/backupPolicies"
    assert arm["id"].endswith("/vaults/vault1/backupPolicies/EnhancedDaily")


def test_create_from_enhanced_default(services: Services, vault: str) -> None:
    document = default_document(SubType.ENHANCED)
    view = services.policies.create(vault, document["name"], document)
    assert view.policy.sub_type is SubType.ENHANCED
    stored = services.policies.get(vault, "EnhancedPolicy")
    assert stored.policy == view.policy
    assert _json(services.policies.to_arm(stored)["properties"]) == _json(document["properties"])


def test_create_refusals(services: Services, vault: str) -> None:
    document = default_document(SubType.STANDARD)
    services.policies.create(vault, "DefaultPolicy", document)
    with pytest.raises(ConflictError) as info:
        services.policies.create(vault, "DefaultPolicy", document)
    assert info.value.code == "UserErrorPolicyAlreadyExists"
    for name in ("", "ab", "1abc", "has space", "x" * 151):
        with pytest.raises(InvalidInputError, match="not a valid policy name"):
            services.policies.create(vault, name, document)
    with pytest.raises(NotFoundError):
        services.policies.create("no-such-vault", "Policy1", document)
    assert [v.record.name for v in services.policies.all(vault)] == ["DefaultPolicy"]


def _invalid_documents() -> list[object]:
    good = _fixture("v2_daily.request.json")["properties"]
    hourly_standard = copy.deepcopy(_fixture("v1_daily_simple.request.json"))
    hourly_standard["properties"]["schedulePolicy"]["scheduleRunFrequency"] = "Hourly"
    mismatched = copy.deepcopy(good)
    mismatched["policyType"] = "V1"
    too_many_days = copy.deepcopy(good)
    too_many_days["instantRpRetentionRangeInDays"] = 31
    unknown_key = {**good, "surprise": True}
    no_schedule = {k: v for k, v in good.items() if k != "schedulePolicy"}
    return [
        {"properties": {**good, "policyType": "V3"}},
        {"properties": mismatched},
        hourly_standard,
        {"properties": too_many_days},
        {"properties": unknown_key},
        {"properties": no_schedule},
        {"properties": ["not", "an", "object"]},
        {"properties": {**good, "snapshotConsistencyType": "ApplicationConsistent"}},
    ]


def test_invalid_documents_refused_and_nothing_stored(services: Services, vault: str) -> None:
    for document in _invalid_documents():
        with pytest.raises(InvalidInputError):
            services.policies.create(vault, "Broken", document)  # type: ignore[arg-type]
    assert services.policies.all(vault) == []
    with pytest.raises(PolicyValidationError) as info:
        services.policies.create(vault, "Broken", {"properties": {"policyType": "V2"}})
    assert info.value.code == "BMSUserErrorInvalidPolicyInput"
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        load_document('{"properties": ')
    assert services.policies.all(vault) == []


def test_set_cannot_change_sub_type(services: Services, vault: str, clock: FakeClock) -> None:
    document = _fixture("v2_daily.request.json")
    services.policies.create(vault, "Enhanced1", document)
    before = services.policies.get(vault, "Enhanced1")
    clock.advance(timedelta(hours=1))
    with pytest.raises(InvalidInputError) as info:
        services.policies.set(vault, "Enhanced1", default_document(SubType.STANDARD))
    assert info.value.code == "UserErrorPolicyTypeChangeNotAllowed"
    after = services.policies.get(vault, "Enhanced1")
    assert after == before
    assert _json(after.record.properties) == _json(document["properties"])


def test_set_within_sub_type(services: Services, vault: str, clock: FakeClock) -> None:
    document = _fixture("v2_daily.request.json")
    services.policies.create(vault, "Enhanced1", document)
    created_at = clock.now()
    clock.advance(timedelta(days=1))
    changed = copy.deepcopy(document)
    changed["properties"]["instantRpRetentionRangeInDays"] = 7
    changed["properties"]["timeZone"] = "UTC"
    changed["properties"]["protectedItemsCount"] = 99  # read-only: ignored
    view = services.policies.set(vault, "Enhanced1", changed)
    assert view.policy.instant_rp_days == 7
    stored = services.policies.get(vault, "Enhanced1")
    assert stored.record.created_at == created_at
    assert stored.record.updated_at == clock.now()
    assert stored.policy.time_zone == "UTC"
    assert _json(services.policies.to_arm(stored)["properties"]) == _json(
        {**changed["properties"], "protectedItemsCount": 0}
    )
    with pytest.raises(InvalidInputError):  # set validates like create
        services.policies.set(vault, "Enhanced1", {"properties": {"policyType": "V2"}})
    with pytest.raises(NotFoundError) as info:
        services.policies.set(vault, "Missing", changed)
    assert info.value.code == "BMSUserErrorPolicyNotFound"


def test_delete_refused_while_in_use(services: Services, vault: str, clock: FakeClock) -> None:
    used = services.policies.create(vault, "InUse", default_document(SubType.ENHANCED))
    services.policies.create(vault, "Unused", default_document(SubType.ENHANCED))
    vault_id = services.vaults.get(vault).id
    services.catalog.add_protected_item(vault_id, "vm1", used.record.id, "Protected", clock.now())
    in_use = services.policies.get(vault, "InUse")
    assert services.policies.to_arm(in_use)["properties"]["protectedItemsCount"] == 1
    with pytest.raises(ConflictError) as info:
        services.policies.delete(vault, "InUse")
    assert info.value.code == "UserErrorPolicyInUse"
    assert services.policies.get(vault, "InUse") == in_use
    deleted = services.policies.delete(vault, "Unused")
    assert deleted.record.name == "Unused"
    with pytest.raises(NotFoundError):
        services.policies.get(vault, "Unused")
    assert [v.record.name for v in services.policies.all(vault)] == ["InUse"]


def test_list_filtered_by_sub_type(services: Services, vault: str) -> None:
    services.policies.create(vault, "V2Daily", _fixture("v2_daily.request.json"))
    services.policies.create(vault, "V1Default", default_document(SubType.STANDARD))
    services.policies.create(vault, "V1Weekly", _fixture("v1_weekly_complex.request.json"))
    services.policies.create(vault, "EnhancedPolicy", default_document(SubType.ENHANCED))

    def names(sub_type: SubType | None) -> list[str]:
        return [v.record.name for v in services.policies.all(vault, sub_type)]

    assert names(SubType.STANDARD) == ["V1Default", "V1Weekly"]
    assert names(SubType.ENHANCED) == ["EnhancedPolicy", "V2Daily"]
    assert names(None) == ["EnhancedPolicy", "V1Default", "V1Weekly", "V2Daily"]
    standard = services.policies.all(vault, SubType.STANDARD)
    assert all(v.policy.sub_type is SubType.STANDARD for v in standard)


def test_schedule_days_out_of_range(services: Services, vault: str) -> None:
    services.policies.create(vault, "EnhancedPolicy", default_document(SubType.ENHANCED))
    for days in (0, -1, 367):
        with pytest.raises(InvalidInputError, match="--days"):
            services.policies.schedule(vault, "EnhancedPolicy", None, days)


def _vault_slots_are_last_of_each_day(slots: list[Any]) -> None:
    for _day, group in groupby(slots, key=lambda s: s.local.date()):
        day_slots = list(group)
        *earlier, last = day_slots
        assert last.tiers == {Tier.SNAPSHOT, Tier.VAULT}
        assert all(s.tiers == {Tier.SNAPSHOT} for s in earlier)


def test_schedule_enhanced_four_hourly(services: Services, vault: str, clock: FakeClock) -> None:
    services.policies.create(vault, "EnhancedPolicy", default_document(SubType.ENHANCED))
    clock.set(datetime(2024, 3, 4, tzinfo=UTC))
    view, slots = services.policies.schedule(vault, "EnhancedPolicy", None, 2)  # from "now"
    assert view.record.name == "EnhancedPolicy"
    assert len(slots) == 12
    assert slots[0].scheduled == clock.now()  # the window from 08:00 runs to 04:00 next day
    assert [s.scheduled for s in slots] == [clock.now() + timedelta(hours=4 * k) for k in range(12)]
    assert all(s.scheduled.tzinfo is UTC for s in slots)
    _vault_slots_are_last_of_each_day(slots)
    assert [s.local.hour for s in slots if Tier.VAULT in s.tiers] == [20, 20]


def test_schedule_in_policy_time_zone(services: Services, vault: str) -> None:
    document = default_document(SubType.ENHANCED)
    document["properties"]["timeZone"] = "India Standard Time"
    services.policies.create(vault, "EnhancedIndia", document)
    start = datetime(2024, 3, 3, 18, 30, tzinfo=UTC)  # midnight in India
    _view, slots = services.policies.schedule(vault, "EnhancedIndia", start, 2)
    assert len(slots) == 12
    assert {s.local.utcoffset() for s in slots} == {timedelta(hours=5, minutes=30)}
    assert [s.local.hour for s in slots[:6]] == [0, 4, 8, 12, 16, 20]
    _vault_slots_are_last_of_each_day(slots)
    vault_slots = [s.scheduled for s in slots if Tier.VAULT in s.tiers]
    assert vault_slots == [
        datetime(2024, 3, 4, 14, 30, tzinfo=UTC),
        datetime(2024, 3, 5, 14, 30, tzinfo=UTC),
    ]
