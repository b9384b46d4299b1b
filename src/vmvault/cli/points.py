"""``vmvault recoverypoint`` and ``vmvault restore``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from vmvault.cli.jobs import render_jobs
from vmvault.cli.output import OutputFormat, OutputOption, emit_json, emit_table, handles_errors
from vmvault.cli.state import services

if TYPE_CHECKING:
    from vmvault.services.points import PointView

rp_app = typer.Typer(help="Recovery points of protected items.", no_args_is_help=True)
restore_app = typer.Typer(help="Restore disks or VMs from recovery points.", no_args_is_help=True)
VaultOption = typer.Option(..., "--vault-name", "-v", help="Vault name")
ItemOption = typer.Option(..., "--item-name", "-i", help="Protected item (VM) name")


def _render(points: list[PointView], output: OutputFormat, single: bool) -> None:
    with services() as svc:
        bodies = [svc.points.to_arm(p) for p in points]
    if output is OutputFormat.JSON:
        emit_json(bodies[0] if single else bodies)
        return
    emit_table(
        None,
        ["Name", "Time", "Consistency", "Tiers (expiry)", "Included", "Excluded"],
        [
            (
                b["name"],
                b["properties"]["recoveryPointTime"],
                b["properties"]["recoveryPointType"],
                "; ".join(
                    f"{t['type']} ({t['extendedInfo'].get('expiryTime', 'kept')})"
                    for t in b["properties"]["recoveryPointTierDetails"]
                ),
                ", ".join(
                    str(d["lun"])
                    for d in b["properties"]["recoveryPointDiskConfiguration"]["includedDiskList"]
                ),
                ", ".join(
                    str(d["lun"])
                    for d in b["properties"]["recoveryPointDiskConfiguration"]["excludedDiskList"]
                ),
            )
            for b in bodies
        ],
    )


@rp_app.command("list")
@handles_errors
def list_points(
    vault_name: str = VaultOption,
    item_name: str = ItemOption,
    tier: str = typer.Option(
        None, "--tier", help="Snapshot, VaultStandard, SnapshotAndVaultStandard"
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """List an item's recovery points, newest first, with their tiers and expiry."""
    with services() as svc:
        points = svc.points.all(vault_name, item_name, tier)
    _render(points, output, single=False)


@rp_app.command("show")
@handles_errors
def show_point(
    vault_name: str = VaultOption,
    item_name: str = ItemOption,
    name: str = typer.Option(..., "--name", "-n", help="Recovery point name"),
    output: OutputFormat = OutputOption,
) -> None:
    """Show one recovery point."""
    with services() as svc:
        point = svc.points.get(vault_name, item_name, name)
    _render([point], output, single=True)


@restore_app.command("restore-disks")
@handles_errors
def restore_disks(
    vault_name: str = VaultOption,
    item_name: str = ItemOption,
    rp_name: str = typer.Option(..., "--rp-name", "-r", help="Recovery point name"),
    target_dir: str = typer.Option(..., "--target-dir", help="New or empty folder"),
    diskslist: list[int] = typer.Option(
        None, "--diskslist", help="LUNs to restore, as az: --diskslist 0 1 (or 0,1, or repeated)"
    ),
    restore_only_osdisk: bool = typer.Option(False, "--restore-only-osdisk"),
    source_tier: str = typer.Option(None, "--source-tier", help="Snapshot or Vault"),
    output: OutputFormat = OutputOption,
) -> None:
    """Restore disks of a recovery point as image files (a Restore job; `job wait` runs it)."""
    with services() as svc:
        job = svc.restores.restore_disks(
            vault_name,
            item_name,
            rp_name,
            target_dir,
            luns=diskslist or [],
            os_only=restore_only_osdisk,
            source_tier=source_tier,
        )
    render_jobs(vault_name, [job], output, single=True)


@restore_app.command("restore-vm")
@handles_errors
def restore_vm(
    vault_name: str = VaultOption,
    item_name: str = ItemOption,
    rp_name: str = typer.Option(..., "--rp-name", "-r", help="Recovery point name"),
    target_vm_name: str = typer.Option(None, "--target-vm-name", help="Name of the new VM"),
    replace_existing: bool = typer.Option(
        False, "--replace-existing", help="Restore over the VM's own disks (it must be off)"
    ),
    source_tier: str = typer.Option(None, "--source-tier", help="Snapshot or Vault"),
    output: OutputFormat = OutputOption,
) -> None:
    """Restore a VM: a new VM in the item's source, or over the original disks."""
    with services() as svc:
        job = svc.restores.restore_vm(
            vault_name,
            item_name,
            rp_name,
            target_vm_name=target_vm_name,
            replace_existing=replace_existing,
            source_tier=source_tier,
        )
    render_jobs(vault_name, [job], output, single=True)
