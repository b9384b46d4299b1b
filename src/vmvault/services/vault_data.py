"""The data of a vault: integrity checks, garbage collection and recompression."""

from __future__ import annotations

import time

from vmvault.clock import Clock
from vmvault.services.vaults import VaultService
from vmvault.vault.check import CheckReport, check_vault
from vmvault.vault.gc import GcReport, collect_garbage
from vmvault.vault.settle import SettleReport, recompress


class VaultDataService:
    def __init__(self, vaults: VaultService, clock: Clock) -> None:
        self.vaults = vaults
        self.clock = clock

    def check(self, name: str, passphrase: str | None, *, read_data: bool) -> CheckReport:
        """Every referenced chunk exists; with ``read_data`` every chunk opens and hashes
        to its id. Reads only."""
        return check_vault(self.vaults.open_data(name, passphrase), read_data=read_data)

    def collect_garbage(self, name: str, passphrase: str | None, *, dry_run: bool) -> GcReport:
        """Delete unreferenced chunks past the safety margin (docs/vault-format.md)."""
        vault = self.vaults.open_data(name, passphrase)
        return collect_garbage(vault, self.clock.now(), dry_run=dry_run)

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
