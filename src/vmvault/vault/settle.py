"""Recompression: settling chunks a backup stored at the fast ingest level.

A backup compresses new chunks at ``KeyRing.ingest_level`` (fast) and lists them in the point's
``provisional`` object; this pass rewrites them at ``KeyRing.compression_level`` (smaller), so
backups stay fast and the vault ends up small (docs/vault-format.md, "Compression levels").

Each chunk is read, opened and verified against its id, sealed again, opened again and compared
with the plaintext, and only then put under its own name (an atomic replace). A listed chunk
that is gone is reported when its point still exists (the point is broken); a damaged one is
reported and left as it is (``vmvault vault check`` names the points it breaks); a damaged list
is reported and dropped (its chunks only stay larger). The pass holds a backup lock, so
garbage collection never runs beside it. With a ``deadline`` it stops between batches and keeps
what is left in the point's list for the next pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from vmvault.storage.base import ObjectNotFoundError
from vmvault.vault import format as fmt
from vmvault.vault.allocator import keep_chunk_buffers
from vmvault.vault.backup import default_workers
from vmvault.vault.errors import CorruptObjectError, MissingObjectError, VaultError
from vmvault.vault.locks import backup_lock
from vmvault.vault.repository import PointRef, Vault

# Rewrite a chunk only when the settled form saves at least 1% of its stored bytes.
WORTH = 0.99


@dataclass
class SettleReport:
    points: int = 0  # points whose list was finished
    chunks: int = 0  # listed chunks looked at
    rewritten: int = 0
    missing: int = 0  # listed, but no longer in the vault (a problem if the point still is)
    bytes_before: int = 0  # stored bytes of the chunks looked at, before and after
    bytes_after: int = 0
    remaining: int = 0  # listed chunks left for a later pass (deadline reached)
    problems: list[str] = field(default_factory=list)  # damaged chunks, left untouched


@dataclass(frozen=True)
class _Outcome:
    before: int = 0
    after: int = 0
    missing: bool = False
    problem: str | None = None


def recompress(
    vault: Vault,
    now: datetime,
    *,
    workers: int | None = None,
    deadline: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> SettleReport:
    """Settle the chunks of every point's ``provisional`` list; ``deadline`` is a
    ``monotonic()`` value after which no new batch starts."""
    report = SettleReport()
    workers = workers or default_workers()
    keep_chunk_buffers()
    with backup_lock(vault, now), ThreadPoolExecutor(workers) as pool:
        for ref in vault.provisional_points():
            if not _settle_point(vault, ref, pool, 4 * workers, deadline, monotonic, report):
                break
    return report


def _settle_point(
    vault: Vault,
    ref: PointRef,
    pool: ThreadPoolExecutor,
    batch: int,
    deadline: float | None,
    monotonic: Callable[[], float],
    report: SettleReport,
) -> bool:
    """Settle one point's list; False when the deadline stopped it."""
    try:
        ids = vault.read_provisional(ref)
    except VaultError as exc:  # only costs space: report it, drop the list, go on
        report.problems.append(f"{exc} (its chunks stay at the ingest level)")
        vault.write_provisional(ref, [])
        return True
    done = 0
    missing: list[bytes] = []
    while done < len(ids):
        if deadline is not None and monotonic() >= deadline:
            break
        part = ids[done : done + batch]
        outcomes = pool.map(lambda cid: settle_chunk(vault, cid), part)
        for cid, outcome in zip(part, outcomes, strict=True):
            report.chunks += 1
            report.bytes_before += outcome.before
            report.bytes_after += outcome.after
            report.rewritten += outcome.after < outcome.before
            if outcome.missing:
                missing.append(cid)
            if outcome.problem:
                report.problems.append(outcome.problem)
        done += len(part)
    if missing:
        _report_missing(vault, ref, missing, report)
    left = ids[done:]
    vault.write_provisional(ref, left)  # deletes the list when nothing is left
    report.remaining += len(left)
    report.points += not left
    return not left


def _report_missing(
    vault: Vault, ref: PointRef, missing: list[bytes], report: SettleReport
) -> None:
    """Listed chunks that are gone: harmless if their point was deleted meanwhile (retention),
    a broken point if it still exists (garbage collection never runs beside this pass)."""
    report.missing += len(missing)
    try:
        vault.storage.stat(fmt.manifest_name(ref.item, ref.point))
    except ObjectNotFoundError:
        return
    for cid in missing:
        report.problems.append(
            f"chunk {cid.hex()} of recovery point {ref.item}/{ref.point} is missing"
        )


def settle_chunk(vault: Vault, chunk_id: bytes) -> _Outcome:
    """Rewrite one chunk at the settled level when that makes it smaller."""
    name = fmt.chunk_name(chunk_id)
    try:
        blob = vault.get_chunk_blob(chunk_id)
    except MissingObjectError:
        return _Outcome(missing=True)
    try:
        data = vault.open_chunk(chunk_id, blob)
    except CorruptObjectError as exc:
        return _Outcome(len(blob), len(blob), problem=str(exc))
    settled = vault.keys.seal(name, data, level=vault.keys.compression_level)
    if len(settled) > len(blob) * WORTH:
        return _Outcome(len(blob), len(blob))
    if vault.keys.open(name, settled) != data:  # never replace a chunk with a bad copy
        return _Outcome(len(blob), len(blob), problem=f"recompressing {name} did not round-trip")
    vault.storage.put(name, settled)
    return _Outcome(len(blob), len(settled))
