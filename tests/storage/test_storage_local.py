"""LocalStorage specifics: atomic, durable writes and the mapping of OS errors.

The disk-full test uses a real 1 MiB tmpfs when it can mount one (root, or CAP_SYS_ADMIN); where
mounting is refused it falls back to an ``os.write`` that raises ENOSPC past 1 MiB, and says so
with a warning in the test summary.
"""

from __future__ import annotations

import errno
import os
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from vmvault.storage.base import ObjectNotFoundError, StorageError
from vmvault.storage.local import TMP_PREFIX, LocalStorage

MiB = 1024 * 1024


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TMP_PREFIX)]


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


@pytest.fixture
def tiny_fs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on a 1 MiB filesystem (real tmpfs if it can be mounted)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    cmd = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)]
    mounted = subprocess.run(cmd, capture_output=True, check=False).returncode == 0
    if not mounted:
        warnings.warn(
            "cannot mount a tmpfs here: ENOSPC simulated by patching os.write", stacklevel=1
        )
        real_write, written = os.write, [0]

        def write(fd: int, data: bytes | memoryview) -> int:
            if written[0] + len(data) > MiB:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written[0] += len(data)
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", write)
    try:
        yield mount_point
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_disk_full_is_a_storage_error_and_leaves_nothing_behind(tiny_fs: Path) -> None:
    store = LocalStorage(tiny_fs / "vault")
    store.put("small", b"kept")
    with pytest.raises(StorageError) as info:
        store.put("chunks/ab/big", os.urandom(2 * MiB))
    message = str(info.value)
    assert "disk full" in message
    assert "chunks/ab/big" in message and str(tiny_fs / "vault") in message
    assert not isinstance(info.value, ObjectNotFoundError)
    assert _temp_files(tiny_fs) == []
    assert sorted(store.list()) == ["small"]
    store.put("after", b"space was given back")  # the temp file's blocks were freed
    assert store.get("after") == b"space was given back"


@pytest.mark.parametrize("fail_in", ["write", "fsync"])
def test_failed_write_leaves_no_object_and_no_temp_file(
    store: LocalStorage, monkeypatch: pytest.MonkeyPatch, fail_in: str
) -> None:
    store.put("points/rp-1", b"old bytes")
    real = getattr(os, fail_in)
    calls = [0]
    # A write fails after the first 1000 bytes went through; an fsync fails at the file's fsync.
    first_failing_call = 2 if fail_in == "write" else 1

    def failing(*args: object) -> object:
        calls[0] += 1
        if calls[0] >= first_failing_call:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(*args)

    monkeypatch.setattr(os, fail_in, failing)
    if fail_in == "write":  # short writes: the put's loop calls os.write more than once
        monkeypatch.setattr(os, "write", lambda fd, data: failing(fd, data[:1000]))
    with pytest.raises(StorageError, match="Input/output error"):
        store.put("points/rp-1", b"new bytes " * 500)
    calls[0] = 0
    with pytest.raises(StorageError, match="'points/rp-2'"):
        store.put("points/rp-2", b"x" * 5000)
    monkeypatch.undo()
    assert store.get("points/rp-1") == b"old bytes"
    with pytest.raises(ObjectNotFoundError):
        store.get("points/rp-2")
    assert _temp_files(store.root) == []
    assert sorted(store.list()) == ["points/rp-1"]


def test_interrupted_write_removes_its_temp_file(
    store: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.put("x/y", b"data")
    monkeypatch.undo()
    assert _temp_files(store.root) == []
    assert list(store.list()) == []


def test_put_fsyncs_file_and_every_new_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStorage(tmp_path / "root")
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store.put("a/b/obj", b"data")
    temp = [p for p in synced if Path(p).name.startswith(TMP_PREFIX)]
    root = tmp_path / "root"
    # parents of new directories, then the temp file, then the object's directory
    assert synced == [str(tmp_path), str(root), str(root / "a"), *temp, str(root / "a" / "b")]
    assert len(temp) == 1 and Path(temp[0]).parent == root / "a" / "b"
    synced.clear()
    store.put("a/b/other", b"data")
    assert len(synced) == 2 and synced[1] == str(root / "a" / "b")


def test_list_never_shows_temp_files(store: LocalStorage) -> None:
    store.put("chunks/ab/ab01", b"1")
    (store.root / "chunks" / "ab" / f"{TMP_PREFIX}0123abcd").write_bytes(b"partial")
    (store.root / f"{TMP_PREFIX}dir").mkdir()
    (store.root / f"{TMP_PREFIX}dir" / "inside").write_bytes(b"partial")
    assert list(store.list()) == ["chunks/ab/ab01"]
    assert list(store.list("chunks/ab/")) == ["chunks/ab/ab01"]
    with pytest.raises(ValueError, match="reserved"):
        store.put(f"chunks/{TMP_PREFIX}x", b"1")
    with pytest.raises(ValueError):
        store.get(f"{TMP_PREFIX}dir/inside")


def test_a_directory_is_not_an_object(store: LocalStorage) -> None:
    store.put("a/b", b"1")
    for read in (store.get, store.stat):
        with pytest.raises(ObjectNotFoundError):
            read("a")
    with pytest.raises(ObjectNotFoundError):
        store.get_range("a", 0, 1)
    with pytest.raises(StorageError, match="'a'"):
        store.put("a", b"cannot replace a directory")
    store.delete("a")  # idempotent: no object 'a' to delete
    assert list(store.list()) == ["a/b"]


def test_other_os_errors_name_the_object_and_the_error(
    store: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("obj", b"1")

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(StorageError) as info:
        store.get_range("obj", 0, 1)
    assert not isinstance(info.value, ObjectNotFoundError)
    assert "'obj'" in str(info.value) and "Permission denied" in str(info.value)
    with pytest.raises(StorageError, match="Permission denied"):
        store.put("other", b"2")


def test_root_is_created_on_first_put(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "does" / "not" / "exist")
    assert store.location == str(tmp_path / "does" / "not" / "exist")
    assert list(store.list()) == []
    with pytest.raises(ObjectNotFoundError):
        store.get("x")
    store.put("x", b"1")
    assert store.get("x") == b"1"


def test_put_into_a_path_blocked_by_a_file_is_a_storage_error(store: LocalStorage) -> None:
    store.put("a", b"a file")
    with pytest.raises(StorageError, match="'a/b'"):
        store.put("a/b", b"cannot live under a file")
    with pytest.raises(ObjectNotFoundError):
        store.get("a/b")
    assert list(store.list("a/")) == []
