"""The job queue in the catalog: enqueue, claim under a lease, heartbeat, finish, cancel.

Any number of workers in any number of processes or hosts share the queue. A worker claims a
queued job with a conditional UPDATE (it succeeds for exactly one claimant on SQLite and on
PostgreSQL) and keeps it by renewing its lease; a running job whose lease ran out belonged to a
worker that died, and ``reap`` marks it failed, so no job stays InProgress forever. Every write
of a running job (heartbeat, progress, finish) is conditional on the worker still holding it:
once a job is reaped, or ended, its old worker can no longer change it. Scheduled jobs carry a
``slot_key`` (item + slot) that is unique, so each slot is enqueued once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from vmvault.catalog.models import JobRow
from vmvault.domain.jobs import ENDED, JobStatus

OPEN = [s.value for s in JobStatus if s not in ENDED]


@dataclass(frozen=True)
class JobRecord:
    id: str
    vault_id: int
    item_id: int | None
    item_name: str | None
    operation: str
    sub_type: str | None
    status: str
    queued_at: datetime
    start_time: datetime | None
    end_time: datetime | None
    slot_key: str | None
    params: dict[str, Any]
    tasks: list[dict[str, Any]]
    progress_percent: float
    bytes_done: int
    bytes_total: int
    error_code: str | None
    error_message: str | None
    claimed_by: str | None
    lease_until: datetime | None
    cancel_requested: bool


class ItemBusyError(Exception):
    """An open job of the item holds its exclusive key (``JobStore.enqueue(exclusive=True)``)."""

    def __init__(self, holder: JobRecord) -> None:
        super().__init__(f"job {holder.id} holds item {holder.item_id}")
        self.holder = holder


def exclusive_key(item_id: int) -> str:
    return f"item:{item_id}"


@dataclass(frozen=True)
class Hold:
    """What a worker learns when it writes to its running job."""

    held: bool  # False: the job was reaped or ended meanwhile; the worker must drop it
    cancel: bool  # cancellation was requested


def _record(row: JobRow) -> JobRecord:
    return JobRecord(**{f: getattr(row, f) for f in JobRecord.__dataclass_fields__})


class JobStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def enqueue(
        self,
        vault_id: int,
        operation: str,
        now: datetime,
        *,
        item_id: int | None = None,
        item_name: str | None = None,
        sub_type: str | None = None,
        params: dict[str, Any] | None = None,
        tasks: list[dict[str, Any]] | None = None,
        slot_key: str | None = None,
        exclusive: bool = False,
    ) -> tuple[JobRecord, bool]:
        """Queue a job; returns (job, created). A taken ``slot_key`` returns the existing job.

        ``exclusive`` (an operation an item runs one at a time): the job holds the item's
        exclusive key until it ends, and ItemBusyError names the open job that holds it
        already; the unique constraint decides between racing requests, in any process."""
        if exclusive and item_id is None:
            raise ValueError("an exclusive job needs an item")
        row = JobRow(
            id=str(uuid.uuid4()),
            vault_id=vault_id,
            item_id=item_id,
            item_name=item_name,
            operation=operation,
            sub_type=sub_type,
            status=JobStatus.IN_PROGRESS.value,
            queued_at=now,
            slot_key=slot_key,
            exclusive_key=exclusive_key(item_id) if exclusive and item_id is not None else None,
            params=params or {},
            tasks=tasks or [],
            progress_percent=0.0,
            bytes_done=0,
            bytes_total=0,
            cancel_requested=False,
        )
        with self._sessions() as s:
            s.add(row)
            try:
                s.commit()
                return _record(row), True
            except IntegrityError:
                s.rollback()
                if slot_key is not None:
                    existing = s.scalar(select(JobRow).where(JobRow.slot_key == slot_key))
                    if existing is not None:
                        return _record(existing), False
                if row.exclusive_key is not None:
                    holder = s.scalar(
                        select(JobRow).where(JobRow.exclusive_key == row.exclusive_key)
                    )
                    if holder is not None:
                        raise ItemBusyError(_record(holder)) from None
                raise

    def record(
        self,
        vault_id: int,
        operation: str,
        now: datetime,
        *,
        item_id: int | None = None,
        item_name: str | None = None,
        sub_type: str | None = None,
    ) -> JobRecord:
        """Record a job that was done when it was asked (a configuration change): it is
        written Completed, so no worker ever claims it."""
        row = JobRow(
            id=str(uuid.uuid4()),
            vault_id=vault_id,
            item_id=item_id,
            item_name=item_name,
            operation=operation,
            sub_type=sub_type,
            status=JobStatus.COMPLETED.value,
            queued_at=now,
            start_time=now,
            end_time=now,
            params={},
            tasks=[],
            progress_percent=100.0,
            bytes_done=0,
            bytes_total=0,
            cancel_requested=False,
        )
        with self._sessions() as s:
            s.add(row)
            s.commit()
            return _record(row)

    def get(self, job_id: str) -> JobRecord | None:
        with self._sessions() as s:
            row = s.get(JobRow, job_id)
            return _record(row) if row else None

    def find(
        self,
        vault_id: int,
        *,
        status: str | None = None,
        operation: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        item_id: int | None = None,
    ) -> list[JobRecord]:
        query = select(JobRow).where(JobRow.vault_id == vault_id)
        if status is not None:
            query = query.where(JobRow.status == status)
        if operation is not None:
            query = query.where(JobRow.operation == operation)
        if since is not None:
            query = query.where(JobRow.queued_at >= since)
        if until is not None:
            query = query.where(JobRow.queued_at <= until)
        if item_id is not None:
            query = query.where(JobRow.item_id == item_id)
        with self._sessions() as s:
            return [_record(r) for r in s.scalars(query.order_by(JobRow.queued_at.desc()))]

    def open_jobs_for_item(self, item_id: int) -> list[JobRecord]:
        """Jobs of the item that are queued or running, oldest first."""
        with self._sessions() as s:
            rows = s.scalars(
                select(JobRow)
                .where(JobRow.item_id == item_id, JobRow.status.in_(OPEN))
                .order_by(JobRow.queued_at)
            )
            return [_record(r) for r in rows]

    def any_open(self) -> bool:
        """Whether any job of any vault is queued or running."""
        with self._sessions() as s:
            return s.scalar(select(JobRow.id).where(JobRow.status.in_(OPEN)).limit(1)) is not None

    def claim(
        self, worker: str, now: datetime, lease: timedelta, job_id: str | None = None
    ) -> JobRecord | None:
        """Take the oldest queued job (or ``job_id``) for ``worker``; None if there is none."""
        query = select(JobRow.id).where(
            JobRow.start_time.is_(None), JobRow.status == JobStatus.IN_PROGRESS.value
        )
        if job_id is not None:
            query = query.where(JobRow.id == job_id)
        with self._sessions() as s:
            candidates = list(s.scalars(query.order_by(JobRow.queued_at).limit(8)))
            for candidate in candidates:
                result = s.execute(
                    update(JobRow)
                    .where(JobRow.id == candidate, JobRow.start_time.is_(None))
                    .values(claimed_by=worker, lease_until=now + lease, start_time=now)
                )
                s.commit()
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    return _record(s.get_one(JobRow, candidate, populate_existing=True))
        return None

    def _held(self, job_id: str, worker: str) -> Any:
        return and_(
            JobRow.id == job_id,
            JobRow.claimed_by == worker,
            JobRow.end_time.is_(None),
            JobRow.status.in_(OPEN),
        )

    def _hold(self, s: Any, job_id: str, worker: str, updated: int) -> Hold:
        row = s.get(JobRow, job_id, populate_existing=True)
        return Hold(held=updated == 1, cancel=bool(row and row.cancel_requested))

    def heartbeat(self, job_id: str, worker: str, now: datetime, lease: timedelta) -> Hold:
        """Renew the lease of a job ``worker`` still holds."""
        with self._sessions() as s:
            result = s.execute(
                update(JobRow).where(self._held(job_id, worker)).values(lease_until=now + lease)
            )
            s.commit()
            return self._hold(s, job_id, worker, result.rowcount)  # type: ignore[attr-defined]

    def progress(self, job_id: str, worker: str, **fields: Any) -> Hold:
        """Update progress, tasks or params of a job ``worker`` still holds."""
        with self._sessions() as s:
            result = s.execute(update(JobRow).where(self._held(job_id, worker)).values(**fields))
            s.commit()
            return self._hold(s, job_id, worker, result.rowcount)  # type: ignore[attr-defined]

    def finish(
        self,
        job_id: str,
        worker: str,
        status: JobStatus,
        now: datetime,
        *,
        error_code: str | None = None,
        error_message: str | None = None,
        **fields: Any,
    ) -> JobRecord | None:
        """End a job ``worker`` still holds; None (and nothing written) if it no longer does."""
        with self._sessions() as s:
            result = s.execute(
                update(JobRow)
                .where(self._held(job_id, worker))
                .values(
                    status=status.value,
                    end_time=now,
                    lease_until=None,
                    exclusive_key=None,
                    error_code=error_code,
                    error_message=error_message[:2000] if error_message else None,
                    **fields,
                )
            )
            s.commit()
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return _record(s.get_one(JobRow, job_id, populate_existing=True))

    def request_cancel(self, job_id: str, now: datetime) -> JobRecord:
        """A queued job is cancelled at once; a running one is asked to stop (Cancelling)."""
        with self._sessions() as s:
            s.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.start_time.is_(None),
                    JobRow.status == JobStatus.IN_PROGRESS.value,
                )
                .values(
                    status=JobStatus.CANCELLED.value,
                    end_time=now,
                    start_time=now,
                    exclusive_key=None,
                )
            )
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == JobStatus.IN_PROGRESS.value)
                .values(status=JobStatus.CANCELLING.value, cancel_requested=True)
            )
            s.commit()
            return _record(s.get_one(JobRow, job_id, populate_existing=True))

    def reap(self, now: datetime) -> list[JobRecord]:
        """End running jobs whose worker's lease ran out (the worker crashed, was killed, or
        lost the database): Failed with ``WorkerLost``, or Cancelled if they were being
        cancelled; their running sub-tasks end the same way. Each job is ended by one reaper
        only (a conditional UPDATE), which gets it in the returned list."""
        expired = and_(
            JobRow.status.in_(OPEN),
            JobRow.start_time.is_not(None),
            JobRow.end_time.is_(None),
            or_(JobRow.lease_until.is_(None), JobRow.lease_until < now),
        )
        reaped = []
        with self._sessions() as s:
            for row in list(s.scalars(select(JobRow).where(expired))):
                cancelling = row.status == JobStatus.CANCELLING.value
                status = JobStatus.CANCELLED if cancelling else JobStatus.FAILED
                result = s.execute(
                    update(JobRow)
                    .where(expired, JobRow.id == row.id)
                    .values(
                        status=status.value,
                        end_time=now,
                        lease_until=None,
                        exclusive_key=None,
                        tasks=_end_running(row.tasks, now, status),
                        error_code=None if cancelling else "WorkerLost",
                        error_message=None
                        if cancelling
                        else (
                            f"the worker running this job ({row.claimed_by}) stopped before it "
                            "finished (crash, kill or restart); run the job again"
                        ),
                    )
                )
                s.commit()
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    reaped.append(_record(s.get_one(JobRow, row.id, populate_existing=True)))
        return reaped


def _end_running(tasks: list[dict[str, Any]], now: datetime, status: JobStatus) -> list[Any]:
    end = now.isoformat().replace("+00:00", "Z")
    word = "Cancelled" if status is JobStatus.CANCELLED else "Failed"
    return [
        {**t, "status": word, "endTime": end} if t.get("status") == "InProgress" else t
        for t in tasks
    ]
