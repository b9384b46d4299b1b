"""Policy rows: add, replace, get, list (with the subtype filter), remove."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError, NoResultFound

from vmvault.catalog.repository import Catalog, DuplicateNameError, VaultRecord

NOW = datetime(2024, 3, 10, 12, 30, 15, 123456, tzinfo=UTC)
LATER = NOW + timedelta(hours=5, microseconds=1)


@pytest.fixture
def vault(catalog: Catalog) -> VaultRecord:
    return catalog.add_vault("vault1", "/srv/vault1", NOW)


def test_add_get_list(catalog: Catalog, vault: VaultRecord) -> None:
    enhanced = catalog.add_policy(vault.id, "zeta", "Enhanced", {"policyType": "V2"}, NOW)
    standard = catalog.add_policy(vault.id, "alpha", "Standard", {"policyType": "V1"}, NOW)
    assert (enhanced.vault_id, enhanced.name, enhanced.sub_type) == (vault.id, "zeta", "Enhanced")
    assert enhanced.properties == {"policyType": "V2"}
    assert enhanced.created_at == enhanced.updated_at == NOW
    assert enhanced.protected_items_count == 0
    assert catalog.policy(vault.id, "zeta") == enhanced
    assert catalog.policy(vault.id, "nope") is None
    assert catalog.policies(vault.id) == [standard, enhanced]  # ordered by name


def test_list_filters_by_sub_type(catalog: Catalog, vault: VaultRecord) -> None:
    for name, sub_type in (("s1", "Standard"), ("e1", "Enhanced"), ("s2", "Standard")):
        catalog.add_policy(vault.id, name, sub_type, {}, NOW)
    assert [p.name for p in catalog.policies(vault.id, "Standard")] == ["s1", "s2"]
    assert [p.name for p in catalog.policies(vault.id, "Enhanced")] == ["e1"]
    assert [p.name for p in catalog.policies(vault.id, None)] == ["e1", "s1", "s2"]
    assert catalog.policies(vault.id, "Other") == []


def test_policies_belong_to_their_vault(catalog: Catalog, vault: VaultRecord) -> None:
    other = catalog.add_vault("vault2", "/srv/vault2", NOW)
    mine = catalog.add_policy(vault.id, "same-name", "Standard", {"v": 1}, NOW)
    theirs = catalog.add_policy(other.id, "same-name", "Enhanced", {"v": 2}, NOW)
    assert mine.id != theirs.id
    assert catalog.policies(vault.id) == [mine]
    assert catalog.policies(other.id) == [theirs]
    assert catalog.policy(other.id, "same-name") == theirs


def test_duplicate_name_in_vault_raises(
    catalog: Catalog, other_catalog: Catalog, vault: VaultRecord
) -> None:
    first = catalog.add_policy(vault.id, "daily", "Standard", {"v": 1}, NOW)
    with pytest.raises(DuplicateNameError, match="daily"):
        catalog.add_policy(vault.id, "daily", "Enhanced", {"v": 2}, NOW)
    with pytest.raises(DuplicateNameError):
        other_catalog.add_policy(vault.id, "daily", "Standard", {"v": 3}, NOW)
    assert catalog.policies(vault.id) == [first]


def test_policy_in_unknown_vault_is_a_foreign_key_error(catalog: Catalog) -> None:
    """Not a DuplicateNameError: the name is free, the vault is missing."""
    with pytest.raises(IntegrityError):
        catalog.add_policy(12345, "orphan", "Standard", {}, NOW)


def test_replace_policy(catalog: Catalog, other_catalog: Catalog, vault: VaultRecord) -> None:
    added = catalog.add_policy(vault.id, "daily", "Standard", {"old": True, "n": 1}, NOW)
    catalog.add_protected_item(vault.id, "vm1", added.id, "Protected", NOW)
    replaced = catalog.replace_policy(added.id, {"new": [1, 2], "n": None}, LATER)
    assert replaced.properties == {"new": [1, 2], "n": None}
    assert (replaced.id, replaced.name, replaced.sub_type) == (added.id, "daily", "Standard")
    assert replaced.created_at == NOW
    assert replaced.updated_at == LATER
    assert replaced.protected_items_count == 1
    assert other_catalog.policy(vault.id, "daily") == replaced


def test_replace_unknown_policy_raises(catalog: Catalog) -> None:
    with pytest.raises(NoResultFound):
        catalog.replace_policy(999, {}, NOW)


def test_remove_policy(catalog: Catalog, vault: VaultRecord) -> None:
    keep = catalog.add_policy(vault.id, "keep", "Standard", {}, NOW)
    drop = catalog.add_policy(vault.id, "drop", "Standard", {}, NOW)
    catalog.remove_policy(drop.id)
    assert catalog.policy(vault.id, "drop") is None
    assert catalog.policies(vault.id) == [keep]
    catalog.add_policy(vault.id, "drop", "Enhanced", {}, NOW)  # the name is free again
