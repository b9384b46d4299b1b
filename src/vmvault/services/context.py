"""Opening vmvault's state (catalog and settings) for one process."""

from __future__ import annotations

from dataclasses import dataclass

from vmvault.catalog.db import make_engine, upgrade
from vmvault.catalog.items import ItemStore
from vmvault.catalog.jobs import JobStore
from vmvault.catalog.repository import Catalog
from vmvault.clock import Clock, SystemClock
from vmvault.config import Settings
from vmvault.domain.jobs import MIGRATE_POLICY, Operation
from vmvault.services.arm_ids import ArmScope
from vmvault.services.backups import BackupService
from vmvault.services.items import ItemService
from vmvault.services.jobs import JobService
from vmvault.services.migration import MigrationService
from vmvault.services.points import PointService
from vmvault.services.policies import PolicyService
from vmvault.services.restores import RestoreService
from vmvault.services.scheduling import SchedulingService
from vmvault.services.sources import SourceService
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
    sources: SourceService
    items: ItemService
    backups: BackupService
    points: PointService
    restores: RestoreService
    jobs: JobService
    scheduling: SchedulingService
    migration: MigrationService

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
        item_store, job_store = ItemStore(engine), JobStore(engine)
        sources = SourceService(item_store, clock)

        def passphrase(_vault: str) -> str | None:
            return settings.passphrase

        items = ItemService(
            catalog, item_store, job_store, clock, vaults, policies, sources, passphrase
        )

        backups = BackupService(item_store, job_store, clock, vaults, items, sources, passphrase)
        points = PointService(item_store, items, scope)
        restores = RestoreService(item_store, job_store, clock, vaults, points, sources, passphrase)
        jobs = JobService(job_store, clock, vaults, settings.run_dir)
        jobs.register(Operation.BACKUP, backups.run)
        jobs.register(Operation.RESTORE, restores.run)
        migration = MigrationService(item_store, job_store, clock, vaults, policies, items, backups)
        jobs.register(Operation.CONFIGURE_BACKUP, migration.run, MIGRATE_POLICY)
        scheduling = SchedulingService(
            item_store, job_store, clock, vaults, items, sources, passphrase
        )
        return cls(
            settings,
            catalog,
            clock,
            vaults,
            policies,
            vault_data,
            sources,
            items,
            backups,
            points,
            restores,
            jobs,
            scheduling,
            migration,
        )

    def close(self) -> None:
        self.catalog.engine.dispose()
