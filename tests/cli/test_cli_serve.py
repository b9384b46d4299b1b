from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.timed_waits
def test_serve_runs_the_scheduler_on_the_embedded_default(vmvault, home: Path) -> None:
    vmvault("vault", "create", "--name", "vault1")
    proc = vmvault("serve", "--tick", "0.2", "--run-for", "1")
    assert "scheduler running" in proc.stderr
    assert "scheduler pass: 0 protected item(s), 0 slot(s) queued" in proc.stderr
    assert "vmvault serve: stopped" in proc.stderr
    assert (home / "catalog.sqlite3").is_file()
