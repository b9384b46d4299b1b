"""Rendering results as JSON (Azure's shapes) or as Rich tables, and errors as one line."""

from __future__ import annotations

import errno
import functools
import json
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

import click
import typer

from vmvault.cli.interrupt import INTERRUPTED, started
from vmvault.domain.errors import VmvaultError

P = ParamSpec("P")
R = TypeVar("R")


class OutputFormat(StrEnum):
    JSON = "json"
    TABLE = "table"


OutputOption = typer.Option(
    OutputFormat.JSON, "--output", "-o", help="json (Azure's shape) or table", case_sensitive=False
)

# ``serve`` and ``worker`` log plain lines on stderr and print nothing else; they take
# ``--output`` like every command, so that scripts can pass it everywhere.
LogOutputOption = typer.Option(
    OutputFormat.JSON,
    "--output",
    "-o",
    help="Accepted as by every command (the log lines on stderr are plain text)",
    case_sensitive=False,
)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def emit_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    # Rich is imported here, not at start-up: only `--output table` pays for it.
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    Console(width=200 if not sys.stdout.isatty() else None).print(table)


def fail(message: str, code: int = 1) -> typer.Exit:
    sys.stderr.write(message.replace("\n", " ") + "\n")
    return typer.Exit(code)


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn vmvault errors into one line on stderr and exit code 1 (130 for Ctrl-C); anything
    unexpected too (``error_line``), so no traceback reaches a user."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            started()  # from here on Ctrl-C stops the command through its finally blocks
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            raise fail(error_line(exc), exit_code(exc)) from None

    return wrapper


_OS_CODES = {
    errno.EROFS: ("UserErrorReadOnlyFileSystem", "the filesystem is read-only"),
    errno.EACCES: ("UserErrorPermissionDenied", "permission denied"),
    errno.EPERM: ("UserErrorPermissionDenied", "operation not permitted"),
    errno.ENOSPC: ("UserErrorDiskFull", "no space left"),
    errno.EDQUOT: ("UserErrorDiskFull", "disk quota exceeded"),
    errno.ENOTDIR: ("UserErrorNotAFolder", "a part of the path is a file, not a folder"),
    errno.ENOENT: ("UserErrorFileNotFound", "no such file or folder"),
}


def exit_code(exc: BaseException) -> int:
    return INTERRUPTED if isinstance(exc, KeyboardInterrupt) else 1


def error_line(exc: BaseException) -> str:
    """``ERROR: (Code) message`` for any exception: vmvault's own errors as they are; a
    filesystem error with the path and a code by its errno; a catalog database that cannot
    be opened or is locked; Ctrl-C; and, for a bug, the exception's type and text."""
    if isinstance(exc, VmvaultError):
        return f"ERROR: ({exc.code}) {exc.message}"
    if isinstance(exc, KeyboardInterrupt):
        return "ERROR: (OperationCancelled) interrupted (Ctrl-C): the command was stopped"
    if isinstance(exc, OSError):
        code, what = _OS_CODES.get(exc.errno or 0, ("UserErrorFileSystem", ""))
        where = f" at {exc.filename}" if exc.filename else ""
        reason = exc.strerror or what or str(exc)
        return (
            f"ERROR: ({code}) {reason}{where}: check that the path exists, is a folder where "
            "one is expected, and is on a writable filesystem ($VMVAULT_HOME, --storage, "
            "--target-dir)"
        )
    if _is_sqlalchemy(exc, "ArgumentError", "NoSuchModuleError"):
        return (
            f"ERROR: (UserErrorInvalidDatabaseUrl) VMVAULT_DATABASE_URL is not a database URL "
            f"vmvault can open ({exc}): use e.g. postgresql+psycopg://user@host/vmvault, or "
            "unset it for SQLite in $VMVAULT_HOME"
        )
    if _is_sqlalchemy(exc, "OperationalError", "DatabaseError"):
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return (
            f"ERROR: (UserErrorCatalogUnavailable) the catalog database cannot be used "
            f"({detail}): check that $VMVAULT_HOME is writable, that VMVAULT_DATABASE_URL is "
            "right and that the database is up; if another vmvault holds it locked, try again"
        )
    return (
        f"ERROR: (InternalError) {type(exc).__name__}: {exc}: this is a bug in vmvault; "
        "please report it with the command that caused it"
    )


def _is_sqlalchemy(exc: BaseException, *names: str) -> bool:
    """``exc`` is one of SQLAlchemy's errors ``names``, recognised without importing it."""
    return any(
        cls.__module__.startswith("sqlalchemy") and cls.__name__ in names
        for cls in type(exc).__mro__
    )
