"""Which processes hold a file open: how a files source tells that a VM is running.

A running QEMU keeps every disk image of its VM open (and the backing files of qcow2 chains),
so a VM is taken to be running when any process has one of its disk files open. The open files
of a process are the symlinks in ``/proc/<pid>/fd``; each target that is a path is compared by
device and inode (not by name), so symlinks, bind mounts and renames do not fool the check.

Limits, stated rather than hidden: only processes on this host (and in this PID namespace) are
seen; processes of other users are seen only when vmvault runs as root or as their owner (the
others are skipped); this process itself is not counted (its own disk readers are not a VM).
A VM started after the check is not seen, so callers check right before acting.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Holder:
    """A process with a file open: its PID, its command name and the file (as given)."""

    pid: int
    command: str
    path: Path


def holders(paths: Iterable[Path], *, proc: Path = PROC) -> list[Holder]:
    """Every (process, file) pair where a process other than this one has one of ``paths``
    open, sorted by PID. Paths that do not exist are held by nobody."""
    wanted: dict[tuple[int, int], Path] = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        wanted.setdefault((st.st_dev, st.st_ino), path)
    if not wanted:
        return []
    found: list[Holder] = []
    me = os.getpid()
    with os.scandir(proc) as entries:
        pids = [e.name for e in entries if e.name.isdigit() and int(e.name) != me]
    for pid in pids:
        for path in _open_files(proc / pid, wanted):
            found.append(Holder(int(pid), _command(proc / pid), path))
    return sorted(found, key=lambda h: (h.pid, str(h.path)))


def _open_files(process: Path, wanted: dict[tuple[int, int], Path]) -> set[Path]:
    fd_dir = process / "fd"
    hits: set[Path] = set()
    try:
        with os.scandir(fd_dir) as listing:
            entries = list(listing)
    except OSError:  # exited meanwhile, or another user's process and we are not root
        return hits
    for fd in entries:
        try:
            # Sockets, pipes and anonymous inodes read as "socket:[123]" and the like: only a
            # target that is a path can be a disk image, so only those are stat'ed.
            if not os.readlink(fd.path).startswith("/"):
                continue
            st = os.stat(fd.path)  # follows the magic link to the open file itself
        except OSError:
            continue  # closed meanwhile
        path = wanted.get((st.st_dev, st.st_ino))
        if path is not None:
            hits.add(path)
    return hits


def _command(process: Path) -> str:
    try:
        return (process / "comm").read_text().strip()
    except OSError:
        return "?"
