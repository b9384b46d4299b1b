"""Restore jobs: disks of a recovery point to image files, from the snapshot tier (fast path)
or the vault, each verified bit-exact against the point."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vmvault.catalog.items import ItemStore
from vmvault.catalog.jobs import JobRecord, JobStore
from vmvault.clock import Clock
from vmvault.domain.errors import InvalidInputError, VmvaultError
from vmvault.domain.job_params import RestoreParams
from vmvault.domain.jobs import RESTORE_DISKS, JobStatus, Operation
from vmvault.domain.protection import OS_LUN
from vmvault.jobs.context import JobContext
from vmvault.jobs.tasks import TaskList
from vmvault.services.jobs import enqueue_exclusive
from vmvault.services.points import PointService
from vmvault.services.snapshot_integrity import (
    INVALID,
    SNAPSHOT_CORRUPT,
    SnapshotDamagedError,
    SnapshotIntegrity,
)
from vmvault.services.sources import SourceService
from vmvault.services.vaults import VaultService
from vmvault.sources.clone import copy_disk_file
from vmvault.sources.files import FilesSource
from vmvault.storage.folders import folder_problem
from vmvault.vault.backup import Progress
from vmvault.vault.restore import restore_disk

SOURCE_TIERS = ("snapshot", "vault")


class RestoreService:
    def __init__(
        self,
        items: ItemStore,
        jobs: JobStore,
        clock: Clock,
        vaults: VaultService,
        points: PointService,
        sources: SourceService,
        passphrase: Callable[[str], str | None],
    ) -> None:
        self.items, self.jobs, self.clock = items, jobs, clock
        self.vaults, self.points, self.sources = vaults, points, sources
        self.passphrase = passphrase
        self.integrity = SnapshotIntegrity(vaults, items, passphrase)

    def restore_disks(
        self,
        vault: str,
        item: str,
        point: str,
        target_dir: str,
        *,
        luns: Sequence[int] = (),
        os_only: bool = False,
        source_tier: str | None = None,
    ) -> JobRecord:
        """Queue a Restore job; every check is made first, so a refused restore queues nothing."""
        view = self.points.get(vault, item, point)
        included = list(view.record.disks.get("included", []))
        chosen = [OS_LUN] if os_only else (list(luns) or included)
        missing = sorted(set(chosen) - set(included))
        if missing:
            raise InvalidInputError(
                f"--diskslist {missing[0]} is not a disk of recovery point {point!r}: it holds "
                f"LUNs {', '.join(map(str, included))}"
            )
        tier = self._tier(view, source_tier)
        target = Path(target_dir).expanduser().resolve()
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise InvalidInputError(
                f"--target-dir {str(target)!r} exists and is not an empty folder: restore into "
                "a new or empty folder (nothing was written)"
            )
        problem = folder_problem(target)
        if problem is not None:
            raise InvalidInputError(
                f"--target-dir {str(target)!r} cannot be used: {problem}; choose a folder you "
                "can write (nothing was queued)",
                code="UserErrorRestoreTargetNotWritable",
            )
        job, _ = self.jobs.enqueue(
            view.item.record.vault_id,
            Operation.RESTORE.value,
            self.clock.now(),
            item_id=view.item.record.id,
            item_name=view.item.record.name,
            params=RestoreParams(point, tuple(chosen), tier, target_dir=str(target)).to_json(),
            tasks=TaskList.new([RESTORE_DISKS]).data,
        )
        return job

    def restore_vm(
        self,
        vault: str,
        item: str,
        point: str,
        *,
        target_vm_name: str | None = None,
        replace_existing: bool = False,
        source_tier: str | None = None,
    ) -> JobRecord:
        """Queue a Restore job that creates VM ``target_vm_name`` in the item's source from the
        point, or (``replace_existing``) writes the point over the VM's own disks once it is
        not running."""
        view = self.points.get(vault, item, point)
        if (target_vm_name is None) == (not replace_existing):
            raise InvalidInputError(
                "give either --target-vm-name NEW (a new VM) or --replace-existing"
            )
        if view.item.vm is None:
            raise InvalidInputError(
                f"VM of item {item!r} cannot be read from its source: {view.item.vm_problem}"
            )
        source = self._source(view)
        luns = list(view.record.disks.get("included", []))
        if replace_existing and source.is_running(view.item.vm):
            raise InvalidInputError(
                f"VM {view.item.vm.id} is running: shut it down before restoring over its disks",
                code="UserErrorVmRunning",
            )
        tier = self._tier(view, source_tier)
        if target_vm_name is not None:
            source.check_new_vm(target_vm_name, view.item.vm, luns)
        else:
            disks = [view.item.vm.disk(lun).path.parent for lun in luns]
            source.check_writable([source.root, *dict.fromkeys(disks)])
        fields: dict[str, Any] = {
            "params": RestoreParams(
                point,
                tuple(luns),
                tier,
                mode="replace" if replace_existing else "new-vm",
                target_vm=target_vm_name,
            ).to_json(),
            "tasks": TaskList.new([RESTORE_DISKS]).data,
        }
        record, now = view.item.record, self.clock.now()
        if replace_existing:  # over the VM's own disks: one operation at a time
            return enqueue_exclusive(self.jobs, record, Operation.RESTORE.value, now, **fields)
        job, _ = self.jobs.enqueue(
            record.vault_id,
            Operation.RESTORE.value,
            now,
            item_id=record.id,
            item_name=record.name,
            **fields,
        )
        return job

    def _source(self, view: Any) -> FilesSource:
        return self.sources.open(self.items.source_by_id(view.item.record.source_id))

    def _tier(self, view: Any, source_tier: str | None) -> str:
        has_snapshot, has_vault = self._snapshot_usable(view), view.record.vault_present
        if source_tier is None:
            return "snapshot" if has_snapshot or not has_vault else "vault"
        tier = source_tier.lower()
        if tier not in SOURCE_TIERS:
            raise InvalidInputError(
                f"--source-tier {source_tier!r} is not valid: allowed values are Snapshot, Vault"
            )
        if tier == "snapshot" and view.record.snapshot_present and not has_snapshot:
            raise InvalidInputError(
                f"--source-tier {source_tier} is not available: the snapshot of recovery point "
                f"{view.record.name!r} is damaged or gone (its InstantRP tier is Invalid); "
                "use --source-tier Vault",
                code=SNAPSHOT_CORRUPT,
            )
        if (tier == "snapshot" and not has_snapshot) or (tier == "vault" and not has_vault):
            raise InvalidInputError(
                f"--source-tier {source_tier} is not available: recovery point "
                f"{view.record.name!r} has tiers {', '.join(t.value for t in view.tiers)}"
            )
        return tier

    def _snapshot_usable(self, view: Any) -> bool:
        """The point has a snapshot that is not known damaged and is still there (one found
        gone is marked Invalid)."""
        record = view.record
        if not record.snapshot_present or record.snapshot_status == INVALID:
            return False
        try:
            self._source(view).get_snapshot(view.item.record.vm_name, record.name)
        except VmvaultError:
            self.integrity.mark_invalid(record)
            return False
        return True

    def run(self, ctx: JobContext) -> None:
        """Run a claimed Restore job: restore the point's disks (checked bit-exact), then,
        for a VM restore, make them a new VM or put them over the VM's disks. Stops at its
        checkpoints (between disks, after each chunk) when cancelled, removing the images it
        had completed; the VM's own disks are only touched once every disk was restored."""
        params = RestoreParams.from_json(ctx.job.params)
        ctx.start_task(RESTORE_DISKS)
        assert ctx.job.item_id is not None
        record = self.items.item_by_id(ctx.job.item_id)
        vault = self.vaults.get_by_id(record.vault_id).name
        point = self.points.get(vault, record.name, params.point)
        source = self._source(point) if params.mode != "disks" else None
        target = (
            Path(params.target_dir or ".")
            if source is None
            else source.staging_folder() / f"restore-{ctx.job.id}"
        )
        target.mkdir(parents=True, exist_ok=True)
        restore = self._from_snapshot if params.tier == "snapshot" else self._from_vault
        try:
            files = restore(vault, point, list(params.luns), target, job=ctx)
            ctx.checkpoint()
            if source is not None:
                files = self._place(source, point, params.mode, params.target_vm, files)
        except BaseException:
            if source is None:  # --target-dir was new or empty: what is there is this job's
                _remove_images(target, point.item, params.luns)
            raise
        finally:
            if source is not None:
                shutil.rmtree(target, ignore_errors=True)  # staged copies only
        ctx.result["files"] = json.dumps([str(f) for f in files])
        ctx.finish_task(RESTORE_DISKS)

    def ended(self, job: JobRecord, status: JobStatus) -> None:
        """Nothing to undo: a restore changes no item, and never half-replaces a VM's disks."""

    def _place(
        self, source: FilesSource, point: Any, mode: str, new_name: str | None, files: list[Path]
    ) -> list[Path]:
        """Turn restored images into a new VM, or put them over the VM's own disks."""
        vm = point.item.vm
        by_lun = {lun: f for lun, f in zip(point.record.disks["included"], files, strict=True)}
        formats = {lun: f.suffix.lstrip(".") for lun, f in by_lun.items()}
        if mode == "replace":
            if source.is_running(vm):
                raise InvalidInputError(
                    f"VM {vm.id} is running: shut it down first", code="UserErrorVmRunning"
                )
            source.replace_disks(vm, by_lun)
            return [vm.disk(lun).path for lun in by_lun]
        assert new_name is not None
        created = source.create_vm(new_name, vm, by_lun, formats=formats)
        return [created.manifest, *(d.path for d in created.disks)]

    def _from_snapshot(
        self, vault: str, point: Any, luns: list[int], target: Path, *, job: JobContext
    ) -> list[Path]:
        """Copy the snapshot's disks, each verified against the hashes recorded for the point
        (services/snapshot_integrity.py). A snapshot that is gone or damaged is marked
        Invalid, and the disks come from the vault tier when the point has it."""
        try:
            return self._copy_snapshot(vault, point, luns, target, job=job)
        except SnapshotDamagedError:
            self.integrity.mark_invalid(point.record)
            if not point.record.vault_present:
                raise
            for partial in target.iterdir():
                partial.unlink()
            job.bytes_done = 0
            return self._from_vault(vault, point, luns, target, job=job)

    def _copy_snapshot(
        self, vault: str, point: Any, luns: list[int], target: Path, *, job: JobContext
    ) -> list[Path]:
        item = point.item
        try:
            snap = self._source(point).get_snapshot(item.record.vm_name, point.record.name)
        except VmvaultError as exc:
            raise SnapshotDamagedError(str(exc)) from None
        files = []
        for lun in luns:
            job.checkpoint()
            src = snap.disks[lun]
            dst = target / _file_name(item, lun, snap.formats.get(lun) or _suffix(src))
            try:
                copy_disk_file(src, dst)
            except (OSError, VmvaultError) as exc:
                raise SnapshotDamagedError(f"snapshot disk {src} cannot be read: {exc}") from None
            name, fmt = item.record.name, snap.formats.get(lun)
            checked = self.integrity.check_restored(vault, name, point.record, lun, dst, fmt)
            if not checked and _sha256(src) != _sha256(dst):  # no hashes: the copy at least
                raise InvalidInputError(f"restored {dst} differs from the snapshot {src}")
            files.append(dst)
            done = job.bytes_done + _data_bytes(dst)
            job.report(done, max(done, job.bytes_total), force=True)
        return files

    def _from_vault(
        self, vault: str, point: Any, luns: list[int], target: Path, *, job: JobContext
    ) -> list[Path]:
        data = self.vaults.open_data(vault, self.passphrase(vault))
        manifest = data.read_manifest(point.item.record.name, point.record.name)
        progress = Progress()  # the data bytes of every disk restored, for the job
        files = []
        for lun in luns:
            entry = manifest.disk(lun)
            fmt = (
                entry.source_format if entry and entry.source_format in ("raw", "qcow2") else "raw"
            )
            dst = target / _file_name(point.item, lun, fmt)
            job.checkpoint()
            restore_disk(  # chunk ids verified
                data,
                manifest,
                lun,
                dst,
                image_format=fmt,
                progress=progress,
                on_progress=lambda p: job.report(p.done_bytes, p.total_bytes),
            )
            files.append(dst)
        job.report(progress.done_bytes, progress.total_bytes, force=True)
        return files


def _file_name(item: Any, lun: int, fmt: str) -> str:
    name = item.vm.disk(lun).name if item.vm else f"{item.record.vm_name}-lun{lun}"
    return f"{name}.{fmt}"


def _remove_images(target: Path, item: Any, luns: Sequence[int]) -> None:
    """Remove the disk images a failed or cancelled restore completed in ``target``."""
    names = {_file_name(item, lun, "").rstrip(".") for lun in luns}
    for path in target.iterdir() if target.is_dir() else ():
        if path.is_file() and path.name.rsplit(".", 1)[0] in names:
            path.unlink(missing_ok=True)


def _data_bytes(path: Path) -> int:
    """The bytes a restored image holds (its allocated blocks, at most its size)."""
    st = path.stat()
    return min(st.st_size, st.st_blocks * 512)


def _suffix(path: Path) -> str:
    return path.suffix.lstrip(".") or "raw"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 << 20), b""):
            h.update(block)
    return h.hexdigest()
