"""Rendering results as JSON (Azure's shapes) or as Rich tables, and errors as one line."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

import typer

from vmvault.domain.errors import VmvaultError

P = ParamSpec("P")
R = TypeVar("R")


class OutputFormat(StrEnum):
    JSON = "json"
    TABLE = "table"


OutputOption = typer.Option(
    OutputFormat.JSON, "--output", "-o", help="json (Azure's shape) or table", case_sensitive=False
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
    """Turn vmvault errors into one line on stderr and exit code 1 (2 for bad input)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except VmvaultError as exc:
            raise fail(f"ERROR: ({exc.code}) {exc.message}") from None

    return wrapper
