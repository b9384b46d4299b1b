"""Which chunks of a disk to read: from its allocation map and from changed-extent hints."""

from __future__ import annotations

from collections.abc import Iterable

from vmvault.vault.disks import Extent


def chunks_of(extents: Iterable[Extent], chunk_size: int, disk_size: int) -> list[int]:
    """Sorted unique indexes of the chunks any extent overlaps (clamped to the disk)."""
    touched: set[int] = set()
    last = (disk_size - 1) // chunk_size if disk_size else -1
    for e in extents:
        start, end = max(e.offset, 0), min(e.offset + e.length, disk_size)
        if end <= start:
            continue
        touched.update(range(start // chunk_size, min((end - 1) // chunk_size, last) + 1))
    return sorted(touched)
