"""Changing an item's policy, and the migration from a Standard to an Enhanced policy (seed 000).

Moving a Standard item to an Enhanced policy is the migration (as in Azure, the same "change
policy" call carrying an Enhanced policy). It is refused, with nothing changed, while a
backup, restore over the VM's disks, policy change or migration of the item is queued or
running (``UserErrorBackupOperationInProgress``), for an unmanaged (classic) VM, for a VM with
a shared disk attached (detach it, change the policy, reattach it: Enhanced then excludes it),
and when the target is not Enhanced. Enhanced to Standard is never allowed. The migration runs
as a job ``ConfigureBackup`` / "Migrate policy": it switches the item to the Enhanced policy and
takes a backup (snapshot and vault copy), the first Enhanced recovery point. If that backup
fails (or is cancelled, or its worker dies) the item goes back to its Standard policy; its old
points are never touched.

Existing points stay listed and restorable. Their expiry is always computed from the item's
current policy (``domain.tiers``), so after the migration: a snapshot expires at its time + the
Enhanced instant-restore days; a vault copy at the latest of the Enhanced policy's ranges that
apply to its date (on-demand copies keep their own retain-until date).
"""

from __future__ import annotations

from dataclasses import dataclass

from vmvault.catalog.items import ItemStore
from vmvault.catalog.jobs import JobRecord, JobStore
from vmvault.clock import Clock
from vmvault.domain.errors import ConflictError, VmvaultError
from vmvault.domain.job_params import MigrationParams
from vmvault.domain.jobs import MIGRATE_POLICY, MIGRATE_TASKS, JobStatus, Operation
from vmvault.domain.policy import SubType
from vmvault.domain.protection import ProtectionRuleError, check_policy_change
from vmvault.jobs.context import JobContext
from vmvault.jobs.tasks import TaskList
from vmvault.services.backups import BackupService
from vmvault.services.items import ItemService, ItemView
from vmvault.services.jobs import enqueue_exclusive, refuse_if_busy
from vmvault.services.policies import PolicyService
from vmvault.services.vaults import VaultService


class MigrationRefused(VmvaultError):
    code = "UserErrorMigrationNotAllowed"


@dataclass(frozen=True)
class Skipped:
    item: str
    code: str
    reason: str


class MigrationService:
    def __init__(
        self,
        items: ItemStore,
        jobs: JobStore,
        clock: Clock,
        vaults: VaultService,
        policies: PolicyService,
        item_service: ItemService,
        backups: BackupService,
    ) -> None:
        self.items, self.jobs, self.clock = items, jobs, clock
        self.vaults, self.policies = vaults, policies
        self.item_service, self.backups = item_service, backups

    def change_policy(self, vault: str, item: str, policy_name: str) -> JobRecord:
        """``item set-policy``: a migration when Standard moves to Enhanced, else immediate."""
        view = self.item_service.get(vault, item)
        target = self.policies.get(vault, policy_name)
        current = view.policy.policy.sub_type if view.policy else None
        if current is SubType.STANDARD and target.policy.sub_type is SubType.ENHANCED:
            return self.migrate(vault, item, policy_name)
        refuse_if_busy(self.jobs, view.record)
        self.item_service.set_policy(vault, item, policy_name)
        return self.jobs.find(view.record.vault_id, item_id=view.record.id)[0]

    def check(self, vault: str, item: str, policy_name: str) -> ItemView:
        """Raise MigrationRefused (or a rule error) if the item may not migrate now."""
        view = self.item_service.get(vault, item)
        target = self.policies.get(vault, policy_name)
        if view.policy is not None:
            check_policy_change(view.policy.policy.sub_type, target.policy.sub_type)
        if target.policy.sub_type is not SubType.ENHANCED:
            raise MigrationRefused(
                f"policy {policy_name!r} is {target.policy.sub_type.value}: a migration moves an "
                "item to an Enhanced policy; choose an Enhanced policy",
                code="UserErrorMigrationTargetNotEnhanced",
            )
        if view.policy is None or view.policy.policy.sub_type is not SubType.STANDARD:
            raise MigrationRefused(
                f"item {item!r} is not protected by a Standard policy: nothing to migrate",
                code="UserErrorMigrationNotStandard",
            )
        refuse_if_busy(self.jobs, view.record)
        vm = view.vm
        if vm is None:
            raise MigrationRefused(
                f"VM of item {item!r} cannot be read from its source: {view.vm_problem}",
                code="UserErrorVMNotFound",
            )
        if not vm.managed:
            raise MigrationRefused(
                f"VM {vm.id} is unmanaged (classic): migration to an Enhanced policy is "
                "supported for managed VMs only",
                code="UserErrorMigrationUnmanagedVMNotSupported",
            )
        shared = [d for d in vm.disks if d.shared]
        if shared:
            raise MigrationRefused(
                f"VM {vm.id} has a shared disk attached ({shared[0].name}, LUN {shared[0].lun}): "
                "detach the shared disk from the VM, change the policy, then reattach the "
                "shared disk (the Enhanced policy then excludes it from backups)",
                code="UserErrorMigrationSharedDiskAttached",
            )
        return view

    def migrate(self, vault: str, item: str, policy_name: str) -> JobRecord:
        """Queue the migration job (ConfigureBackup / Migrate policy); nothing changes yet."""
        view = self.check(vault, item, policy_name)
        assert view.policy is not None
        return enqueue_exclusive(
            self.jobs,
            view.record,
            Operation.CONFIGURE_BACKUP.value,
            self.clock.now(),
            sub_type=MIGRATE_POLICY,
            params=MigrationParams(policy_name, view.policy.record.name).to_json(),
            tasks=TaskList.new(list(MIGRATE_TASKS)).data,
        )

    def migrate_all(self, vault: str, policy_name: str) -> tuple[list[JobRecord], list[Skipped]]:
        """Migrate every Standard item of the vault (one job each); report the others."""
        jobs: list[JobRecord] = []
        skipped: list[Skipped] = []
        for view in self.item_service.all(vault, SubType.STANDARD):
            try:
                jobs.append(self.migrate(vault, view.record.name, policy_name))
            except (MigrationRefused, ProtectionRuleError, ConflictError) as exc:
                skipped.append(Skipped(view.record.name, exc.code, exc.message))
        return jobs, skipped

    def run(self, ctx: JobContext) -> None:
        """Switch the item to the Enhanced policy and take its first Enhanced backup (if that
        fails, ``ended`` puts the item back on its Standard policy)."""
        params = MigrationParams.from_json(ctx.job.params)
        assert ctx.job.item_id is not None
        record = self.items.item_by_id(ctx.job.item_id)
        vault = self.vaults.get_by_id(record.vault_id).name
        ctx.start_task(MIGRATE_POLICY)
        self.item_service.set_policy(vault, record.name, params.target_policy, record_job=False)
        ctx.finish_task(MIGRATE_POLICY)
        self.backups.execute(ctx, params.backup)

    def ended(self, job: JobRecord, status: JobStatus) -> None:
        """A migration that failed, was cancelled or lost its worker leaves the item on its
        Standard policy (its old points untouched) and its last backup Failed."""
        params = MigrationParams.from_json(job.params)
        if job.item_id is not None and params.previous_policy is not None:
            vault = self.vaults.get_by_id(job.vault_id).name
            previous = self.policies.get(vault, params.previous_policy)
            self.items.update_item(job.item_id, policy_id=previous.record.id)
        self.backups.ended(job, status)
