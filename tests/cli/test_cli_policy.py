from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from vmvault.clock import FakeClock
from vmvault.config import load_settings
from vmvault.services.context import Services

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "azure_policies"


def _props(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())["properties"]


def test_json_policy_written_and_read_back_is_identical(vmvault, vmvault_json) -> None:
    vmvault("vault", "create", "--name", "vault1")
    created = vmvault_json(
        "policy", "create", "--vault-name", "vault1", "--name", "daily-v2",
        "--policy", str(FIXTURES / "v2_daily.request.json"),
    )  # fmt: skip
    shown = vmvault_json("policy", "show", "--vault-name", "vault1", "--name", "daily-v2")
    expected = {**_props("v2_daily.request.json"), "protectedItemsCount": 0}
    assert json.dumps(shown["properties"]) == json.dumps(expected)
    assert created == shown
    assert shown["type"] == "Microsoft.RecoveryServices/vaults/backupPolicies"
    assert shown["id"].endswith("/vaults/vault1/backupPolicies/daily-v2")

    inline = json.dumps({"properties": _props("v1_weekly_complex.request.json")})
    vmvault("policy", "create", "--vault-name", "vault1", "--name", "weekly-v1", "--policy", inline)
    back = vmvault_json("policy", "show", "--vault-name", "vault1", "--name", "weekly-v1")
    assert json.dumps(back["properties"]) == json.dumps(
        {**_props("v1_weekly_complex.request.json"), "protectedItemsCount": 0}
    )


def test_flag_built_policy_from_the_issue(vmvault, vmvault_json) -> None:
    vmvault("vault", "create", "--name", "vault1")
    body = vmvault_json(
        "policy", "create", "--vault-name", "vault1", "--name", "pol-p", "--sub-type", "Enhanced",
        "--frequency", "Hourly", "--interval", "6", "--window-start", "08:00",
        "--window-duration", "24", "--time-zone", "India Standard Time",
        "--instant-rp-days", "10", "--daily-retention", "180",
    )  # fmt: skip
    props = body["properties"]
    assert props["policyType"] == "V2"
    assert props["schedulePolicy"]["schedulePolicyType"] == "SimpleSchedulePolicyV2"
    assert props["schedulePolicy"]["hourlySchedule"] == {
        "interval": 6,
        "scheduleWindowStartTime": "2024-01-01T08:00:00Z",
        "scheduleWindowDuration": 24,
    }
    assert props["instantRpRetentionRangeInDays"] == 10
    assert props["timeZone"] == "India Standard Time"
    assert props["retentionPolicy"]["dailySchedule"]["retentionDuration"] == {
        "count": 180,
        "durationType": "Days",
    }


def test_bad_input_names_field_value_and_limit_and_stores_nothing(vmvault, vmvault_json) -> None:
    vmvault("vault", "create", "--name", "vault1")
    bad = vmvault(
        "policy", "create", "--vault-name", "vault1", "--name", "pol-p", "--sub-type", "Enhanced",
        "--frequency", "Hourly", "--interval", "4", "--window-duration", "24",
        "--instant-rp-days", "18", ok=False,
    )  # fmt: skip
    assert bad.returncode != 0
    assert bad.stdout == ""
    assert bad.stderr.strip() == (
        "ERROR: (BMSUserErrorInvalidPolicyInput) instantRpRetentionRangeInDays 18 exceeds the "
        "maximum of 17 days for 6 snapshots a day (every 4 hours over 24 hours)"
    )
    # Azure's own hourly example keeps 30 days at 4 snapshots a day: the seed's limit wins.
    hourly = vmvault(
        "policy", "create", "--vault-name", "vault1", "--name", "pol-q",
        "--policy", str(FIXTURES / "v2_hourly.request.json"), ok=False,
    )  # fmt: skip
    assert "instantRpRetentionRangeInDays 30 exceeds the maximum of 22 days" in hourly.stderr
    standard_hourly = vmvault(
        "policy", "create", "--vault-name", "vault1", "--name", "pol-r", "--sub-type", "Standard",
        "--frequency", "Hourly", ok=False,
    )  # fmt: skip
    assert "'Hourly' is not allowed for a Standard (V1) policy" in standard_hourly.stderr
    not_json = vmvault(
        "policy",
        "create",
        "--vault-name",
        "vault1",
        "--name",
        "pol-s",
        "--policy",
        "{nope",
        ok=False,
    )
    assert "--policy is not valid JSON" in not_json.stderr
    assert vmvault_json("policy", "list", "--vault-name", "vault1") == []


