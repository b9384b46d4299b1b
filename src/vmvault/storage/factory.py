"""Open the ``Storage`` a vault's location string names.

Locations:

* ``s3://BUCKET[/PREFIX]``: ``S3Storage``. The endpoint is ``options["endpoint_url"]``, else
  ``VMVAULT_S3_ENDPOINT``, else ``AWS_ENDPOINT_URL``, else AWS itself; the region is
  ``options["region"]``, else ``AWS_DEFAULT_REGION``, else ``AWS_REGION``. Credentials are
  ``options["access_key"]``/``["secret_key"]``/``["session_token"]`` when given, else boto3's
  default chain (``AWS_ACCESS_KEY_ID``... , profiles, instance roles).
* ``memory://NAME``: a ``MemoryStorage`` shared by every ``open_storage`` of that name in this
  process (tests open one vault from several places this way).
* ``file:///PATH`` or any string without ``://``: ``LocalStorage`` in that directory.

Options only configure S3 and are ignored for other locations; an unknown option key is an error,
so a typo does not silently fall back to a default.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from vmvault.storage.base import Storage, StorageError, check_name
from vmvault.storage.local import LocalStorage
from vmvault.storage.memory import MemoryStorage

if TYPE_CHECKING:
    from vmvault.storage.s3 import S3Storage

ALLOWED = "a directory path, file:///PATH, s3://BUCKET[/PREFIX] or memory://NAME"
OPTION_KEYS = ("endpoint_url", "region", "access_key", "secret_key", "session_token")
# Lenient on purpose: MinIO and Ceph accept some names AWS refuses; the server has the last word.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")

_memory_stores: dict[str, MemoryStorage] = {}
_memory_lock = threading.Lock()


def open_storage(location: str, options: Mapping[str, str] | None = None) -> Storage:
    """Return the backend for ``location``; raise StorageError for a location it can't open."""
    options = options or {}
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise StorageError(
            f"unknown storage option {', '.join(unknown)} for {location!r}: "
            f"allowed are {', '.join(OPTION_KEYS)}"
        )
    scheme, sep, rest = location.partition("://")
    if not sep:
        if not location.strip():
            raise StorageError(f"storage location {location!r} is empty: use {ALLOWED}")
        return LocalStorage(Path(location).expanduser())
    if scheme == "s3":
        return _open_s3(location, rest, options)
    if scheme == "memory":
        if not rest:
            raise StorageError(f"storage location {location!r} names no store: use memory://NAME")
        with _memory_lock:
            return _memory_stores.setdefault(rest, MemoryStorage(location))
    if scheme == "file" and rest.startswith("/"):
        return LocalStorage(Path(rest))
    raise StorageError(f"unsupported storage location {location!r}: use {ALLOWED}")


def forget_memory_storages() -> None:
    """Drop every ``memory://`` store of this process (for test isolation)."""
    with _memory_lock:
        _memory_stores.clear()


def _open_s3(location: str, rest: str, options: Mapping[str, str]) -> S3Storage:
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise StorageError(
            f"storage location {location!r} has no valid bucket name {bucket!r}: use "
            "s3://BUCKET[/PREFIX] with a bucket of 3-255 letters, digits, '.', '-' or '_'"
        )
    prefix = prefix.strip("/")
    try:
        if prefix:
            check_name(prefix)
    except ValueError:
        raise StorageError(
            f"storage location {location!r} has an invalid prefix {prefix!r}: use '/'-separated "
            "parts without empty, '.' or '..' parts"
        ) from None
    # boto3 takes a tenth of a second to import: only a command that opens S3 pays for it.
    from vmvault.storage.s3 import S3Storage

    env = os.environ
    return S3Storage(
        bucket,
        prefix,
        endpoint_url=(
            options.get("endpoint_url")
            or env.get("VMVAULT_S3_ENDPOINT")
            or env.get("AWS_ENDPOINT_URL")
            or None
        ),
        region=options.get("region") or env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION"),
        access_key=options.get("access_key"),
        secret_key=options.get("secret_key"),
        session_token=options.get("session_token"),
    )
