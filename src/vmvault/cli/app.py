"""The ``vmvault`` command: ``vmvault <group> <command>`` as in ``az backup``."""

from __future__ import annotations

import inspect
import sys

import typer

from vmvault import __version__
from vmvault.cli import jobs, points, policy, protection, serve, sources, vault
from vmvault.cli.multivalue import expand
from vmvault.cli.output import (
    OutputFormat,
    OutputOption,
    emit_json,
    emit_table,
    error_line,
    exit_code,
)

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


def plain_help(typer_app: typer.Typer) -> None:
    """Click's own help layout for ``typer_app`` and every group under it: it wraps long
    option names onto their own line and shows no ``<bool>`` placeholder for flags, where
    Rich's panels cut options off at 80 columns; group listings show each command's first
    paragraph whole."""
    typer_app.rich_markup_mode = None
    for command in typer_app.registered_commands:
        if command.short_help is None:  # the group's list shows it whole, not cut at 45 chars
            doc = command.help or inspect.getdoc(command.callback) or ""
            command.short_help = " ".join(doc.split("\n\n")[0].split())
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            plain_help(group.typer_instance)


@app.command("version")
def version(output: OutputFormat = OutputOption) -> None:
    """Print vmvault's version."""
    if output is OutputFormat.JSON:
        emit_json({"version": __version__})
    else:
        emit_table(None, ["Version"], [(__version__,)])


plain_help(app)


def main() -> None:
    """The ``vmvault`` command. Usage errors print Click's usage text (exit 2); every other
    failure, expected or not, prints one ``ERROR: (Code) message`` line, never a traceback."""
    try:
        app(args=expand(sys.argv[1:]))
    except SystemExit:
        raise
    except BaseException as exc:  # the safety net: commands report their own errors first
        sys.stderr.write(error_line(exc).replace("\n", " ") + "\n")
        sys.exit(exit_code(exc))
