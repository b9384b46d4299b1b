"""``vmvault serve``: the scheduler, retention and a worker on the embedded default."""

from __future__ import annotations

import sys

import typer

from vmvault.cli.output import LogOutputOption, OutputFormat, handles_errors
from vmvault.cli.state import services


@handles_errors
def serve(
    tick: float = typer.Option(30.0, "--tick", help="Seconds between scheduler passes"),
    recompress_budget: float = typer.Option(
        60.0,
        "--recompress-budget",
        min=0.0,
        help="Seconds per pass spent recompressing new chunks when no job waits (0 = never)",
    ),
    recompress_workers: int = typer.Option(
        2, "--recompress-workers", min=1, help="Threads for recompression (background work)"
    ),
    run_for: float = typer.Option(
        0.0, "--run-for", help="Stop after this many seconds (0 = until stopped)", hidden=True
    ),
    output: OutputFormat = LogOutputOption,
) -> None:
    """Run the scheduler and a worker on $VMVAULT_HOME until stopped (Ctrl+C or SIGTERM).

    Each scheduler pass (every --tick seconds) queues the policy slots that are due (once
    each), applies retention (expired snapshots and vault copies are deleted), then, when no
    job is queued or running, recompresses chunks that backups stored at the fast ingest level,
    for at most --recompress-budget seconds. The worker runs on its own thread and starts a
    queued job within a second, whenever it was queued.
    """
    from vmvault.jobs.scheduler import Scheduler
    from vmvault.jobs.worker import Worker, stop_on_signals
    from vmvault.services.jobs import worker_id

    stop = stop_on_signals()
    with services() as svc, svc.jobs.worker_presence():
        me = worker_id("serve")
        _log(
            f"vmvault serve: data directory {svc.settings.home}, catalog "
            f"{svc.catalog.engine.url.render_as_string(hide_password=True)}; "
            f"{len(svc.vaults.all())} vault(s); scheduler running (Ctrl+C to stop)"
        )
        worker = Worker(lambda stopping: svc.jobs.run_one(me, stopping=stopping), log=_log)
        thread = worker.start(stop)
        try:
            scheduler = Scheduler(
                svc,
                recompress_budget=recompress_budget,
                recompress_workers=recompress_workers,
                log=_log,
            )
            scheduler.run(stop, tick, run_for)
        finally:
            stop.set()
            thread.join()
        _log("vmvault serve: stopped")


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
