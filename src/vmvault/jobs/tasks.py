"""The sub-tasks of a job ("Take Snapshot", "Transfer data to vault") and their statuses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vmvault.vault.format import utc_text


class TaskList:
    """A job's sub-tasks as stored in the catalog: ``[{"taskId", "status", "startTime",
    "endTime"}]`` with Azure's task statuses (NotStarted, InProgress, Completed, Failed,
    Skipped, Cancelled)."""

    def __init__(self, data: list[dict[str, Any]]) -> None:
        self.data = [dict(t) for t in data]

    @classmethod
    def new(cls, names: Sequence[str]) -> TaskList:
        return cls(
            [
                {"taskId": n, "status": "NotStarted", "startTime": None, "endTime": None}
                for n in names
            ]
        )

    def _task(self, name: str) -> dict[str, Any]:
        return next(t for t in self.data if t["taskId"] == name)

    def start(self, name: str, now: datetime) -> None:
        self._task(name).update(status="InProgress", startTime=utc_text(now))

    def finish(self, name: str, now: datetime) -> None:
        self._task(name).update(status="Completed", endTime=utc_text(now))

    def skip(self, name: str) -> None:
        self._task(name).update(status="Skipped")

    def end_running(self, now: datetime, status: str = "Failed") -> None:
        """Mark the tasks still running ``status`` (Failed, or Cancelled)."""
        for task in self.data:
            if task["status"] == "InProgress":
                task.update(status=status, endTime=utc_text(now))
