"""Dates and job filters as ``az backup`` writes them: ``31-12-2026`` (az's d-m-Y) or ISO 8601
(``2026-12-31``, ``2026-12-31T08:00:00Z``). A time without an offset is UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from vmvault.domain.errors import InvalidInputError
from vmvault.domain.jobs import JobStatus, Operation

AZ_DATE = "%d-%m-%Y"
JOB_FILTER_CODE = "UserErrorInvalidJobFilter"
E = TypeVar("E", bound=StrEnum)


def parse_date(
    flag: str, text: str, *, end_of_day: bool = False, code: str = "UserErrorInvalidInput"
) -> datetime:
    """``text`` as an aware datetime. A bare date is its midnight (UTC), or, with
    ``end_of_day``, its last microsecond, so that "until 2026-11-22" includes that day.
    ``InvalidInputError`` (with ``code``) naming ``flag`` and the forms it takes."""
    value = text.strip()
    try:
        parsed = datetime.strptime(value, AZ_DATE).replace(tzinfo=UTC)
        bare = True
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(
                f"{flag} {text!r} is not a date: write it as az does, 31-12-2026 (d-m-Y), or "
                "as ISO 8601, 2026-12-31 or 2026-12-31T08:00:00Z",
                code=code,
            ) from None
        bare = "T" not in value.upper() and " " not in value and ":" not in value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if bare and end_of_day:
        parsed += timedelta(days=1) - timedelta(microseconds=1)
    return parsed


def choice(flag: str, value: str, kind: type[E], code: str = "UserErrorInvalidInput") -> E:
    """The member of enum ``kind`` named ``value`` (any case, as ARM matches). For a flag
    that is no policy field: ``InvalidInputError`` with ``code``, not the policy's code."""
    for member in kind:
        if member.value.lower() == value.lower():
            return member
    raise InvalidInputError(
        f"{flag} {value!r} is not valid: allowed values are {', '.join(kind)}", code=code
    )


def job_filters(
    status: str | None, operation: str | None, start_date: str | None, end_date: str | None
) -> dict[str, Any]:
    """The keyword filters of ``JobService.find`` from ``job list``'s options. ``--end-date``
    given as a day includes that whole day. ``InvalidInputError``
    ``UserErrorInvalidJobFilter`` for a value that is not allowed, or a range that ends
    before it starts."""
    since = parse_date("--start-date", start_date, code=JOB_FILTER_CODE) if start_date else None
    until = (
        parse_date("--end-date", end_date, end_of_day=True, code=JOB_FILTER_CODE)
        if end_date
        else None
    )
    if since is not None and until is not None and until < since:
        raise InvalidInputError(
            f"--end-date {end_date!r} is before --start-date {start_date!r}: give a range "
            "that ends on or after its start",
            code=JOB_FILTER_CODE,
        )
    return {
        "status": choice("--status", status, JobStatus, JOB_FILTER_CODE).value if status else None,
        "operation": (
            choice("--operation", operation, Operation, JOB_FILTER_CODE).value
            if operation
            else None
        ),
        "since": since,
        "until": until,
    }
