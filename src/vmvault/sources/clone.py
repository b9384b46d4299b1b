"""Copying a disk image file for a snapshot: a reflink clone where possible, else a sparse copy.

**Reflink** (``FICLONE``, XFS with ``reflink=1`` and btrfs): the new file shares every extent
with the source, so the clone takes O(1) time and space whatever the disk size, and later
writes to either file are copied on write. The kernel takes the source's I/O locks and flushes
its dirty pages for the clone, so the clone is the file as of one instant.

**Copy** where the filesystem cannot clone (ext4, tmpfs, another filesystem than the snapshot
folder's): only the source's data extents are copied (``SEEK_DATA``/``SEEK_HOLE``, then
``copy_file_range``, which the kernel may accelerate), holes stay holes. It takes time in
proportion to the allocated data, so a VM writing meanwhile is caught by the snapshot's
before/after check (``sources/snapshots.py``) rather than here.

**Why not a qcow2 external overlay.** Creating ``overlay.qcow2`` backed by the disk does not
freeze the disk: the VM keeps writing to the base file, so the "snapshot" changes under us. A
qcow2 snapshot is honest only when the writer is switched to a new overlay at the instant (QEMU's
``blockdev-snapshot``), which needs the process running the VM: that is the libvirt source's
job. The files source does not run its VMs, so it copies.

qcow2 images with a *relative* backing file name are fixed up after the copy (``qemu-img
rebase -u`` to the absolute path), because the snapshot lives in another folder and the name
would otherwise resolve there. Backing files are taken to be immutable, as a qcow2 chain needs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

from vmvault.domain.errors import VmvaultError
from vmvault.sources.model import SnapshotMethod

FICLONE = 0x40049409  # _IOW(0x94, 9, int) from linux/fs.h
# errno values meaning "this filesystem (pair) cannot clone": try a copy instead. EXDEV: two
# filesystems; EOPNOTSUPP/ENOTTY: no reflink support; EINVAL: e.g. XFS without reflink=1 or
# unaligned sizes; ENOSYS: no such ioctl at all.
NO_REFLINK = frozenset({errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS})
# errno values of copy_file_range that mean "not here": fall back to read/write.
NO_COPY_RANGE = frozenset({errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL})
COPY_PIECE = 8 << 20  # bytes per copy_file_range / pread call: bounded memory, steady progress
QEMU_IMG_TIMEOUT = 60


def clone_or_copy(src_fd: int, dst: Path) -> SnapshotMethod:
    """Create ``dst`` (which must not exist; mode 0600) as a copy of the open file ``src_fd``.

    Returns ``REFLINK`` or ``COPY``. The data of ``dst`` is fsynced before returning; its
    folder is not (the caller publishes the folder). On any error ``dst`` is removed and the
    ``OSError`` propagates.
    """
    dst_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        if reflink(src_fd, dst_fd):
            method = SnapshotMethod.REFLINK
        else:
            sparse_copy(src_fd, dst_fd)
            method = SnapshotMethod.COPY
        os.fsync(dst_fd)
    except BaseException:
        os.close(dst_fd)
        dst.unlink(missing_ok=True)
        raise
    os.close(dst_fd)
    return method


def copy_disk_file(src: Path, dst: Path) -> SnapshotMethod:
    """``clone_or_copy`` from a path: for restores that put an image back in O(1) on XFS."""
    src_fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return clone_or_copy(src_fd, dst)
    finally:
        os.close(src_fd)


def reflink(src_fd: int, dst_fd: int) -> bool:
    """Clone all of ``src_fd`` into ``dst_fd`` with ``FICLONE``; False if the filesystem can't."""
    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
    except OSError as exc:
        if exc.errno in NO_REFLINK:
            return False
        raise
    return True


