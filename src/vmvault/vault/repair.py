"""Repairing chunks that are missing or damaged from data that still holds them.

The vault does not know where else a chunk's bytes live; the caller (the service layer, which
knows which recovery points still have a snapshot) gives a reader of a disk that held the
chunk, and ``repair_chunk`` stores it only if the bytes hash to the chunk's id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from vmvault.vault.disks import DiskReader
from vmvault.vault.errors import VaultError
from vmvault.vault.repository import PointRef, Vault


@dataclass(frozen=True)
class ChunkSite:
    """Where a chunk sits in a recovery point: disk ``lun``, bytes [offset, offset+length)."""

    ref: PointRef
    lun: int
    offset: int
    length: int


def chunk_sites(vault: Vault, wanted: Collection[bytes]) -> dict[bytes, list[ChunkSite]]:
    """For each chunk id in ``wanted``, the places the vault's points use it (points whose
    manifest or index does not read are passed over: check reports them)."""
    wanted = set(wanted)
    sites: dict[bytes, list[ChunkSite]] = defaultdict(list)
    if not wanted:
        return sites
    for ref in vault.points():
        try:
            manifest = vault.read_manifest(ref.item, ref.point)
            indexes = [(d.lun, vault.read_index(manifest, d.lun)) for d in manifest.disks]
        except VaultError:
            continue
        for lun, index in indexes:
            for i, cid in enumerate(index.ids):
                if cid in wanted:
                    sites[cid].append(
                        ChunkSite(ref, lun, i * index.chunk_size, index.chunk_length(i))
                    )
    return sites


def repair_chunk(vault: Vault, chunk_id: bytes, reader: DiskReader, site: ChunkSite) -> bool:
    """Store the chunk read from ``site`` of ``reader`` if it hashes to ``chunk_id`` (an
    atomic replace of a damaged object) and clear its damage record. False if it differs."""
    data = reader.read(site.offset, site.length)
    if vault.chunk_id(data) != chunk_id:
        return False
    vault.put_chunk(chunk_id, data)
    vault.clear_damaged(chunk_id)
    return True
