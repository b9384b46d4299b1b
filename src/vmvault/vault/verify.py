"""Verifying a disk image against the chunk ids recorded for a recovery point.

A snapshot-tier restore copies the snapshot's disk files; ``image_chunk_ids`` reads the copy
(only its allocated chunks) and gives each chunk's id as the vault computes it
(``Vault.chunk_id``: keyed BLAKE3 in an encrypted vault), the all-zero id for a chunk of
zeros or a hole. Compared with the point's vault index, or with the digest the point recorded
for its snapshot (``ids_digest``), this proves the restored bytes are the backed-up ones,
whatever the snapshot's hole layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import blake3

from vmvault.vault.backup import default_workers
from vmvault.vault.crypto import ZERO_ID
from vmvault.vault.disks import DiskReader
from vmvault.vault.index import DiskIndex
from vmvault.vault.readers import allocated_chunks
from vmvault.vault.repository import Vault


def image_chunk_ids(vault: Vault, reader: DiskReader, *, workers: int | None = None) -> list[bytes]:
    """The chunk ids of the disk ``reader`` reads, in disk order (reads its allocated data
    once, in a bounded thread pool)."""
    chunk_size = vault.config.chunk_size
    layout = DiskIndex.empty(reader.size, chunk_size)
    zero_ids: dict[int, bytes] = {}

    def one(i: int) -> tuple[int, bytes]:
        length = layout.chunk_length(i)
        cid = vault.chunk_id(reader.read(i * chunk_size, length))
        if length not in zero_ids:
            zero_ids[length] = vault.chunk_id(bytes(length))
        return i, ZERO_ID if cid == zero_ids[length] else cid

    with ThreadPoolExecutor(workers or default_workers()) as pool:
        for i, cid in pool.map(one, allocated_chunks(reader, chunk_size)):
            layout.ids[i] = cid
    return layout.ids


def ids_digest(ids: Sequence[bytes]) -> str:
    """The digest a point records for a snapshot disk: BLAKE3 of its chunk ids, in order."""
    return blake3.blake3(b"".join(ids)).hexdigest()


def differing_chunks(got: Sequence[bytes], expected: Sequence[bytes]) -> list[int]:
    """Indexes of the chunks whose ids differ (every index if the lengths differ)."""
    if len(got) != len(expected):
        return list(range(max(len(got), len(expected))))
    return [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
