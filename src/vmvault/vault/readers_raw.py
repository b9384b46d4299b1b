"""Raw disks: image files (sparse-aware) and block devices.

``open_image_fd`` is the one place a disk path is opened and checked, so every reader reports a
missing, unreadable or wrong-kind path with the same vmvault error (naming the path).
"""

from __future__ import annotations

import errno
import mmap
import os
import stat
from collections.abc import Iterator

from vmvault.domain.errors import InvalidInputError, NotFoundError
from vmvault.vault.allocator import ALIGN as DIRECT_ALIGN
from vmvault.vault.disks import Extent


def open_image_fd(path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    """Open ``path`` read-only and return ``(fd, fstat)``; the caller owns ``fd``.

    Raises ``NotFoundError`` when the path (or a folder in it) does not exist,
    ``InvalidInputError`` when it cannot be read or is neither a regular file nor a block
    device (a folder opens fine with ``O_RDONLY``, hence the explicit check).
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise NotFoundError(f"disk image {name} does not exist") from exc
    except PermissionError as exc:
        raise InvalidInputError(
            f"disk image {name} is not readable (permission denied): grant read access to the "
            "user running vmvault",
            code="UserErrorDiskNotReadable",
        ) from exc
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise NotFoundError(f"disk image {name} does not exist") from exc
        raise InvalidInputError(
            f"disk image {name} cannot be opened: {exc.strerror}",
            code="UserErrorDiskNotReadable",
        ) from exc
    st = os.fstat(fd)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        os.close(fd)
        raise InvalidInputError(
            f"disk image {name} is not a regular file or a block device",
            code="UserErrorDiskNotReadable",
        )
    return fd, st


class RawDiskReader:
    """A raw disk: a regular file (holes found with SEEK_DATA/SEEK_HOLE) or a block device.

    ``size`` is fixed when the reader opens (a file's ``st_size``; a block device's length from
    ``lseek(SEEK_END)``, which needs no ioctl). Reads use ``pread`` on one descriptor, which
    carries no file position, so any number of threads may read at once without a lock.
    ``close()`` must not race with reads: the descriptor number could be reused meanwhile.
    Open-time errors are the vmvault errors of ``open_image_fd``; I/O errors are ``OSError``.
    """

    def __init__(self, path: str | os.PathLike[str], *, direct: bool = False) -> None:
        self.path = os.fspath(path)
        self._fd, st = open_image_fd(self.path)
        self.is_block_device = stat.S_ISBLK(st.st_mode)
        if self.is_block_device:
            self.size = os.lseek(self._fd, 0, os.SEEK_END)
        else:
            self.size = st.st_size
        self._direct = _open_direct(self.path) if direct else None
        self._direct_refused = False  # set once; the descriptor stays open until close()
        self._closed = False

    def allocated(self) -> Iterator[Extent]:
        """Extents that may hold data, sorted and maximal (``SEEK_DATA``/``SEEK_HOLE`` runs).

        A block device, or a filesystem without hole reporting, gives one extent for the whole
        disk: there ``SEEK_DATA`` returns the offset itself and ``SEEK_HOLE`` the end of file,
        which is the same answer. Only the first ``size`` bytes are considered.
        """
        self._check_open()
        if self.size == 0:
            return
        if self.is_block_device:
            yield Extent(0, self.size)
            return
        offset = 0
        while offset < self.size:
            try:
                start = os.lseek(self._fd, offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no data at or after offset: the rest is a hole
                    return
                if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):  # no hole support at all
                    yield Extent(offset, self.size - offset)
                    return
                raise
            if start >= self.size:
                return
            # There is always a virtual hole at end of file, so SEEK_HOLE cannot fail with ENXIO
            # here; the file may have grown since open, hence the clamp to ``size``.
            end = min(os.lseek(self._fd, start, os.SEEK_HOLE), self.size)
            yield Extent(start, end - start)
            offset = end

    def read(self, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``offset``; zeros past ``size`` (or where the file shrank).

        ``pread`` may return fewer bytes than asked (signals, large requests), so it loops.
        """
        self._check_open()
        if offset < 0 or length < 0:
            raise ValueError(
                f"read range must be non-negative, got offset={offset} length={length}"
            )
        wanted = max(0, min(length, self.size - offset))
        data = os.pread(self._fd, wanted, offset) if wanted else b""
        if len(data) < wanted:
            pieces = [data]
            got = len(data)
            while got < wanted:
                piece = os.pread(self._fd, wanted - got, offset + got)
                if not piece:  # end of file moved below ``size``: the rest reads as zeros
                    break
                pieces.append(piece)
                got += len(piece)
            data = b"".join(pieces)
        if len(data) < length:
            data += bytes(length - len(data))
        return data

    def read_into(self, offset: int, length: int, buf: mmap.mmap) -> memoryview:
        """Read like ``read`` into ``buf`` and return a view of its first ``length`` bytes.

        ``buf`` must hold ``length`` rounded up to 4 KiB; no new buffer is allocated per read.
        A reader opened with ``direct=True`` reads aligned ranges around the page cache
        (``O_DIRECT``, where the filesystem allows it): no copy, and the host's cached data is
        not evicted. It is off by default because the kernel's read-ahead made buffered reads
        faster on the benchmark's virtio disk (5.8 GB read and hashed by 8 threads: 5.7 s
        buffered, 7.0 s direct). Anything else is read through the page cache.
        """
        self._check_open()
        if offset < 0 or length < 0:
            raise ValueError(
                f"read range must be non-negative, got offset={offset} length={length}"
            )
        view = memoryview(buf)
        wanted = max(0, min(length, self.size - offset))
        got = 0
        if (
            self._direct is not None
            and not self._direct_refused
            and offset % DIRECT_ALIGN == 0
            and wanted
        ):
            got = self._read_direct(view, offset, wanted)
        while got < wanted:
            n = os.preadv(self._fd, [view[got:wanted]], offset + got)
            if n == 0:  # end of file moved below ``size``: the rest reads as zeros
                break
            got += n
        got = min(got, wanted)
        if got < length:  # past the end: zeros (rare, so a temporary zero block is fine)
            view[got:length] = bytes(length - got)
        return view[:length]

    def _read_direct(self, view: memoryview, offset: int, wanted: int) -> int:
        """Bytes read with O_DIRECT (whole 4 KiB blocks, may pass ``wanted``); 0 if the
        filesystem refuses it, which turns O_DIRECT off for this reader. The descriptor is not
        closed here: other threads may be reading through it, and a closed number can be
        reused by another file at once."""
        assert self._direct is not None
        span = -(-wanted // DIRECT_ALIGN) * DIRECT_ALIGN
        got = 0
        try:
            while got < wanted:
                n = os.preadv(self._direct, [view[got:span]], offset + got)
                got += n
                if n == 0 or n % DIRECT_ALIGN:  # end of file: the rest is read below
                    break
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self._direct_refused = True
            return 0
        return got

    def close(self) -> None:
        """Close the descriptors; idempotent."""
        if not self._closed:
            self._closed = True
            os.close(self._fd)
            if self._direct is not None:
                os.close(self._direct)

    def __enter__(self) -> RawDiskReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "block device" if self.is_block_device else "file"
        return f"RawDiskReader({self.path!r}, {kind}, size={self.size})"

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"reader of {self.path} is closed")


def _open_direct(path: str) -> int | None:
    """A second descriptor with O_DIRECT, or None where the filesystem has no direct I/O
    (tmpfs, some FUSE and network filesystems)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECT)
    except OSError:
        return None
