"""One operation at a time per item, as in Azure: a backup, a restore over the VM's disks, a
policy change or a migration is refused while another of these is queued or running for the
item (``UserErrorBackupOperationInProgress``, naming the job); other restores are not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from jobs_helpers import backed_up_app

from vmvault.clock import FakeClock
from vmvault.domain.errors import VmvaultError
from vmvault.domain.policy import SubType
from vmvault.domain.schedule import slots_between
from vmvault.services.context import Services
from vmvault.services.policies import default_document

CODE = "UserErrorBackupOperationInProgress"


def _refused(job_id: str, call: object, *args: object, **kwargs: object) -> None:
    assert callable(call)
    with pytest.raises(VmvaultError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == CODE
    assert job_id in caught.value.message


def test_a_queued_backup_blocks_the_items_other_operations(
    services: Services, tmp_path: Path
) -> None:
    point = backed_up_app(services, tmp_path / "lab")
    services.policies.create("v1", "std2", default_document(SubType.STANDARD))
    queued = services.backups.backup_now("v1", "app", None)

    _refused(queued.id, services.backups.backup_now, "v1", "app", None)
    _refused(queued.id, services.migration.change_policy, "v1", "app", "std2")
    _refused(queued.id, services.migration.change_policy, "v1", "app", "enh")  # a migration
    _refused(queued.id, services.migration.migrate, "v1", "app", "enh")
    _refused(queued.id, services.restores.restore_vm, "v1", "app", point, replace_existing=True)
    _refused(queued.id, services.items.disable, "v1", "app", delete_data=False)
    jobs, skipped = services.migration.migrate_all("v1", "enh")
    assert jobs == [] and [s.code for s in skipped] == [CODE]
    # a restore to new disks or a new VM touches nothing of the item's own
    disks = services.restores.restore_disks("v1", "app", point, str(tmp_path / "out"))
    vm = services.restores.restore_vm("v1", "app", point, target_vm_name="app-copy")
    assert {disks.status, vm.status} == {"InProgress"}
    assert services.items.get("v1", "app").policy.record.name == "std"  # type: ignore[union-attr]


def test_a_queued_migration_blocks_a_policy_change_and_a_backup(
    services: Services, tmp_path: Path
) -> None:
    backed_up_app(services, tmp_path / "lab")
    services.policies.create("v1", "std2", default_document(SubType.STANDARD))
    migration = services.migration.change_policy("v1", "app", "enh")
    assert migration.sub_type == "Migrate policy"
    _refused(migration.id, services.migration.change_policy, "v1", "app", "std2")
    _refused(migration.id, services.backups.backup_now, "v1", "app", None)
    assert services.jobs.run_one("w", migration.id).status == "Completed"  # type: ignore[union-attr]
    services.backups.backup_now("v1", "app", None)  # free again


def test_a_restore_over_the_vm_blocks_backups_but_not_other_restores(
    services: Services, tmp_path: Path
) -> None:
    point = backed_up_app(services, tmp_path / "lab")
    over = services.restores.restore_vm("v1", "app", point, replace_existing=True)
    _refused(over.id, services.backups.backup_now, "v1", "app", None)
    _refused(over.id, services.restores.restore_vm, "v1", "app", point, replace_existing=True)
    services.restores.restore_disks("v1", "app", point, str(tmp_path / "out"))


def test_the_scheduler_queues_no_slot_while_an_operation_is_open(
    services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    backed_up_app(services, tmp_path / "lab")
    queued = services.backups.backup_now("v1", "app", None)
    policy = services.items.get("v1", "app").policy
    assert policy is not None
    slot = slots_between(policy.policy, clock.now(), clock.now() + timedelta(days=2))[0]
    clock.set(slot + timedelta(minutes=1))
    assert services.scheduling.enqueue_due() == []
    assert services.jobs.run_one("w", queued.id) is not None
    assert len(services.scheduling.enqueue_due()) == 1  # the slot waited its turn


def test_the_database_refuses_a_second_backup_that_raced_past_the_check(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests that both pass the service's look at the open jobs (they race, in two
    processes): the item's exclusive key lets only the first be queued."""
    backed_up_app(services, tmp_path / "lab")
    first = services.backups.backup_now("v1", "app", None)
    monkeypatch.setattr("vmvault.services.jobs.refuse_if_busy", lambda *a, **k: None)
    _refused(first.id, services.backups.backup_now, "v1", "app", None)
    assert [j.id for j in services.jobs.find("v1", status="InProgress")] == [first.id]
