"""Opening the services for one CLI command, from ``$VMVAULT_HOME``/``$VMVAULT_DATABASE_URL``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vmvault.config import load_settings
from vmvault.services.context import Services


@contextmanager
def services() -> Iterator[Services]:
    svc = Services.open(load_settings())
    try:
        yield svc
    finally:
        svc.close()
