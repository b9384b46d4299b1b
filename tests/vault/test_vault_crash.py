"""Crash safety: a backup killed with SIGKILL, a full disk, a failing S3: no partial point is
ever visible, earlier points stay intact, and the next backup reuses what had landed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from vault_helpers import MiB, mixed_data, sha256_file, write_image

from vmvault.storage.base import StorageError
from vmvault.storage.faulty import FaultyStorage
from vmvault.storage.local import LocalStorage
from vmvault.vault.backup import DiskSource, backup_point
from vmvault.vault.check import check_vault
from vmvault.vault.readers import open_disk
from vmvault.vault.repository import Vault
from vmvault.vault.restore import restore_disk

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
CHUNK = 64 * 1024

SLOW_BACKUP = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from vmvault.storage.local import LocalStorage
    from vmvault.vault.backup import DiskSource, backup_point
    from vmvault.vault.readers import open_disk
    from vmvault.vault.repository import Vault

    class Slow(LocalStorage):
        def put(self, name, data):
            if name.startswith("chunks/"):
                time.sleep(0.01)  # long enough for the test to kill us mid-backup
            super().put(name, data)

    vault = Vault.open(Slow(Path(sys.argv[1])), "pw")
    with open_disk(sys.argv[2]) as reader:
        backup_point(vault, "web01", "rp2", datetime.now(UTC), [DiskSource(-1, "os", reader)],
                     workers=2)
    print("finished")
    """
)


def _vault(path: Path) -> Vault:
    Vault.create(LocalStorage(path), NOW, passphrase="pw", chunk_size=CHUNK)
    return Vault.open(LocalStorage(path), "pw")


def test_sigkill_mid_backup_leaves_no_partial_point(tmp_path: Path) -> None:
    vault = _vault(tmp_path / "vault")
    small = write_image(tmp_path / "small.raw", 4 * MiB, {0: mixed_data(MiB, 1)})
    with open_disk(small) as reader:
        backup_point(vault, "web01", "rp1", NOW, [DiskSource(-1, "os", reader)])
    big = write_image(tmp_path / "big.raw", 64 * MiB, {0: mixed_data(32 * MiB, 2)})
    proc = subprocess.Popen([sys.executable, "-c", SLOW_BACKUP, str(tmp_path / "vault"), str(big)])
    chunks_dir = tmp_path / "vault" / "chunks"
    deadline = time.monotonic() + 60
    while sum(len(files) for _, _, files in os.walk(chunks_dir)) < 40:
        assert proc.poll() is None, "the backup finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    landed = sum(len(files) for _, _, files in os.walk(chunks_dir))

    assert [p.point for p in vault.points()] == ["rp1"]
    assert check_vault(vault, read_data=True).ok
    with open_disk(big) as reader:
        manifest = backup_point(vault, "web01", "rp2", NOW, [DiskSource(-1, "os", reader)])
    total = manifest.disks[0].data_chunks
    assert manifest.disks[0].new_chunks <= total - (landed - 16 - 2)  # reused what had landed
    restore_disk(vault, manifest, -1, tmp_path / "out.raw")
    assert sha256_file(tmp_path / "out.raw") == sha256_file(big)


def test_disk_full_fails_the_backup_and_keeps_earlier_points(tmp_path: Path) -> None:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)]).returncode:
        pytest.fail("mounting a tmpfs needs root (the test suite runs as root)")
    try:
        vault = _vault(mnt / "vault")
        small = write_image(tmp_path / "s.raw", 2 * MiB, {0: mixed_data(MiB, 3)})
        with open_disk(small) as reader:
            backup_point(vault, "web01", "rp1", NOW, [DiskSource(-1, "os", reader)])
        big = tmp_path / "big.raw"
        big.write_bytes(os.urandom(8 * MiB))
        with open_disk(big) as reader, pytest.raises(StorageError, match="disk full"):
            backup_point(vault, "web01", "rp2", NOW, [DiskSource(-1, "os", reader)])
        assert [p.point for p in vault.points()] == ["rp1"]
        assert check_vault(vault, read_data=True).ok
        restore_disk(vault, vault.read_manifest("web01", "rp1"), -1, tmp_path / "rp1.raw")
        assert sha256_file(tmp_path / "rp1.raw") == sha256_file(small)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_storage_error_mid_backup_fails_cleanly(tmp_path: Path) -> None:
    faulty = FaultyStorage(LocalStorage(tmp_path / "vault"))
    Vault.create(faulty, NOW, passphrase="pw", chunk_size=CHUNK)
    vault = Vault.open(faulty, "pw")
    image = write_image(tmp_path / "a.raw", 8 * MiB, {0: mixed_data(4 * MiB, 4)})
    with open_disk(image) as reader:
        backup_point(vault, "web01", "rp1", NOW, [DiskSource(-1, "os", reader)])
    with open(image, "r+b") as f:
        f.write(mixed_data(2 * MiB, 5))
    faulty.fail_puts(after=5, matching="chunks/")
    with open_disk(image) as reader, pytest.raises(StorageError):
        backup_point(vault, "web01", "rp2", NOW, [DiskSource(-1, "os", reader)])
    faulty.clear()
    assert [p.point for p in vault.points()] == ["rp1"]
    assert check_vault(vault, read_data=True).ok
