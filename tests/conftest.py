"""Shared fixtures: a throwaway PostgreSQL server on loopback and fresh catalog databases.

``postgres_url`` starts one PostgreSQL per test session from Debian's server binaries
(``/usr/lib/postgresql/<newest>/bin``): ``initdb`` into a temporary folder, ``pg_ctl start``
listening on 127.0.0.1 only (a free port; its unix socket in the same folder), and
``pg_ctl stop -m fast`` plus removal of the folder at the end. When the tests run as root the
server runs as the ``postgres`` user (``initdb`` refuses root). Missing binaries fail the tests
that need them: CI installs ``postgresql`` (``scripts/bootstrap.sh test``), so a silent skip
would hide a broken setup.

``pg_database_url`` is a new, empty database per test; ``catalog_url`` runs a test once on
SQLite and once on PostgreSQL (marked ``postgres``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import psycopg
import pytest

from vmvault.storage.s3 import S3Storage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PG_ROOT = Path("/usr/lib/postgresql")
PG_TOOLS = ("initdb", "pg_ctl", "postgres")
PG_USER = "postgres"  # the superuser initdb creates, and the OS user Debian's package adds
START_ATTEMPTS = 3  # a free port found by binding port 0 can be taken before the server binds


@dataclass(frozen=True)
class _PgServer:
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=PG_USER, dbname="postgres", autocommit=True
        )


def _pg_bin_dir() -> Path:
    """The bin folder of the newest PostgreSQL under /usr/lib/postgresql that has every tool."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.name)) or (0,)

    candidates = [
        b for b in PG_ROOT.glob("*/bin") if all((b / tool).is_file() for tool in PG_TOOLS)
    ]
    if not candidates:
        pytest.fail(
            f"PostgreSQL server binaries ({', '.join(PG_TOOLS)}) were not found under "
            f"{PG_ROOT}/*/bin: install Debian's 'postgresql' package "
            "(scripts/bootstrap.sh test does) to run the PostgreSQL catalog tests",
            pytrace=False,
        )
    return max(candidates, key=version)


def _as_server_user() -> list[str]:
    """The command prefix that runs a PostgreSQL tool as a user initdb accepts."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.fail(
            "running as root needs 'runuser' to start PostgreSQL as the postgres user",
            pytrace=False,
        )
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        pytest.fail(
            f"running as root needs the OS user {PG_USER!r} (created by Debian's 'postgresql' "
            "package) to run initdb, which refuses to run as root",
            pytrace=False,
        )
    return [runuser, "-u", PG_USER, "--"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)


def _failure(what: str, result: subprocess.CompletedProcess[str], log: Path) -> str:
    log_text = log.read_text(errors="replace") if log.is_file() else "(no server log)"
    return (
        f"{what} failed (exit {result.returncode}): {shlex.join(result.args)}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\nserver log:\n{log_text}"
    )


@pytest.fixture(scope="session")
def _pg_server() -> Iterator[_PgServer]:
    bin_dir = _pg_bin_dir()
    prefix = _as_server_user()
    base = Path(tempfile.mkdtemp(prefix="vmvault-pg-"))
    if prefix:
        shutil.chown(base, user=PG_USER, group=PG_USER)
    data, log = base / "data", base / "server.log"
    pg_ctl = [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        init = _run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", PG_USER,
             "--no-sync", "-E", "UTF8", "--no-locale"],
            cwd=base,
        )  # fmt: skip
        if init.returncode != 0:
            pytest.fail(_failure("initdb", init, log), pytrace=False)
        for _attempt in range(START_ATTEMPTS):
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} "
                f"-c unix_socket_directories={shlex.quote(str(base))} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            start = _run([*pg_ctl, "-w", "-t", "30", "-l", str(log), "-o", options, "start"], base)
            if start.returncode == 0:
                started = True
                break
        if not started:
            pytest.fail(_failure("pg_ctl start", start, log), pytrace=False)
        yield _PgServer(port)
    finally:
        if started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                if _run([*pg_ctl, "-m", "fast", "-w", "stop"], base).returncode != 0:
                    _run([*pg_ctl, "-m", "immediate", "-w", "stop"], base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(_pg_server: _PgServer) -> str:
    """The URL of the session's PostgreSQL server (its ``postgres`` database; superuser)."""
    return _pg_server.url("postgres")