def reflink_works(folder: Path) -> bool | None:
    """Whether files in ``folder`` can be reflink-cloned there (``FICLONE`` of a small probe
    file into another, both hidden ``.tmp-`` names, removed at once); None if it cannot be
    told (the folder is missing or not writable)."""
    tag = uuid.uuid4().hex
    src, dst = folder / f".tmp-reflink-{tag}-a", folder / f".tmp-reflink-{tag}-b"
    try:
        src_fd = os.open(src, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    try:
        os.write(src_fd, b"\1" * 65536)
        os.fsync(src_fd)
        dst_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            return reflink(src_fd, dst_fd)
        finally:
            os.close(dst_fd)
    except OSError:
        return None
    finally:
        os.close(src_fd)
        for path in (src, dst):
            with contextlib.suppress(OSError):
                path.unlink()


def sparse_copy(src_fd: int, dst_fd: int) -> None:
    """Copy the data extents of ``src_fd`` into the empty ``dst_fd``; holes stay holes.

    The size is taken once at the start; data beyond it is not copied (a source that grows
    meanwhile is caught by the caller's before/after check).
    """
    size = os.fstat(src_fd).st_size
    os.ftruncate(dst_fd, size)
    for offset, length in data_extents(src_fd, size):
        _copy_range(src_fd, dst_fd, offset, length)


def data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """``(offset, length)`` of each data run in the first ``size`` bytes of ``fd``."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole from here to the end
                return
            if exc.errno != errno.EINVAL:
                raise
            yield offset, size - offset  # no hole reporting here: all of it is data
            return
        if start >= size:
            return
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield start, end - start
        offset = end


def _copy_range(src_fd: int, dst_fd: int, offset: int, length: int) -> None:
    end = offset + length
    while offset < end:
        want = min(COPY_PIECE, end - offset)
        try:
            done = os.copy_file_range(src_fd, dst_fd, want, offset, offset)
        except OSError as exc:
            if exc.errno not in NO_COPY_RANGE:
                raise
            data = os.pread(src_fd, want, offset)
            done = len(data)
            _pwrite_all(dst_fd, data, offset)
        if done == 0:
            raise OSError(errno.EIO, f"source ended at byte {offset} while being copied")
        offset += done


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def absolutize_backing_file(image: Path, original_folder: Path) -> None:
    """If the qcow2 ``image`` names its backing file by a relative path, rewrite the header to
    the absolute path it had beside the original (``original_folder``). Only the header changes
    (``qemu-img rebase -u``); guest-visible content stays the same. Raises ``VmvaultError``
    naming the image when qemu-img fails or is missing."""
    info = _qemu_img(["info", "-f", "qcow2", "--output=json", str(image)], image)
    details = json.loads(info)
    backing = details.get("backing-filename")
    if not backing or os.path.isabs(backing) or ":" in backing.split("/")[0]:
        return  # no backing file, already absolute, or a protocol name (nbd:, json:)
    target = os.path.normpath(original_folder / backing)
    command = ["rebase", "-u", "-f", "qcow2", "-b", target]
    if details.get("backing-filename-format"):
        command += ["-F", details["backing-filename-format"]]
    _qemu_img([*command, str(image)], image)


def _qemu_img(args: list[str], image: Path) -> str:
    try:
        result = subprocess.run(
            ["qemu-img", *args], capture_output=True, text=True, timeout=QEMU_IMG_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise VmvaultError(
            f"qemu-img {args[0]} on {image} did not finish in {QEMU_IMG_TIMEOUT}s",
            code="UserErrorSnapshotFailed",
        ) from exc
    except FileNotFoundError as exc:
        raise VmvaultError(
            f"snapshotting qcow2 image {image} needs qemu-img: install Debian's qemu-utils",
            code="DependencyMissing",
        ) from exc
    if result.returncode != 0:
        raise VmvaultError(
            f"qemu-img {args[0]} failed on {image}: {result.stderr.strip() or result.returncode}",
            code="UserErrorSnapshotFailed",
        )
    return result.stdout
