"""Checks shared by manifest parsing and the source's own arguments (names, flags, files).

Each check records a ``ManifestProblem`` rather than raising, so one pass over a document
reports all of its faults; ``check_source_name`` and ``check_point_name`` raise directly
because they validate a single argument.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from vmvault.domain.errors import InvalidInputError
from vmvault.sources.model import NAME_RE, NAME_RULE, ManifestProblem


class Problems:
    """The problems found so far in one file; ``vm`` is its VM name once known."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.vm: str | None = None
        self.found: list[ManifestProblem] = []

    def add(self, field: str, message: str) -> None:
        self.found.append(ManifestProblem(self.file, field, message, self.vm))

    def refuse_unknown(
        self, mapping: Mapping[object, object], allowed: Iterable[str], prefix: str
    ) -> None:
        allowed = tuple(allowed)
        for key in mapping:
            if key not in allowed:
                field = f"{prefix}.{key}" if prefix else str(key)
                self.add(field, f"unknown field {key!r}: the fields are {', '.join(allowed)}")


def check_name(problems: Problems, value: object, field: str, what: str) -> str | None:
    """A VM or disk name: the vault item name rule. Returns the name, or None (problem added)."""
    if isinstance(value, str) and NAME_RE.match(value):
        return value
    got = "missing" if value is None else f"{value!r} is not valid"
    problems.add(field, f"{got}: a {what} is {NAME_RULE}")
    return None


def check_bool(
    problems: Problems, mapping: Mapping[str, object], key: str, prefix: str, *, default: bool
) -> bool:
    """A true/false flag with a default; anything else (``"yes"``, ``1``) is a problem."""
    value = mapping.get(key, default)
    if isinstance(value, bool):
        return value
    field = f"{prefix}.{key}" if prefix else key
    problems.add(
        field, f"{value!r} is not valid: use true or false (default {str(default).lower()})"
    )
    return default


def check_regular_file(path: Path) -> str | None:
    """None if ``path`` is a regular file (symlinks followed), else why it is not usable."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"disk file {path} does not exist"
    except OSError as exc:
        return f"disk file {path} cannot be checked: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"disk file {path} is not a regular file (a files source holds image files)"
    return None


def check_source_name(name: str) -> str:
    """A source's name (the first part of ``source/vm`` ids); raises ``InvalidInputError``."""
    return _check_name_arg("source", name)


def check_vm_name(name: str) -> str:
    """A VM name given as an argument; raises ``InvalidInputError``."""
    return _check_name_arg("VM", name)


def check_point_name(point: str) -> str:
    """A recovery point name, which names a snapshot folder; raises ``InvalidInputError``."""
    return _check_name_arg("recovery point", point)


def _check_name_arg(kind: str, name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInputError(f"{kind} name {name!r} is not valid: {NAME_RULE}")
    return name
