"""The vault tier on S3 over real HTTP (moto's server on loopback): back up, restore bit-exact,
check, and a failing S3 mid-backup leaves earlier points intact."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from vault_helpers import CHUNK, MiB, mixed_data, sha256_file, write_image

from vmvault.storage.base import StorageError
from vmvault.storage.faulty import FaultyStorage
from vmvault.storage.s3 import S3Storage
from vmvault.vault.backup import DiskSource, backup_point
from vmvault.vault.check import check_vault
from vmvault.vault.readers import open_disk
from vmvault.vault.repository import Vault
from vmvault.vault.restore import restore_disk

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def test_vault_on_s3_round_trip_and_failure(
    make_s3: Callable[..., S3Storage], s3_bucket: str, tmp_path: Path
) -> None:
    faulty = FaultyStorage(make_s3(s3_bucket, "vaults/lab"))
    Vault.create(faulty, NOW, passphrase="pw", chunk_size=CHUNK)
    vault = Vault.open(faulty, "pw")
    image = write_image(tmp_path / "a.raw", 16 * MiB, {MiB: mixed_data(3 * MiB, 1)})
    with open_disk(image) as reader:
        first = backup_point(vault, "web01", "rp1", NOW, [DiskSource(-1, "os", reader)])
    restore_disk(vault, first, -1, tmp_path / "rp1.raw")
    assert sha256_file(tmp_path / "rp1.raw") == sha256_file(image)

    with open(image, "r+b") as f:
        f.write(mixed_data(2 * MiB, 2))
    faulty.fail_puts(after=3, matching="chunks/")
    with open_disk(image) as reader, pytest.raises(StorageError):
        backup_point(vault, "web01", "rp2", NOW, [DiskSource(-1, "os", reader)], previous=first)
    faulty.clear()
    assert [p.point for p in vault.points()] == ["rp1"]
    assert check_vault(vault, read_data=True).ok
