"""What changed between two reflink snapshots of a raw disk, from the filesystem's block maps.

A reflink snapshot shares the disk file's blocks; a later write to the disk gets new blocks
(copy on write) and never touches the shared ones. So where two snapshots of one disk map the
same byte range to the same physical blocks, those bytes are identical, and a backup can keep
the previous point's chunks there without reading them: changed-extent hints without QEMU
dirty bitmaps (``vault.backup``). Anything the filesystem does not map plainly (delayed
allocation, unwritten, inline, encoded or unknown extents) counts as changed, and so does every
range that is a hole in one file and data in the other. The block maps come from the
``FS_IOC_FIEMAP`` ioctl, with ``FIEMAP_FLAG_SYNC`` so that nothing is still in flight; the
first map is read again after the second and must not have moved, and a map with overlapping
extents gives no hints at all.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from vmvault.vault.disks import Extent

FS_IOC_FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC = 0x1
FIEMAP_MAX_OFFSET = 2**64 - 1
EXTENT_LAST = 0x1
# Only these flags leave an extent's physical address a plain name of its bytes: LAST, MERGED,
# SHARED. Any other (UNKNOWN, DELALLOC, ENCODED, UNWRITTEN, INLINE, TAIL, ... and any flag a
# later kernel adds) makes the range count as changed.
PLAIN_FLAGS = 0x1 | 0x1000 | 0x2000
_HEADER = struct.Struct("=QQIIII")  # struct fiemap without its extents
_EXTENT = struct.Struct("=QQQQQIIII")  # struct fiemap_extent
_BATCH = 256


@dataclass(frozen=True)
class Mapped:
    """One extent of a file's block map: ``length`` bytes at ``logical`` stored at
    ``physical`` (filesystem-wide byte address)."""

    logical: int
    physical: int
    length: int
    flags: int = 0

    @property
    def plain(self) -> bool:
        return not self.flags & ~PLAIN_FLAGS and self.physical != 0


def block_map(fd: int) -> list[Mapped]:
    """The block map of an open file; ``OSError`` where the filesystem has no FIEMAP."""
    found: list[Mapped] = []
    start = 0
    while True:
        buf = bytearray(_HEADER.size + _BATCH * _EXTENT.size)
        _HEADER.pack_into(buf, 0, start, FIEMAP_MAX_OFFSET - start, FIEMAP_FLAG_SYNC, 0, _BATCH, 0)
        fcntl.ioctl(fd, FS_IOC_FIEMAP, buf, True)
        count = _HEADER.unpack_from(buf, 0)[3]
        last = False
        for k in range(count):
            logical, physical, length, _, _, flags, *_ = _EXTENT.unpack_from(
                buf, _HEADER.size + k * _EXTENT.size
            )
            found.append(Mapped(logical, physical, length, flags))
            last = bool(flags & EXTENT_LAST)
        if count == 0 or last:
            return found
        start = found[-1].logical + found[-1].length


def changed_between(previous: Sequence[Mapped], current: Sequence[Mapped]) -> list[Extent]:
    """Byte ranges whose content may differ between two block maps of one disk: everything
    mapped in either, except where both map it plainly to the same physical blocks.
    ``ValueError`` if a map has overlapping extents (a filesystem bug: trust nothing)."""
    same = _same_ranges(_checked(previous), _checked(current))
    mapped = _merge([(m.logical, m.logical + m.length) for m in (*previous, *current)])
    out: list[Extent] = []
    k = 0
    for start, end in mapped:
        pos = start
        while k < len(same) and same[k][1] <= pos:
            k += 1
        j = k
        while j < len(same) and same[j][0] < end:
            if same[j][0] > pos:
                out.append(Extent(pos, same[j][0] - pos))
            pos = max(pos, same[j][1])
            j += 1
        if pos < end:
            out.append(Extent(pos, end - pos))
    return out


def reflink_changes(previous: os.PathLike[str] | str, current: os.PathLike[str] | str) -> (
    list[Extent] | None
):  # fmt: skip
    """Changed-extent hints of ``current`` against ``previous`` (two snapshots of one raw disk),
    or None when the block maps cannot tell (other filesystems, no FIEMAP)."""
    fds = []
    try:
        for path in (previous, current):
            fds.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
        if os.fstat(fds[0]).st_dev != os.fstat(fds[1]).st_dev:
            return None  # physical addresses of two filesystems say nothing about each other
        before, now = block_map(fds[0]), block_map(fds[1])
        if block_map(fds[0]) != before:
            return None  # blocks moved meanwhile (defragmentation, balance): no verdict
        return changed_between(before, now)
    except (OSError, ValueError):
        return None
    finally:
        for fd in fds:
            os.close(fd)


def _checked(extents: Sequence[Mapped]) -> list[Mapped]:
    """The extents sorted by offset; ValueError if any two overlap."""
    ordered = sorted(extents, key=lambda m: m.logical)
    for a, b in itertools.pairwise(ordered):
        if b.logical < a.logical + a.length:
            raise ValueError(f"block map has overlapping extents at {a.logical} and {b.logical}")
    return ordered


def _same_ranges(a: Sequence[Mapped], b: Sequence[Mapped]) -> list[tuple[int, int]]:
    """Logical ranges both maps put plainly on the same physical blocks (sorted, merged)."""
    same: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        x, y = a[i], b[j]
        start = max(x.logical, y.logical)
        end = min(x.logical + x.length, y.logical + y.length)
        if start < end and x.plain and y.plain and x.physical - x.logical == y.physical - y.logical:
            same.append((start, end))
        if x.logical + x.length <= y.logical + y.length:
            i += 1
        else:
            j += 1
    return _merge(same)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        elif end > start:
            merged.append((start, end))
    return merged