@pytest.fixture
def pg_database_url(_pg_server: _PgServer) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"vmvault_test_{uuid.uuid4().hex[:16]}"
    with _pg_server.connect() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield _pg_server.url(name)
    with _pg_server.connect() as admin, contextlib.suppress(psycopg.Error):
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty catalog database URL of each kind (SQLite in tmp_path, PostgreSQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    url: str = request.getfixturevalue("pg_database_url")
    return url


# -- S3: moto's standalone server on loopback ----------------------------------------------
# ``s3_endpoint`` starts moto's S3-compatible server once per session as a separate process
# (``python -m moto.server -H 127.0.0.1 -p PORT``), so boto3 talks real HTTP to it, and stops it
# at the end. ``s3_bucket`` is a fresh bucket per test. Credentials are dummies passed to each
# client, never put in the process environment. A server that fails to start fails the tests
# that need it: nothing is skipped.

S3_CREDENTIALS = {"access_key": "vmvault-test", "secret_key": "vmvault-test-secret"}
S3_REGION = "us-east-1"
START_ATTEMPTS = 3  # a free port found by binding port 0 can be taken before the server binds
START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"moto server did not listen on 127.0.0.1:{port} in {START_TIMEOUT}s; see {log}")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server running in its own process on 127.0.0.1."""
    with tempfile.TemporaryDirectory(prefix="vmvault-moto-") as tmp:
        log = Path(tmp) / "moto.log"
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            if _wait_listening(proc, port, log):
                break
        else:
            pytest.fail(f"moto server failed to start:\n{log.read_text(errors='replace')}")
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def make_s3(s3_endpoint: str) -> Callable[..., S3Storage]:
    """Build an S3Storage on the test server: ``make_s3(bucket, prefix="", **kwargs)``."""

    def make(bucket: str, prefix: str = "", **kwargs: object) -> S3Storage:
        args: dict[str, object] = {"endpoint_url": s3_endpoint, "region": S3_REGION}
        args.update(S3_CREDENTIALS)
        args.update(kwargs)
        return S3Storage(bucket, prefix, **args)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def s3_admin(s3_endpoint: str) -> S3Client:
    """A plain boto3 client on the test server, for set-up and for looking behind a store."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_CREDENTIALS["access_key"],
        aws_secret_access_key=S3_CREDENTIALS["secret_key"],
    )


@pytest.fixture
def s3_bucket(s3_admin: S3Client) -> str:
    """A new, empty bucket on the test server."""
    name = f"vmvault-test-{uuid.uuid4().hex[:16]}"
    s3_admin.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_env(s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point ``open_storage`` at the test S3 server through the environment, as a user would;
    returns a fresh bucket's name."""
    monkeypatch.setenv("VMVAULT_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_CREDENTIALS["access_key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_CREDENTIALS["secret_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", S3_REGION)
    return s3_bucket


# -- a loop-mounted XFS with reflinks -------------------------------------------------------
def _must(command: list[str], why: str) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.fail(f"{why}: {command[0]} is not installed (install xfsprogs)", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"{why}: {' '.join(command)} exited {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()} (these tests need root and loop "
            "devices)",
            pytrace=False,
        )
    return result.stdout


@pytest.fixture(scope="module")
def xfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh XFS (reflink=1) mounted from a 1 GiB sparse image file."""
    if os.geteuid() != 0:
        pytest.fail("mounting a loop XFS needs root: run these tests as root", pytrace=False)
    base = tmp_path_factory.mktemp("xfs")
    image, mount = base / "xfs.img", base / "mnt"
    mount.mkdir()
    with open(image, "wb") as f:
        f.truncate(1 << 30)
    _must(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], "cannot create the XFS")
    _must(["mount", "-o", "loop", str(image), str(mount)], "cannot loop-mount the XFS")
    try:
        fs = _must(["stat", "-f", "-c", "%T", str(mount)], "cannot stat the mount").strip()
        assert fs == "xfs", f"{mount} is {fs}, not xfs"
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True, timeout=60)
        # mount -o loop sets autoclear; detach by hand only if a loop device is still bound.
        for line in _must(["losetup", "-j", str(image)], "losetup").splitlines():
            subprocess.run(["losetup", "-d", line.split(":")[0]], capture_output=True)
        assert not os.path.ismount(mount), f"could not unmount {mount}"
