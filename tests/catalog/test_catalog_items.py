"""Protected items: counts per policy and per vault, foreign keys, cascades."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError

from vmvault.catalog.models import PolicyRow, ProtectedItemRow, VaultRow
from vmvault.catalog.repository import Catalog, DuplicateNameError

NOW = datetime(2024, 3, 10, 12, 30, tzinfo=UTC)


def _policy_rows(catalog: Catalog, vault_id: int) -> int:
    with catalog.session() as s:
        return s.scalar(select(func.count(PolicyRow.id)).where(PolicyRow.vault_id == vault_id)) or 0


def test_item_counts_per_policy_and_per_vault(catalog: Catalog) -> None:
    v1 = catalog.add_vault("v1", "/srv/v1", NOW)
    v2 = catalog.add_vault("v2", "/srv/v2", NOW)
    busy = catalog.add_policy(v1.id, "busy", "Standard", {}, NOW)
    quiet = catalog.add_policy(v1.id, "quiet", "Enhanced", {}, NOW)
    elsewhere = catalog.add_policy(v2.id, "elsewhere", "Standard", {}, NOW)
    for name in ("vm1", "vm2", "vm3"):
        catalog.add_protected_item(v1.id, name, busy.id, "Protected", NOW)
    catalog.add_protected_item(v1.id, "vm-stopped", None, "ProtectionStopped", NOW)
    catalog.add_protected_item(v2.id, "vm1", elsewhere.id, "Protected", NOW)

    assert catalog.protected_item_count(v1.id) == 4  # items without a policy count too
    assert catalog.protected_item_count(v2.id) == 1
    assert catalog.protected_item_count(999) == 0
    assert {p.name: p.protected_items_count for p in catalog.policies(v1.id)} == {
        "busy": 3,
        "quiet": 0,
    }
    assert [p.protected_items_count for p in catalog.policies(v1.id, "Standard")] == [3]
    got_busy, got_quiet = catalog.policy(v1.id, "busy"), catalog.policy(v1.id, "quiet")
    assert got_busy is not None and got_busy.protected_items_count == 3
    assert got_quiet is not None and got_quiet.protected_items_count == 0
    assert catalog.replace_policy(quiet.id, {"x": 1}, NOW).protected_items_count == 0
    assert catalog.policies(v2.id)[0].protected_items_count == 1


def test_item_ids_and_duplicate_names(catalog: Catalog) -> None:
    v1 = catalog.add_vault("v1", "/srv/v1", NOW)
    v2 = catalog.add_vault("v2", "/srv/v2", NOW)
    first = catalog.add_protected_item(v1.id, "vm1", None, "Protected", NOW)
    assert isinstance(first, int)
    with pytest.raises(DuplicateNameError, match="vm1"):
        catalog.add_protected_item(v1.id, "vm1", None, "Protected", NOW)
    assert catalog.add_protected_item(v2.id, "vm1", None, "Protected", NOW) != first
    assert catalog.protected_item_count(v1.id) == 1


def test_item_references_are_foreign_keys(catalog: Catalog) -> None:
    """A missing policy or vault is an IntegrityError, not a DuplicateNameError."""
    vault = catalog.add_vault("v1", "/srv/v1", NOW)
    for vault_id, policy_id in ((vault.id, 4242), (4242, None)):
        with pytest.raises(IntegrityError) as info:
            catalog.add_protected_item(vault_id, "vm1", policy_id, "Protected", NOW)
        assert not isinstance(info.value, DuplicateNameError)
    assert catalog.protected_item_count(vault.id) == 0
    assert catalog.add_protected_item(vault.id, "vm1", None, "Protected", NOW) > 0


def test_referenced_policy_cannot_be_deleted(catalog: Catalog) -> None:
    """The database refuses (RESTRICT); services check the count first for a clear message."""
    vault = catalog.add_vault("v1", "/srv/v1", NOW)
    policy = catalog.add_policy(vault.id, "in-use", "Standard", {"a": 1}, NOW)
    catalog.add_protected_item(vault.id, "vm1", policy.id, "Protected", NOW)
    with pytest.raises(IntegrityError):
        catalog.remove_policy(policy.id)
    still = catalog.policy(vault.id, "in-use")
    assert still is not None and still.protected_items_count == 1
    with catalog.session() as s, s.begin():
        s.execute(delete(ProtectedItemRow).where(ProtectedItemRow.name == "vm1"))
    catalog.remove_policy(policy.id)
    assert catalog.policy(vault.id, "in-use") is None


def test_remove_vault_removes_its_policies(catalog: Catalog) -> None:
    doomed = catalog.add_vault("doomed", "/srv/doomed", NOW)
    kept = catalog.add_vault("kept", "/srv/kept", NOW)
    for name in ("a-policy", "b-policy"):
        catalog.add_policy(doomed.id, name, "Standard", {}, NOW)
    survivor = catalog.add_policy(kept.id, "a-policy", "Standard", {}, NOW)
    catalog.remove_vault(doomed.id)
    assert catalog.vaults() == [kept]
    assert _policy_rows(catalog, doomed.id) == 0
    assert catalog.policies(kept.id) == [survivor]


def test_database_cascades_and_restricts(catalog: Catalog, engine: Engine) -> None:
    """The constraints themselves (not just the repository): delete vault rows directly."""
    plain = catalog.add_vault("plain", "/srv/plain", NOW)
    catalog.add_policy(plain.id, "p", "Standard", {}, NOW)
    busy = catalog.add_vault("busy", "/srv/busy", NOW)
    catalog.add_protected_item(busy.id, "vm1", None, "Protected", NOW)
    with engine.begin() as c:
        c.execute(delete(VaultRow).where(VaultRow.id == plain.id))
    assert _policy_rows(catalog, plain.id) == 0  # ON DELETE CASCADE
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(delete(VaultRow).where(VaultRow.id == busy.id))  # ON DELETE RESTRICT
    assert catalog.vault("busy") == busy
