"""Opening disks for backup, and which fixed-size chunks a backup has to read.

``open_disk`` picks the reader: ``RawDiskReader`` (files, block devices) or ``Qcow2DiskReader``
(through qemu-nbd). The chunk helpers are pure: the backup pipeline reads only chunks that hold
allocated bytes, and, when the source knows what changed since the previous point (QEMU dirty
bitmaps, given as changed-extent hints), only those of them that a hint touches::

    changed = set(chunks_touched(hints, chunk, reader.size))   # everything else: as before
    to_read = [i for i in allocated_chunks(reader, chunk) if i in changed]
    # changed chunks that are not in to_read became holes: record them as zeros, read nothing
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from vmvault.domain.errors import InvalidInputError
from vmvault.vault.disks import DiskReader, Extent
from vmvault.vault.readers_qcow2 import Qcow2DiskReader
from vmvault.vault.readers_raw import RawDiskReader, open_image_fd

__all__ = [
    "FORMATS",
    "Qcow2DiskReader",
    "RawDiskReader",
    "allocated_chunks",
    "chunks_touched",
    "detect_format",
    "open_disk",
]

FORMATS = ("raw", "qcow2")
QCOW2_MAGIC = b"QFI\xfb"


def detect_format(path: str | os.PathLike[str]) -> str:
    """``"qcow2"`` if the file starts with the qcow2 magic, else ``"raw"``; block devices are raw.

    Four bytes read here rather than ``qemu-img info``: no process per disk, and raw disks need
    no QEMU installed. Either way a guess is only a guess: a raw disk whose guest wrote a qcow2
    header at byte 0 would be taken for qcow2 (and its backing file followed), the classic QEMU
    probing hazard. Sources that know the format (a manifest, libvirt's driver type) pass it.
    Raises the errors of ``open_image_fd``.
    """
    fd, st = open_image_fd(path)
    try:
        if stat.S_ISBLK(st.st_mode):
            return "raw"
        return "qcow2" if os.pread(fd, len(QCOW2_MAGIC), 0) == QCOW2_MAGIC else "raw"
    finally:
        os.close(fd)


def open_disk(path: str | os.PathLike[str], fmt: str | None = None) -> DiskReader:
    """Open a disk image for reading; ``fmt`` is ``"raw"``, ``"qcow2"`` or None to detect.

    Raises ``NotFoundError`` for a missing path, ``InvalidInputError`` for an unknown format or a
    path that cannot be read (a folder, no permission, a broken qcow2 chain), and
    ``VmvaultError`` (code ``DependencyMissing``) when qcow2 needs libnbd or qemu-nbd that is not
    installed. Every message names the path.
    """
    if fmt is None:
        fmt = detect_format(path)
    if fmt == "raw":
        return RawDiskReader(path)
    if fmt == "qcow2":
        return Qcow2DiskReader(path)
    raise InvalidInputError(
        f"disk format {fmt!r} of {os.fspath(path)} is not valid: use one of "
        f"{', '.join(FORMATS)}, or none to detect it"
    )


def chunks_touched(hints: Iterable[Extent], chunk_size: int, disk_size: int) -> list[int]:
    """Sorted, unique indexes of the ``chunk_size`` chunks that any hint overlaps.

    Chunk ``i`` covers ``[i * chunk_size, (i + 1) * chunk_size)``. Hints may come in any order,
    overlap, be empty or run past ``disk_size`` (clamped to ``[0, disk_size)``); the result
    only names chunks of the disk. Raises ``ValueError`` if ``chunk_size`` is not positive.
    """
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    spans: list[tuple[int, int]] = []  # inclusive chunk index ranges
    for hint in hints:
        start = max(hint.offset, 0)
        end = min(hint.offset + hint.length, disk_size)
        if end > start:
            spans.append((start // chunk_size, (end - 1) // chunk_size))
    # Merging the index ranges first keeps this linear in the result even for hints that
    # overlap a lot (a dirty bitmap at fine granularity names many extents per chunk).
    spans.sort()
    touched: list[int] = []
    next_free = 0  # first index not yet emitted
    for first, last in spans:
        first = max(first, next_free)
        if first <= last:
            touched.extend(range(first, last + 1))
            next_free = last + 1
    return touched


def allocated_chunks(reader: DiskReader, chunk_size: int) -> list[int]:
    """Sorted indexes of the chunks holding any allocated byte; the others are holes to skip."""
    return chunks_touched(reader.allocated(), chunk_size, reader.size)
