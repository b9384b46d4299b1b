"""Running a claimed job: its heartbeat, its work, and the one way every job kind ends.

``run_claimed`` runs a ``Runner``'s work under the job's heartbeat and records how it ended:
Completed; Cancelled (``JobCancelled``: ``job stop``, a stopping worker, Ctrl+C of a foreground
``job wait``); Failed with the error's code and message. The end is written only while the
worker still holds the job, so a job reaped as ``WorkerLost`` is never overwritten as
Completed. When a job ends other than Completed, its runner's ``ended`` hook runs once, in
whichever process ended it (this one, or the reader that reaped it), to record or undo what the
work left: a failed backup marks the item's last backup Failed, a failed migration puts the
item back on its Standard policy.
"""

from __future__ import annotations

import sys
from typing import Protocol

from vmvault.catalog.jobs import JobRecord
from vmvault.domain.job_params import RESULT
from vmvault.domain.jobs import JobStatus
from vmvault.jobs.context import JobCancelled, JobContext, JobLost
from vmvault.jobs.lease import POLL, Heartbeat

INTERRUPTED = "interrupted: the process running the job was stopped (Ctrl+C); run it again"


class Runner(Protocol):
    def run(self, ctx: JobContext) -> None:
        """Do the job's work, calling ``ctx.checkpoint()`` where it may stop; raise to fail."""
        ...

    def ended(self, job: JobRecord, status: JobStatus) -> None:
        """The job ended Failed or Cancelled (its worker may be gone): tidy up after it."""
        ...


def run_claimed(ctx: JobContext, runner: Runner, poll: float = POLL) -> JobRecord:
    """Run the claimed job of ``ctx`` to its end and return it as recorded. A
    KeyboardInterrupt or SystemExit ends the job Cancelled, then goes on up."""
    with Heartbeat(ctx, poll):
        try:
            runner.run(ctx)
        except JobLost:
            return _current(ctx)
        except BaseException as exc:
            final = _end_unsuccessful(ctx, runner, exc)
            if not isinstance(exc, Exception):
                raise
            return final
    return end(ctx, JobStatus.COMPLETED) or _current(ctx)


def end(
    ctx: JobContext,
    status: JobStatus,
    error_code: str | None = None,
    error_message: str | None = None,
) -> JobRecord | None:
    """Write the job's end (None when this worker no longer holds it)."""
    now = ctx.clock.now()
    if status is not JobStatus.COMPLETED:
        ctx.tasks.end_running(now, "Cancelled" if status is JobStatus.CANCELLED else "Failed")
    params = {**ctx.job.params, RESULT: ctx.result} if ctx.result else ctx.job.params
    fields: dict[str, object] = {"tasks": ctx.tasks.data, "params": params}
    fields.update(bytes_done=ctx.bytes_done, bytes_total=ctx.bytes_total)
    if status is JobStatus.COMPLETED:
        fields["progress_percent"] = 100.0
    return ctx.store.finish(
        ctx.job.id,
        ctx.worker,
        status,
        now,
        error_code=error_code,
        error_message=error_message,
        **fields,
    )


def _end_unsuccessful(ctx: JobContext, runner: Runner, exc: BaseException) -> JobRecord:
    if isinstance(exc, JobCancelled):
        final = end(ctx, JobStatus.CANCELLED)
    elif isinstance(exc, KeyboardInterrupt | SystemExit):
        final = end(ctx, JobStatus.CANCELLED, None, INTERRUPTED)
    else:
        code = getattr(exc, "code", None) or "InternalError"
        message = str(exc) if hasattr(exc, "code") else f"{type(exc).__name__}: {exc}"
        final = end(ctx, JobStatus.FAILED, str(code), message)
    if final is None:  # reaped meanwhile: the reaper ran the hook
        return _current(ctx)
    run_ended_hook(runner, final)
    return final


def run_ended_hook(runner: Runner, job: JobRecord) -> None:
    """Run ``runner.ended`` for a job that ended Failed or Cancelled; a failing hook is
    reported, never raised over the job's own outcome."""
    try:
        runner.ended(job, JobStatus(job.status))
    except Exception as exc:
        sys.stderr.write(f"job {job.id}: tidying up after it failed: {exc}\n")


def _current(ctx: JobContext) -> JobRecord:
    current = ctx.store.get(ctx.job.id)
    assert current is not None  # jobs are never deleted while their vault exists
    return current
