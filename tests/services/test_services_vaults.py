"""VaultService: create (names, storage folders), get, delete (refusals, what is kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmvault.clock import FakeClock
from vmvault.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vmvault.domain.policy import SubType
from vmvault.services.context import Services
from vmvault.services.policies import default_document
from vmvault.vault.errors import VaultError

BAD_NAMES = ["", "a", "1vault", "-vault", "has space", "under_score", "dot.ted", "x" * 51, "é-v"]


def test_create_with_default_storage(services: Services, tmp_path: Path, clock: FakeClock) -> None:
    vault = services.vaults.create("prod-1")
    folder = tmp_path / "vaults" / "prod-1"
    assert folder.is_dir()
    assert vault.storage == str(folder.resolve())
    assert vault.created_at == clock.now()
    assert services.vaults.get("prod-1") == vault
    assert services.vaults.all() == [vault]


def test_create_with_explicit_storage(services: Services, tmp_path: Path, s3_env: str) -> None:
    new = tmp_path / "elsewhere" / "deep" / "store"
    empty = tmp_path / "empty"
    empty.mkdir()
    a = services.vaults.create("new-folder", storage=str(new))
    b = services.vaults.create("empty-folder", storage=str(empty))
    s3 = services.vaults.create("in-s3", storage=f"s3://{s3_env}/prefix")
    assert (new / "config").is_file() and (empty / "config").is_file()
    assert (a.storage, b.storage, s3.storage) == (str(new), str(empty), f"s3://{s3_env}/prefix")
    assert not (tmp_path / "vaults").exists()  # no default folder was made for them
    assert services.vaults.open_data("in-s3", None).config.encryption == "none"


def test_non_empty_storage_refused_and_nothing_stored(services: Services, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "someone-elses.img").write_bytes(b"data")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for storage in (str(busy), str(a_file), "s3://", "s3:///no-bucket"):
        with pytest.raises(InvalidInputError, match="--storage"):
            services.vaults.create("refused", storage=storage)
    assert services.vaults.all() == []
    assert [p.name for p in busy.iterdir()] == ["someone-elses.img"]
    assert a_file.read_text() == "x"


def test_non_empty_default_folder_refused(services: Services, tmp_path: Path) -> None:
    leftover = tmp_path / "vaults" / "old"
    leftover.mkdir(parents=True)
    (leftover / "chunks").mkdir()
    with pytest.raises(InvalidInputError, match="not an empty folder"):
        services.vaults.create("old")
    assert services.vaults.all() == []


def test_storage_of_another_vault_refused(services: Services) -> None:
    first = services.vaults.create("first")
    with pytest.raises(InvalidInputError, match="already used"):
        services.vaults.create("second", storage=first.storage)
    assert [v.name for v in services.vaults.all()] == ["first"]


def test_bad_names_refused(services: Services, tmp_path: Path) -> None:
    for name in BAD_NAMES:
        with pytest.raises(InvalidInputError, match="not a valid vault name") as info:
            services.vaults.create(name)
        assert info.value.code == "UserErrorInvalidInput"
    assert services.vaults.all() == []
    assert not (tmp_path / "vaults").exists()
    assert services.vaults.create("v" + "x" * 49).name == "v" + "x" * 49  # 50 is allowed


def test_duplicate_refused(services: Services, tmp_path: Path) -> None:
    first = services.vaults.create("dup")
    with pytest.raises(ConflictError) as info:
        services.vaults.create("dup", storage=str(tmp_path / "other"))
    assert info.value.code == "UserErrorVaultAlreadyExists"
    assert services.vaults.all() == [first]
    assert not (tmp_path / "other").exists()


def test_get_and_delete_unknown(services: Services) -> None:
    for call in (services.vaults.get, services.vaults.delete):
        with pytest.raises(NotFoundError, match="ghost") as info:
            call("ghost")
        assert info.value.code == "ResourceNotFound"


def test_delete_refused_while_an_item_is_protected(services: Services, clock: FakeClock) -> None:
    vault = services.vaults.create("busy")
    services.catalog.add_protected_item(vault.id, "vm1", None, "Protected", clock.now())
    with pytest.raises(ConflictError) as info:
        services.vaults.delete("busy")
    assert info.value.code == "UserErrorVaultNotEmpty"
    assert services.vaults.get("busy") == vault
    assert Path(vault.storage).is_dir()


def test_delete_removes_vault_and_policies_and_keeps_its_data(services: Services) -> None:
    vault = services.vaults.create("gone", passphrase="pw")
    services.policies.create("gone", "EnhancedPolicy", default_document(SubType.ENHANCED))
    vault_id = services.vaults.open_data("gone", "pw").config.id
    assert services.vaults.delete("gone") == vault
    assert services.vaults.all() == []
    assert services.catalog.policies(vault.id) == []
    assert (Path(vault.storage) / "config").is_file()
    # creating it again attaches the vault that is there, once its passphrase opens it
    with pytest.raises(VaultError, match="wrong passphrase"):
        services.vaults.create("gone", passphrase="not-it")
    assert services.vaults.all() == []
    services.vaults.create("gone", passphrase="pw")
    assert services.vaults.open_data("gone", "pw").config.id == vault_id


def test_delete_keeps_a_folder_holding_data(services: Services) -> None:
    vault = services.vaults.create("with-data")
    (Path(vault.storage) / "manifest.json").write_text("{}")
    services.vaults.delete("with-data")
    assert services.vaults.all() == []
    assert (Path(vault.storage) / "manifest.json").read_text() == "{}"


def test_delete_s3_vault(services: Services, s3_env: str) -> None:
    services.vaults.create("remote", storage=f"s3://{s3_env}")
    assert services.vaults.delete("remote").storage == f"s3://{s3_env}"
    assert services.vaults.all() == []


def test_to_arm(services: Services) -> None:
    vault = services.vaults.create("armed")
    assert services.vaults.to_arm(vault) == {
        "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vmvault"
        "/providers/Microsoft.RecoveryServices/vaults/armed",
        "name": "armed",
        "type": "Microsoft.RecoveryServices/vaults",
        "properties": {
            "provisioningState": "Succeeded",
            "storageLocation": vault.storage,
            "createdAt": "2024-01-01T00:00:00Z",
        },
    }
