"""Keys and sealing: chunk ids, compression and AEAD encryption (docs/vault-format.md).

``KeyRing`` holds the derived keys of an open vault (or none for an unencrypted one) and seals
and opens objects. Hashing, compression and encryption release the GIL, so callers run them in a
thread pool.
"""

from __future__ import annotations

import base64
import hmac
import json
import mmap
import os
import threading
from dataclasses import dataclass

import blake3
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from vmvault.vault.errors import CorruptObjectError, VaultFormatError, WrongPassphraseError

MAGIC = b"VMS1"
FLAG_ZSTD = 1
FLAG_AEAD = 2
NONCE = 12
ZERO_ID = bytes(32)
# Store compressed only when it saves at least 3%: decompressing costs time on every restore.
COMPRESS_WORTH = 0.97
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


@dataclass(frozen=True)
class KeyRing:
    """The keys of one vault; ``data_key`` None means unencrypted."""

    id_key: bytes | None = None
    data_key: bytes | None = None
    config_key: bytes | None = None  # authenticates the config (docs/vault-format.md)
    # Backups compress new chunks at the fast ingest level; recompression later settles them at
    # ``compression_level`` (docs/vault-format.md, "Compression levels"). On the benchmark image
    # zstd -5 runs 2.4x as fast as level 3 and stores about 40% more bytes until settled.
    compression_level: int = 3
    ingest_level: int = -5

    @property
    def encrypted(self) -> bool:
        return self.data_key is not None

    def chunk_id(self, data: bytes | memoryview) -> bytes:
        if self.id_key is None:
            return blake3.blake3(data).digest()
        return blake3.blake3(data, key=self.id_key).digest()

    def config_mac(self, config: bytes) -> str:
        """HMAC-SHA256 of the config's exact bytes under the config key (hex)."""
        assert self.config_key is not None, "only an encrypted vault authenticates its config"
        return hmac.new(self.config_key, config, "sha256").hexdigest()

    def seal(self, name: str, plaintext: bytes | memoryview, *, level: int | None = None) -> bytes:
        """The stored form of ``plaintext`` under ``name`` (compressed when worth it)."""
        flags = 0
        payload: bytes | memoryview = plaintext
        if plaintext:
            compressed = _compressor(level or self.compression_level).compress(plaintext)
            if len(compressed) <= len(plaintext) * COMPRESS_WORTH:
                payload, flags = compressed, FLAG_ZSTD
        if self.data_key is None:
            return MAGIC + bytes([flags]) + payload
        nonce = os.urandom(NONCE)
        sealed = AESGCM(self.data_key).encrypt(nonce, payload, name.encode())
        return MAGIC + bytes([flags | FLAG_AEAD]) + nonce + sealed

    def open(self, name: str, blob: bytes) -> bytes:
        """The plaintext of a sealed object; CorruptObjectError if it is damaged or misplaced."""
        payload, compressed = self._unseal(name, blob)
        if compressed:
            try:
                return _decompressor().decompress(payload)
            except zstandard.ZstdError as exc:
                raise CorruptObjectError(f"object {name} is damaged: {exc}") from None
        return bytes(payload)  # a copy only for an unencrypted, uncompressed object

    def open_into(self, name: str, blob: bytes, buf: mmap.mmap, size: int) -> memoryview:
        """Like ``open`` for an object of ``size`` plaintext bytes, written into ``buf``
        (decompressed straight into it); returns the view of those bytes."""
        payload, compressed = self._unseal(name, blob)
        view = memoryview(buf)
        if not compressed:
            if len(payload) != size:
                raise CorruptObjectError(
                    f"object {name} is damaged: {len(payload)} bytes where {size} belong"
                )
            view[:size] = payload
            return view[:size]
        try:
            reader = _decompressor().stream_reader(payload)
            got = 0
            while got < size:  # readinto may stop short of a full buffer
                n = reader.readinto(view[got:size])
                if n == 0:
                    break
                got += n
            extra = reader.read(1)
        except zstandard.ZstdError as exc:
            raise CorruptObjectError(f"object {name} is damaged: {exc}") from None
        if got != size or extra:
            raise CorruptObjectError(f"object {name} is damaged: it is not {size} bytes long")
        return view[:size]

    def _unseal(self, name: str, blob: bytes) -> tuple[bytes | memoryview, bool]:
        """The payload of a sealed object (decrypted) and whether it is compressed."""
        if len(blob) < 5 or blob[:4] != MAGIC:
            raise CorruptObjectError(f"object {name} is damaged: it does not start with {MAGIC!r}")
        flags = blob[4]
        payload: bytes | memoryview = memoryview(blob)[5:]  # views: no copy of the body
        if flags & FLAG_AEAD:
            if self.data_key is None:
                raise CorruptObjectError(f"object {name} is encrypted but the vault is not")
            try:
                payload = AESGCM(self.data_key).decrypt(
                    payload[:NONCE], payload[NONCE:], name.encode()
                )
            except (InvalidTag, ValueError):
                raise CorruptObjectError(
                    f"object {name} fails authentication: it was modified, truncated or moved"
                ) from None
        elif self.data_key is not None:
            raise CorruptObjectError(f"object {name} is not encrypted in an encrypted vault")
        return payload, bool(flags & FLAG_ZSTD)


