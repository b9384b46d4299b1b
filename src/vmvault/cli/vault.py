"""``vmvault vault``: create, list, show and delete Recovery Services vaults."""

from __future__ import annotations

import typer

from vmvault.catalog.repository import VaultRecord
from vmvault.cli.output import OutputFormat, OutputOption, emit_json, emit_table, handles_errors
from vmvault.cli.state import services

app = typer.Typer(help="Recovery Services vaults.", no_args_is_help=True)


def _table(vaults: list[VaultRecord]) -> None:
    emit_table(
        None,
        ["Name", "Storage", "Created"],
        [(v.name, v.storage, v.created_at.isoformat(timespec="seconds")) for v in vaults],
    )


@app.command("create")
@handles_errors
def create(
    name: str = typer.Option(..., "--name", "-n", help="Vault name"),
    storage: str = typer.Option(
        None, "--storage", help="Folder or s3://bucket/prefix (default: under $VMVAULT_HOME)"
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """Create a vault."""
    with services() as svc:
        vault = svc.vaults.create(name, storage)
        emit_json(svc.vaults.to_arm(vault)) if output is OutputFormat.JSON else _table([vault])


@app.command("list")
@handles_errors
def list_(output: OutputFormat = OutputOption) -> None:
    """List vaults."""
    with services() as svc:
        vaults = svc.vaults.all()
        if output is OutputFormat.JSON:
            emit_json([svc.vaults.to_arm(v) for v in vaults])
        else:
            _table(vaults)


@app.command("show")
@handles_errors
def show(
    name: str = typer.Option(..., "--name", "-n"), output: OutputFormat = OutputOption
) -> None:
    """Show one vault."""
    with services() as svc:
        vault = svc.vaults.get(name)
        emit_json(svc.vaults.to_arm(vault)) if output is OutputFormat.JSON else _table([vault])


@app.command("delete")
@handles_errors
def delete(
    name: str = typer.Option(..., "--name", "-n"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Accepted for az compatibility"),
    output: OutputFormat = OutputOption,
) -> None:
    """Delete a vault that protects nothing (its stored data folder is never deleted)."""
    with services() as svc:
        vault = svc.vaults.delete(name)
        if output is OutputFormat.JSON:
            emit_json(svc.vaults.to_arm(vault))
        else:
            _table([vault])
