"""Backup jobs: queue an on-demand backup, and run a backup job.

A backup job takes the snapshot tier first ("Take Snapshot": all included disks at one instant,
through the VM's source), records the recovery point with tier InstantRP, then, when the point
goes to the vault ("Transfer data to vault"), stores the snapshot's disks in the vault,
incremental against the item's newest vault point, and adds tier HardenedRP.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from vmvault.catalog.items import ItemStore, PointRecord
from vmvault.catalog.jobs import JobRecord, JobStore
from vmvault.clock import Clock
from vmvault.domain.errors import InvalidInputError, VmvaultError
from vmvault.domain.job_params import BackupParams
from vmvault.domain.jobs import TAKE_SNAPSHOT, TRANSFER_TO_VAULT, JobStatus, Operation
from vmvault.domain.protection import ProtectionState, check_backup_allowed
from vmvault.domain.tiers import ON_DEMAND_DEFAULT_RETENTION, Tier, scheduled_tiers
from vmvault.jobs.context import JobContext
from vmvault.jobs.tasks import TaskList
from vmvault.services.items import ItemService, ItemView, vm_facts
from vmvault.services.jobs import enqueue_exclusive
from vmvault.services.snapshot_integrity import SnapshotIntegrity
from vmvault.services.sources import SourceService
from vmvault.services.vaults import VaultService
from vmvault.sources.files import FilesSource
from vmvault.sources.model import SnapshotSet
from vmvault.vault.backup import DiskSource, Progress, backup_point
from vmvault.vault.disks import Extent
from vmvault.vault.format import utc_text
from vmvault.vault.prune import RETAIN_UNTIL
from vmvault.vault.readers import open_disk


class BackupService:
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

    def backup_now(self, vault: str, item: str, retain_until: datetime | None) -> JobRecord:
        """Queue an on-demand backup (snapshot and vault copy, kept until ``retain_until``)."""
        view = self.item_service.get(vault, item)
        now = self.clock.now()
        until = retain_until or now + ON_DEMAND_DEFAULT_RETENTION
        if until <= now:
            raise InvalidInputError(
                f"--retain-until {until.date().isoformat()} is not valid: it must be in the future"
            )
        if view.record.protection_state != ProtectionState.PROTECTED.value:
            raise InvalidInputError(
                f"item {item!r} is {view.record.protection_state}: resume protection first",
            )
        return enqueue_exclusive(
            self.jobs,
            view.record,
            Operation.BACKUP.value,
            now,
            params=BackupParams("OnDemand", retain_until=until).to_json(),
            tasks=TaskList.new([TAKE_SNAPSHOT, TRANSFER_TO_VAULT]).data,
        )

    def run(self, ctx: JobContext) -> None:
        """Run a claimed backup job (the job engine records how it ended)."""
        self.execute(ctx, BackupParams.from_json(ctx.job.params))

    def ended(self, job: JobRecord, status: JobStatus) -> None:
        """A failed backup (or one whose worker died) is the item's last backup, Failed; a
        cancelled one leaves the item's last backup as it was."""
        if status is JobStatus.FAILED and job.item_id is not None:
            self.items.update_item(
                job.item_id,
                last_backup_status="Failed",
                last_backup_time=job.end_time or self.clock.now(),
            )

    def execute(self, ctx: JobContext, params: BackupParams) -> PointRecord:
        """Take the snapshot and (when due) transfer it to the vault; raises on failure.

        ``params.trigger``: "OnDemand" (both tiers, kept until ``retain_until``), "Scheduled"
        (tiers by the policy for ``slot``) or "Migration" (both tiers, retained by the policy).
        A point whose snapshot was taken stays (tier InstantRP) if the vault transfer fails."""
        job = ctx.job
        assert job.item_id is not None
        record = self.items.item_by_id(job.item_id)
        view = self.item_service.get(self.vaults.get_by_id(record.vault_id).name, record.name)
        policy, vm, selection = self._check(view)
        check_backup_allowed(vm_facts(vm), selection.included)
        tiers = self._tiers(view, params.slot)
        ctx.start_task(TAKE_SNAPSHOT)
        ctx.checkpoint()
        now = self.clock.now()
        name = f"rp-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
        source = self.sources.open(self.items.source_by_id(view.record.source_id or 0))
        snap = source.snapshot(vm, selection.included, name)
        point = self.items.add_point(
            item_id=record.id,
            name=name,
            time=now,
            slot=params.slot,
            retain_until=params.retain_until if params.trigger == "OnDemand" else None,
            snapshot_present=True,
            snapshot_method=_methods(snap.methods),
            snapshot_location=str(snap.folder),
            vault_present=False,
            policy_sub_type=policy.sub_type.value,
            disks=_disks_doc(view),
        )
        ctx.result["recoveryPoint"] = name
        ctx.finish_task(TAKE_SNAPSHOT)
        if Tier.VAULT in tiers:
            ctx.checkpoint()
            ctx.start_task(TRANSFER_TO_VAULT)
            self._transfer(ctx, view, point, snap, source)
            self.items.update_point(point.id, vault_present=True)
            ctx.finish_task(TRANSFER_TO_VAULT)
        else:
            ctx.skip_task(TRANSFER_TO_VAULT)
        integrity = SnapshotIntegrity(self.vaults, self.items, self.passphrase)
        integrity.record(view.vault, record.name, point, snap, in_vault=Tier.VAULT in tiers)
        self.items.update_item(record.id, last_backup_status="Completed", last_backup_time=now)
        return point

    def _check(self, view: ItemView) -> tuple[Any, Any, Any]:
        if view.vm is None:
            raise InvalidInputError(
                f"VM {view.record.vm_name!r} of item {view.record.name!r} cannot be backed up: "
                f"{view.vm_problem}",
                code="UserErrorVMNotFound",
            )
        if view.policy is None or view.selection is None:
            raise InvalidInputError(f"item {view.record.name!r} has no policy")
        return view.policy.policy, view.vm, view.selection

    def _tiers(self, view: ItemView, slot: datetime | None) -> frozenset[Tier]:
        assert view.policy is not None
        if slot is None:  # on demand, or the backup of a migration
            return frozenset({Tier.SNAPSHOT, Tier.VAULT})
        vault_points = [p for p in self.items.points(view.record.id) if p.vault_present]
        last = vault_points[-1].time if vault_points else None
        return scheduled_tiers(view.policy.policy, slot, last)

    def _transfer(
        self,
        ctx: JobContext,
        view: ItemView,
        point: PointRecord,
        snap: SnapshotSet,
        source: FilesSource,
    ) -> None:
        """Store the snapshot's disks as the point's vault copy, incremental against the
        item's newest vault point. The job's ``bytesTransferred`` is what was stored (new
        chunks, compressed), its ``bytesRead`` what was read from the snapshot."""
        vault = self.vaults.open_data(view.vault, self.passphrase(view.vault))
        previous_points = [
            p for p in self.items.points(view.record.id) if p.vault_present and p.id != point.id
        ]
        previous = (
            vault.read_manifest(view.record.name, previous_points[-1].name)
            if previous_points
            else None
        )
        hints = _hints(source, snap, previous_points[-1] if previous_points else None)
        progress = Progress()
        metadata: dict[str, Any] = {"disks": point.disks}
        if point.retain_until is not None:
            metadata[RETAIN_UNTIL] = utc_text(point.retain_until)
        with ExitStack() as stack:
            disks = [
                DiskSource(
                    lun,
                    view.vm.disk(lun).name if view.vm else str(lun),
                    stack.enter_context(open_disk(path, snap.formats.get(lun))),
                    source_format=snap.formats.get(lun) or "raw",
                    changed=hints.get(lun),
                )
                for lun, path in sorted(snap.disks.items())
            ]
            backup_point(
                vault,
                view.record.name,
                point.name,
                point.time,
                disks,
                previous=previous,
                metadata=metadata,
                progress=progress,
                on_progress=lambda p: ctx.report(p.done_bytes, p.total_bytes),
            )
        ctx.bytes_done, ctx.bytes_total = progress.stored_bytes, progress.total_bytes
        ctx.result.update(
            bytesRead=str(progress.read_bytes),
            bytesStored=str(progress.stored_bytes),
            newChunks=str(progress.new_chunks),
        )


def _hints(
    source: FilesSource, snap: SnapshotSet, previous: PointRecord | None
) -> dict[int, list[Extent]]:
    """Changed-extent hints per LUN against the snapshot of the previous vault point, where
    both snapshots are reflinks of raw disks (the vault's previous point was read from that very
    snapshot, so its chunks stand for every range the two still share)."""
    if previous is None or not previous.snapshot_present:
        return {}
    try:
        before = source.get_snapshot(snap.vm, previous.name)
    except VmvaultError:  # gone meanwhile: read everything
        return {}
    found = {lun: source.changed_extents(before, snap, lun) for lun in snap.disks}
    return {lun: extents for lun, extents in found.items() if extents is not None}


def _methods(methods: Any) -> str:
    found = sorted({str(m) for m in methods.values()})
    return found[0] if len(found) == 1 else ",".join(found)


def _disks_doc(view: ItemView) -> dict[str, Any]:
    assert view.selection is not None
    return {
        "included": list(view.selection.included),
        "excluded": [{"lun": lun, "reason": why} for lun, why in view.selection.excluded],
    }
