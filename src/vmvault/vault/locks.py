"""Advisory locks that keep garbage collection and backups apart (docs/vault-format.md).

Each side writes its own lock object, then looks for the other's, so of two that race at least
one sees the other. A backup's lock is rewritten every ``REFRESH`` while it runs; a lock whose
object was last written more than ``STALE_LOCK_AGE`` before ``now`` is a leftover of a crashed
process and is ignored (staleness uses the storage's own modification times).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta

from vmvault.storage.base import ObjectNotFoundError
from vmvault.vault.errors import VaultBusyError
from vmvault.vault.repository import Vault

STALE_LOCK_AGE = timedelta(hours=1)
REFRESH = timedelta(minutes=5)


def _body(kind: str) -> bytes:
    return json.dumps({"kind": kind, "host": socket.gethostname(), "pid": os.getpid()}).encode()


def live_locks(vault: Vault, kind: str, now: datetime) -> list[str]:
    """Names of the locks of ``kind`` that are not stale at ``now``."""
    found = []
    for name in vault.storage.list("locks/"):
        try:
            info = vault.storage.stat(name)
            body = json.loads(vault.storage.get(name))
        except (ObjectNotFoundError, ValueError):
            continue
        if body.get("kind") == kind and now - info.modified < STALE_LOCK_AGE:
            found.append(name)
    return found


@contextmanager
def _lock(vault: Vault, kind: str, other: str, now: datetime, refresh: bool) -> Iterator[None]:
    name = f"locks/{uuid.uuid4().hex}"
    vault.storage.put(name, _body(kind))
    stop = threading.Event()
    try:
        conflicts = live_locks(vault, other, now)
        if conflicts:
            raise VaultBusyError(
                f"vault at {vault.storage.location} is busy: a {other} is running "
                f"({conflicts[0]}); try again when it has finished"
            )
        if refresh:
            threading.Thread(target=_refresher, args=(vault, name, kind, stop), daemon=True).start()
        yield
    finally:
        stop.set()
        vault.storage.delete(name)


def _refresher(vault: Vault, name: str, kind: str, stop: threading.Event) -> None:
    while not stop.wait(REFRESH.total_seconds()):
        vault.storage.put(name, _body(kind))


def backup_lock(vault: Vault, now: datetime) -> AbstractContextManager[None]:
    return _lock(vault, "backup", "garbage collection", now, refresh=True)


def gc_lock(vault: Vault, now: datetime) -> AbstractContextManager[None]:
    return _lock(vault, "garbage collection", "backup", now, refresh=False)
