"""Drive the real ``vmvault`` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "vmvault-data"


@pytest.fixture
def vmvault(home: Path) -> Run:
    def run(*args: str, ok: bool = True, env: dict[str, str] | None = None, **kw: Any):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("VMVAULT_")}
        full_env["VMVAULT_HOME"] = str(home)
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "vmvault", *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=120,
            **kw,
        )
        if ok:
            assert proc.returncode == 0, f"vmvault {' '.join(args)} failed:\n{proc.stderr}"
        return proc

    return run


@pytest.fixture
def vmvault_json(vmvault: Run) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        return json.loads(vmvault(*args, "--output", "json").stdout)

    return run
