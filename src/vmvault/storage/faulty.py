"""A ``Storage`` wrapper that injects faults, so tests can prove the vault survives them.

With no rules it is a transparent pass-through (it passes the conformance suite). Rules are set
and cleared at any time, from any thread::

    store = FaultyStorage(MemoryStorage())
    store.fail_puts(after=3, matching="chunks/")  # the 4th and later chunk writes fail
    store.disk_full(matching="points/")           # a manifest write finds the disk full
    store.corrupt_gets(matching="chunks/ab")      # reads of those chunks come back with a bit-flip
    store.clear()
    store.calls["put"]                            # how many puts were attempted

A failed put never reaches the inner store, so the object does not appear (an existing one keeps
its old bytes): that is what an atomic backend leaves after a write that dies half way, from a
torn network transfer to a crash before the rename. ``fail(..., after_write=True)`` is the other
case, a lost acknowledgement: the write lands but the caller still sees an error.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, get_args

from vmvault.storage.base import ObjectInfo, Storage, StorageError, check_name

Op = Literal["put", "get", "get_range", "list", "stat", "delete"]
OPS: tuple[str, ...] = get_args(Op)
Matching = str | Callable[[str], bool] | None  # a name prefix, a predicate, or every name
ErrorSpec = BaseException | Callable[[str], BaseException] | None  # None: a StorageError


@dataclass
class _Failure:
    op: str
    matches: Callable[[str], bool]
    error: Callable[[str], BaseException]
    after: int  # matching calls that succeed before the first failure
    times: int | None  # failures before the rule goes quiet; None: forever
    after_write: bool
    seen: int = 0
    fired: int = 0

    def fires(self, name: str) -> bool:
        """Count a call of this rule's op on ``name``; True if it must fail (caller holds lock)."""
        if not self.matches(name):
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


@dataclass(frozen=True)
class _Corruption:
    matches: Callable[[str], bool]
    position: int


class FaultyStorage:
    """Wraps ``inner``; fails or corrupts the calls that match its rules, counts every call."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.location = inner.location
        self.calls: Counter[str] = Counter()
        self._failures: list[_Failure] = []
        self._corruptions: list[_Corruption] = []
        self._lock = threading.Lock()

    # -- rules -------------------------------------------------------------------------------

    def fail(
        self,
        op: Op,
        *,
        after: int = 0,
        matching: Matching = None,
        times: int | None = None,
        error: ErrorSpec = None,
        after_write: bool = False,
    ) -> None:
        """Make calls of ``op`` on matching names fail, after ``after`` of them succeeded.

        ``times`` bounds the failures (``after=N-1, times=1`` fails exactly the Nth call).
        ``error`` is the exception raised (an instance, or a factory given the name); default a
        StorageError naming the object. ``after_write`` (puts only) writes before failing.
        """
        if op not in OPS:
            raise ValueError(f"unknown storage operation {op!r}: expected one of {OPS}")
        if after_write and op != "put":
            raise ValueError("after_write applies to 'put' only")
        error_of = self._error_factory(op, error)
        rule = _Failure(op, _matcher(matching), error_of, after, times, after_write)
        with self._lock:
            self._failures.append(rule)

    def fail_puts(
        self,
        *,
        after: int = 0,
        matching: Matching = None,
        times: int | None = None,
        error: ErrorSpec = None,
    ) -> None:
        """Fail puts (nothing is written); see ``fail``."""
        self.fail("put", after=after, matching=matching, times=times, error=error)

    def disk_full(
        self, *, after: int = 0, matching: Matching = None, times: int | None = None
    ) -> None:
        """Fail puts with the StorageError a backend raises on ENOSPC ("disk full")."""

        def error(name: str) -> StorageError:
            return StorageError(
                f"cannot write object {name!r} in {self.location}: disk full "
                "(injected ENOSPC); free space there or move the vault to a larger disk"
            )

        self.fail("put", after=after, matching=matching, times=times, error=error)

    def corrupt_gets(self, *, matching: Matching = None, position: int = 0) -> None:
        """Flip every bit of one byte (at ``position`` modulo the length) in data read back.

        Applies to ``get`` and ``get_range``; the stored object is untouched.
        """
        with self._lock:
            self._corruptions.append(_Corruption(_matcher(matching), position))

    def clear(self) -> None:
        """Remove every rule; call counts are kept."""
        with self._lock:
            self._failures.clear()
            self._corruptions.clear()

    # -- Storage -----------------------------------------------------------------------------

    def put(self, name: str, data: bytes) -> None:
        failure = self._check("put", name)
        if failure is None or failure.after_write:
            self.inner.put(name, data)
        if failure is not None:
            raise failure.error(name)

    def get(self, name: str) -> bytes:
        self._raise_if_failing("get", name)
        return self._corrupt(name, self.inner.get(name))

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        self._raise_if_failing("get_range", name)
        return self._corrupt(name, self.inner.get_range(name, offset, length))

    def list(self, prefix: str = "") -> Iterator[str]:
        failure = self._check("list", prefix, validate=False)
        if failure is not None:
            raise failure.error(prefix)
        yield from self.inner.list(prefix)

    def stat(self, name: str) -> ObjectInfo:
        self._raise_if_failing("stat", name)
        return self.inner.stat(name)

    def delete(self, name: str) -> None:
        self._raise_if_failing("delete", name)
        self.inner.delete(name)

    # -- internals ---------------------------------------------------------------------------

    def _check(self, op: str, name: str, *, validate: bool = True) -> _Failure | None:
        """Count the call and return the first rule that makes it fail, if any."""
        if validate:
            check_name(name)
        with self._lock:
            self.calls[op] += 1
            return next((f for f in self._failures if f.op == op and f.fires(name)), None)

    def _raise_if_failing(self, op: str, name: str) -> None:
        failure = self._check(op, name)
        if failure is not None:
            raise failure.error(name)

    def _corrupt(self, name: str, data: bytes) -> bytes:
        with self._lock:
            rule = next((c for c in self._corruptions if c.matches(name)), None)
        if rule is None or not data:
            return data
        flipped = bytearray(data)
        flipped[rule.position % len(flipped)] ^= 0xFF
        return bytes(flipped)

    def _error_factory(self, op: str, error: ErrorSpec) -> Callable[[str], BaseException]:
        if error is None:
            return lambda name: StorageError(
                f"cannot {op} object {name!r} in {self.location}: injected fault"
            )
        if isinstance(error, BaseException):
            instance = error
            return lambda name: instance
        return error


def _matcher(matching: Matching) -> Callable[[str], bool]:
    if matching is None:
        return lambda name: True
    if isinstance(matching, str):
        prefix = matching
        return lambda name: name.startswith(prefix)
    return matching
