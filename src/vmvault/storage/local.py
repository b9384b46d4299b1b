"""Objects as files under a directory, written durably and atomically.

``put`` writes a temporary file beside the target (``.tmp-<uuid>``), fsyncs it, renames it into
place with ``os.replace`` and fsyncs the directory, so after a crash a name holds either its old
bytes or its new bytes, never a torn mix (the pattern of Proxmox Backup Server's chunk store).
Directories created on the way are fsynced into their parents too.

Limits of a filesystem that other backends do not have: a name cannot be both an object and the
parent of other objects (``a`` and ``a/b``), and no path component may start with ``.tmp-`` (that
prefix marks temporary files, which ``list`` never yields). Deletes are not fsynced: a crash may
bring a deleted object back, and garbage collection deletes it again. Empty directories are left
in place, because removing them would race with a concurrent ``put`` into them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat as stat_mode
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from vmvault.storage.base import ObjectInfo, ObjectNotFoundError, StorageError, check_name

TMP_PREFIX = ".tmp-"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
# Reading a name whose path runs into a file (ENOTDIR) or ends at a directory (EISDIR) means
# the object does not exist.
_MISSING_ON_READ = (errno.ENOENT, errno.ENOTDIR, errno.EISDIR)


class LocalStorage:
    """A ``Storage`` in a local directory, created on the first ``put`` if missing."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        tmp = path.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            self._make_dirs(path.parent)
            write_synced(tmp, data)
            os.replace(tmp, path)
            fsync_dir(path.parent)
        except BaseException as exc:
            # Whatever happened (disk full, I/O error, interrupt), leave no temporary file.
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise self._error("write", name, exc, reading=False) from exc
            raise

    def get(self, name: str) -> bytes:
        path = self._path(name)
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise self._error("read", name, exc, reading=True) from exc

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        path = self._path(name)
        if offset < 0 or length < 0:
            raise ValueError(f"invalid range offset={offset} length={length}: both must be >= 0")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                parts: list[bytes] = []
                while length > 0:
                    part = os.pread(fd, length, offset)
                    if not part:
                        break
                    parts.append(part)
                    offset += len(part)
                    length -= len(part)
                return b"".join(parts)
            finally:
                os.close(fd)
        except OSError as exc:
            raise self._error("read", name, exc, reading=True) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield names starting with ``prefix``, walking only directories that can hold them."""
        base = prefix.rpartition("/")[0]
        if base:
            check_name(base)
        stack = [base]
        while stack:
            rel_dir = stack.pop()
            try:
                with os.scandir(self.root / rel_dir) as entries:
                    found = [
                        (e.name, e.is_dir(follow_symlinks=False), e.is_file()) for e in entries
                    ]
            except (FileNotFoundError, NotADirectoryError):
                continue  # nothing stored there, or the directory went away meanwhile
            except OSError as exc:
                raise self._error("list", rel_dir or ".", exc, reading=True) from exc
            for entry_name, is_dir, is_file in found:
                if entry_name.startswith(TMP_PREFIX):
                    continue
                rel = f"{rel_dir}/{entry_name}" if rel_dir else entry_name
                if is_dir:
                    if (rel + "/").startswith(prefix) or prefix.startswith(rel + "/"):
                        stack.append(rel)
                elif is_file and rel.startswith(prefix):
                    yield rel

    def stat(self, name: str) -> ObjectInfo:
        path = self._path(name)
        try:
            st = os.stat(path)
        except OSError as exc:
            raise self._error("stat", name, exc, reading=True) from exc
        if not stat_mode.S_ISREG(st.st_mode):
            raise self._error("stat", name, OSError(errno.EISDIR, "a directory"), reading=True)
        modified = datetime.fromtimestamp(st.st_mtime, tz=UTC)
        return ObjectInfo(name=name, size=st.st_size, modified=modified)

    def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            os.unlink(path)
        except OSError as exc:
            if exc.errno not in _MISSING_ON_READ:
                raise self._error("delete", name, exc, reading=False) from exc

    def _path(self, name: str) -> Path:
        check_name(name)
        if any(part.startswith(TMP_PREFIX) for part in name.split("/")):
            raise ValueError(f"invalid storage object name {name!r}: {TMP_PREFIX!r} is reserved")
        return self.root / name

    def _make_dirs(self, directory: Path) -> None:
        """Create ``directory`` and its missing parents, fsyncing each new one into its parent."""
        missing: list[Path] = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for new in reversed(missing):
            new.mkdir(exist_ok=True)
            fsync_dir(new.parent)

    def _error(self, op: str, name: str, exc: OSError, *, reading: bool) -> StorageError:
        if reading and exc.errno in _MISSING_ON_READ:
            return ObjectNotFoundError(f"object {name!r} not found in {self.location}")
        if exc.errno in _DISK_FULL:
            return StorageError(
                f"cannot {op} object {name!r} in {self.location}: disk full "
                f"({exc.strerror}); free space there or move the vault to a larger disk"
            )
        return StorageError(
            f"cannot {op} object {name!r} in {self.location}: {exc.strerror or exc}"
        )


def write_synced(path: Path, data: bytes | memoryview) -> None:
    """Create ``path`` (it must not exist), write all of ``data`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
