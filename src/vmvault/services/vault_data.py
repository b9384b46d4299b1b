"""The data of a vault: integrity checks and garbage collection."""

from __future__ import annotations

from vmvault.clock import Clock
from vmvault.services.vaults import VaultService
from vmvault.vault.check import CheckReport, check_vault
from vmvault.vault.gc import GcReport, collect_garbage


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
