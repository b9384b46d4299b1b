"""``vmvault protection`` and ``vmvault item``: protecting VMs, on-demand backups, items."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from vmvault.cli.filters import choice, parse_date
from vmvault.cli.jobs import render_jobs
from vmvault.cli.output import OutputFormat, OutputOption, emit_json, emit_table, handles_errors
from vmvault.cli.state import services
from vmvault.domain.errors import InvalidInputError
from vmvault.domain.policy import SubType
from vmvault.domain.protection import DiskListSetting

if TYPE_CHECKING:
    from vmvault.services.context import Services
    from vmvault.services.items import ItemView, SnapshotSpace
    from vmvault.services.migration import Skipped

protection_app = typer.Typer(help="Protect VMs and back them up.", no_args_is_help=True)
item_app = typer.Typer(help="Protected items.", no_args_is_help=True)
VaultOption = typer.Option(..., "--vault-name", "-v", help="Vault name")


def _items_out(svc: Services, views: list[ItemView], output: OutputFormat, single: bool) -> None:
    from vmvault.services.arm_items import item_to_arm

    bodies = [item_to_arm(svc.vaults.scope, v, svc.points.latest_time(v)) for v in views]
    if output is OutputFormat.JSON:
        emit_json(bodies[0] if single else bodies)
        return
    emit_table(
        None,
        [
            "Name",
            "State",
            "Policy",
            "SubType",
            "Last backup",
            "Latest point",
            "Included",
            "Excluded",
        ],
        [
            (
                b["properties"]["friendlyName"],
                b["properties"]["protectionState"],
                b["properties"]["policyName"],
                b["properties"]["policySubType"],
                _last(b["properties"]),
                b["properties"]["latestRecoveryPoint"],
                ", ".join(str(d["lun"]) for d in b["properties"]["includedDisks"]),
                "; ".join(f"{d['lun']}: {d['reason']}" for d in b["properties"]["excludedDisks"]),
            )
            for b in bodies
        ],
    )


def _last(props: dict[str, str | None]) -> str:
    return f"{props['lastBackupStatus'] or '-'} {props['lastBackupTime'] or ''}".strip()


@protection_app.command("enable-for-vm")
@handles_errors
def enable_for_vm(
    vault_name: str = VaultOption,
    vm: str = typer.Option(..., "--vm", help="SOURCE/NAME, or NAME when unambiguous"),
    policy_name: str = typer.Option(..., "--policy-name", "-p"),
    disk_list_setting: str = typer.Option(None, "--disk-list-setting", help="include or exclude"),
    diskslist: list[int] = typer.Option(
        None, "--diskslist", help="Data disk LUNs, as az: --diskslist 0 1 (or 0,1, or repeated)"
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """Protect a VM with a policy (selective disk backup with --disk-list-setting)."""
    setting = (
        choice("--disk-list-setting", disk_list_setting, DiskListSetting)
        if disk_list_setting
        else None
    )
    with services() as svc:
        view = svc.items.enable(vault_name, vm, policy_name, setting, diskslist or [])
        _items_out(svc, [view], output, single=True)
        space = svc.items.copy_snapshot_space(view)
    if space is not None:
        typer.echo(copy_warning(view, space), err=True)


def copy_warning(view: ItemView, space: SnapshotSpace) -> str:
    """The stderr warning for snapshots that are full copies (no reflinks)."""
    return (
        f"WARNING: the filesystem of VM {view.record.name}'s disks cannot reflink, so each "
        f"snapshot is a full copy of its disks ({_size(space.per_snapshot)}); the policy "
        f"keeps {space.kept} snapshot(s) over its {space.instant_rp_days} instant-restore "
        f"day(s): about {_size(space.total)} beside the disks. Keep the disks on XFS "
        "(reflink=1) or btrfs for instant snapshots, or lower the instant-restore days."
    )


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@protection_app.command("backup-now")
@handles_errors
def backup_now(
    vault_name: str = VaultOption,
    item_name: str = typer.Option(..., "--item-name", "-i"),
    retain_until: str = typer.Option(
        None,
        "--retain-until",
        help="Keep the vault copy until this date, UTC: 31-12-2026 (as az, d-m-Y) or "
        "2026-12-31 (default: 30 days)",
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """Queue an on-demand backup and print its job (`vmvault job wait` follows it)."""
    until = parse_date("--retain-until", retain_until) if retain_until else None
    with services() as svc:
        job = svc.backups.backup_now(vault_name, item_name, until)
    render_jobs(vault_name, [job], output, single=True)


@protection_app.command("disable")
@handles_errors
def disable(
    vault_name: str = VaultOption,
    item_name: str = typer.Option(..., "--item-name", "-i"),
    delete_backup_data: bool = typer.Option(
        False, "--delete-backup-data", help="Also delete every recovery point (snapshots, vault)"
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Accepted for az compatibility"),
    output: OutputFormat = OutputOption,
) -> None:
    """Stop protection; keep the recovery points, or delete them with --delete-backup-data."""
    with services() as svc:
        view = svc.items.disable(vault_name, item_name, delete_data=delete_backup_data)
        if view is not None:
            _items_out(svc, [view], output, single=True)
        elif output is OutputFormat.JSON:
            emit_json({"name": item_name, "deleted": True})
        else:
            emit_table(None, ["Item", "Backup data"], [(item_name, "deleted")])


@protection_app.command("resume")
@handles_errors
def resume(
    vault_name: str = VaultOption,
    item_name: str = typer.Option(..., "--item-name", "-i"),
    policy_name: str = typer.Option(None, "--policy-name", "-p", help="Resume under this policy"),
    output: OutputFormat = OutputOption,
) -> None:
    """Resume stopped protection."""
    with services() as svc:
        _items_out(svc, [svc.items.resume(vault_name, item_name, policy_name)], output, single=True)


@item_app.command("list")
@handles_errors
def list_items(
    vault_name: str = VaultOption,
    policy_sub_type: str = typer.Option(None, "--policy-sub-type", help="Standard or Enhanced"),
    output: OutputFormat = OutputOption,
) -> None:
    """List protected items."""
    sub = choice("--policy-sub-type", policy_sub_type, SubType) if policy_sub_type else None
    with services() as svc:
        _items_out(svc, svc.items.all(vault_name, sub), output, single=False)


@item_app.command("show")
@handles_errors
def show_item(
    vault_name: str = VaultOption,
    name: str = typer.Option(..., "--name", "-n"),
    output: OutputFormat = OutputOption,
) -> None:
    """Show a protected item."""
    with services() as svc:
        _items_out(svc, [svc.items.get(vault_name, name)], output, single=True)


@item_app.command("set-policy")
@handles_errors
def set_policy(
    vault_name: str = VaultOption,
    name: str = typer.Option(..., "--name", "-n"),
    policy_name: str = typer.Option(..., "--policy-name", "-p"),
    output: OutputFormat = OutputOption,
) -> None:
    """Change the item's policy and print the job. Standard to Enhanced is the migration (a
    "Configure backup (Migrate policy)" job that also takes a backup; `job wait` follows it);
    Enhanced to Standard is never allowed."""
    with services() as svc:
        job = svc.migration.change_policy(vault_name, name, policy_name)
    render_jobs(vault_name, [job], output, single=True)


MIGRATION_WARNING = (
    "Migrating to an Enhanced policy is one-way: the item can never go back to a Standard policy. "
    "The migration runs a backup job (it can take several hours for large VMs), and an Enhanced "
    "policy keeps more snapshots, which can cost more storage."
)


@protection_app.command("migrate")
@handles_errors
def migrate(
    vault_name: str = VaultOption,
    item_name: str = typer.Option(None, "--item-name", "-i", help="The item to migrate"),
    all_items: bool = typer.Option(False, "--all", help="Every item on a Standard policy"),
    policy_name: str = typer.Option(..., "--policy-name", "-p", help="The Enhanced policy"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation"),
    output: OutputFormat = OutputOption,
) -> None:
    """Migrate items from a Standard to an Enhanced policy (one job each)."""
    from vmvault.services.arm_items import job_to_arm

    if all_items == (item_name is not None):
        raise InvalidInputError("give either --item-name NAME or --all")
    with services() as svc:
        if item_name is not None:
            svc.migration.check(vault_name, item_name, policy_name)  # refuse before asking
        typer.echo(MIGRATION_WARNING, err=True)
        if not yes and not typer.confirm("Continue?", default=False, err=True):
            raise InvalidInputError(
                "migration not confirmed: nothing was changed (--yes skips this)"
            )
        if item_name is not None:
            jobs = [svc.migration.migrate(vault_name, item_name, policy_name)]
            skipped: list[Skipped] = []
        else:
            jobs, skipped = svc.migration.migrate_all(vault_name, policy_name)
        bodies = [job_to_arm(svc.vaults.scope, vault_name, j, svc.clock.now()) for j in jobs]
    if item_name is not None:
        render_jobs(vault_name, jobs, output, single=True)
        return
    rest = [{"item": s.item, "code": s.code, "reason": s.reason} for s in skipped]
    if output is OutputFormat.JSON:
        emit_json({"jobs": bodies, "skipped": rest})
    else:
        emit_table(
            "Migrations queued",
            ["Job", "Item"],
            [(b["name"], b["properties"]["entityFriendlyName"]) for b in bodies],
        )
        emit_table("Skipped", ["Item", "Code", "Reason"], [list(r.values()) for r in rest])
