"""Storage fixtures: every backend for the conformance suite (the S3 server fixtures are in
``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from vmvault.storage.base import Storage
from vmvault.storage.faulty import FaultyStorage
from vmvault.storage.local import LocalStorage
from vmvault.storage.memory import MemoryStorage
from vmvault.storage.s3 import S3Storage

if TYPE_CHECKING:
    pass

BACKENDS = ["local", "memory", "s3", "faulty(local)"]


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Each backend in turn, empty; S3 fixtures start only for the S3 case."""
    kind: str = request.param
    if kind == "local":
        return LocalStorage(tmp_path / "store")
    if kind == "memory":
        return MemoryStorage()
    if kind == "s3":
        make: Callable[..., S3Storage] = request.getfixturevalue("make_s3")
        return make(request.getfixturevalue("s3_bucket"), "vault/one")
    if kind == "faulty(local)":
        return FaultyStorage(LocalStorage(tmp_path / "store"))
    raise AssertionError(kind)
