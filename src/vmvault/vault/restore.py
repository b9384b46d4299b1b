"""Restoring disks of a recovery point to image files, verified as they are written.

Every chunk read back is checked against its id (``Vault.get_chunk``), zero chunks are left as
holes, and the image is written under a temporary name and renamed into place only when
complete, so a failed restore never leaves a file that looks whole.
"""

from __future__ import annotations

import errno
import os
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vmvault.vault.allocator import ALIGN, keep_chunk_buffers, thread_buffer
from vmvault.vault.backup import Progress, default_workers
from vmvault.vault.crypto import ZERO_ID
from vmvault.vault.errors import VaultError
from vmvault.vault.manifest import PointManifest
from vmvault.vault.repository import Vault

FORMATS = ("raw", "qcow2")


@dataclass(frozen=True)
class RestoredDisk:
    lun: int
    path: Path
    size: int
    data_chunks: int


def restore_disk(
    vault: Vault,
    manifest: PointManifest,
    lun: int,
    target: Path,
    *,
    image_format: str = "raw",
    workers: int | None = None,
    progress: Progress | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RestoredDisk:
    """Write disk ``lun`` of the point to ``target`` (which must not exist yet)."""
    if image_format not in FORMATS:
        raise VaultError(f"format {image_format!r} is not valid: allowed values are raw, qcow2")
    if target.exists():
        raise VaultError(f"{target} already exists: restore into a new file")
    keep_chunk_buffers()
    index = vault.read_index(manifest, lun)
    raw = target.with_name(f".{target.name}.partial")
    progress = progress or Progress()
    data = [i for i, cid in enumerate(index.ids) if cid != ZERO_ID]
    progress.total_bytes += sum(index.chunk_length(i) for i in data)
    fd = os.open(raw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    direct = _open_direct(raw)
    try:
        os.ftruncate(fd, index.size)  # sparse: zero chunks are never written

        stopped = threading.Event()  # a chunk failed (or on_progress raised): skip the rest

        def one(i: int) -> None:
            if stopped.is_set():
                return
            try:
                length = index.chunk_length(i)
                buf = thread_buffer("restore", index.chunk_size)
                chunk = vault.read_chunk_into(index.ids[i], buf, length)
                offset = i * index.chunk_size
                if direct is None or length % ALIGN or not _write_direct(direct, chunk, offset):
                    _write_all(fd, chunk, offset)
                progress.add(length, length, 0, 0)
                if on_progress is not None:
                    on_progress(progress)
            except BaseException:
                stopped.set()
                raise

        with ThreadPoolExecutor(workers or default_workers()) as pool:
            for _ in pool.map(one, data):
                pass
        os.fsync(fd)
    except BaseException:
        _close(fd, direct)
        raw.unlink(missing_ok=True)
        raise
    _close(fd, direct)
    if image_format == "qcow2":
        _to_qcow2(raw, target)
    else:
        os.replace(raw, target)
    return RestoredDisk(lun, target, index.size, len(data))


def _open_direct(path: Path) -> int | None:
    """A descriptor that writes around the page cache (O_DIRECT), where the filesystem has it.

    Whole chunks are written through it straight from the thread's aligned buffer; a short last
    chunk goes through the ordinary descriptor. ``fsync`` of either makes both durable.
    """
    try:
        return os.open(path, os.O_WRONLY | os.O_DIRECT | os.O_CLOEXEC)
    except OSError:
        return None


def _write_direct(fd: int, data: memoryview, offset: int) -> bool:
    """Write through the page-cache bypass; False if the filesystem refuses it (EINVAL)."""
    try:
        _write_all(fd, data, offset)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return False
    return True


def _write_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def _close(fd: int, direct: int | None) -> None:
    os.close(fd)
    if direct is not None:
        os.close(direct)


def _to_qcow2(raw: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.qcow2.partial")
    try:
        subprocess.run(
            ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(partial)],
            check=True,
            capture_output=True,
            text=True,
        )
        os.replace(partial, target)
    except FileNotFoundError:
        raise VaultError("restoring to qcow2 needs qemu-img: install Debian's qemu-utils") from None
    except subprocess.CalledProcessError as exc:
        raise VaultError(f"qemu-img convert to {target} failed: {exc.stderr.strip()}") from None
    finally:
        raw.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
