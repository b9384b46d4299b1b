"""``vmvault vault``: create, list, show and delete Recovery Services vaults; check, repair,
garbage-collect and recompress their data."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from vmvault.cli.output import (
    OutputFormat,
    OutputOption,
    emit_json,
    emit_table,
    fail,
    handles_errors,
)
from vmvault.cli.state import passphrase, services
from vmvault.domain.errors import InvalidInputError

if TYPE_CHECKING:
    from vmvault.catalog.repository import VaultRecord

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
    encryption: str = typer.Option(
        "none", "--encryption", help="none or aes-256-gcm (passphrase: $VMVAULT_PASSPHRASE)"
    ),
    passphrase_file: str = typer.Option(
        None, "--passphrase-file", help="File holding the passphrase (instead of the variable)"
    ),
    chunk_size_kib: int = typer.Option(4096, "--chunk-size-kib", help="Chunk size, 64-65536"),
    output: OutputFormat = OutputOption,
) -> None:
    """Create a vault (its storage is initialised with the vault format)."""
    if encryption not in ("none", "aes-256-gcm"):
        raise InvalidInputError(
            f"--encryption {encryption!r} is not valid: allowed values are none, aes-256-gcm"
        )
    secret = passphrase(passphrase_file, required=encryption != "none")
    with services() as svc:
        vault = svc.vaults.create(
            name,
            storage,
            passphrase=secret if encryption != "none" else None,
            chunk_size=chunk_size_kib * 1024,
        )
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


PassphraseFileOption = typer.Option(
    None, "--passphrase-file", help="File holding the passphrase (default: $VMVAULT_PASSPHRASE)"
)


@app.command("check")
@handles_errors
def check(
    name: str = typer.Option(..., "--name", "-n"),
    read_data: bool = typer.Option(False, "--read-data", help="Also read and verify every chunk"),
    repair: bool = typer.Option(
        False, "--repair", help="Rewrite missing or damaged chunks from snapshots that hold them"
    ),
    passphrase_file: str = PassphraseFileOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Check a vault: every referenced chunk exists (and with --read-data, is intact), and
    the catalog and the vault hold the same recovery points.

    Exits 3 when problems are found (after --repair: problems left); each names the object and
    the points and disks it breaks.
    """
    with services() as svc:
        report = svc.vault_data.check(
            name, passphrase(passphrase_file), read_data=read_data, repair=repair
        )
    problems = [
        {"kind": p.kind, "object": p.object, "message": p.message, "breaks": list(p.breaks)}
        for p in report.problems
    ]
    if output is OutputFormat.JSON:
        emit_json(
            {
                "points": report.points,
                "chunks": report.chunks,
                "ok": report.ok,
                "readData": read_data,
                "problems": problems,
                "repairedChunks": report.repaired,
            }
        )
    else:
        if report.repaired:
            typer.echo(f"repaired {len(report.repaired)} chunk(s) from snapshots", err=True)
        emit_table(
            f"{name}: {report.points} point(s), {report.chunks} chunk(s) referenced",
            ["Problem", "Object", "Breaks"],
            [(p["message"], p["object"], "; ".join(p["breaks"])) for p in problems],
        )
    if not report.ok:
        raise fail(f"ERROR: (VaultCheckFailed) vault {name!r} has {len(problems)} problem(s)", 3)


@app.command("gc")
@handles_errors
def gc(
    name: str = typer.Option(..., "--name", "-n"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be deleted"),
    passphrase_file: str = PassphraseFileOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Delete chunks no recovery point references (older than the safety margin)."""
    with services() as svc:
        r = svc.vault_data.collect_garbage(name, passphrase(passphrase_file), dry_run=dry_run)
    body = {
        "deletedChunks": r.deleted_chunks,
        "deletedBytes": r.deleted_bytes,
        "keptYoung": r.kept_young,
        "deletedLeftovers": r.deleted_leftovers,
        "dryRun": dry_run,
    }
    if output is OutputFormat.JSON:
        emit_json(body)
    else:
        emit_table(None, list(body), [list(body.values())])


@app.command("recompress")
@handles_errors
def recompress(
    name: str = typer.Option(..., "--name", "-n"),
    budget: float = typer.Option(
        0.0, "--budget", min=0.0, help="Stop after about this many seconds (0 = until done)"
    ),
    workers: int = typer.Option(0, "--workers", min=0, help="Threads (0 = the default)"),
    passphrase_file: str = PassphraseFileOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Recompress the chunks backups stored at the fast ingest level (zstd -5) at the settled
    level (zstd 3). `vmvault serve` does this between jobs; this runs it now.

    Exits 3 when a listed chunk is damaged (it is left as it is: run `vault check`).
    """
    with services() as svc:
        r = svc.vault_data.recompress(
            name,
            passphrase(passphrase_file),
            budget_seconds=budget or None,
            workers=workers or None,
        )
    body = {
        "points": r.points,
        "chunks": r.chunks,
        "rewrittenChunks": r.rewritten,
        "missingChunks": r.missing,
        "bytesBefore": r.bytes_before,
        "bytesAfter": r.bytes_after,
        "remainingChunks": r.remaining,
        "problems": r.problems,
    }
    if output is OutputFormat.JSON:
        emit_json(body)
    else:
        emit_table(
            None,
            [k for k in body if k != "problems"],
            [[v for k, v in body.items() if k != "problems"]],
        )
        for problem in r.problems:
            typer.echo(problem, err=True)
    if r.problems:
        raise fail(
            f"ERROR: (VaultCheckFailed) vault {name!r}: {len(r.problems)} damaged chunk(s) "
            "were left as they are; run vmvault vault check",
            3,
        )
