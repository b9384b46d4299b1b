"""``vmvault serve``: the scheduler and the workers on the embedded default (one process)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType

import typer

from vmvault.cli.output import handles_errors
from vmvault.cli.state import services
from vmvault.jobs.scheduler import Scheduler


@handles_errors
def serve(
    tick: float = typer.Option(30.0, "--tick", help="Seconds between scheduler passes"),
    run_for: float = typer.Option(
        0.0, "--run-for", help="Stop after this many seconds (0 = until stopped)", hidden=True
    ),
) -> None:
    """Run the scheduler and workers on $VMVAULT_HOME until stopped (Ctrl+C or SIGTERM)."""
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with services() as svc:
        scheduler = Scheduler(svc.catalog, svc.clock)
        _log(
            f"vmvault serve: data directory {svc.settings.home}, catalog "
            f"{svc.catalog.engine.url.render_as_string(hide_password=True)}; "
            f"{len(svc.vaults.all())} vault(s); scheduler running (Ctrl+C to stop)"
        )
        started = time.monotonic()
        while not stop.is_set():
            plan = scheduler.plan()
            due = [d for d in plan if d.next_due is not None]
            upcoming = (
                f"; next: {due[0].vault}/{due[0].item} at {due[0].next_due:%Y-%m-%dT%H:%M:%SZ}"
                if due
                else ""
            )
            _log(f"scheduler pass: {len(plan)} protected item(s){upcoming}")
            if run_for and time.monotonic() - started >= run_for:
                break
            stop.wait(min(tick, run_for) if run_for else tick)
        _log("vmvault serve: stopped")


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
