"""Fixtures of the catalog tests: a migrated catalog on each database kind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from vmvault.catalog.db import make_engine, upgrade
from vmvault.catalog.repository import Catalog


@pytest.fixture
def engine(catalog_url: str) -> Iterator[Engine]:
    """An engine on a fresh database migrated to the newest revision."""
    engine = make_engine(catalog_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def catalog(engine: Engine) -> Catalog:
    return Catalog(engine)


@pytest.fixture
def other_catalog(catalog_url: str, engine: Engine) -> Iterator[Catalog]:
    """A second Catalog with its own engine (another process, in effect) on the same database."""
    second = make_engine(catalog_url)
    yield Catalog(second)
    second.dispose()
