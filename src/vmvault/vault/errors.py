"""Errors of the vault tier, each with a code and a message naming what is wrong."""

from __future__ import annotations

from vmvault.domain.errors import VmvaultError


class VaultError(VmvaultError):
    code = "VaultError"


class VaultFormatError(VaultError):
    """Not a vault, or a format version this vmvault does not implement."""

    code = "VaultFormatUnsupported"


class WrongPassphraseError(VaultError):
    code = "VaultWrongPassphrase"


class CorruptObjectError(VaultError):
    """An object fails authentication, decompression, parsing or its hash check."""

    code = "VaultObjectCorrupt"


class MissingObjectError(VaultError):
    code = "VaultObjectMissing"


class VaultBusyError(VaultError):
    """A backup and a garbage collection may not run at the same time."""

    code = "VaultBusy"


class ConfigTamperedError(VaultError):
    """The vault's config is not the one its key (or the catalog) was bound to."""

    code = "VaultConfigTampered"


class CatalogMismatchError(VaultError):
    """The catalog and the vault disagree about which recovery points exist."""

    code = "VaultCatalogMismatch"
