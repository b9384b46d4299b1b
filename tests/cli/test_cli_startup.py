"""What a CLI command imports at start-up, and that the schema is still migrated at first use.

The commands below must not import what they do not use: SQLAlchemy, Alembic, boto3, the vault
data path (BLAKE3, zstd, cryptography) and Rich's tables each cost a tenth of a second or more
at every start (bench/bench_cli.py measures it). These tests assert imports, never times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import column, table

from vmvault.catalog.db import HEAD_REVISION, MIGRATIONS, current_revision, make_engine
from vmvault.catalog.models import UTCDateTime

Run = Callable[..., subprocess.CompletedProcess[str]]

# Alembic (only to migrate), boto3 (only for s3://), the data path, YAML manifests.
NEVER_AT_START = {"alembic", "boto3", "botocore", "blake3", "zstandard", "cryptography", "yaml"}
CATALOG = {"sqlalchemy", "vmvault.catalog", "vmvault.services"}


def _imported(argv: list[str], home: Path, database_url: str | None = None) -> set[str]:
    """The modules ``python -X importtime ARGV`` imports (top-level names and full names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMVAULT_")}
    env["VMVAULT_HOME"] = str(home)
    if database_url:
        env["VMVAULT_DATABASE_URL"] = database_url
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names: set[str] = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.update({name, name.split(".")[0]})
            names.update(".".join(name.split(".")[:n]) for n in (2, 3))
    assert "vmvault" in names or argv[:2] == ["-c", "pass"], proc.stderr[-2000:]
    return names


def test_importing_the_cli_imports_no_catalog_rich_or_data_path(home: Path) -> None:
    names = _imported(["-c", "import vmvault.cli.app"], home)
    later = {"rich", "vmvault.vault", "vmvault.sources", "vmvault.storage"}
    assert names & (NEVER_AT_START | CATALOG | later) == set()


@pytest.mark.parametrize("argv", [["--help"], ["version"], ["vault", "--help"]])
def test_help_and_version_open_no_catalog(argv: list[str], home: Path) -> None:
    names = _imported(["-m", "vmvault", *argv], home)
    assert names & (NEVER_AT_START | CATALOG) == set()
    assert not home.exists()  # nothing was created either


def test_vault_and_policy_list_import_the_catalog_only(vmvault: Run, home: Path) -> None:
    vmvault("vault", "create", "--name", "v1")
    vmvault("policy", "create", "--vault-name", "v1", "--name", "daily")
    for argv in (["vault", "list"], ["policy", "list", "--vault-name", "v1"]):
        names = _imported(["-m", "vmvault", *argv], home)
        assert "sqlalchemy" in names  # the catalog is read...
        assert names & NEVER_AT_START == set()  # ...with no migration check and no data path
        assert names & {"rich", "vmvault.vault.repository", "vmvault.services.backups"} == set()


def test_table_output_still_renders_with_rich(vmvault: Run, home: Path) -> None:
    vmvault("vault", "create", "--name", "v1")
    table = vmvault("vault", "list", "--output", "table").stdout
    assert "v1" in table and "Storage" in table


def test_a_plain_command_upgrades_a_schema_at_revision_0001(vmvault: Run, catalog_url: str) -> None:
    """A catalog left by an older vmvault (revision 0001) is migrated by the next command."""
    engine = make_engine(catalog_url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "0001")
        assert current_revision(engine) == "0001" != HEAD_REVISION
        vaults = table(
            "vaults", column("name"), column("storage"), column("created_at", UTCDateTime())
        )
        with engine.begin() as connection:  # the 0001 schema: no columns of later revisions
            connection.execute(
                vaults.insert().values(
                    name="old", storage="/srv/old", created_at=datetime(2024, 1, 1, tzinfo=UTC)
                )
            )
    finally:
        engine.dispose()

    env = {"VMVAULT_DATABASE_URL": catalog_url}
    listed = json.loads(vmvault("vault", "list", env=env).stdout)
    assert [v["name"] for v in listed] == ["old"]
    engine = make_engine(catalog_url)
    try:
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()
    # the upgraded schema serves the tables 0002 added
    assert vmvault("source", "list", "--output", "json", env=env).stdout.strip() == "[]"
