"""The scheduler: for every protected item, when its policy's next backup is due.

It asks the policy engine (``domain.schedule.next_slot``) in each policy's own time zone. The
job queue that each due slot is enqueued into exactly once arrives with protection (issue 4);
until then the scheduler reports what is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vmvault.catalog.repository import Catalog
from vmvault.clock import Clock
from vmvault.domain.arm_policy import policy_from_arm
from vmvault.domain.schedule import next_slot


@dataclass(frozen=True)
class DueItem:
    vault: str
    item: str
    next_due: datetime | None


class Scheduler:
    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self.catalog = catalog
        self.clock = clock

    def plan(self) -> list[DueItem]:
        """The next due slot of every protected item, soonest first."""
        now = self.clock.now()
        due = [
            DueItem(vault, item, next_slot(policy_from_arm(props), now))
            for vault, item, props in self.catalog.scheduled_items()
        ]
        return sorted(due, key=lambda d: (d.next_due is None, d.next_due or now))
