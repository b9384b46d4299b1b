"""Where vmvault keeps its data, read once from the environment by the interfaces.

``VMVAULT_HOME`` is the data directory (default ``./vmvault-data``); the catalog is SQLite in it
unless ``VMVAULT_DATABASE_URL`` names another database (e.g. PostgreSQL). The ARM identity used
in resource ids comes from ``VMVAULT_SUBSCRIPTION`` and ``VMVAULT_RESOURCE_GROUP``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "./vmvault-data"
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "vmvault"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    subscription: str = DEFAULT_SUBSCRIPTION
    resource_group: str = DEFAULT_RESOURCE_GROUP
    passphrase: str | None = None  # of encrypted vaults, for jobs ($VMVAULT_PASSPHRASE)

    @property
    def vaults_dir(self) -> Path:
        return self.home / "vaults"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    home = Path(env.get("VMVAULT_HOME") or DEFAULT_HOME).expanduser().resolve()
    url = env.get("VMVAULT_DATABASE_URL") or f"sqlite:///{home / 'catalog.sqlite3'}"
    return Settings(
        home=home,
        database_url=url,
        subscription=env.get("VMVAULT_SUBSCRIPTION") or DEFAULT_SUBSCRIPTION,
        resource_group=env.get("VMVAULT_RESOURCE_GROUP") or DEFAULT_RESOURCE_GROUP,
        passphrase=env.get("VMVAULT_PASSPHRASE") or None,
    )
