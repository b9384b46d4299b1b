"""Typed job parameters: written and read back unchanged, rows stored by older versions read
with their old keys, and ``propertyBag`` values as strings (JSON text, never Python reprs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vmvault.domain.job_params import (
    BackupParams,
    MigrationParams,
    RestoreParams,
    exclusive,
    parse_params,
    property_bag,
)

T = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "params",
    [
        BackupParams("OnDemand", retain_until=T),
        BackupParams("Scheduled", slot=T),
        BackupParams("Migration"),
        RestoreParams("rp-1", (-1, 0), "vault", target_dir="/srv/out"),
        RestoreParams("rp-1", (-1,), "snapshot", mode="new-vm", target_vm="copy"),
        MigrationParams("enh", "std"),
    ],
)
def test_params_round_trip(params: object) -> None:
    data = params.to_json()  # type: ignore[attr-defined]
    assert type(params).from_json(data) == params  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("operation", "sub_type", "stored", "expected"),
    [  # rows as vmvault stored them before the parameters were typed
        ("Backup", None, {"trigger": "OnDemand", "retainUntil": "2026-11-22T08:30:00Z"},
         BackupParams("OnDemand", retain_until=T)),
        ("Backup", None, {"trigger": "Scheduled", "slot": "2026-11-22T08:30:00Z"},
         BackupParams("Scheduled", slot=T)),
        ("Restore", None, {"point": "rp-1", "luns": [-1], "tier": "vault", "targetDir": "/o",
                           "files": ["/o/a.raw"]},
         RestoreParams("rp-1", (-1,), "vault", target_dir="/o")),
        ("Restore", None, {"point": "rp-1", "luns": [-1], "tier": "snapshot", "mode": "replace",
                           "targetVm": None},
         RestoreParams("rp-1", (-1,), "snapshot", mode="replace")),
        ("ConfigureBackup", "Migrate policy",
         {"trigger": "Migration", "targetPolicy": "enh", "previousPolicy": "std"},
         MigrationParams("enh", "std")),
        ("ConfigureBackup", None, {}, None),
        ("DisableBackup", None, {}, None),
    ],
)  # fmt: skip
def test_old_rows_read_with_their_keys(
    operation: str, sub_type: str | None, stored: dict[str, object], expected: object
) -> None:
    assert parse_params(operation, sub_type, stored) == expected


def test_which_operations_run_one_at_a_time() -> None:
    assert exclusive("Backup", BackupParams("OnDemand"))
    assert exclusive("ConfigureBackup", MigrationParams("enh"))
    assert exclusive("Restore", RestoreParams("rp", (-1,), "vault", mode="replace"))
    assert not exclusive("Restore", RestoreParams("rp", (-1,), "vault", target_dir="/o"))
    assert not exclusive("Restore", RestoreParams("rp", (-1,), "vault", mode="new-vm"))


def test_property_bag_values_are_strings_of_json_text() -> None:
    stored = {
        "point": "rp-1",
        "luns": [-1, 0],
        "targetVm": None,
        "files": ["/o/a.raw"],  # an older row kept its results among its parameters
        "result": {"bytesStored": "42"},
    }
    assert property_bag(stored) == {
        "point": "rp-1",
        "luns": "[-1, 0]",
        "files": '["/o/a.raw"]',
        "bytesStored": "42",
    }
