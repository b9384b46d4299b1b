"""Policy properties come back exactly as stored: key order, nesting, nulls, numbers, text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from vmvault.catalog.db import make_engine, upgrade
from vmvault.catalog.repository import Catalog

NOW = datetime(2024, 3, 10, 12, 30, 15, tzinfo=UTC)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "azure_policies"

AWKWARD: dict[str, Any] = {
    "zeta": 1,
    "alpha": None,
    "Mixed": {"z": None, "a": [None, {"y": None, "b": 0}], "m": {}},
    "list": [3, 1, 2, [], {"k": None}],
    "float": 1.5,
    "negative": -7,
    "big": 2**53,
    "bools": [True, False],
    "text": 'Zürich ✓ "quoted" back\\slash\nnewline',
    "empty": "",
    "10": "numeric-looking key",
    "1": "sorted before 10 if anything sorted",
}


def _same_json(a: object, b: object) -> None:
    """Equal as JSON text, which (unlike ==) also compares the order of keys."""
    assert json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


def test_properties_round_trip_exactly(catalog: Catalog, other_catalog: Catalog) -> None:
    vault = catalog.add_vault("json", "/srv/json", NOW)
    added = catalog.add_policy(vault.id, "awkward", "Enhanced", AWKWARD, NOW)
    _same_json(added.properties, AWKWARD)
    fetched = other_catalog.policy(vault.id, "awkward")  # read by another engine, not a cache
    assert fetched is not None
    _same_json(fetched.properties, AWKWARD)
    _same_json(other_catalog.policies(vault.id)[0].properties, AWKWARD)


def test_replaced_properties_round_trip_exactly(catalog: Catalog, other_catalog: Catalog) -> None:
    vault = catalog.add_vault("json", "/srv/json", NOW)
    added = catalog.add_policy(vault.id, "p", "Standard", {"a": 1}, NOW)
    reordered = dict(reversed(list(AWKWARD.items())))
    _same_json(
        catalog.replace_policy(added.id, reordered, NOW + timedelta(1)).properties, reordered
    )
    fetched = other_catalog.policy(vault.id, "p")
    assert fetched is not None
    _same_json(fetched.properties, reordered)


def test_azure_documents_round_trip_exactly(catalog: Catalog, other_catalog: Catalog) -> None:
    fixtures = sorted(FIXTURES.glob("*.json"))
    assert fixtures
    vault = catalog.add_vault("azure", "/srv/azure", NOW)
    for n, path in enumerate(fixtures):
        document = json.loads(path.read_text(encoding="utf-8"))
        catalog.add_policy(vault.id, f"doc{n}", "Standard", document, NOW)
        fetched = other_catalog.policy(vault.id, f"doc{n}")
        assert fetched is not None
        _same_json(fetched.properties, document)


@pytest.mark.postgres
def test_postgresql_column_keeps_text_order(pg_database_url: str) -> None:
    """On PostgreSQL the column is ``json`` (kept as written), not ``jsonb`` (which reorders)."""
    engine = make_engine(pg_database_url)
    try:
        upgrade(engine)
        catalog = Catalog(engine)
        vault = catalog.add_vault("json", "/srv/json", NOW)
        catalog.add_policy(vault.id, "p", "Standard", {"zz": 1, "a": None}, NOW)
        with engine.connect() as c:
            kind = c.execute(text("SELECT pg_typeof(properties)::text FROM policies")).scalar_one()
            stored = c.execute(text("SELECT properties::text FROM policies")).scalar_one()
    finally:
        engine.dispose()
    assert kind == "json"
    assert list(json.loads(stored)) == ["zz", "a"]
