"""The scheduler's flows: enqueue each due policy slot once, and apply retention.

``enqueue_due`` looks at the slots of every protected item's policy (in the policy's time zone,
through the policy engine) in ``(now - CATCH_UP, now]`` and queues one Backup job per slot; the
job's ``slot_key`` (item + slot) is unique, so running it again, or from several schedulers,
never queues a slot twice. A slot missed by more than ``CATCH_UP`` (vmvault was down) is not run
late: the next slot runs as planned, as in Azure. A slot of an item that has a backup,
restore over its disks or migration queued or running waits: it is queued by a later pass
(within ``CATCH_UP``) once that job ended, one operation at a time per item.

``apply_retention`` runs the policy engine's retention pass over every protected item's points:
expired snapshots are deleted from the source, expired vault copies from the vault. Items whose
protection is stopped keep their points; an item with a job queued or running (a restore may be
reading the point that expires) is left to the next pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from vmvault.catalog.items import ItemRecord, ItemStore, PointRecord
from vmvault.catalog.jobs import ItemBusyError, JobRecord, JobStore
from vmvault.clock import Clock
from vmvault.domain.errors import ConflictError
from vmvault.domain.job_params import BackupParams
from vmvault.domain.jobs import TAKE_SNAPSHOT, TRANSFER_TO_VAULT, Operation
from vmvault.domain.protection import ProtectionState
from vmvault.domain.retention import PointState, retention_pass
from vmvault.domain.schedule import slots_between
from vmvault.domain.tiers import Tier
from vmvault.jobs.tasks import TaskList
from vmvault.services.items import ItemService
from vmvault.services.jobs import refuse_if_busy
from vmvault.services.sources import SourceService
from vmvault.services.vaults import VaultService
from vmvault.vault.format import utc_text

CATCH_UP = timedelta(hours=1)


@dataclass
class RetentionReport:
    snapshots_deleted: int = 0
    vault_points_deleted: int = 0
    points_gone: int = 0


class SchedulingService:
    def __init__(
        self,
        items: ItemStore,
        jobs: JobStore,
        clock: Clock,
        vaults: VaultService,
        item_service: ItemService,
        sources: SourceService,
        passphrase: Callable[[str], str | None],
    ) -> None:
        self.items, self.jobs, self.clock = items, jobs, clock
        self.vaults, self.item_service, self.sources = vaults, item_service, sources
        self.passphrase = passphrase

    def protected_count(self) -> int:
        """How many items of every vault are protected (what the scheduler looks at)."""
        return sum(
            1
            for r in self.items.all_items()
            if r.protection_state == ProtectionState.PROTECTED.value and r.policy_id
        )

    def enqueue_due(self) -> list[JobRecord]:
        """Queue a Backup job for every slot due in ``(now - CATCH_UP, now]`` (once each)."""
        now = self.clock.now()
        queued = []
        for record in self.items.all_items():
            if record.protection_state != ProtectionState.PROTECTED.value or not record.policy_id:
                continue
            vault = self.vaults.get_by_id(record.vault_id).name
            view = self.item_service.get(vault, record.name)
            assert view.policy is not None
            since = max(now - CATCH_UP, record.created_at)
            for slot in slots_between(view.policy.policy, since, now + timedelta(microseconds=1)):
                if self._busy(record):  # one operation at a time: the slot waits its turn
                    break
                try:
                    job, created = self.jobs.enqueue(
                        record.vault_id,
                        Operation.BACKUP.value,
                        now,
                        item_id=record.id,
                        item_name=record.name,
                        params=BackupParams("Scheduled", slot=slot).to_json(),
                        tasks=TaskList.new([TAKE_SNAPSHOT, TRANSFER_TO_VAULT]).data,
                        slot_key=f"{record.id}@{utc_text(slot)}",
                        exclusive=True,
                    )
                except ItemBusyError:  # another request took the item meanwhile
                    break
                if created:
                    queued.append(job)
        return queued

    def _busy(self, record: ItemRecord) -> bool:
        try:
            refuse_if_busy(self.jobs, record)
        except ConflictError:
            return True
        return False

    def apply_retention(self) -> RetentionReport:
        """Delete every tier whose expiry has passed (the newest vault copy always stays)."""
        now = self.clock.now()
        report = RetentionReport()
        for record in self.items.all_items():
            if record.protection_state != ProtectionState.PROTECTED.value or not record.policy_id:
                continue
            if self.jobs.open_jobs_for_item(record.id):  # a running job may read its points
                continue
            vault = self.vaults.get_by_id(record.vault_id).name
            view = self.item_service.get(vault, record.name)
            assert view.policy is not None
            points = {p.name: p for p in self.items.points(record.id)}
            states = [_state(p) for p in points.values()]
            for decision in retention_pass(view.policy.policy, states, now):
                point = points[decision.point_id]
                if decision.tier is Tier.SNAPSHOT:
                    self._delete_snapshot(record.source_id, record.vm_name, point)
                    report.snapshots_deleted += 1
                else:
                    data = self.vaults.open_data(vault, self.passphrase(vault))
                    data.delete_point(record.name, point.name)
                    self.items.update_point(point.id, vault_present=False)
                    report.vault_points_deleted += 1
                if decision.point_gone:
                    self.items.remove_point(point.id)
                    report.points_gone += 1
        return report

    def _delete_snapshot(self, source_id: int | None, vm: str | None, point: PointRecord) -> None:
        if source_id is not None and vm is not None:
            source = self.sources.open(self.items.source_by_id(source_id))
            source.delete_snapshot(vm, point.name)
        self.items.update_point(point.id, snapshot_present=False)


def _state(p: PointRecord) -> PointState:
    tiers = set()
    if p.snapshot_present:
        tiers.add(Tier.SNAPSHOT)
    if p.vault_present:
        tiers.add(Tier.VAULT)
    return PointState(p.name, p.time, frozenset(tiers), p.retain_until)
