"""``vmvault serve``: the scheduler, retention and a worker on the embedded default."""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

import typer

from vmvault.cli.output import LogOutputOption, OutputFormat, handles_errors
from vmvault.cli.state import services
from vmvault.domain.errors import VmvaultError

if TYPE_CHECKING:
    from vmvault.services.context import Services


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

    Each pass queues the policy slots that are due (once each), runs queued jobs, applies
    retention (expired snapshots and vault copies are deleted), then recompresses chunks that
    backups stored at the fast ingest level, for at most --recompress-budget seconds.
    """
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    from vmvault.services.jobs import worker_id

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with services() as svc, svc.jobs.worker_presence():
        me = worker_id("serve")
        _log(
            f"vmvault serve: data directory {svc.settings.home}, catalog "
            f"{svc.catalog.engine.url.render_as_string(hide_password=True)}; "
            f"{len(svc.vaults.all())} vault(s); scheduler running (Ctrl+C to stop)"
        )
        started = time.monotonic()
        while not stop.is_set():
            try:
                queued = svc.scheduling.enqueue_due()
                ran = 0
                while not stop.is_set() and (job := svc.jobs.run_one(me)) is not None:
                    ran += 1
                    _log(f"job {job.id} {job.operation} {job.item_name}: {job.status}")
                report = svc.scheduling.apply_retention()
                _log(
                    f"scheduler pass: {len(svc.items.items.all_items())} protected item(s), "
                    f"{len(queued)} slot(s) queued, {ran} job(s) run, "
                    f"{report.snapshots_deleted} snapshot(s) and "
                    f"{report.vault_points_deleted} vault point(s) expired"
                )
                if recompress_budget > 0:
                    _recompress(svc, recompress_budget, recompress_workers)
            except VmvaultError as exc:  # one bad item must not stop the scheduler
                _log(f"scheduler pass failed: ({exc.code}) {exc.message}")
            if run_for and time.monotonic() - started >= run_for:
                break
            stop.wait(min(tick, run_for) if run_for else tick)
        _log("vmvault serve: stopped")


def _recompress(svc: Services, budget: float, workers: int) -> None:
    """Settle new chunks in every vault, within ``budget`` seconds in all."""
    deadline = time.monotonic() + budget
    for vault in svc.vaults.all():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            r = svc.vault_data.recompress(
                vault.name, svc.settings.passphrase, budget_seconds=left, workers=workers
            )
        except VmvaultError as exc:  # busy (garbage collection), locked, no passphrase: later
            _log(f"recompression of vault {vault.name} skipped: ({exc.code}) {exc.message}")
            continue
        if r.chunks:
            _log(
                f"vault {vault.name}: recompressed {r.rewritten} of {r.chunks} new chunk(s), "
                f"{r.bytes_before} -> {r.bytes_after} bytes, {r.remaining} left"
            )
        for problem in r.problems:
            _log(f"vault {vault.name}: {problem} (run vmvault vault check)")


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
