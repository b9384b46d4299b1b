"""The data of a vault: integrity checks and repair, garbage collection and recompression.

Check and garbage collection are given the recovery points the catalog lists with a vault
copy, so a point whose manifest is lost from the vault is reported (and garbage collection
refuses to run) instead of its chunks being swept as garbage.
"""

from __future__ import annotations

import time

from vmvault.catalog.items import ItemRecord, ItemStore, PointRecord
from vmvault.clock import Clock
from vmvault.domain.errors import VmvaultError
from vmvault.services.sources import SourceService
from vmvault.services.vaults import VaultService
from vmvault.vault.check import CheckReport, broken_chunks, check_vault
from vmvault.vault.gc import GcReport, collect_garbage
from vmvault.vault.repair import ChunkSite, chunk_sites, repair_chunk
from vmvault.vault.repository import PointRef, Vault
from vmvault.vault.settle import SettleReport, recompress


class VaultDataService:
    def __init__(
        self,
        vaults: VaultService,
        clock: Clock,
        items: ItemStore | None = None,
        sources: SourceService | None = None,
    ) -> None:
        self.vaults = vaults
        self.clock = clock
        self.items = items
        self.sources = sources

    def check(
        self, name: str, passphrase: str | None, *, read_data: bool, repair: bool = False
    ) -> CheckReport:
        """Every referenced chunk exists, and every point the catalog lists has its manifest
        and indexes (and the reverse); with ``read_data`` every chunk opens and hashes to its
        id. Chunks found damaged are recorded so no backup trusts them again. With ``repair``,
        each missing or damaged chunk is rewritten from a snapshot that still holds its bytes
        (verified against its id first), and the report is of the vault after that."""
        vault = self.vaults.open_data(name, passphrase)
        expected = self._expected(name)
        report = check_vault(vault, read_data=read_data, expected=expected)
        if not repair or not broken_chunks(report):
            return report
        repaired = self._repair(name, vault, broken_chunks(report))
        report = check_vault(vault, read_data=read_data, expected=expected)
        report.repaired = sorted(cid.hex() for cid in repaired)
        return report

    def collect_garbage(self, name: str, passphrase: str | None, *, dry_run: bool) -> GcReport:
        """Delete unreferenced chunks past the safety margin (docs/vault-format.md); refused
        while the catalog and the vault disagree about which points exist."""
        vault = self.vaults.open_data(name, passphrase)
        return collect_garbage(
            vault, self.clock.now(), dry_run=dry_run, expected=self._expected(name)
        )

    def recompress(
        self,
        name: str,
        passphrase: str | None,
        *,
        budget_seconds: float | None = None,
        workers: int | None = None,
    ) -> SettleReport:
        """Settle chunks backups stored at the fast ingest level (docs/vault-format.md);
        with a budget, stop after about that long and leave the rest for the next call."""
        vault = self.vaults.open_data(name, passphrase)
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        return recompress(vault, self.clock.now(), workers=workers, deadline=deadline)

    # -- the catalog's view ----------------------------------------------------------------
    def _catalogued(self, name: str) -> list[tuple[ItemRecord, PointRecord]]:
        if self.items is None:
            return []
        vault_id = self.vaults.get(name).id
        return [(i, p) for i in self.items.items(vault_id) for p in self.items.points(i.id)]

    def _expected(self, name: str) -> set[PointRef] | None:
        if self.items is None:
            return None  # no catalog wired in: check the vault alone
        return {PointRef(i.name, p.name) for i, p in self._catalogued(name) if p.vault_present}

    def _repair(self, name: str, vault: Vault, broken: set[bytes]) -> set[bytes]:
        """Rewrite ``broken`` chunks from the snapshots of the points that use them."""
        snapshots = {
            PointRef(i.name, p.name): (i, p)
            for i, p in self._catalogued(name)
            if p.snapshot_present and p.snapshot_status != "Invalid"
        }
        repaired: set[bytes] = set()
        for cid, sites in chunk_sites(vault, broken).items():
            for site in sites:
                held = snapshots.get(site.ref)
                if held is not None and self._repair_from(vault, cid, *held, site):
                    repaired.add(cid)
                    break
        return repaired

    def _repair_from(
        self, vault: Vault, cid: bytes, item: ItemRecord, point: PointRecord, site: ChunkSite
    ) -> bool:
        if self.sources is None or self.items is None or item.source_id is None:
            return False
        try:
            source = self.sources.open(self.items.source_by_id(item.source_id))
            snap = source.get_snapshot(item.vm_name or item.name, point.name)
            reader = source.snapshot_reader(snap, site.lun)
        except VmvaultError:
            return False  # that snapshot is gone: try another
        try:
            return repair_chunk(vault, cid, reader, site)
        except (VmvaultError, OSError):
            return False
        finally:
            reader.close()
