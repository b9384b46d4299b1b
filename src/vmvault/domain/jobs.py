"""Jobs: operations, statuses and sub-tasks, with Azure's names."""

from __future__ import annotations

from enum import StrEnum


class Operation(StrEnum):
    BACKUP = "Backup"
    RESTORE = "Restore"
    CONFIGURE_BACKUP = "ConfigureBackup"
    DISABLE_BACKUP = "DisableBackup"
    DELETE_BACKUP_DATA = "DeleteBackupData"


class JobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    COMPLETED_WITH_WARNINGS = "CompletedWithWarnings"
    FAILED = "Failed"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"

    @property
    def ended(self) -> bool:
        return self in ENDED


ENDED = frozenset(
    {JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_WARNINGS, JobStatus.FAILED, JobStatus.CANCELLED}
)

TAKE_SNAPSHOT = "Take Snapshot"
TRANSFER_TO_VAULT = "Transfer data to vault"
RESTORE_DISKS = "Restore disks"
MIGRATE_POLICY = "Migrate policy"


def display_operation(operation: str, sub_type: str | None) -> str:
    """How a job's operation reads in lists: ``Configure backup (Migrate policy)``."""
    words = {
        Operation.CONFIGURE_BACKUP: "Configure backup",
        Operation.DISABLE_BACKUP: "Disable backup",
        Operation.DELETE_BACKUP_DATA: "Delete backup data",
    }.get(Operation(operation), operation)
    return f"{words} ({sub_type})" if sub_type else words


MIGRATE_TASKS = (MIGRATE_POLICY, TAKE_SNAPSHOT, TRANSFER_TO_VAULT)
