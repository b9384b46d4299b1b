"""Opening vmvault's state (catalog and settings) for one process.

Each service is built, and its module imported, the first time it is used: a command that
lists vaults never imports the backup, restore or source machinery (a CLI command starts in
a fraction of the time). Every service is built once per ``Services``, also when several
threads ask for it at the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from vmvault.catalog.db import make_engine, upgrade
from vmvault.catalog.repository import Catalog
from vmvault.clock import Clock, SystemClock
from vmvault.config import Settings
from vmvault.domain.errors import VmvaultError
from vmvault.services.arm_ids import ArmScope
from vmvault.storage.folders import folder_problem

if TYPE_CHECKING:
    from vmvault.catalog.items import ItemStore
    from vmvault.catalog.jobs import JobStore
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

T = TypeVar("T")


class Services:
    """The services of one catalog, wired together; build with ``Services.open``."""

    def __init__(self, settings: Settings, catalog: Catalog, clock: Clock) -> None:
        self.settings = settings
        self.catalog = catalog
        self.clock = clock
        self.scope = ArmScope(settings.subscription, settings.resource_group)
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()  # re-entrant: building one service builds others

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Services:
        """Open (and migrate to the newest schema) the catalog ``settings`` name."""
        check_home(settings.home)
        engine = make_engine(settings.database_url)
        upgrade(engine)
        return cls(settings, Catalog(engine), clock or SystemClock())

    def close(self) -> None:
        self.catalog.engine.dispose()

    def _once(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return cast(T, self._built[name])

    def _passphrase(self, _vault: str) -> str | None:
        return self.settings.passphrase

    # -- stores -----------------------------------------------------------------------------
    @property
    def item_store(self) -> ItemStore:
        from vmvault.catalog.items import ItemStore

        return self._once("item_store", lambda: ItemStore(self.catalog.engine))

    @property
    def job_store(self) -> JobStore:
        from vmvault.catalog.jobs import JobStore

        return self._once("job_store", lambda: JobStore(self.catalog.engine))

    # -- services ---------------------------------------------------------------------------
    @property
    def vaults(self) -> VaultService:
        from vmvault.services.vaults import VaultService

        return self._once(
            "vaults",
            lambda: VaultService(self.catalog, self.clock, self.settings.vaults_dir, self.scope),
        )

    @property
    def policies(self) -> PolicyService:
        from vmvault.services.policies import PolicyService

        return self._once(
            "policies", lambda: PolicyService(self.catalog, self.clock, self.vaults, self.scope)
        )

    @property
    def vault_data(self) -> VaultDataService:
        from vmvault.services.vault_data import VaultDataService

        return self._once(
            "vault_data",
            lambda: VaultDataService(self.vaults, self.clock, self.item_store, self.sources),
        )

    @property
    def sources(self) -> SourceService:
        from vmvault.services.sources import SourceService

        return self._once("sources", lambda: SourceService(self.item_store, self.clock))

    @property
    def items(self) -> ItemService:
        return self._once("items", self._item_service)

    def _item_service(self) -> ItemService:
        from vmvault.services.items import ItemService

        items = ItemService(
            self.catalog,
            self.item_store,
            self.job_store,
            self.clock,
            self.vaults,
            self.policies,
            self.sources,
            self._passphrase,
        )
        items.before_read = lambda: self.jobs.reap()  # never show a dead worker's job running
        return items

    @property
    def backups(self) -> BackupService:
        from vmvault.services.backups import BackupService

        return self._once(
            "backups",
            lambda: BackupService(
                self.item_store,
                self.job_store,
                self.clock,
                self.vaults,
                self.items,
                self.sources,
                self._passphrase,
            ),
        )

    @property
    def points(self) -> PointService:
        from vmvault.services.points import PointService

        return self._once("points", lambda: PointService(self.item_store, self.items, self.scope))

    @property
    def restores(self) -> RestoreService:
        from vmvault.services.restores import RestoreService

        return self._once(
            "restores",
            lambda: RestoreService(
                self.item_store,
                self.job_store,
                self.clock,
                self.vaults,
                self.points,
                self.sources,
                self._passphrase,
            ),
        )

    @property
    def migration(self) -> MigrationService:
        from vmvault.services.migration import MigrationService

        return self._once(
            "migration",
            lambda: MigrationService(
                self.item_store,
                self.job_store,
                self.clock,
                self.vaults,
                self.policies,
                self.items,
                self.backups,
            ),
        )

    @property
    def scheduling(self) -> SchedulingService:
        from vmvault.services.scheduling import SchedulingService

        return self._once(
            "scheduling",
            lambda: SchedulingService(
                self.item_store,
                self.job_store,
                self.clock,
                self.vaults,
                self.items,
                self.sources,
                self._passphrase,
            ),
        )

    @property
    def jobs(self) -> JobService:
        """The job service, with the handler of every operation registered."""
        return self._once("jobs", self._job_service)

    def _job_service(self) -> JobService:
        from vmvault.domain.jobs import MIGRATE_POLICY, Operation
        from vmvault.services.jobs import JobService

        jobs = JobService(self.job_store, self.clock, self.vaults, self.settings.run_dir)
        # runners are built when a job of theirs runs or is reaped, not for every reader
        jobs.register(Operation.BACKUP, lambda: self.backups)
        jobs.register(Operation.RESTORE, lambda: self.restores)
        jobs.register(Operation.CONFIGURE_BACKUP, lambda: self.migration, MIGRATE_POLICY)
        return jobs


def check_home(home: Path) -> None:
    """Create the data directory ``home`` ($VMVAULT_HOME) if missing; ``VmvaultError``
    ``UserErrorDataDirectoryNotWritable`` naming it if it cannot be created or written (a
    read-only mount, a file in the way): the catalog, locks and vaults live there."""
    problem = folder_problem(home)
    if problem is None:
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"{home} cannot be created ({exc.strerror or exc})"
    if problem is not None:
        raise VmvaultError(
            f"VMVAULT_HOME {str(home)!r} cannot be used: {problem}; set VMVAULT_HOME to a "
            "writable folder (or remount it read-write)",
            code="UserErrorDataDirectoryNotWritable",
        )
