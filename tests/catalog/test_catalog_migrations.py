"""The Alembic migrations build the schema from an empty database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from vmvault.catalog.db import (
    HEAD_REVISION,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from vmvault.catalog.models import Base
from vmvault.catalog.repository import Catalog

TABLES = {
    "vaults",
    "policies",
    "protected_items",
    "sources",
    "jobs",
    "recovery_points",
    "alembic_version",
}


def test_head_revision_is_known() -> None:
    assert head_revision() == HEAD_REVISION == "0004"


def test_upgrade_from_empty_to_head(catalog_url: str) -> None:
    engine = make_engine(catalog_url)
    try:
        assert current_revision(engine) is None
        assert not set(inspect(engine).get_table_names()) & TABLES
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_upgrade_twice_is_idempotent_and_keeps_data(catalog_url: str) -> None:
    first = make_engine(catalog_url)
    try:
        upgrade(first)
        Catalog(first).add_vault("kept", "/srv/kept", datetime(2024, 1, 1, tzinfo=UTC))
        upgrade(first)
        assert current_revision(first) == head_revision()
    finally:
        first.dispose()
    second = make_engine(catalog_url)  # a later process start
    try:
        upgrade(second)
        assert current_revision(second) == head_revision()
        assert [v.name for v in Catalog(second).vaults()] == ["kept"]
        with second.connect() as c:
            assert c.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        second.dispose()


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    """No table, column, index or constraint of models.py is missing from the migrations."""
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diffs == []


def test_sqlite_folder_created_and_foreign_keys_on(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "catalog.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        assert path.is_file()
        with engine.connect() as c:
            assert c.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert c.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        engine.dispose()
