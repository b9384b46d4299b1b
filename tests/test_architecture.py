"""The layers of DESIGN.md §2, enforced by reading every module's imports."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vmvault"

# layer -> vmvault packages it must never import
FORBIDDEN = {
    "domain": {"catalog", "services", "jobs", "cli", "api", "web", "vault", "sources", "storage",
               "clock", "config"},
    "storage": {"vault", "catalog", "services", "jobs", "cli", "api", "web", "sources"},
    "vault": {"catalog", "services", "jobs", "cli", "api", "web"},
    "sources": {"catalog", "services", "jobs", "cli", "api", "web"},
    "catalog": {"services", "jobs", "cli", "api", "web", "vault", "sources", "storage"},
    "jobs": {"cli", "api", "web"},
    "services": {"cli", "api", "web"},
    "clock": {"domain", "catalog", "services", "jobs", "cli", "api", "web"},
    "config": {"domain", "catalog", "services", "jobs", "cli", "api", "web"},
}  # fmt: skip
# The pure core may use the standard library and these third-party packages only.
DOMAIN_THIRD_PARTY = {"tzlocal"}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_respects_layers(path: Path) -> None:
    layer = _layer(path)
    banned = FORBIDDEN.get(layer, set())
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "vmvault" and len(parts) > 1:
            assert parts[1] not in banned, f"{path.name} ({layer}) imports {name}"
        elif layer == "domain" and parts[0] != "vmvault":
            top = parts[0]
            allowed = top in sys.stdlib_module_names or top in DOMAIN_THIRD_PARTY
            assert allowed, f"domain module {path.name} imports third-party {name}"


def test_only_clock_reads_the_wall_clock() -> None:
    pattern = re.compile(r"datetime\.now\(|datetime\.utcnow\(|time\.time\(|date\.today\(")
    offenders = [
        str(p.relative_to(SRC))
        for p in _modules()
        if p.name != "clock.py" and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_modules_stay_small() -> None:
    big = {
        str(p.relative_to(SRC)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert big == {}
