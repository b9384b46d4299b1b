"""Vault format version 1: the config object, object names and limits (docs/vault-format.md)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from vmvault.vault.errors import VaultFormatError

FORMAT = "vmvault-vault"
VERSION = 1
DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
MIN_CHUNK_SIZE = 64 * 1024
MAX_CHUNK_SIZE = 64 * 1024 * 1024
ENCRYPTIONS = ("none", "aes-256-gcm")

CONFIG = "config"
MASTER_KEY = "keys/master"
CONFIG_MAC = "keys/config-mac"
DAMAGED = "damaged/"
NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class VaultConfig:
    id: str
    created: str
    chunk_size: int
    encryption: str
    format: str = FORMAT
    version: int = VERSION
    hash: str = "blake3"
    compression: str = "zstd"

    @property
    def encrypted(self) -> bool:
        return self.encryption != "none"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, location: str) -> VaultConfig:
        try:
            raw: dict[str, Any] = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise VaultFormatError(
                f"{location} is not a vmvault vault: its config is not JSON"
            ) from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise VaultFormatError(
                f"{location} is not a vmvault vault (config format is not {FORMAT!r})"
            )
        version = raw.get("version")
        if version != VERSION:
            newer = isinstance(version, int) and version > VERSION
            hint = "upgrade vmvault" if newer else "this version is not supported"
            raise VaultFormatError(
                f"vault format version {version!r} at {location} is "
                f"{'newer than' if newer else 'not one'} this vmvault supports ({VERSION}): {hint}"
            )
        config = cls(**{k: raw[k] for k in asdict(cls("", "", 0, "none")) if k in raw})
        check_chunk_size(config.chunk_size)
        if config.encryption not in ENCRYPTIONS or config.hash != "blake3":
            raise VaultFormatError(
                f"vault at {location} uses encryption {config.encryption!r} / hash "
                f"{config.hash!r}; this vmvault supports {ENCRYPTIONS} with blake3"
            )
        return config


def check_chunk_size(size: int) -> int:
    if not (MIN_CHUNK_SIZE <= size <= MAX_CHUNK_SIZE and size & (size - 1) == 0):
        raise VaultFormatError(
            f"chunk_size {size} is not valid: a power of two from {MIN_CHUNK_SIZE} to "
            f"{MAX_CHUNK_SIZE} bytes"
        )
    return size


def check_point_name(kind: str, name: str) -> str:
    if not NAME_RE.match(name):
        raise VaultFormatError(
            f"{kind} name {name!r} is not valid in a vault: 1-128 of A-Z a-z 0-9 . _ -, "
            "not starting with '.'"
        )
    return name


def chunk_name(chunk_id: bytes) -> str:
    hexid = chunk_id.hex()
    return f"chunks/{hexid[:2]}/{hexid}"


def damaged_name(chunk_id: bytes) -> str:
    return DAMAGED + chunk_id.hex()


def point_prefix(item: str, point: str) -> str:
    return f"points/{check_point_name('item', item)}/{check_point_name('point', point)}/"


def manifest_name(item: str, point: str) -> str:
    return point_prefix(item, point) + "manifest"


def provisional_name(item: str, point: str) -> str:
    return point_prefix(item, point) + "provisional"


def index_name(item: str, point: str, lun: int) -> str:
    return point_prefix(item, point) + f"disk-{lun}.idx"


def utc_text(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
