"""Durable file operations of a files source: publish a file, move one in, remove a folder.

The pattern, and its two helpers, are the storage layer's (``storage/local.py``): write under a
hidden temporary name, fsync, put in place with one atomic step, fsync the folder. "Without
clobbering" uses ``link`` + ``unlink`` rather than ``rename``: ``link`` fails if the name
exists, where ``rename`` would silently replace it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from pathlib import Path

from vmvault.domain.errors import ConflictError
from vmvault.sources.clone import copy_disk_file
from vmvault.storage.local import fsync_dir as fsync_dir
from vmvault.storage.local import write_synced

TMP_PREFIX = ".tmp-"
# link() is refused by a few filesystems (vfat, some FUSE): then check-and-rename instead,
# which has a race window but the same result when nobody else writes the folder.
_NO_LINK = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS})


def publish_file(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically and durably (temp, fsync, link/replace, fsync dir).

    Without ``overwrite`` an existing ``path`` raises ``ConflictError`` and is left as it was.
    """
    tmp = path.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}-{path.name}"
    try:
        write_synced(tmp, data)
        if overwrite:
            os.replace(tmp, path)
        else:
            link_no_clobber(tmp, path)
        fsync_dir(path.parent)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def link_no_clobber(src: Path, dst: Path) -> None:
    """Give ``src`` the extra name ``dst``; ``ConflictError`` if ``dst`` exists. Same filesystem
    only (``OSError`` EXDEV otherwise). ``src`` keeps its name (the caller unlinks it), except
    where links are refused: there ``src`` is renamed to ``dst``."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise _exists(dst) from None
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        if os.path.lexists(dst):
            raise _exists(dst) from None
        os.rename(src, dst)


def move_no_clobber(src: Path, dst: Path) -> None:
    """Move the file ``src`` to ``dst`` (``ConflictError`` if ``dst`` exists).

    On one filesystem this is a link and an unlink: never a copy, never a half file. Across
    filesystems the file is first copied to a hidden name beside ``dst`` (reflink or sparse
    copy, fsynced), then linked into place, then ``src`` is removed; a failure leaves ``src``.
    """
    if os.path.lexists(dst):
        raise _exists(dst)
    try:
        link_no_clobber(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        staged = dst.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}-{dst.name}"
        try:
            copy_disk_file(src, staged)
            link_no_clobber(staged, dst)
        finally:
            staged.unlink(missing_ok=True)
    src.unlink(missing_ok=True)  # gone already when link_no_clobber had to rename
    fsync_dir(dst.parent)


def remove_tree(folder: Path) -> bool:
    """Remove ``folder`` and everything in it; False if it did not exist (idempotent).

    The folder is first renamed to a hidden temporary name, so a crash half-way leaves a
    ``.tmp-`` folder that listings ignore, never a half-deleted folder under its real name.
    """
    doomed = folder.parent / f"{TMP_PREFIX}deleting-{uuid.uuid4().hex}"
    try:
        os.rename(folder, doomed)
    except FileNotFoundError:
        return False
    fsync_dir(folder.parent)
    shutil.rmtree(doomed)
    return True


def _exists(path: Path) -> ConflictError:
    return ConflictError(
        f"{path} already exists: vmvault never overwrites a file it did not create; move it "
        "away or pick another name",
        code="UserErrorFileExists",
    )
