"""Issue 9 §4: no traceback ever reaches a user. Real faults, a real ``vmvault`` process: a
read-only filesystem (tmpfs mounted ``ro``; root ignores permission bits, not a read-only
mount), a path under a regular file, a damaged catalog, Ctrl-C while the command starts.
Each is one ``ERROR: (Code) message`` line naming the value, with a code that fits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def readonly(tmp_path: Path) -> Iterator[Path]:
    """An empty read-only tmpfs."""
    point = tmp_path / "ro"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(point)], check=True)
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


def _one_error(proc: subprocess.CompletedProcess[str], code: str, *, exit_code: int = 1) -> str:
    assert proc.returncode == exit_code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"ERROR: ({code}) "), proc.stderr
    return lines[0]


def test_storage_on_a_read_only_filesystem_or_under_a_file(vmvault, readonly, tmp_path) -> None:
    line = _one_error(
        vmvault("vault", "create", "--name", "v1", "--storage", str(readonly / "v1"), ok=False),
        "UserErrorStorageNotWritable",
    )
    assert str(readonly) in line and "read-only" in line
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _one_error(
        vmvault("vault", "create", "--name", "v1", "--storage", str(blocker / "v1"), ok=False),
        "UserErrorStorageNotWritable",
    )
    assert f"under {blocker}, which is a file" in line
    line = _one_error(
        vmvault("vault", "create", "--name", "v1", "--storage", str(blocker), ok=False),
        "UserErrorInvalidInput",  # an existing file: not a new or empty folder
    )
    assert vmvault("vault", "list").stdout.strip() == "[]"  # nothing was created


def test_read_only_or_blocked_vmvault_home(vmvault, readonly, tmp_path) -> None:
    for home in (readonly, readonly / "home"):
        line = _one_error(
            vmvault("vault", "list", ok=False, env={"VMVAULT_HOME": str(home)}),
            "UserErrorDataDirectoryNotWritable",
        )
        assert str(home) in line and "read-only" in line and "VMVAULT_HOME" in line
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _one_error(
        vmvault("vault", "list", ok=False, env={"VMVAULT_HOME": str(blocker / "home")}),
        "UserErrorDataDirectoryNotWritable",
    )
    assert "which is a file" in line


def test_home_remounted_read_only_after_use(vmvault, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(home)], check=True)
    try:
        env = {"VMVAULT_HOME": str(home)}
        vmvault("vault", "create", "--name", "v1", env=env)
        subprocess.run(["mount", "-o", "remount,ro", str(home)], check=True)
        for args in (("vault", "list"), ("vault", "create", "--name", "v2")):
            line = _one_error(
                vmvault(*args, ok=False, env=env), "UserErrorDataDirectoryNotWritable"
            )
            assert str(home) in line
    finally:
        subprocess.run(["umount", "-l", str(home)], check=False)


def test_a_damaged_catalog_is_one_line(vmvault, home: Path) -> None:
    home.mkdir(parents=True)
    (home / "catalog.sqlite3").write_bytes(b"this is not a database" * 100)
    line = _one_error(vmvault("vault", "list", ok=False), "UserErrorCatalogUnavailable")
    assert "catalog" in line
    line = _one_error(
        vmvault("vault", "list", ok=False, env={"VMVAULT_DATABASE_URL": "nosuchdb://x/y"}),
        "UserErrorInvalidDatabaseUrl",
    )
    assert "nosuchdb" in line


def test_missing_policy_file_is_not_reported_as_bad_json(vmvault, tmp_path: Path) -> None:
    vmvault("vault", "create", "--name", "v1")
    missing = tmp_path / "enhanced.json"
    line = _one_error(
        vmvault(
            "policy",
            "create",
            "--vault-name",
            "v1",
            "--name",
            "p1",
            "--policy",
            str(missing),
            ok=False,
        ),
        "UserErrorPolicyFileNotFound",
    )
    assert str(missing) in line and "JSON" in line
    line = _one_error(
        vmvault(
            "policy",
            "create",
            "--vault-name",
            "v1",
            "--name",
            "p1",
            "--policy",
            str(tmp_path),
            ok=False,
        ),
        "UserErrorPolicyFileNotReadable",
    )
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    _one_error(
        vmvault(
            "policy", "create", "--vault-name", "v1", "--name", "p1", "--policy", str(bad), ok=False
        ),
        "UserErrorInvalidInput",
    )


def test_job_filters_have_their_own_code(vmvault) -> None:
    vmvault("vault", "create", "--name", "v1")
    for args in (
        ("--status", "Bogus"),
        ("--operation", "Nap"),
        ("--start-date", "yesterday"),
        ("--end-date", "32-01-2026"),
        ("--start-date", "2026-03-02", "--end-date", "01-03-2026"),
    ):
        line = _one_error(
            vmvault("job", "list", "--vault-name", "v1", *args, ok=False),
            "UserErrorInvalidJobFilter",
        )
        assert repr(args[1]) in line or repr(args[-1]) in line


def _start_and_interrupt(home: Path, delay: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMVAULT_")}
    env["VMVAULT_HOME"] = str(home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vmvault", "vault", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _until_vmvault_runs() -> float:
    """Seconds a process takes here, now, to start the interpreter, find and import the
    ``vmvault`` package (which is when vmvault's first line can answer SIGINT) and exit: the
    longest of three. A SIGINT before that is the interpreter's own, not vmvault's."""
    times = []
    for _ in range(3):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import vmvault"], check=True)
        times.append(time.monotonic() - started)
    return max(times)


def test_ctrl_c_during_start_up(home: Path) -> None:
    """SIGINT at moments spread over the start-up (imports, opening the catalog): never a
    traceback; either the command had done its work (its output printed) or one line and
    exit code 130."""
    interrupted = 0
    first = 2 * _until_vmvault_runs()  # a margin for a busy machine
    for delay in (0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.45, 0.7):
        proc = _start_and_interrupt(home, first + delay)
        assert "Traceback" not in proc.stderr, (delay, proc.stderr)
        if proc.stdout == "[]\n":  # it had done its work: the signal came as it exited
            continue
        interrupted += 1
        # 130, or killed by SIGINT (-2), which a shell also reports as 130
        assert proc.returncode in (130, -signal.SIGINT), (delay, proc.returncode, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ERROR: (OperationCancelled) "), lines
    assert interrupted >= 3  # most of these land while it starts
