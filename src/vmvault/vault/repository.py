"""An open vault: its config and keys, chunks, and recovery points (docs/vault-format.md).

``Vault`` is the only code that names vault objects; backup, restore, check and garbage
collection go through it. It is safe to use from several threads.
"""

from __future__ import annotations

import hmac
import json
import mmap
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

import blake3

from vmvault.storage.base import ObjectNotFoundError, Storage, StorageError
from vmvault.vault import format as fmt
from vmvault.vault.crypto import (
    KeyRing,
    keyring_from_secret,
    new_master_secret,
    unwrap_master,
    wrap_master,
)
from vmvault.vault.errors import (
    ConfigTamperedError,
    CorruptObjectError,
    MissingObjectError,
    VaultError,
    VaultFormatError,
)
from vmvault.vault.index import DiskIndex
from vmvault.vault.manifest import PointManifest


@dataclass(frozen=True, order=True)
class PointRef:
    item: str
    point: str


class Vault:
    def __init__(
        self,
        storage: Storage,
        config: fmt.VaultConfig,
        keys: KeyRing,
        config_bytes: bytes | None = None,
    ) -> None:
        self.storage = storage
        self.config = config
        self.keys = keys
        self.config_bytes = config.to_json() if config_bytes is None else config_bytes

    @property
    def config_digest(self) -> str:
        """BLAKE3 of the config's exact bytes: the catalog pins a vault's config with it."""
        return blake3.blake3(self.config_bytes).hexdigest()

    # -- creating and opening --------------------------------------------------------------
    @classmethod
    def create(
        cls,
        storage: Storage,
        now: datetime,
        *,
        passphrase: str | None = None,
        chunk_size: int = fmt.DEFAULT_CHUNK_SIZE,
    ) -> Vault:
        """Initialise an empty location as a vault; refuses a location that already has one."""
        try:
            storage.stat(fmt.CONFIG)
        except ObjectNotFoundError:
            pass
        else:
            raise VaultError(f"{storage.location} already holds a vault: open it instead")
        config = fmt.VaultConfig(
            id=uuid.uuid4().hex,
            created=fmt.utc_text(now),
            chunk_size=fmt.check_chunk_size(chunk_size),
            encryption="aes-256-gcm" if passphrase is not None else "none",
        )
        keys = KeyRing()
        if passphrase is not None:
            if not passphrase:
                raise VaultError("the passphrase is empty: give a non-empty passphrase")
            secret = new_master_secret()
            storage.put(fmt.MASTER_KEY, wrap_master(secret, passphrase, config.id))
            keys = keyring_from_secret(secret)
            storage.put(fmt.CONFIG_MAC, _mac_doc(keys, config.to_json()))
        storage.put(fmt.CONFIG, config.to_json())  # last: the vault exists once config does
        return cls(storage, config, keys)

    @classmethod
    def open(cls, storage: Storage, passphrase: str | None = None) -> Vault:
        """Open the vault at ``storage``. An encrypted vault's config must match its MAC under
        the master key (ConfigTamperedError otherwise); a vault created before configs were
        authenticated gets its MAC written at its first open with the passphrase."""
        try:
            raw = storage.get(fmt.CONFIG)
            config = fmt.VaultConfig.from_json(raw, storage.location)
        except ObjectNotFoundError:
            raise VaultFormatError(
                f"{storage.location} is not a vmvault vault (no config)"
            ) from None
        keys = KeyRing()
        if config.encrypted:
            if passphrase is None:
                raise VaultError(
                    f"vault at {storage.location} is encrypted: give its passphrase "
                    "(VMVAULT_PASSPHRASE)"
                )
            try:
                blob = storage.get(fmt.MASTER_KEY)
            except ObjectNotFoundError:
                raise MissingObjectError(
                    f"vault at {storage.location} has lost keys/master"
                ) from None
            keys = keyring_from_secret(unwrap_master(blob, passphrase, config.id))
            _authenticate_config(storage, keys, raw)
        return cls(storage, config, keys, raw)

    # -- chunks ----------------------------------------------------------------------------
    def chunk_id(self, data: bytes | memoryview) -> bytes:
        return self.keys.chunk_id(data)

    def has_chunk(self, chunk_id: bytes) -> bool:
        try:
            self.storage.stat(fmt.chunk_name(chunk_id))
            return True
        except ObjectNotFoundError:
            return False

    def put_chunk(
        self, chunk_id: bytes, data: bytes | memoryview, *, level: int | None = None
    ) -> int:
        """Store a chunk (durable on return); returns the bytes stored."""
        name = fmt.chunk_name(chunk_id)
        blob = self.keys.seal(name, data, level=level)
        self.storage.put(name, blob)
        return len(blob)

    def get_chunk_blob(self, chunk_id: bytes) -> bytes:
        """A chunk's stored (sealed) bytes, unverified."""
        try:
            return self.storage.get(fmt.chunk_name(chunk_id))
        except ObjectNotFoundError:
            raise MissingObjectError(f"chunk {chunk_id.hex()} is missing from the vault") from None

    def get_chunk(self, chunk_id: bytes) -> bytes:
        """A chunk's plaintext, verified against its id."""
        return self.open_chunk(chunk_id, self.get_chunk_blob(chunk_id))

    def read_chunk_into(self, chunk_id: bytes, buf: mmap.mmap, size: int) -> memoryview:
        """A chunk of ``size`` bytes read into ``buf``, verified against its id (a damaged
        one is recorded, see ``mark_damaged``)."""
        name = fmt.chunk_name(chunk_id)
        with self._noting_damage(chunk_id):
            data = self.keys.open_into(name, self.get_chunk_blob(chunk_id), buf, size)
            self._verify(chunk_id, data)
        return data

    def open_chunk(self, chunk_id: bytes, blob: bytes) -> bytes:
        """The plaintext of a chunk's sealed ``blob``, verified against its id (a damaged
        one is recorded, see ``mark_damaged``)."""
        with self._noting_damage(chunk_id):
            data = self.keys.open(fmt.chunk_name(chunk_id), blob)
            self._verify(chunk_id, data)
        return data

    # -- chunks found damaged (docs/vault-format.md, "Damaged chunks") ----------------------
    @contextmanager
    def _noting_damage(self, chunk_id: bytes) -> Iterator[None]:
        try:
            yield
        except CorruptObjectError:
            self.mark_damaged(chunk_id)
            raise

    def mark_damaged(self, chunk_id: bytes) -> None:
        """Record that the stored chunk does not open or hash to its id, so deduplication
        never trusts it again (best effort: the read that found it fails either way)."""
        with suppress(StorageError):
            self.storage.put(fmt.damaged_name(chunk_id), b"")

    def clear_damaged(self, chunk_id: bytes) -> None:
        """Forget the damage once a good copy of the chunk is durable."""
        self.storage.delete(fmt.damaged_name(chunk_id))

    def damaged_chunks(self) -> set[bytes]:
        found = set()
        for name in self.storage.list(fmt.DAMAGED):
            tail = name[len(fmt.DAMAGED) :]
            if len(tail) == 64:
                with suppress(ValueError):
                    found.add(bytes.fromhex(tail))
        return found

    def _verify(self, chunk_id: bytes, data: bytes | memoryview) -> None:
        if self.chunk_id(data) != chunk_id:
            raise CorruptObjectError(
                f"chunk {chunk_id.hex()} is corrupt: its content does not match its id"
            )

    def chunk_names(self) -> Iterator[str]:
        return (n for n in self.storage.list("chunks/") if not n.endswith("/"))

    # -- points ----------------------------------------------------------------------------
    def write_point(
        self,
        manifest: PointManifest,
        indexes: dict[int, DiskIndex],
        provisional: Sequence[bytes] = (),
    ) -> None:
        """Write the indexes and the list of chunks stored at the ingest level (if any), then
        the manifest (which makes the point exist)."""
        for lun, index in indexes.items():
            name = fmt.index_name(manifest.item, manifest.point, lun)
            self.storage.put(name, self.keys.seal(name, index.to_bytes()))
        if provisional:
            self.write_provisional(PointRef(manifest.item, manifest.point), provisional)
        name = fmt.manifest_name(manifest.item, manifest.point)
        self.storage.put(name, self.keys.seal(name, manifest.to_json()))

    @staticmethod
    def index_hash(index: DiskIndex) -> str:
        return blake3.blake3(index.to_bytes()).hexdigest()

    def points(self, item: str | None = None) -> list[PointRef]:
        prefix = "points/" if item is None else f"points/{fmt.check_point_name('item', item)}/"
        refs = []
        for name in self.storage.list(prefix):
            parts = name.split("/")
            if len(parts) == 4 and parts[3] == "manifest":
                refs.append(PointRef(parts[1], parts[2]))
        return sorted(refs, key=lambda r: (r.item, r.point))

    def read_manifest(self, item: str, point: str) -> PointManifest:
        name = fmt.manifest_name(item, point)
        try:
            blob = self.storage.get(name)
        except ObjectNotFoundError:
            raise MissingObjectError(
                f"recovery point {item}/{point} does not exist in the vault"
            ) from None
        manifest = PointManifest.from_json(self.keys.open(name, blob), name)
        if manifest.vault != self.config.id or (manifest.item, manifest.point) != (item, point):
            raise CorruptObjectError(f"manifest {name} belongs to another vault or point")
        return manifest

    def read_index(self, manifest: PointManifest, lun: int) -> DiskIndex:
        entry = manifest.disk(lun)
        if entry is None:
            raise VaultError(
                f"recovery point {manifest.item}/{manifest.point} has no disk with LUN {lun}"
            )
        name = fmt.point_prefix(manifest.item, manifest.point) + entry.index
        try:
            blob = self.storage.get(name)
        except ObjectNotFoundError:
            raise MissingObjectError(f"index {name} is missing") from None
        index = DiskIndex.from_bytes(self.keys.open(name, blob), name)
        if self.index_hash(index) != entry.index_hash:
            raise CorruptObjectError(f"index {name} does not match its manifest")
        return index

    # -- chunks still at the ingest level (docs/vault-format.md, "Compression levels") -------
    def provisional_points(self) -> list[PointRef]:
        """Points that have a manifest and a list of chunks still to recompress."""
        found = set()
        for name in self.storage.list("points/"):
            parts = name.split("/")
            if len(parts) == 4 and parts[3] in ("manifest", "provisional"):
                found.add((parts[1], parts[2], parts[3]))
        return sorted(
            PointRef(item, point)
            for item, point, kind in found
            if kind == "provisional" and (item, point, "manifest") in found
        )

    def read_provisional(self, ref: PointRef) -> list[bytes]:
        name = fmt.provisional_name(ref.item, ref.point)
        try:
            body = self.keys.open(name, self.storage.get(name))
        except ObjectNotFoundError:
            return []
        if len(body) % 32:
            raise CorruptObjectError(f"{name} is damaged: its length is not a multiple of 32")
        return [body[i : i + 32] for i in range(0, len(body), 32)]

    def write_provisional(self, ref: PointRef, chunk_ids: Sequence[bytes]) -> None:
        """Replace the point's list (delete it when ``chunk_ids`` is empty)."""
        name = fmt.provisional_name(ref.item, ref.point)
        if not chunk_ids:
            self.storage.delete(name)
            return
        self.storage.put(name, self.keys.seal(name, b"".join(chunk_ids)))

    def delete_point(self, item: str, point: str) -> None:
        """Delete the manifest first (the point is gone), then its indexes."""
        self.storage.delete(fmt.manifest_name(item, point))
        for name in list(self.storage.list(fmt.point_prefix(item, point))):
            self.storage.delete(name)


def _mac_doc(keys: KeyRing, config: bytes) -> bytes:
    return json.dumps({"mac": "hmac-sha256", "value": keys.config_mac(config)}).encode() + b"\n"


def _authenticate_config(storage: Storage, keys: KeyRing, raw: bytes) -> None:
    """Check ``keys/config-mac`` against the config's bytes; write it if it is absent (a
    vault from before configs were authenticated: trusted on this first open)."""
    try:
        doc = json.loads(storage.get(fmt.CONFIG_MAC))
    except ObjectNotFoundError:
        storage.put(fmt.CONFIG_MAC, _mac_doc(keys, raw))
        return
    except ValueError:
        doc = {}
    value = doc.get("value") if isinstance(doc, dict) else None
    if not isinstance(value, str) or not hmac.compare_digest(value, keys.config_mac(raw)):
        raise ConfigTamperedError(
            f"the config of the vault at {storage.location} was changed: it does not match "
            f"{fmt.CONFIG_MAC} under the vault's key; put the original config back "
            "(nothing was read or written)"
        )
