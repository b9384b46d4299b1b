"""Time zones as Azure names them (Windows names) and as IANA names them.

Windows names are mapped to IANA zones with the table that ``tzlocal`` maintains from CLDR's
windowsZones data; vmvault keeps no hand-written list. The name a user wrote is kept as written
(Azure echoes ``timeZone`` back unchanged); only the resolved zone is used for computation.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

from vmvault.domain.errors import PolicyValidationError


@lru_cache(maxsize=512)
def resolve_time_zone(name: str) -> ZoneInfo:
    """The zone for a Windows or IANA name; raises PolicyValidationError for unknown names."""
    iana = win_tz.get(name, name)
    try:
        if not iana or iana.startswith(("/", ".")) or ".." in iana:
            raise ZoneInfoNotFoundError(iana)
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder
        raise PolicyValidationError(
            f"timeZone {name!r} is not a known time zone: use a Windows name as Azure does "
            "(e.g. 'India Standard Time', 'Pacific Standard Time', 'UTC') or an IANA name "
            "(e.g. 'Asia/Kolkata')"
        ) from None


def windows_zone_names() -> list[str]:
    """All Windows time-zone names vmvault understands, sorted."""
    return sorted(win_tz)
