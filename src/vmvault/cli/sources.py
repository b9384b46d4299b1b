"""``vmvault source`` and ``vmvault vm``: where VMs come from, and what was found there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from vmvault.cli.output import OutputFormat, OutputOption, emit_json, emit_table, handles_errors
from vmvault.cli.state import services

if TYPE_CHECKING:
    from vmvault.sources.model import ManifestProblem, VmSpec

source_app = typer.Typer(help="Sources of VMs (folders of VM manifests).", no_args_is_help=True)
vm_app = typer.Typer(help="VMs found in the sources.", no_args_is_help=True)


@source_app.command("add")
@handles_errors
def add(
    name: str = typer.Option(..., "--name", "-n"),
    type_: str = typer.Option("files", "--type", help="files (a folder of *.vm.yaml)"),
    path: str = typer.Option(..., "--path", help="The folder"),
    output: OutputFormat = OutputOption,
) -> None:
    """Register a source."""
    with services() as svc:
        s = svc.sources.add(name, type_, path)
    body = {"name": s.name, "type": s.type, "path": s.location}
    emit_json(body) if output is OutputFormat.JSON else emit_table(
        None, list(body), [list(body.values())]
    )


@source_app.command("delete")
@handles_errors
def delete(
    name: str = typer.Option(..., "--name", "-n"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Accepted for az compatibility"),
    output: OutputFormat = OutputOption,
) -> None:
    """Remove a source from the catalog; refused while any vault protects a VM of it.
    Its folder, manifests, disks and snapshots are left as they are."""
    with services() as svc:
        s = svc.sources.delete(name)
    body = {"name": s.name, "type": s.type, "path": s.location, "deleted": True}
    emit_json(body) if output is OutputFormat.JSON else emit_table(
        None, list(body), [list(body.values())]
    )


@source_app.command("list")
@handles_errors
def list_sources(output: OutputFormat = OutputOption) -> None:
    """List sources."""
    with services() as svc:
        rows = [{"name": s.name, "type": s.type, "path": s.location} for s in svc.sources.all()]
    if output is OutputFormat.JSON:
        emit_json(rows)
    else:
        emit_table(None, ["name", "type", "path"], [list(r.values()) for r in rows])


def vm_json(vm: VmSpec) -> dict[str, Any]:
    return {
        "id": vm.id,
        "name": vm.name,
        "source": vm.source,
        "managed": vm.managed,
        "trustedLaunch": vm.trusted_launch,
        "osType": vm.os_type,
        "manifest": str(vm.manifest),
        "disks": [
            {
                "lun": d.lun,
                "name": d.name,
                "path": str(d.path),
                "type": d.type.value,
                "shared": d.shared,
                "dataAccessAuth": d.data_access_auth,
                "format": d.format,
            }
            for d in vm.disks
        ],
    }


def problem_json(p: ManifestProblem) -> dict[str, Any]:
    return {"file": str(p.file), "field": p.field, "message": p.message}


@vm_app.command("list")
@handles_errors
def list_vms(
    source: str = typer.Option(None, "--source", help="Only this source"),
    output: OutputFormat = OutputOption,
) -> None:
    """List the VMs of the sources; manifests that cannot be read are reported on stderr."""
    with services() as svc:
        vms, problems = svc.sources.discover(source)
    for p in problems:
        typer.echo(f"WARNING: {p.file}: {p.field}: {p.message}", err=True)
    if output is OutputFormat.JSON:
        emit_json([vm_json(vm) for vm in vms])
        return
    emit_table(
        None,
        ["VM", "Managed", "Trusted Launch", "Disks"],
        [
            (
                vm.id,
                vm.managed,
                vm.trusted_launch,
                ", ".join(f"{d.lun}:{d.name} ({d.type.value})" for d in vm.disks),
            )
            for vm in vms
        ],
    )


@vm_app.command("show")
@handles_errors
def show_vm(
    vm: str = typer.Option(..., "--vm", help="SOURCE/NAME, or NAME when unambiguous"),
    output: OutputFormat = OutputOption,
) -> None:
    """Show one VM and its disks."""
    with services() as svc:
        spec = svc.sources.vm(vm)
    if output is OutputFormat.JSON:
        emit_json(vm_json(spec))
        return
    emit_table(
        spec.id,
        ["LUN", "Name", "Type", "Shared", "Data access auth", "Path"],
        [(d.lun, d.name, d.type.value, d.shared, d.data_access_auth, d.path) for d in spec.disks],
    )
