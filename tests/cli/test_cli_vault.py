from __future__ import annotations

from pathlib import Path


def test_vault_lifecycle(vmvault, vmvault_json, home: Path, tmp_path: Path) -> None:
    created = vmvault_json("vault", "create", "--name", "lab-vault")
    assert created["name"] == "lab-vault"
    assert created["type"] == "Microsoft.RecoveryServices/vaults"
    assert created["id"].endswith("/providers/Microsoft.RecoveryServices/vaults/lab-vault")
    assert created["properties"]["storageLocation"] == str(home / "vaults" / "lab-vault")
    assert (home / "vaults" / "lab-vault").is_dir()

    elsewhere = tmp_path / "elsewhere"
    vmvault_json("vault", "create", "--name", "second", "--storage", str(elsewhere))
    assert elsewhere.is_dir()

    names = [v["name"] for v in vmvault_json("vault", "list")]
    assert names == ["lab-vault", "second"]
    assert vmvault_json("vault", "show", "--name", "second")["properties"][
        "storageLocation"
    ] == str(elsewhere)

    table = vmvault("vault", "list", "--output", "table").stdout
    assert "lab-vault" in table and "second" in table

    vmvault("vault", "delete", "--name", "second")
    assert [v["name"] for v in vmvault_json("vault", "list")] == ["lab-vault"]


def test_vault_errors_are_one_line_and_change_nothing(vmvault, vmvault_json, tmp_path) -> None:
    vmvault("vault", "create", "--name", "v1")

    dup = vmvault("vault", "create", "--name", "v1", ok=False)
    assert dup.returncode != 0
    assert dup.stderr.strip().count("\n") == 0
    assert "UserErrorVaultAlreadyExists" in dup.stderr and "'v1'" in dup.stderr

    bad = vmvault("vault", "create", "--name", "-bad name", ok=False)
    assert bad.returncode != 0 and "--name '-bad name'" in bad.stderr

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "someone-elses-file").write_text("keep me")
    taken = vmvault("vault", "create", "--name", "v2", "--storage", str(busy), ok=False)
    assert taken.returncode != 0 and "not an empty folder" in taken.stderr
    assert (busy / "someone-elses-file").read_text() == "keep me"

    missing = vmvault("vault", "show", "--name", "nope", ok=False)
    assert missing.returncode != 0 and "ResourceNotFound" in missing.stderr

    assert [v["name"] for v in vmvault_json("vault", "list")] == ["v1"]


def test_every_command_honours_vmvault_home(vmvault, tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    vmvault("vault", "create", "--name", "v1", env={"VMVAULT_HOME": str(other)})
    assert (other / "catalog.sqlite3").is_file()
    assert "v1" in vmvault("vault", "list", env={"VMVAULT_HOME": str(other)}).stdout
    assert "v1" not in vmvault("vault", "list").stdout


def test_default_home_is_vmvault_data_in_the_working_directory(vmvault, tmp_path) -> None:
    vmvault("vault", "create", "--name", "v1", env={"VMVAULT_HOME": ""}, cwd=tmp_path)
    assert (tmp_path / "vmvault-data" / "catalog.sqlite3").is_file()
