"""Recovery Services vaults: create, list, show, delete."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmvault.catalog.repository import Catalog, DuplicateNameError, VaultRecord
from vmvault.clock import Clock
from vmvault.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vmvault.services.arm_ids import VAULT_TYPE, ArmScope, resource
from vmvault.storage.base import ObjectNotFoundError, Storage
from vmvault.storage.factory import open_storage
from vmvault.storage.folders import folder_problem
from vmvault.vault.errors import ConfigTamperedError
from vmvault.vault.format import CONFIG, DEFAULT_CHUNK_SIZE

if TYPE_CHECKING:
    from vmvault.vault.repository import Vault

# Azure: 2-50 characters, letters, digits and hyphens, starting with a letter.
VAULT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,49}$")


class VaultService:
    def __init__(self, catalog: Catalog, clock: Clock, vaults_dir: Path, scope: ArmScope) -> None:
        self.catalog = catalog
        self.clock = clock
        self.vaults_dir = vaults_dir
        self.scope = scope

    def create(
        self,
        name: str,
        storage: str | None = None,
        *,
        passphrase: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> VaultRecord:
        """Create a vault: its storage (a new or empty folder, or S3) is initialised with the
        vault format (docs/vault-format.md), encrypted when a passphrase is given. A location
        that already holds a vault (one deleted from the catalog, or after the catalog was
        lost) is attached as it is, once its passphrase opens it; nothing in it is changed."""
        if not VAULT_NAME.match(name):
            raise InvalidInputError(
                f"--name {name!r} is not a valid vault name: 2 to 50 letters, digits and "
                "hyphens, starting with a letter"
            )
        if self.catalog.vault(name) is not None:
            raise ConflictError(
                f"vault {name!r} already exists: choose another name or use it as it is",
                code="UserErrorVaultAlreadyExists",
            )
        from vmvault.vault.repository import Vault  # the data path (zstd, BLAKE3, AES)

        location = self._prepare_storage(storage or str(self.vaults_dir / name))
        store = open_storage(location)
        if holds_vault(store):
            data = Vault.open(store, passphrase)  # attach: the passphrase must open it
        else:
            data = Vault.create(
                store, self.clock.now(), passphrase=passphrase, chunk_size=chunk_size
            )
        try:
            return self.catalog.add_vault(
                name,
                location,
                self.clock.now(),
                encrypted=data.config.encrypted,
                config_hash=data.config_digest,
            )
        except DuplicateNameError:
            raise ConflictError(
                f"vault {name!r} already exists", code="UserErrorVaultAlreadyExists"
            ) from None

    def _prepare_storage(self, storage: str) -> str:
        """The location to use: a new or empty folder, a folder holding a vault (attached as
        it is), or S3. Anything else is refused before anything is written."""
        if storage.startswith("s3://"):
            if len(storage) <= len("s3://") or storage[len("s3://")] == "/":
                raise InvalidInputError(
                    f"--storage {storage!r} is not valid: write s3://BUCKET[/PREFIX]"
                )
            location = storage
        else:
            location = str(Path(storage).expanduser().resolve())
        if any(v.storage == location for v in self.catalog.vaults()):
            raise InvalidInputError(f"--storage {location!r} is already used by another vault")
        if location.startswith("s3://"):
            return location
        path = Path(location)
        occupied = path.exists() and (not path.is_dir() or any(path.iterdir()))
        if occupied and not (path / CONFIG).is_file():
            raise InvalidInputError(
                f"--storage {location!r} is not valid: it exists and is not an empty folder "
                "or a vmvault vault; choose a new or empty folder so no other data "
                "is mixed in"
            )
        problem = folder_problem(path)
        if problem is None:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # e.g. a folder made read-only meanwhile
                problem = f"{path} cannot be created ({exc.strerror or exc})"
        if problem is not None:
            raise InvalidInputError(
                f"--storage {location!r} cannot be used: {problem}; choose a folder on a "
                "writable filesystem (nothing was created)",
                code="UserErrorStorageNotWritable",
            )
        return location

    def all(self) -> list[VaultRecord]:
        return self.catalog.vaults()

    def get(self, name: str) -> VaultRecord:
        vault = self.catalog.vault(name)
        if vault is None:
            raise NotFoundError(
                f"vault {name!r} was not found: `vmvault vault list` shows the vaults that exist"
            )
        return vault

    def get_by_id(self, vault_id: int) -> VaultRecord:
        for vault in self.catalog.vaults():
            if vault.id == vault_id:
                return vault
        raise NotFoundError(f"vault #{vault_id} was not found")

    def delete(self, name: str) -> VaultRecord:
        """Remove a vault with no protected items from the catalog; its policies go with it.

        The vault's storage (its config, keys and any data) is left in place: no stored data
        is ever deleted by this call. An empty folder is removed.
        """
        vault = self.get(name)
        if self.catalog.protected_item_count(vault.id):
            raise ConflictError(
                f"vault {name!r} cannot be deleted: it still has protected items; stop "
                "protection and delete their backup data first",
                code="UserErrorVaultNotEmpty",
            )
        self.catalog.remove_vault(vault.id)
        path = Path(vault.storage)
        if not vault.storage.startswith("s3://") and path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        return vault

    def open_data(self, name: str, passphrase: str | None) -> Vault:
        """The vault tier of a vault, opened (with its passphrase when encrypted).

        The storage's config must be the one the catalog recorded when the vault was created
        or attached (ConfigTamperedError otherwise): in particular a vault the catalog knows
        as encrypted is never opened as a plaintext one, whatever its storage says."""
        from vmvault.vault.repository import Vault

        record = self.get(name)
        data = Vault.open(open_storage(record.storage), passphrase)
        check_pinned(record, data)
        if record.encrypted is None or record.config_hash is None:  # catalogued before pins
            self.catalog.pin_vault(
                record.id, encrypted=data.config.encrypted, config_hash=data.config_digest
            )
        return data

    def to_arm(self, vault: VaultRecord) -> dict[str, Any]:
        return resource(
            self.scope.vault_id(vault.name),
            vault.name,
            VAULT_TYPE,
            {
                "provisioningState": "Succeeded",
                "storageLocation": vault.storage,
                "createdAt": vault.created_at.isoformat().replace("+00:00", "Z"),
            },
        )


def check_pinned(record: VaultRecord, data: Vault) -> None:
    """Refuse a vault whose storage config differs from the one the catalog recorded."""
    if record.encrypted and not data.config.encrypted:
        raise ConfigTamperedError(
            f"vault {record.name!r} is encrypted but the config at {record.storage} says "
            "encryption none: the config was changed; nothing was read or written (put the "
            "original config back)"
        )
    if record.config_hash is not None and record.config_hash != data.config_digest:
        raise ConfigTamperedError(
            f"the config of vault {record.name!r} at {record.storage} was changed since the "
            "vault was created or attached; nothing was read or written (put the original "
            "config back)"
        )


def holds_vault(store: Storage) -> bool:
    try:
        store.stat(CONFIG)
        return True
    except ObjectNotFoundError:
        return False
