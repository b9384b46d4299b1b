"""The storage interface every backend implements, and its errors.

Names are relative, '/'-separated paths of printable characters (``chunks/ab/abcd...``,
``points/web01/rp-1.json``); ``check_name`` says which are allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vmvault.domain.errors import VmvaultError


class StorageError(VmvaultError):
    """The backend failed (disk full, permission, network, S3 error); the message says why."""

    code = "StorageError"


class ObjectNotFoundError(StorageError):
    code = "StorageObjectNotFound"


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int
    modified: datetime  # aware UTC; when the object was last written


class Storage(Protocol):
    """Bytes under names.

    Contracts every backend keeps (and the conformance suite checks):

    * ``put`` is atomic and durable: once it returns, the object survives a crash or power
      loss, and a reader never sees a partial object. Putting an existing name replaces it.
    * ``get``/``get_range``/``stat`` raise ObjectNotFoundError for a missing name.
    * ``get_range`` returns at most ``length`` bytes from ``offset`` (fewer at the end).
    * ``list(prefix)`` yields every name starting with ``prefix``, recursively, in any order.
    * ``delete`` is idempotent: deleting a missing name is not an error.
    * Every other failure raises StorageError with a message naming the object.
    * Backends are safe to call from several threads at once.
    """

    location: str

    def put(self, name: str, data: bytes) -> None: ...

    def get(self, name: str) -> bytes: ...

    def get_range(self, name: str, offset: int, length: int) -> bytes: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def stat(self, name: str) -> ObjectInfo: ...

    def delete(self, name: str) -> None: ...


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid object name, else raise ValueError."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 32 for c in name)
    ):
        raise ValueError(f"invalid storage object name {name!r}")
    return name
