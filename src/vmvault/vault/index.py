"""The per-disk chunk index of a recovery point (docs/vault-format.md, "Disk index")."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from vmvault.vault.crypto import ZERO_ID
from vmvault.vault.errors import CorruptObjectError

MAGIC = b"VMI1"
HEADER = struct.Struct("<4sQII")
ID = 32


@dataclass
class DiskIndex:
    """Chunk ids of one disk in disk order; ``ZERO_ID`` marks a zero/unallocated chunk."""

    size: int
    chunk_size: int
    ids: list[bytes]

    @classmethod
    def empty(cls, size: int, chunk_size: int) -> DiskIndex:
        return cls(size, chunk_size, [ZERO_ID] * math.ceil(size / chunk_size))

    def chunk_length(self, i: int) -> int:
        return min(self.chunk_size, self.size - i * self.chunk_size)

    def data_chunks(self) -> int:
        return sum(1 for cid in self.ids if cid != ZERO_ID)

    def to_bytes(self) -> bytes:
        return HEADER.pack(MAGIC, self.size, self.chunk_size, len(self.ids)) + b"".join(self.ids)

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> DiskIndex:
        if len(data) < HEADER.size:
            raise CorruptObjectError(f"index {name} is truncated")
        magic, size, chunk_size, count = HEADER.unpack_from(data)
        if (
            magic != MAGIC
            or chunk_size == 0
            or count != math.ceil(size / chunk_size)
            or len(data) != HEADER.size + count * ID
        ):
            raise CorruptObjectError(f"index {name} is damaged or truncated")
        body = memoryview(data)[HEADER.size :]
        ids = [bytes(body[i * ID : (i + 1) * ID]) for i in range(count)]
        return cls(size, chunk_size, ids)
