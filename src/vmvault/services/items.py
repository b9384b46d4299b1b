"""Protected items: enable protection, show, change policy, stop and resume protection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vmvault.catalog.items import ItemRecord, ItemStore
from vmvault.catalog.jobs import JobStore
from vmvault.catalog.repository import Catalog, DuplicateNameError
from vmvault.clock import Clock
from vmvault.domain.errors import ConflictError, NotFoundError, VmvaultError
from vmvault.domain.jobs import Operation
from vmvault.domain.policy import SubType
from vmvault.domain.protection import (
    DiskFacts,
    DiskListSetting,
    DiskSelection,
    ProtectionState,
    VmFacts,
    check_policy_change,
    check_policy_fits_vm,
    select_disks,
)
from vmvault.domain.schedule import snapshots_kept
from vmvault.services.jobs import refuse_if_busy
from vmvault.services.policies import PolicyService, PolicyView
from vmvault.services.sources import SourceService
from vmvault.services.vaults import VaultService
from vmvault.sources.model import VmSpec


@dataclass(frozen=True)
class ItemView:
    vault: str
    record: ItemRecord
    policy: PolicyView | None
    vm: VmSpec | None  # None when the VM can no longer be read from its source
    selection: DiskSelection | None
    vm_problem: str | None = None  # why ``vm`` is None


@dataclass(frozen=True)
class SnapshotSpace:
    """The snapshot tier's cost for an item where snapshots are full copies (no reflinks):
    ``per_snapshot`` bytes (the included disks' allocated bytes) times ``kept`` snapshots (the
    policy's instant-restore days times its snapshots a day) is ``total``."""

    per_snapshot: int
    kept: int
    instant_rp_days: int

    @property
    def total(self) -> int:
        return self.per_snapshot * self.kept


def vm_facts(vm: VmSpec) -> VmFacts:
    return VmFacts(
        name=vm.name,
        managed=vm.managed,
        trusted_launch=vm.trusted_launch,
        disks=tuple(
            DiskFacts(d.lun, d.name, d.type.value, d.shared, d.data_access_auth) for d in vm.disks
        ),
    )


class ItemService:
    def __init__(
        self,
        catalog: Catalog,
        items: ItemStore,
        jobs: JobStore,
        clock: Clock,
        vaults: VaultService,
        policies: PolicyService,
        sources: SourceService,
        passphrase: Callable[[str], str | None],
    ) -> None:
        self.catalog, self.items, self.jobs, self.clock = catalog, items, jobs, clock
        self.vaults, self.policies, self.sources = vaults, policies, sources
        self.passphrase = passphrase
        self.before_read: Callable[[], object] = lambda: None  # the job service's reaper

    def enable(
        self,
        vault: str,
        vm_ref: str,
        policy_name: str,
        setting: DiskListSetting | None = None,
        luns: Sequence[int] = (),
    ) -> ItemView:
        """Protect a VM with a policy (a ConfigureBackup job records it). Nothing changes if a
        rule refuses it."""
        v = self.vaults.get(vault)
        policy = self.policies.get(vault, policy_name)
        vm = self.sources.vm(vm_ref)
        selection = select_disks(vm_facts(vm), policy.policy.sub_type, setting, luns)
        excluded = [lun for lun, _ in selection.excluded]
        check_policy_fits_vm(vm_facts(vm), policy.policy.sub_type, excluded)
        if self.items.item(v.id, vm.name) is not None:
            raise ConflictError(
                f"VM {vm.name!r} is already protected in vault {vault!r}: use `vmvault item "
                "set-policy` to change its policy",
                code="UserErrorItemAlreadyProtected",
            )
        source = self.sources.get(vm.source)
        self._check_not_protected_elsewhere(vm, source.id)
        now = self.clock.now()
        try:
            record = self.items.add_item(
                now,
                vault_id=v.id,
                policy_id=policy.record.id,
                name=vm.name,
                protection_state=ProtectionState.PROTECTED.value,
                source_id=source.id,
                vm_name=vm.name,
                disk_setting=setting.value if setting else None,
                disk_luns=list(luns),
            )
        except DuplicateNameError:
            raise ConflictError(f"VM {vm.name!r} is already protected in vault {vault!r}") from None
        first = min(i.id for i in self.items.items_of_source(source.id) if i.vm_name == vm.name)
        if first != record.id:  # another vault protected it at the same moment: it wins
            self.items.remove_item(record.id)
            self._check_not_protected_elsewhere(vm, source.id)
            raise ConflictError(
                f"VM {vm.id!r} was protected by another vault at the same moment: try again",
                code="UserErrorVmAlreadyProtected",
            )
        self._record_job(v.id, record, Operation.CONFIGURE_BACKUP, None)
        return self.view(vault, record)

    def copy_snapshot_space(self, view: ItemView) -> SnapshotSpace | None:
        """What the item's snapshots take when its source cannot reflink them (each one a
        full copy); None when they are reflinks or it cannot be told."""
        if view.vm is None or view.selection is None or view.policy is None:
            return None
        source = self.sources.open(self.sources.get(view.vm.source))
        cost = source.snapshot_cost(view.vm, view.selection.included)
        if cost.reflink is not False:
            return None
        policy = view.policy.policy
        kept = snapshots_kept(policy.schedule, policy.instant_rp_days)
        return SnapshotSpace(cost.allocated_bytes, kept, policy.instant_rp_days)

    def _check_not_protected_elsewhere(self, vm: VmSpec, source_id: int) -> None:
        """A VM is protected by at most one vault, as in Azure: while any item of any vault
        (protected, or stopped with its points kept) holds it, ``ConflictError``
        ``UserErrorVmAlreadyProtected`` names that vault. Protection stopped with its backup
        data deleted frees the VM. A VM is its source and name: one folder is one source, so
        no VM has two ids (VMs sharing a disk file are a cluster with a shared disk)."""
        for other in self.items.items_of_source(source_id):
            if other.vm_name != vm.name:
                continue
            owner = self.vaults.get_by_id(other.vault_id).name
            raise ConflictError(
                f"VM {vm.id!r} is already protected by vault {owner!r} (item {other.name!r}, "
                f"{other.protection_state}): a VM is protected by one vault only; to move it, "
                f"run `vmvault protection disable --vault-name {owner} --item-name "
                f"{other.name} --delete-backup-data` first",
                code="UserErrorVmAlreadyProtected",
            )

    def _record_job(self, vault_id: int, item: ItemRecord, op: Operation, sub: str | None) -> None:
        """A configuration change is done when it is recorded: its job is completed at once."""
        self.jobs.record(
            vault_id,
            op.value,
            self.clock.now(),
            item_id=item.id,
            item_name=item.name,
            sub_type=sub,
        )

    def get(self, vault: str, name: str) -> ItemView:
        v = self.vaults.get(vault)
        self.before_read()
        record = self.items.item(v.id, name)
        if record is None:
            raise NotFoundError(
                f"item {name!r} was not found in vault {vault!r}: `vmvault item list "
                f"--vault-name {vault}` shows its protected items",
                code="BMSUserErrorItemNotFound",
            )
        return self.view(vault, record)

    def all(self, vault: str, sub_type: SubType | None = None) -> list[ItemView]:
        v = self.vaults.get(vault)
        self.before_read()
        views = [self.view(vault, r) for r in self.items.items(v.id)]
        if sub_type is not None:
            views = [x for x in views if x.policy and x.policy.policy.sub_type is sub_type]
        return views

    def view(self, vault: str, record: ItemRecord) -> ItemView:
        policy = None
        if record.policy_id is not None:
            name = next(
                p.name for p in self.catalog.policies(record.vault_id) if p.id == record.policy_id
            )
            policy = self.policies.get(vault, name)
        vm, problem = self._vm(record)
        selection = None
        if vm is not None and policy is not None:
            setting = DiskListSetting(record.disk_setting) if record.disk_setting else None
            selection = select_disks(
                vm_facts(vm), policy.policy.sub_type, setting, record.disk_luns or []
            )
        return ItemView(vault, record, policy, vm, selection, problem)

    def _vm(self, record: ItemRecord) -> tuple[VmSpec | None, str | None]:
        """The item's VM as its source sees it now, or None and why (a vanished disk file,
        a broken manifest, a removed VM)."""
        if record.source_id is None or record.vm_name is None:
            return None, "the item has no source VM"
        source = self.items.source_by_id(record.source_id)
        try:
            return self.sources.open(source).find(record.vm_name), None
        except VmvaultError as exc:
            return None, str(exc)

    def set_policy(
        self, vault: str, name: str, policy_name: str, *, record_job: bool = True
    ) -> ItemView:
        """Move an item to another policy of the same subtype (Standard to Enhanced is the
        migration; Enhanced to Standard is never allowed)."""
        item = self.get(vault, name)
        new = self.policies.get(vault, policy_name)
        if item.policy is not None:
            check_policy_change(item.policy.policy.sub_type, new.policy.sub_type)
        if item.vm is not None:
            selection = select_disks(
                vm_facts(item.vm),
                new.policy.sub_type,
                DiskListSetting(item.record.disk_setting) if item.record.disk_setting else None,
                item.record.disk_luns or [],
            )
            check_policy_fits_vm(
                vm_facts(item.vm), new.policy.sub_type, [lun for lun, _ in selection.excluded]
            )
        self.items.update_item(item.record.id, policy_id=new.record.id)
        if record_job:
            v = self.vaults.get(vault)
            self._record_job(v.id, item.record, Operation.CONFIGURE_BACKUP, None)
        return self.get(vault, name)

    def disable(self, vault: str, name: str, *, delete_data: bool) -> ItemView | None:
        """Stop protection. The recovery points are kept (and no longer expire), or, with
        ``delete_data``, deleted with the item: snapshots from the source, copies from the
        vault. Refused while a job of the item is queued or running."""
        item = self.get(vault, name)
        refuse_if_busy(self.jobs, item.record, any_job=True)
        v = self.vaults.get(vault)
        if not delete_data:
            self.items.update_item(
                item.record.id, protection_state=ProtectionState.PROTECTION_STOPPED.value
            )
            self._record_job(v.id, item.record, Operation.DISABLE_BACKUP, None)
            return self.get(vault, name)
        self._delete_points(vault, item)
        self._record_job(v.id, item.record, Operation.DELETE_BACKUP_DATA, None)
        self.items.remove_item(item.record.id)
        return None

    def _delete_points(self, vault: str, item: ItemView) -> None:
        points = self.items.points(item.record.id)
        if any(p.vault_present for p in points):
            data = self.vaults.open_data(vault, self.passphrase(vault))
            for p in points:
                if p.vault_present:
                    data.delete_point(item.record.name, p.name)
        if item.record.source_id is not None and item.record.vm_name is not None:
            source = self.sources.open(self.items.source_by_id(item.record.source_id))
            for p in points:
                if p.snapshot_present:
                    source.delete_snapshot(item.record.vm_name, p.name)

    def resume(self, vault: str, name: str, policy_name: str | None = None) -> ItemView:
        """Resume stopped protection (optionally under another policy)."""
        item = self.get(vault, name)
        if item.record.protection_state == ProtectionState.PROTECTED.value:
            raise ConflictError(f"item {name!r} is already protected", code="UserErrorConflict")
        if policy_name is not None:
            self.set_policy(vault, name, policy_name)
        self.items.update_item(item.record.id, protection_state=ProtectionState.PROTECTED.value)
        self._record_job(self.vaults.get(vault).id, item.record, Operation.CONFIGURE_BACKUP, None)
        return self.get(vault, name)