def test_subtype_never_changes_and_same_subtype_set_works(vmvault, vmvault_json) -> None:
    vmvault("vault", "create", "--name", "vault1")
    enhanced = vmvault_json("policy", "get-default-for-vm", "--policy-sub-type", "Enhanced")
    standard = vmvault_json("policy", "get-default-for-vm", "--policy-sub-type", "Standard")
    assert enhanced["properties"]["policyType"] == "V2"
    assert standard["properties"]["policyType"] == "V1"
    vmvault("policy", "create", "--vault-name", "vault1", "--name", "enh-1", "--policy",
            json.dumps(enhanced))  # fmt: skip
    vmvault("policy", "create", "--vault-name", "vault1", "--name", "std-1", "--policy",
            json.dumps(standard))  # fmt: skip

    to_v1 = vmvault("policy", "set", "--vault-name", "vault1", "--name", "enh-1", "--policy",
                    json.dumps(standard), ok=False)  # fmt: skip
    assert to_v1.returncode != 0 and "UserErrorPolicyTypeChangeNotAllowed" in to_v1.stderr
    to_v2 = vmvault("policy", "set", "--vault-name", "vault1", "--name", "std-1", "--policy",
                    json.dumps(enhanced), ok=False)  # fmt: skip
    assert to_v2.returncode != 0 and "UserErrorPolicyTypeChangeNotAllowed" in to_v2.stderr
    shown = vmvault_json("policy", "show", "--vault-name", "vault1", "--name", "enh-1")
    assert shown["properties"] == enhanced["properties"]

    enhanced["properties"]["instantRpRetentionRangeInDays"] = 12
    enhanced["properties"]["schedulePolicy"]["hourlySchedule"]["interval"] = 8
    vmvault("policy", "set", "--vault-name", "vault1", "--name", "enh-1", "--policy",
            json.dumps(enhanced))  # fmt: skip
    shown = vmvault_json("policy", "show", "--vault-name", "vault1", "--name", "enh-1")
    assert shown["properties"]["instantRpRetentionRangeInDays"] == 12

    only_enhanced = vmvault_json("policy", "list", "--vault-name", "vault1",
                                 "--policy-sub-type", "Enhanced")  # fmt: skip
    assert [p["name"] for p in only_enhanced] == ["enh-1"]
    only_standard = vmvault_json("policy", "list", "--vault-name", "vault1",
                                 "--policy-sub-type", "standard")  # fmt: skip
    assert [p["name"] for p in only_standard] == ["std-1"]
    assert len(vmvault_json("policy", "list", "--vault-name", "vault1")) == 2
    bad = vmvault("policy", "list", "--vault-name", "vault1", "--policy-sub-type", "Gold", ok=False)
    assert "--policy-sub-type 'Gold' is not valid" in bad.stderr


def test_delete_refused_while_policy_protects_items(vmvault, vmvault_json, home: Path) -> None:
    vmvault("vault", "create", "--name", "vault1")
    vmvault(
        "policy", "create", "--vault-name", "vault1", "--name", "pol-1", "--sub-type", "Enhanced"
    )
    vmvault(
        "policy", "create", "--vault-name", "vault1", "--name", "pol-2", "--sub-type", "Enhanced"
    )
    services = Services.open(
        load_settings({"VMVAULT_HOME": str(home)}), FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    )
    try:
        vault = services.vaults.get("vault1")
        policy = services.policies.get("vault1", "pol-1")
        services.catalog.add_protected_item(
            vault.id, "web01", policy.record.id, "Protected", services.clock.now()
        )
    finally:
        services.close()
    refused = vmvault("policy", "delete", "--vault-name", "vault1", "--name", "pol-1", ok=False)
    assert refused.returncode != 0 and "UserErrorPolicyInUse" in refused.stderr
    shown = vmvault_json("policy", "show", "--vault-name", "vault1", "--name", "pol-1")
    assert shown["properties"]["protectedItemsCount"] == 1
    vmvault("policy", "delete", "--vault-name", "vault1", "--name", "pol-2")
    assert [p["name"] for p in vmvault_json("policy", "list", "--vault-name", "vault1")] == [
        "pol-1"
    ]


