"""Shared builders for the vault tests: images with known content, readers that count."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from vmvault.vault.disks import DiskReader, Extent

MiB = 1024 * 1024
CHUNK = 256 * 1024  # small chunks keep the tests fast while exercising many chunks


def write_image(path: Path, size: int, writes: dict[int, bytes]) -> Path:
    """A sparse raw image of ``size`` with ``writes`` (offset -> bytes) and holes elsewhere."""
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in writes.items():
            f.seek(offset)
            f.write(data)
    return path


def mixed_data(n: int, seed: int) -> bytes:
    """Half random, half compressible bytes (like real files)."""
    rnd = hashlib.sha256(str(seed).encode()).digest() * (n // 64 + 1)
    return (os.urandom(n // 2) + rnd)[:n]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 * MiB), b""):
            h.update(block)
    return h.hexdigest()


def qcow2_to_raw_sha(path: Path, tmp: Path) -> str:
    raw = tmp / (path.name + ".check.raw")
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(path), str(raw)], check=True)
    try:
        return sha256_file(raw)
    finally:
        raw.unlink()


class CountingReader:
    """Wraps a reader; records every range read and the peak number of concurrent reads."""

    def __init__(self, inner: DiskReader) -> None:
        self.inner = inner
        self.size = inner.size
        self.reads: list[tuple[int, int]] = []
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def allocated(self) -> Iterator[Extent]:
        return self.inner.allocated()

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:
            self.reads.append((offset, length))
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            return self.inner.read(offset, length)
        finally:
            with self._lock:
                self.active -= 1

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> CountingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
