"""What changed between two reflink snapshots of a raw disk, from the filesystem's block maps.

A reflink snapshot shares the disk file's blocks; a later write to the disk gets new blocks
(copy on write) and never touches the shared ones. So where two snapshots of one disk map the
same byte range to the same physical blocks, those bytes are identical, and a backup can keep
the previous point's chunks there without reading them: changed-extent hints without QEMU
dirty bitmaps (``vault.backup``). Anything the filesystem does not map plainly (delayed
allocation, unwritten, inline, encoded or unknown extents) counts as changed, and so does every
range that is a hole in one file and data in the other. The block maps come from the
``FS_IOC_FIEMAP`` ioctl, with ``FIEMAP_FLAG_SYNC`` so that nothing is still in flight.
"""

from __future__ import annotations

import fcntl
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from vmvault.vault.disks import Extent

FS_IOC_FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC = 0x1
FIEMAP_MAX_OFFSET = 2**64 - 1
EXTENT_LAST = 0x1
# UNKNOWN, DELALLOC, ENCODED, DATA_ENCRYPTED, NOT_ALIGNED, DATA_INLINE, DATA_TAIL, UNWRITTEN:
# the physical address does not plainly name the bytes, so the range counts as changed.
NOT_PLAIN = 0x2 | 0x4 | 0x8 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
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
        return not self.flags & NOT_PLAIN and self.physical != 0


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
    mapped in either, except where both map it plainly to the same physical blocks."""
    same = _same_ranges(sorted(previous, key=_by_logical), sorted(current, key=_by_logical))
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
        return changed_between(block_map(fds[0]), block_map(fds[1]))
    except OSError:
        return None
    finally:
        for fd in fds:
            os.close(fd)


def _by_logical(m: Mapped) -> int:
    return m.logical


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
