"""Reading disk images for backup: the interface, and extents.

A ``DiskReader`` gives a disk's virtual size, the extents that hold data (holes and known
zeros left out, so they are never read), and reads of any range (zeros inside holes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, order=True)
class Extent:
    """A byte range of a disk: ``offset`` and ``length`` (both >= 0)."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


class DiskReader(Protocol):
    """One disk image open for reading.

    * ``size`` is the virtual size in bytes.
    * ``allocated()`` yields sorted, non-overlapping extents that may hold non-zero data; a
      range outside them reads as zeros. A reader that cannot tell yields one extent for the
      whole disk.
    * ``read(offset, length)`` returns exactly ``length`` bytes (zeros past the end or in
      holes); it is safe to call from several threads at once.
    * ``close()`` releases the image (also on exit of a ``with`` block).
    """

    size: int

    def allocated(self) -> Iterator[Extent]: ...

    def read(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...

    def __enter__(self) -> DiskReader: ...

    def __exit__(self, *exc: object) -> None: ...
