"""One operation at a time per item, held by the database: an exclusive job holds its item's
key until it ends, so of two requests that race (two processes, two engines) one is queued and
the other learns which job holds the item."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from vmvault.catalog.db import make_engine
from vmvault.catalog.jobs import ItemBusyError, JobStore
from vmvault.catalog.repository import Catalog
from vmvault.domain.jobs import JobStatus

NOW = datetime(2031, 5, 4, 10, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def _item(catalog: Catalog) -> tuple[int, int]:
    vault = catalog.add_vault("v1", "/srv/v1", NOW)
    return vault.id, catalog.add_protected_item(vault.id, "vm1", None, "Protected", NOW)


def test_a_second_exclusive_job_of_an_item_is_refused_across_engines(
    catalog: Catalog, catalog_url: str, engine: Engine
) -> None:
    vault_id, item_id = _item(catalog)
    here, there = JobStore(engine), JobStore(other := make_engine(catalog_url))
    try:
        first, _ = here.enqueue(vault_id, "Backup", NOW, item_id=item_id, exclusive=True)
        with pytest.raises(ItemBusyError) as caught:
            there.enqueue(vault_id, "Backup", NOW, item_id=item_id, exclusive=True)
        assert caught.value.holder.id == first.id
        # other jobs of the item (a restore to new disks) are not exclusive
        there.enqueue(vault_id, "Restore", NOW, item_id=item_id)
        assert len(here.open_jobs_for_item(item_id)) == 2
    finally:
        other.dispose()


@pytest.mark.parametrize("how", ["finished", "cancelled-queued", "reaped"])
def test_the_item_is_free_again_once_its_exclusive_job_ends(
    catalog: Catalog, engine: Engine, how: str
) -> None:
    vault_id, item_id = _item(catalog)
    jobs = JobStore(engine)
    first, _ = jobs.enqueue(vault_id, "Backup", NOW, item_id=item_id, exclusive=True)
    if how == "cancelled-queued":
        jobs.request_cancel(first.id, NOW)
    else:
        claimed = jobs.claim("w1", NOW, LEASE, first.id)
        assert claimed is not None
        if how == "finished":
            assert jobs.finish(first.id, "w1", JobStatus.COMPLETED, NOW) is not None
        else:
            assert [j.id for j in jobs.reap(NOW + 2 * LEASE)] == [first.id]
    assert JobStatus(jobs.get(first.id).status).ended  # type: ignore[union-attr]
    second, created = jobs.enqueue(vault_id, "Backup", NOW, item_id=item_id, exclusive=True)
    assert created and second.id != first.id


def test_a_taken_slot_returns_its_job_even_while_it_holds_the_item(
    catalog: Catalog, engine: Engine
) -> None:
    vault_id, item_id = _item(catalog)
    jobs = JobStore(engine)
    slot = dict(item_id=item_id, exclusive=True, slot_key=f"{item_id}@2031-05-04T08:00:00Z")
    first, created = jobs.enqueue(vault_id, "Backup", NOW, **slot)  # type: ignore[arg-type]
    again, created_again = jobs.enqueue(vault_id, "Backup", NOW, **slot)  # type: ignore[arg-type]
    assert created and not created_again and again.id == first.id
