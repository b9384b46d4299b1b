"""Services.open: settings from the environment, schema migrated, the same state on reopening."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from vmvault.catalog.db import current_revision, head_revision, make_engine
from vmvault.clock import FakeClock
from vmvault.config import load_settings
from vmvault.services.context import Services


def test_open_migrates_and_wires_services(catalog_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    clock = FakeClock(datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))
    settings = load_settings({"VMVAULT_HOME": str(home), "VMVAULT_DATABASE_URL": catalog_url})
    assert (settings.home, settings.database_url) == (home.resolve(), catalog_url)
    services = Services.open(settings, clock)
    try:
        assert home.is_dir()
        assert current_revision(services.catalog.engine) == head_revision()
        assert services.vaults.vaults_dir == home.resolve() / "vaults"
        vault = services.vaults.create("first")
        assert vault.created_at == clock.now()
        assert services.policies.all("first") == []
    finally:
        services.close()
    again = Services.open(settings, clock)  # reopening migrates nothing and keeps the data
    try:
        assert current_revision(again.catalog.engine) == head_revision()
        assert [v.name for v in again.vaults.all()] == ["first"]
    finally:
        again.close()


def test_open_defaults_to_sqlite_in_home(tmp_path: Path) -> None:
    settings = load_settings({"VMVAULT_HOME": str(tmp_path / "data")})
    services = Services.open(settings)
    try:
        database = tmp_path / "data" / "catalog.sqlite3"
        assert settings.database_url == f"sqlite:///{database}"
        assert database.is_file()
        assert services.vaults.create("v1").created_at.tzinfo is UTC  # a system clock
    finally:
        services.close()
    engine = make_engine(settings.database_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