_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    """One compressor per thread and level (they are not thread-safe, and cost to create)."""
    cache: dict[int, zstandard.ZstdCompressor] = _local.__dict__.setdefault("compressors", {})
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(level=level)
    return cache[level]


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_local, "decompressor"):
        _local.decompressor = zstandard.ZstdDecompressor()
    return _local.decompressor  # type: ignore[no-any-return]


def new_master_secret() -> bytes:
    return os.urandom(64)


def keyring_from_secret(secret: bytes) -> KeyRing:
    return KeyRing(
        id_key=_derive(secret, b"vmvault-chunk-id"),
        data_key=_derive(secret, b"vmvault-data"),
        config_key=_derive(secret, b"vmvault-config"),
    )


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def wrap_master(secret: bytes, passphrase: str, vault_id: str) -> bytes:
    """The JSON of ``keys/master``: the secret sealed under a scrypt key of the passphrase."""
    salt = os.urandom(16)
    nonce = os.urandom(NONCE)
    kek = _kek(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    wrapped = AESGCM(kek).encrypt(nonce, secret, _master_aad(vault_id))
    doc = {
        "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt),
        "aead": "aes-256-gcm", "nonce": _b64(nonce), "wrapped": _b64(wrapped),
    }  # fmt: skip
    return json.dumps(doc, indent=2).encode() + b"\n"


def unwrap_master(blob: bytes, passphrase: str, vault_id: str) -> bytes:
    try:
        doc = json.loads(blob)
        if doc["kdf"] != "scrypt" or doc["aead"] != "aes-256-gcm":
            raise VaultFormatError(f"keys/master uses {doc['kdf']}/{doc['aead']}: not supported")
        kek = _kek(
            passphrase, base64.b64decode(doc["salt"]), int(doc["n"]), int(doc["r"]), int(doc["p"])
        )
        nonce, wrapped = base64.b64decode(doc["nonce"]), base64.b64decode(doc["wrapped"])
    except (ValueError, KeyError, TypeError):
        raise CorruptObjectError("keys/master is damaged: it is not the key document") from None
    try:
        return AESGCM(kek).decrypt(nonce, wrapped, _master_aad(vault_id))
    except InvalidTag:
        raise WrongPassphraseError(
            "wrong passphrase for this vault (keys/master does not open with it)"
        ) from None


def _kek(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _master_aad(vault_id: str) -> bytes:
    return b"vmvault-master-key:" + vault_id.encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


__all__ = ["ZERO_ID", "KeyRing", "keyring_from_secret"]
