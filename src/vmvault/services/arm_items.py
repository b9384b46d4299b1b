"""Protected items and jobs in Azure's JSON shapes (what `az backup item/job show` print)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vmvault.catalog.jobs import JobRecord
from vmvault.domain.job_params import property_bag
from vmvault.domain.jobs import display_operation
from vmvault.services.arm_ids import ArmScope
from vmvault.services.items import ItemView
from vmvault.services.points import container, item_name
from vmvault.vault.format import utc_text

ITEM_TYPE = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
JOB_TYPE = "Microsoft.RecoveryServices/vaults/backupJobs"


def _t(value: datetime | None) -> str | None:
    return utc_text(value) if value else None


def item_to_arm(scope: ArmScope, view: ItemView, latest: datetime | None) -> dict[str, Any]:
    r = view.record
    policy = view.policy
    selection = view.selection
    disks = {d.lun: d.name for d in view.vm.disks} if view.vm else {}
    # the last backup failed (a vault transfer that failed too: its snapshot point is kept,
    # but the item is not healthy until a backup completes)
    failed = r.last_backup_status == "Failed"
    return {
        "id": f"{scope.vault_id(view.vault)}/backupFabrics/Azure/protectionContainers/"
        f"{container(view)}/protectedItems/{item_name(view)}",
        "name": item_name(view),
        "type": ITEM_TYPE,
        "properties": {
            "protectedItemType": "Microsoft.Compute/virtualMachines",
            "workloadType": "VM",
            "friendlyName": r.name,
            "virtualMachineId": view.vm.id if view.vm else r.vm_name,
            "containerName": container(view),
            "protectionState": r.protection_state,
            "protectionStatus": "Unhealthy" if failed else "Healthy",
            "healthStatus": "ActionRequired" if failed or view.vm is None else "Passed",
            "lastBackupStatus": r.last_backup_status,
            "lastBackupTime": _t(r.last_backup_time),
            "latestRecoveryPoint": _t(latest),
            "policyId": scope.policy_id(view.vault, policy.record.name) if policy else None,
            "policyName": policy.record.name if policy else None,
            "policyType": policy.policy.sub_type.wire if policy else None,
            "policySubType": policy.policy.sub_type.value if policy else None,
            "extendedProperties": {
                "diskExclusionProperties": {
                    "diskLunList": r.disk_luns or [],
                    "isInclusionList": r.disk_setting == "include",
                }
                if r.disk_setting
                else None
            },
            "includedDisks": [
                {"lun": lun, "name": disks.get(lun)}
                for lun in (selection.included if selection else ())
            ],
            "excludedDisks": [
                {"lun": lun, "name": disks.get(lun), "reason": why}
                for lun, why in (selection.excluded if selection else ())
            ],
        },
    }


def job_to_arm(scope: ArmScope, vault: str, job: JobRecord, now: datetime) -> dict[str, Any]:
    duration = None
    if job.start_time is not None:
        duration = str((job.end_time or now) - job.start_time)
    errors: list[dict[str, Any]] = (
        [{"errorCode": job.error_code, "errorString": job.error_message, "recommendations": []}]
        if job.error_code
        else []
    )
    return {
        "id": f"{scope.vault_id(vault)}/backupJobs/{job.id}",
        "name": job.id,
        "type": JOB_TYPE,
        "properties": {
            "jobType": "AzureIaaSVMJob",
            "entityFriendlyName": job.item_name,
            "backupManagementType": "AzureIaasVM",
            "operation": job.operation,
            "operationSubType": job.sub_type,
            "operationDisplay": display_operation(job.operation, job.sub_type),
            "status": job.status,
            "startTime": _t(job.start_time or job.queued_at),
            "endTime": _t(job.end_time),
            "duration": duration,
            "errorDetails": errors,
            "extendedInfo": {
                "tasksList": job.tasks,
                "progressPercentage": job.progress_percent,
                "dynamicErrorMessage": job.error_message,
                "propertyBag": property_bag(job.params),
                "bytesTransferred": job.bytes_done,
                "bytesTotal": job.bytes_total,
            },
        },
    }
