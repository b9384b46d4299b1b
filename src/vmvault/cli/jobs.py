"""``vmvault job``: list, show, wait for and stop jobs; ``vmvault worker`` runs them."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING

import typer

from vmvault.cli.filters import job_filters
from vmvault.cli.output import (
    LogOutputOption,
    OutputFormat,
    OutputOption,
    emit_json,
    emit_table,
    fail,
    handles_errors,
)
from vmvault.cli.state import services
from vmvault.domain.jobs import JobStatus, display_operation

if TYPE_CHECKING:
    from vmvault.catalog.jobs import JobRecord

job_app = typer.Typer(help="Backup, restore and configuration jobs.", no_args_is_help=True)
VaultOption = typer.Option(..., "--vault-name", "-v", help="Vault name")


def render_jobs(vault: str, jobs: list[JobRecord], output: OutputFormat, single: bool) -> None:
    """Print jobs in Azure's JSON shape, or as a table."""
    from vmvault.services.arm_items import job_to_arm

    with services() as svc:
        bodies = [job_to_arm(svc.vaults.scope, vault, j, svc.clock.now()) for j in jobs]
    if output is OutputFormat.JSON:
        emit_json(bodies[0] if single else bodies)
        return
    emit_table(
        None,
        ["Name", "Operation", "Status", "Item", "Start", "Duration", "Error"],
        [
            (
                j.id,
                display_operation(j.operation, j.sub_type),
                j.status,
                j.item_name,
                b["properties"]["startTime"],
                b["properties"]["duration"],
                j.error_message or "",
            )
            for j, b in zip(jobs, bodies, strict=True)
        ],
    )


@job_app.command("list")
@handles_errors
def list_jobs(
    vault_name: str = VaultOption,
    status: str = typer.Option(None, "--status", help="InProgress, Completed, Failed, ..."),
    operation: str = typer.Option(
        None, "--operation", help="Backup, Restore, ConfigureBackup, ..."
    ),
    start_date: str = typer.Option(None, "--start-date", help="Jobs queued on or after"),
    end_date: str = typer.Option(None, "--end-date", help="Jobs queued on or before"),
    output: OutputFormat = OutputOption,
) -> None:
    """List a vault's jobs, newest first."""
    filters = job_filters(status, operation, start_date, end_date)
    with services() as svc:
        jobs = svc.jobs.find(vault_name, **filters)
    render_jobs(vault_name, jobs, output, single=False)


@job_app.command("show")
@handles_errors
def show_job(
    vault_name: str = VaultOption,
    name: str = typer.Option(..., "--name", "-n", help="Job id"),
    output: OutputFormat = OutputOption,
) -> None:
    """Show a job with its sub-tasks, progress and error."""
    with services() as svc:
        job = svc.jobs.get(vault_name, name)
    render_jobs(vault_name, [job], output, single=True)


@job_app.command("stop")
@handles_errors
def stop_job(
    vault_name: str = VaultOption,
    name: str = typer.Option(..., "--name", "-n", help="Job id"),
    output: OutputFormat = OutputOption,
) -> None:
    """Cancel a job: a queued one at once, a running one at its next checkpoint."""
    with services() as svc:
        job = svc.jobs.stop(vault_name, name)
    render_jobs(vault_name, [job], output, single=True)


@job_app.command("wait")
@handles_errors
def wait_job(
    vault_name: str = VaultOption,
    name: str = typer.Option(..., "--name", "-n", help="Job id"),
    output: OutputFormat = OutputOption,
) -> None:
    """Wait until a job ends. With no `vmvault serve`/`worker` running here, run it now.

    Exits 0 when the job completed, 1 when it failed or was cancelled.
    """
    from rich.progress import BarColumn, Progress, TextColumn

    from vmvault.jobs.pause import pause

    with services() as svc:
        done = threading.Event()
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            disable=not sys.stderr.isatty(),
            transient=True,
        )

        def follow() -> None:
            task = bar.add_task(name, total=100)
            while not pause(done, 0.5):
                bar.update(task, completed=svc.jobs.progress(vault_name, name))

        with bar:
            watcher = threading.Thread(target=follow, daemon=True)
            watcher.start()
            try:
                job = svc.jobs.wait(vault_name, name, sleep=time.sleep)
            finally:
                done.set()
                watcher.join()
    render_jobs(vault_name, [job], output, single=True)
    if job.status not in (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_WARNINGS):
        raise fail(
            f"ERROR: ({job.error_code or job.status}) job {name} {job.status}: "
            f"{job.error_message or ''}".rstrip(": ")
        )


@handles_errors
def worker(
    poll: float = typer.Option(0.5, "--poll", min=0.05, help="Seconds between looks at the queue"),
    run_for: float = typer.Option(0.0, "--run-for", hidden=True),
    output: OutputFormat = LogOutputOption,
) -> None:
    """Run queued jobs of $VMVAULT_HOME until stopped (several workers may share a queue).

    SIGTERM or Ctrl+C stops it cleanly: a job running then ends Cancelled at its next
    checkpoint, and the worker exits 0.
    """
    from vmvault.jobs.worker import Worker, stop_on_signals
    from vmvault.services.jobs import worker_id

    stop = stop_on_signals()
    with services() as svc, svc.jobs.worker_presence():
        me = worker_id("worker")
        sys.stderr.write(f"vmvault worker {me}: running jobs\n")
        Worker(lambda stopping: svc.jobs.run_one(me, stopping=stopping), poll=poll).run(
            stop, run_for
        )
        sys.stderr.write(f"vmvault worker {me}: stopped\n")
