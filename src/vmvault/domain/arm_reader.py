"""Strict, path-aware reading of ARM JSON objects.

Every error names the JSON path of the field, the value found and what is allowed, so that a
user can fix a policy document from the message alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time
from enum import StrEnum
from typing import Any, TypeVar

from vmvault.domain.errors import PolicyValidationError

E = TypeVar("E", bound=StrEnum)


class ArmObject:
    """A JSON object at a path, with typed getters; ``null`` counts as absent."""

    def __init__(self, value: object, path: str, allowed_keys: Sequence[str]) -> None:
        if not isinstance(value, Mapping):
            raise PolicyValidationError(f"{path or 'body'} must be a JSON object, got {value!r}")
        self.path = path
        self.data: Mapping[str, Any] = value
        unknown = [k for k in value if k not in allowed_keys]
        if unknown:
            raise PolicyValidationError(
                f"{self._at(unknown[0])} is not a known field: allowed fields are "
                + ", ".join(allowed_keys)
            )

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def obj(self, key: str, allowed_keys: Sequence[str]) -> ArmObject:
        return ArmObject(self.require(key), self._at(key), allowed_keys)

    def require(self, key: str) -> Any:
        value = self.data.get(key)
        if value is None:
            raise PolicyValidationError(f"{self._at(key)} is required")
        return value

    def string(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise PolicyValidationError(f"{self._at(key)} is required")
            return default
        if not isinstance(value, str):
            raise PolicyValidationError(f"{self._at(key)} must be a string, got {value!r}")
        return value

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise PolicyValidationError(f"{self._at(key)} is required")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise PolicyValidationError(f"{self._at(key)} must be a whole number, got {value!r}")
        return value

    def enum(self, key: str, kind: type[E], default: E | None = None) -> E:
        value = self.data.get(key)
        if value is None and default is not None:
            return default
        return parse_enum(self.require(key), kind, self._at(key))

    def enum_list(self, key: str, kind: type[E], *, required: bool = True) -> tuple[E, ...]:
        value = self.data.get(key)
        if value is None and not required:
            return ()
        items = self._list(key, value)
        if required and not items:
            raise PolicyValidationError(
                f"{self._at(key)} must list at least one of: {', '.join(kind)}"
            )
        return tuple(parse_enum(v, kind, f"{self._at(key)}[{i}]") for i, v in enumerate(items))

    def objects(self, key: str, allowed_keys: Sequence[str]) -> list[ArmObject]:
        items = self._list(key, self.data.get(key))
        return [ArmObject(v, f"{self._at(key)}[{i}]", allowed_keys) for i, v in enumerate(items)]

    def times(self, key: str, *, required: bool = True) -> tuple[time, ...]:
        """A list of UTC date-times of which only the time of day counts."""
        value = self.data.get(key)
        if value is None and not required:
            return ()
        items = self._list(key, value)
        if required and not items:
            raise PolicyValidationError(f"{self._at(key)} must hold one UTC date-time")
        return tuple(parse_utc_time(v, f"{self._at(key)}[{i}]") for i, v in enumerate(items))

    def _list(self, key: str, value: object) -> list[Any]:
        if value is None:
            raise PolicyValidationError(f"{self._at(key)} is required")
        if not isinstance(value, list):
            raise PolicyValidationError(f"{self._at(key)} must be a JSON list, got {value!r}")
        return value


def parse_enum(value: object, kind: type[E], path: str) -> E:
    """An Azure enum value, matched case-insensitively as ARM does."""
    if isinstance(value, str):
        for member in kind:
            if member.value.lower() == value.lower():
                return member
    raise PolicyValidationError(
        f"{path} {value!r} is not valid: allowed values are {', '.join(kind)}"
    )


def parse_utc_time(value: object, path: str) -> time:
    """The time of day of a UTC date-time such as ``2018-01-24T10:00:00Z``."""
    if not isinstance(value, str):
        raise PolicyValidationError(f"{path} must be a UTC date-time string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PolicyValidationError(
            f"{path} {value!r} is not a date-time: write e.g. '2024-01-01T08:00:00Z'"
        ) from None
    offset = parsed.utcoffset()
    if offset is not None and offset.total_seconds() != 0:
        raise PolicyValidationError(
            f"{path} {value!r} must be written in UTC (ending in Z or +00:00); its time of day "
            "is read in the policy's timeZone"
        )
    return parsed.time().replace(tzinfo=None)
