"""The scheduler loop of ``vmvault serve``: every tick, queue the due policy slots, apply
retention, then recompress new chunks while no job is queued or running.

Jobs are not run here: a ``Worker`` (``worker.py``) runs them on its own thread or process, so a
job queued between two ticks starts within the worker's poll, not at the next tick. One failing
pass (a vault that cannot be read) is reported, and the next tick runs as planned.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from vmvault.domain.errors import VmvaultError
from vmvault.jobs.pause import pause

if TYPE_CHECKING:
    from vmvault.services.context import Services


class Scheduler:
    def __init__(
        self,
        svc: Services,
        *,
        recompress_budget: float = 60.0,
        recompress_workers: int = 2,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.svc = svc
        self.recompress_budget, self.recompress_workers = recompress_budget, recompress_workers
        self.log = log or _log

    def run(self, stop: threading.Event, tick: float, run_for: float = 0.0) -> None:
        """Run a pass every ``tick`` seconds until ``stop`` (or ``run_for`` seconds passed)."""
        started = time.monotonic()
        while not stop.is_set():
            self.one_pass(stop)
            if run_for and time.monotonic() - started >= run_for:
                return
            pause(stop, min(tick, run_for) if run_for else tick)

    def one_pass(self, stop: threading.Event | None = None) -> None:
        svc = self.svc
        try:
            queued = svc.scheduling.enqueue_due()
            report = svc.scheduling.apply_retention()
            self.log(
                f"scheduler pass: {svc.scheduling.protected_count()} protected item(s), "
                f"{len(queued)} slot(s) queued, {report.snapshots_deleted} snapshot(s) and "
                f"{report.vault_points_deleted} vault point(s) expired"
            )
            if self.recompress_budget > 0 and not svc.jobs.jobs_open():
                self._recompress(stop)
        except VmvaultError as exc:  # one bad item must not stop the scheduler
            self.log(f"scheduler pass failed: ({exc.code}) {exc.message}")
        except Exception as exc:  # nor a database that is briefly away
            self.log(f"scheduler pass failed: {type(exc).__name__}: {exc}")

    def _recompress(self, stop: threading.Event | None) -> None:
        """Settle new chunks in every vault, within the budget in all."""
        svc = self.svc
        deadline = time.monotonic() + self.recompress_budget
        for vault in svc.vaults.all():
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                return
            try:
                r = svc.vault_data.recompress(
                    vault.name,
                    svc.settings.passphrase,
                    budget_seconds=left,
                    workers=self.recompress_workers,
                )
            except VmvaultError as exc:  # busy (garbage collection), locked, no passphrase
                self.log(f"recompression of vault {vault.name} skipped: ({exc.code}) {exc.message}")
                continue
            if r.chunks:
                self.log(
                    f"vault {vault.name}: recompressed {r.rewritten} of {r.chunks} new "
                    f"chunk(s), {r.bytes_before} -> {r.bytes_after} bytes, {r.remaining} left"
                )
            for problem in r.problems:
                self.log(f"vault {vault.name}: {problem} (run vmvault vault check)")


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
