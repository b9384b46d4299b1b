"""The ``vmvault`` command: ``vmvault <group> <command>`` as in ``az backup``."""

from __future__ import annotations

import typer

from vmvault import __version__
from vmvault.cli import policy, serve, vault

app = typer.Typer(
    help="vmvault: Azure Backup-style protection for self-hosted virtual machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(vault.app, name="vault")
app.add_typer(policy.app, name="policy")
app.command("serve")(serve.serve)


@app.command("version")
def version() -> None:
    """Print vmvault's version."""
    typer.echo(__version__)


def main() -> None:
    app()
