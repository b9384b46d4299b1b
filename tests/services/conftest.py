"""Fixtures of the service tests: vmvault's services opened on each database kind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vmvault.clock import FakeClock
from vmvault.config import load_settings
from vmvault.services.context import Services


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 1, 1, tzinfo=UTC))


@pytest.fixture
def services(catalog_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Services]:
    """Services on a fresh catalog, with VMVAULT_HOME = tmp_path (vaults in tmp_path/vaults)."""
    settings = load_settings({"VMVAULT_HOME": str(tmp_path), "VMVAULT_DATABASE_URL": catalog_url})
    opened = Services.open(settings, clock)
    yield opened
    opened.close()