def test_show_schedule_json_shape_across_dst(vmvault, vmvault_json) -> None:
    vmvault("vault", "create", "--name", "vault1")
    vmvault(
        "policy", "create", "--vault-name", "vault1", "--name", "hourly", "--sub-type", "Enhanced",
        "--frequency", "Hourly", "--interval", "12", "--window-start", "08:00",
        "--window-duration", "24", "--time-zone", "Pacific Standard Time",
    )  # fmt: skip
    slots = vmvault_json(
        "policy", "show-schedule", "--vault-name", "vault1", "--name", "hourly", "--days", "3",
        "--from", "2026-03-07T00:00:00-08:00",
    )  # fmt: skip
    assert [s["scheduledTime"] for s in slots] == [
        "2026-03-07T16:00:00Z",  # 08:00 PST
        "2026-03-08T04:00:00Z",  # 20:00 PST
        "2026-03-08T15:00:00Z",  # 08:00 PDT: clocks went forward at 02:00
        "2026-03-09T03:00:00Z",
        "2026-03-09T15:00:00Z",
        "2026-03-10T03:00:00Z",
    ]
    assert slots[0]["localTime"] == "2026-03-07T08:00:00-08:00"
    assert slots[2]["localTime"] == "2026-03-08T08:00:00-07:00"
    assert [s["tiers"] for s in slots[:2]] == [["InstantRP"], ["InstantRP", "HardenedRP"]]
    for s in slots:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["scheduledTime"])
    table = vmvault("policy", "show-schedule", "--vault-name", "vault1", "--name", "hourly",
                    "--days", "1", "--output", "table").stdout  # fmt: skip
    assert "HardenedRP" in table


def test_unknown_vault_and_policy(vmvault) -> None:
    missing_vault = vmvault("policy", "list", "--vault-name", "nope", ok=False)
    assert missing_vault.returncode != 0 and "vault 'nope' was not found" in missing_vault.stderr
    vmvault("vault", "create", "--name", "vault1")
    missing = vmvault("policy", "show", "--vault-name", "vault1", "--name", "nope", ok=False)
    assert "BMSUserErrorPolicyNotFound" in missing.stderr


def test_set_with_flags_changes_only_what_they_name(vmvault, vmvault_json) -> None:
    vmvault("vault", "create", "--name", "vault1")
    vmvault(
        "policy", "create", "--vault-name", "vault1", "--name", "pol-h", "--sub-type",
        "Enhanced", "--interval", "6", "--time-zone", "India Standard Time",
    )  # fmt: skip
    body = vmvault_json(
        "policy", "set", "--vault-name", "vault1", "--name", "pol-h", "--instant-rp-days", "20"
    )
    props = body["properties"]
    assert props["instantRpRetentionRangeInDays"] == 20
    assert props["schedulePolicy"]["hourlySchedule"]["interval"] == 6
    assert props["timeZone"] == "India Standard Time"
    mixed = vmvault(
        "policy", "set", "--vault-name", "vault1", "--name", "pol-h", "--interval", "8",
        "--policy", "{}", ok=False,
    )  # fmt: skip
    assert "--policy cannot be combined" in mixed.stderr
    too_many = vmvault(
        "policy", "set", "--vault-name", "vault1", "--name", "pol-h", "--interval", "4", ok=False
    )
    assert "instantRpRetentionRangeInDays 20 exceeds the maximum of 17 days" in too_many.stderr
    shown = vmvault_json("policy", "show", "--vault-name", "vault1", "--name", "pol-h")
    assert shown["properties"]["schedulePolicy"]["hourlySchedule"]["interval"] == 6
