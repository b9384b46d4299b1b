"""The ``vmvault`` command: ``vmvault <group> <command>`` as in ``az backup``."""

from __future__ import annotations

import typer

from vmvault import __version__
from vmvault.cli import jobs, points, policy, protection, serve, sources, vault

app = typer.Typer(
    help="vmvault: Azure Backup-style protection for self-hosted virtual machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(vault.app, name="vault")
app.add_typer(policy.app, name="policy")
app.add_typer(sources.source_app, name="source")
app.add_typer(sources.vm_app, name="vm")
app.add_typer(protection.protection_app, name="protection")
app.add_typer(protection.item_app, name="item")
app.add_typer(jobs.job_app, name="job")
app.add_typer(points.rp_app, name="recoverypoint")
app.add_typer(points.restore_app, name="restore")
app.command("serve")(serve.serve)
app.command("worker")(jobs.worker)


@app.command("version")
def version() -> None:
    """Print vmvault's version."""
    typer.echo(__version__)


def main() -> None:
    app()
