"""Objects in a dict: a fast, thread-safe ``Storage`` for tests and throwaway vaults.

Nothing survives the process; "durable" here means "visible to every later call". Every other
contract of ``Storage`` holds, and the conformance suite checks it like any other backend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime

from vmvault.clock import SystemClock
from vmvault.storage.base import ObjectInfo, ObjectNotFoundError, check_name


class MemoryStorage:
    """A ``Storage`` holding ``name -> (bytes, modified)`` under one lock.

    ``now`` stamps each write (an aware UTC datetime); pass a ``FakeClock``'s ``now`` to control
    the modified times that garbage-collection safety margins read.
    """

    def __init__(
        self, location: str = "memory://", now: Callable[[], datetime] | None = None
    ) -> None:
        self.location = location
        self._now = now if now is not None else SystemClock().now
        self._objects: dict[str, tuple[bytes, datetime]] = {}
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes) -> None:
        check_name(name)
        entry = (bytes(data), self._now())  # a copy: later changes to a bytearray don't leak in
        with self._lock:
            self._objects[name] = entry

    def get(self, name: str) -> bytes:
        return self._entry(name)[0]

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError(f"invalid range offset={offset} length={length}: both must be >= 0")
        data = self._entry(name)[0]
        return data[offset : offset + length]

    def list(self, prefix: str = "") -> Iterator[str]:
        with self._lock:
            names = [n for n in self._objects if n.startswith(prefix)]
        yield from names

    def stat(self, name: str) -> ObjectInfo:
        data, modified = self._entry(name)
        return ObjectInfo(name=name, size=len(data), modified=modified)

    def delete(self, name: str) -> None:
        check_name(name)
        with self._lock:
            self._objects.pop(name, None)

    def _entry(self, name: str) -> tuple[bytes, datetime]:
        check_name(name)
        with self._lock:
            entry = self._objects.get(name)
        if entry is None:
            raise ObjectNotFoundError(f"object {name!r} not found in {self.location}")
        return entry
