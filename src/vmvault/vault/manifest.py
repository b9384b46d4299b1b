"""The manifest of a recovery point (docs/vault-format.md, "Manifest")."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from vmvault.vault.errors import CorruptObjectError

FORMAT = "vmvault-point"
VERSION = 1


@dataclass(frozen=True)
class DiskEntry:
    lun: int
    name: str
    size: int
    source_format: str
    index: str
    index_hash: str
    chunks: int
    data_chunks: int
    new_chunks: int
    stored_bytes: int


@dataclass(frozen=True)
class PointManifest:
    vault: str
    item: str
    point: str
    time: str
    chunk_size: int
    disks: tuple[DiskEntry, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT
    version: int = VERSION

    def disk(self, lun: int) -> DiskEntry | None:
        return next((d for d in self.disks if d.lun == lun), None)

    def to_json(self) -> bytes:
        body = asdict(self)
        body["disks"] = [asdict(d) for d in self.disks]
        return json.dumps(body, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, name: str) -> PointManifest:
        try:
            raw = json.loads(data)
            if raw.get("format") != FORMAT:
                raise CorruptObjectError(f"manifest {name} is not a vmvault point manifest")
            if raw.get("version") != VERSION:
                raise CorruptObjectError(
                    f"manifest {name} has version {raw.get('version')!r}; this vmvault reads "
                    f"version {VERSION}"
                )
            disks = tuple(DiskEntry(**d) for d in raw.pop("disks"))
            return cls(disks=disks, **raw)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise CorruptObjectError(f"manifest {name} is damaged: it does not parse") from None
