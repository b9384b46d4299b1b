"""Can this process create and write a folder? Asked before work is queued or a vault created,
so that a read-only filesystem, a file in the way or a missing permission is reported at once,
naming the path, instead of as a failure (or a traceback) later.
"""

from __future__ import annotations

import errno
import os
import stat
import uuid
from pathlib import Path

PROBE_PREFIX = ".tmp-probe-"


def folder_problem(path: Path) -> str | None:
    """None if ``path`` is a folder this process can create files in, or can be created as
    one; else why not, in words for an error message (``"/x is a file, not a folder"``,
    ``"/x/y is under /x, which is a file"``, ``"/x is not writable: Read-only file system"``).

    The test is real, not a guess from permission bits (root ignores them, a read-only mount
    does not): an empty probe file is created in ``path``, or in its nearest existing parent
    when ``path`` does not exist yet, and removed at once. Nothing else is written.
    """
    path = Path(path)
    existing = path
    while True:
        try:
            st = os.stat(existing)
            break
        except (FileNotFoundError, NotADirectoryError):  # not there, or under a file: look up
            if existing.parent == existing:
                return f"{path} cannot be created: no part of it exists"
            existing = existing.parent
        except OSError as exc:
            return f"{existing} cannot be checked: {exc.strerror or exc}"
    if not stat.S_ISDIR(st.st_mode):
        if existing == path:
            return f"{path} is a file, not a folder"
        return f"{path} is under {existing}, which is a file, not a folder"
    probe = existing / f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        reason = "read-only file system" if exc.errno == errno.EROFS else exc.strerror or exc
        return f"{existing} is not writable ({reason})"
    os.close(fd)
    os.unlink(probe)
    return None
