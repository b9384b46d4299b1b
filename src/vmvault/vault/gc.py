"""Garbage collection: delete chunks no recovery point references, and leftovers of points
that never got their manifest, once they are older than ``MIN_AGE_FOR_GC``.

It never deletes when unsure: if any manifest or index cannot be read, nothing is deleted.
It holds the garbage-collection lock, so it never runs beside a backup (``locks``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from vmvault.storage.base import ObjectNotFoundError
from vmvault.vault.check import CheckReport, _is_chunk, point_differences, references
from vmvault.vault.errors import CatalogMismatchError, VaultError
from vmvault.vault.locks import gc_lock
from vmvault.vault.repository import PointRef, Vault

# A chunk written by a backup that has not yet written its manifest is unreferenced; no backup
# takes this long between writing a chunk and writing its manifest (the lock is the first guard).
MIN_AGE_FOR_GC = timedelta(hours=6)


@dataclass
class GcReport:
    deleted_chunks: int = 0
    deleted_bytes: int = 0
    kept_young: int = 0
    deleted_leftovers: int = 0


def collect_garbage(
    vault: Vault,
    now: datetime,
    *,
    min_age: timedelta = MIN_AGE_FOR_GC,
    dry_run: bool = False,
    expected: Collection[PointRef] | None = None,
) -> GcReport:
    """Sweep garbage. ``expected``: the points the catalog lists; while they differ from the
    vault's points, nothing is deleted (CatalogMismatchError): a point whose manifest is lost
    still needs its chunks, and they could come back with the manifest."""
    report = GcReport()
    with gc_lock(vault, now):
        if expected is not None:
            _refuse_differences(vault, expected)
        check = CheckReport()
        referenced = set(references(vault, check))
        if check.problems:
            raise VaultError(
                "garbage collection stopped before deleting anything: "
                f"{check.problems[0].message} (run check)"
            )
        for name in list(vault.chunk_names()):
            if not _is_chunk(name) or bytes.fromhex(name.rsplit("/", 1)[1]) in referenced:
                continue
            _sweep(vault, name, now, min_age, dry_run, report, leftover=False)
        for cid in vault.damaged_chunks() - referenced:
            if not dry_run:  # the record of a chunk nothing needs any more
                vault.clear_damaged(cid)
        live = {f"points/{r.item}/{r.point}/" for r in vault.points()}
        for name in list(vault.storage.list("points/")):
            if name.rsplit("/", 1)[0] + "/" not in live:
                _sweep(vault, name, now, min_age, dry_run, report, leftover=True)
    return report


def _refuse_differences(vault: Vault, expected: Collection[PointRef]) -> None:
    problems = point_differences(vault, expected)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CatalogMismatchError(
            "garbage collection refused, nothing was deleted: the catalog and the vault "
            f"disagree about which recovery points exist: {problems[0].message}{more}; "
            "run vmvault vault check"
        )


def _sweep(
    vault: Vault, name: str, now: datetime, min_age: timedelta, dry_run: bool,
    report: GcReport, *, leftover: bool,
) -> None:  # fmt: skip
    try:
        info = vault.storage.stat(name)
    except ObjectNotFoundError:
        return
    if now - info.modified < min_age:
        report.kept_young += 1
        return
    if not dry_run:
        vault.storage.delete(name)
    if leftover:
        report.deleted_leftovers += 1
    else:
        report.deleted_chunks += 1
        report.deleted_bytes += info.size
