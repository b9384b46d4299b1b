"""Opening the services for one CLI command, from ``$VMVAULT_HOME``/``$VMVAULT_DATABASE_URL``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vmvault.config import load_settings
from vmvault.domain.errors import InvalidInputError

if TYPE_CHECKING:
    from vmvault.services.context import Services


@contextmanager
def services() -> Iterator[Services]:
    """The services of ``$VMVAULT_HOME``, closed on exit. The services (and SQLAlchemy with
    them) are imported here, on a command's first use, so that ``--help`` and parsing errors
    never pay for them."""
    from vmvault.services.context import Services

    svc = Services.open(load_settings())
    try:
        yield svc
    finally:
        svc.close()


def passphrase(path: str | None, *, required: bool = False) -> str | None:
    """The vault passphrase: the first line of ``path``, else ``$VMVAULT_PASSPHRASE``."""
    if path is not None:
        try:
            return Path(path).read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError):
            raise InvalidInputError(
                f"--passphrase-file {path!r} cannot be read or is empty"
            ) from None
    value = os.environ.get("VMVAULT_PASSPHRASE")
    if required and not value:
        raise InvalidInputError(
            "an encrypted vault needs a passphrase: set VMVAULT_PASSPHRASE or give "
            "--passphrase-file"
        )
    return value or None
