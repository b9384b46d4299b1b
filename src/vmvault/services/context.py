"""Opening vmvault's state (catalog and settings) for one process."""

from __future__ import annotations

from dataclasses import dataclass

from vmvault.catalog.db import make_engine, upgrade
from vmvault.catalog.repository import Catalog
from vmvault.clock import Clock, SystemClock
from vmvault.config import Settings
from vmvault.services.arm_ids import ArmScope
from vmvault.services.policies import PolicyService
from vmvault.services.vault_data import VaultDataService
from vmvault.services.vaults import VaultService


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    clock: Clock
    vaults: VaultService
    policies: PolicyService
    vault_data: VaultDataService

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Services:
        """Open (and migrate to the newest schema) the catalog ``settings`` name."""
        clock = clock or SystemClock()
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database_url)
        upgrade(engine)
        catalog = Catalog(engine)
        scope = ArmScope(settings.subscription, settings.resource_group)
        vaults = VaultService(catalog, clock, settings.vaults_dir, scope)
        policies = PolicyService(catalog, clock, vaults, scope)
        vault_data = VaultDataService(vaults, clock)
        return cls(settings, catalog, clock, vaults, policies, vault_data)

    def close(self) -> None:
        self.catalog.engine.dispose()
