"""Chunk buffers: glibc tuning, and page-aligned per-thread buffers for direct I/O.

Backup and restore allocate and free several 4 MiB buffers per chunk (read data, compressed
and sealed forms) from a few threads. glibc serves such sizes with ``mmap`` or trims them back
off the top of a thread's heap as soon as they are freed, so every chunk paid for 1,024 fresh
page faults per buffer, each page zeroed by the kernel: on the benchmark image that was about
40% of a restore's CPU time and 17% of a backup's (``perf``, README "Performance").

``keep_chunk_buffers()`` raises the mmap and trim thresholds once per process with
``mallopt``, so freed buffers are reused from the heap. Peak memory is unchanged (in-flight
chunks are bounded by the pipelines); only memory already used stays mapped. On a C library
without ``mallopt`` (musl) it does nothing.

``thread_buffer`` gives each pipeline thread one page-aligned buffer that it reuses for every
chunk (reads with ``O_DIRECT`` land in it, restores decompress into it and write it out).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import threading

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest; above the default 4 MiB chunks
TRIM_THRESHOLD = 256 << 20

# O_DIRECT needs offsets, lengths and buffer addresses aligned to the logical block size, which
# is 512 or 4096 bytes; 4096 covers both.
ALIGN = 4096

_done = False
_threads = threading.local()
_lock = threading.Lock()


def keep_chunk_buffers() -> bool:
    """Tune the allocator once; True if it was (now or earlier) tuned."""
    global _done
    with _lock:
        if not _done:
            _done = _mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and _mallopt(
                M_TRIM_THRESHOLD, TRIM_THRESHOLD
            )
        return _done


def _mallopt(param: int, value: int) -> bool:
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(ctypes.c_int(param), ctypes.c_int(value)))


def aligned_buffer(size: int) -> mmap.mmap:
    """A page-aligned buffer of ``size`` bytes rounded up to ``ALIGN``."""
    return mmap.mmap(-1, -(-size // ALIGN) * ALIGN)


def thread_buffer(kind: str, size: int) -> mmap.mmap:
    """This thread's buffer of ``kind`` holding at least ``size`` bytes. A thread finishes with
    a chunk before it starts the next, so one buffer per thread and kind is enough."""
    buffers: dict[str, mmap.mmap] = _threads.__dict__.setdefault("buffers", {})
    buf = buffers.get(kind)
    if buf is None or len(buf) < size:
        buf = buffers[kind] = aligned_buffer(size)
    return buf
