"""The snapshot tier's integrity: hashes recorded for a point's snapshot when it is backed up,
and the check that a snapshot-tier restore gives back exactly the backed-up bytes.

What a restored disk is compared with (README, "The vault tier"):

* a point with a vault copy: its vault index (the chunk ids the vault computed from the very
  snapshot when the point was transferred); the restored copy's chunk ids are recomputed
  (``vault.verify.image_chunk_ids``, keyed BLAKE3 in an encrypted vault) and must equal it;
* otherwise: the per-disk digest of those chunk ids the point recorded at backup time in the
  catalog (``recovery_points.snapshot_hashes``): free for a point transferred in the same job
  (computed from its index), one read of the snapshot's allocated data for a snapshot-only one.

A snapshot that fails the check, or is gone, is recorded as no longer valid
(``snapshot_status = "Invalid"``, shown as the InstantRP tier's status).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vmvault.catalog.items import ItemStore, PointRecord
from vmvault.domain.errors import VmvaultError
from vmvault.services.vaults import VaultService
from vmvault.sources.model import SnapshotSet
from vmvault.vault.errors import VaultError
from vmvault.vault.readers import open_disk
from vmvault.vault.repository import Vault
from vmvault.vault.verify import differing_chunks, ids_digest, image_chunk_ids

INVALID = "Invalid"
SNAPSHOT_CORRUPT = "UserErrorSnapshotCorrupt"


class SnapshotDamagedError(VmvaultError):
    """A point's snapshot is gone, or does not hold the bytes backed up."""

    code = SNAPSHOT_CORRUPT


class SnapshotIntegrity:
    def __init__(
        self, vaults: VaultService, items: ItemStore, passphrase: Callable[[str], str | None]
    ) -> None:
        self.vaults, self.items, self.passphrase = vaults, items, passphrase

    def record(
        self, vault: str, item: str, point: PointRecord, snap: SnapshotSet, *, in_vault: bool
    ) -> None:
        """Record the digest of each snapshot disk's chunk ids with the point: from the vault
        index when ``in_vault`` (no read), else by reading the snapshot once."""
        data = self.vaults.open_data(vault, self.passphrase(vault))
        digests: dict[str, str] = {}
        if in_vault:
            manifest = data.read_manifest(item, point.name)
            for lun in snap.disks:
                digests[str(lun)] = ids_digest(data.read_index(manifest, lun).ids)
        else:
            for lun, path in sorted(snap.disks.items()):
                with open_disk(path, snap.formats.get(lun)) as reader:
                    digests[str(lun)] = ids_digest(image_chunk_ids(data, reader))
        hashes = {"vault": data.config.id, "chunkSize": data.config.chunk_size, "disks": digests}
        self.items.update_point(point.id, snapshot_hashes=hashes)

    def check_restored(
        self, vault: str, item: str, point: PointRecord, lun: int, path: Path, fmt: str | None
    ) -> bool:
        """Whether restored disk ``lun`` at ``path`` could be checked against hashes recorded
        for the point (False: none recorded, a point from before they were). Raises
        SnapshotDamagedError when it differs."""
        data = self.vaults.open_data(vault, self.passphrase(vault))
        with open_disk(path, fmt) as reader:
            ids = image_chunk_ids(data, reader)
        expected = self._index_ids(data, item, point, lun)
        if expected is not None:
            bad = differing_chunks(ids, expected)
            if bad:
                raise self._damaged(point, lun, f"chunk {bad[0]} (and {len(bad) - 1} more) "
                                    "differs from the point's vault index")  # fmt: skip
            return True
        digest = _recorded_digest(point.snapshot_hashes, data, lun)
        if digest is None:
            return False
        if ids_digest(ids) != digest:
            raise self._damaged(
                point, lun, "its content differs from the hashes recorded at backup"
            )
        return True

    def mark_invalid(self, point: PointRecord) -> None:
        self.items.update_point(point.id, snapshot_status=INVALID)

    @staticmethod
    def _index_ids(data: Vault, item: str, point: PointRecord, lun: int) -> list[bytes] | None:
        if not point.vault_present:
            return None
        try:
            return data.read_index(data.read_manifest(item, point.name), lun).ids
        except VaultError:  # the vault copy is damaged itself: fall back to the digest
            return None

    @staticmethod
    def _damaged(point: PointRecord, lun: int, why: str) -> SnapshotDamagedError:
        return SnapshotDamagedError(
            f"the snapshot of recovery point {point.name!r} is damaged: disk LUN {lun}: {why}; "
            "restore with --source-tier Vault"
        )


def _recorded_digest(hashes: dict[str, Any] | None, data: Vault, lun: int) -> str | None:
    if not hashes or hashes.get("vault") != data.config.id:
        return None
    if hashes.get("chunkSize") != data.config.chunk_size:
        return None
    digest = hashes.get("disks", {}).get(str(lun))
    return digest if isinstance(digest, str) else None
