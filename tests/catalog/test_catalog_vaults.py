"""Vault rows: add, list, get, remove, and database-enforced unique names."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from vmvault.catalog.repository import Catalog, DuplicateNameError

NOW = datetime(2024, 3, 10, 12, 30, 15, 123456, tzinfo=UTC)


def test_add_list_get_remove(catalog: Catalog) -> None:
    assert catalog.vaults() == []
    beta = catalog.add_vault("beta", "/srv/beta", NOW)
    alpha = catalog.add_vault("alpha", "s3://bucket/alpha", NOW + timedelta(seconds=1))
    assert (beta.name, beta.storage, beta.created_at) == ("beta", "/srv/beta", NOW)
    assert alpha.id != beta.id
    assert catalog.vaults() == [alpha, beta]  # ordered by name
    assert catalog.vault("alpha") == alpha
    assert catalog.vault("gamma") is None
    catalog.remove_vault(alpha.id)
    assert catalog.vault("alpha") is None
    assert catalog.vaults() == [beta]
    catalog.remove_vault(alpha.id)  # removing what is gone changes nothing
    assert catalog.vaults() == [beta]


def test_datetimes_come_back_aware_utc(catalog: Catalog, other_catalog: Catalog) -> None:
    india = datetime(2024, 7, 1, 9, 15, 0, 654321, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    new_york = datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=1)
    catalog.add_vault("india", "/a", india)
    catalog.add_vault("newyork", "/b", new_york)
    assert new_york.astimezone(UTC) == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)  # EST, not EDT
    for name, sent in (("india", india), ("newyork", new_york)):
        got = other_catalog.vault(name)
        assert got is not None
        # The same instant, to the microsecond (compared in UTC: Python never calls an
        # ambiguous wall time equal to a time in another zone).
        assert got.created_at == sent.astimezone(UTC)
        assert got.created_at.timestamp() == sent.timestamp()
        assert got.created_at.tzinfo is UTC
        assert got.created_at.utcoffset() == timedelta(0)


def test_naive_datetime_refused_and_nothing_stored(catalog: Catalog) -> None:
    with pytest.raises(StatementError, match="timezone-aware") as info:
        catalog.add_vault("naive", "/srv/naive", datetime(2024, 1, 1, 12, 0))
    assert isinstance(info.value.orig, ValueError)
    assert catalog.vaults() == []


def test_duplicate_name_raises(catalog: Catalog) -> None:
    first = catalog.add_vault("prod", "/srv/prod", NOW)
    with pytest.raises(DuplicateNameError, match="prod"):
        catalog.add_vault("prod", "/srv/other", NOW)
    assert catalog.vaults() == [first]


def test_duplicate_name_enforced_across_catalogs(catalog: Catalog, other_catalog: Catalog) -> None:
    """Two processes, each with its own engine: the database, not Python, refuses the second."""
    catalog.add_vault("shared", "/srv/one", NOW)
    with pytest.raises(DuplicateNameError):
        other_catalog.add_vault("shared", "/srv/two", NOW)
    assert [v.storage for v in other_catalog.vaults()] == ["/srv/one"]


def test_racing_catalogs_exactly_one_wins(catalog: Catalog, other_catalog: Catalog) -> None:
    rounds = 5
    barrier = threading.Barrier(2)
    outcomes: dict[str, list[str]] = {f"race-{n}": [] for n in range(rounds)}
    lock = threading.Lock()

    def contend(cat: Catalog, label: str) -> None:
        for name in outcomes:
            barrier.wait(timeout=30)
            try:
                cat.add_vault(name, f"/srv/{label}/{name}", NOW)
                result = "won"
            except DuplicateNameError:
                result = "duplicate"
            with lock:
                outcomes[name].append(result)

    threads = [
        threading.Thread(target=contend, args=(catalog, "a")),
        threading.Thread(target=contend, args=(other_catalog, "b")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(not t.is_alive() for t in threads)
    assert {name: sorted(r) for name, r in outcomes.items()} == {
        name: ["duplicate", "won"] for name in outcomes
    }
    assert sorted(v.name for v in catalog.vaults()) == sorted(outcomes)


def test_remove_vault_with_item_is_refused_whole(catalog: Catalog) -> None:
    """Items RESTRICT their vault: the delete fails and the vault's policies survive too."""
    vault = catalog.add_vault("busy", "/srv/busy", NOW)
    policy = catalog.add_policy(vault.id, "unused", "Standard", {"a": 1}, NOW)
    catalog.add_protected_item(vault.id, "vm-without-policy", None, "ProtectionStopped", NOW)
    with pytest.raises(IntegrityError):
        catalog.remove_vault(vault.id)
    assert catalog.vault("busy") == vault
    assert catalog.policies(vault.id) == [policy]
