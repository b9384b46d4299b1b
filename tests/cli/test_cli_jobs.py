"""Jobs through the real command: `serve` and `worker` start a queued job within their poll
(not at the scheduler's tick) and stop cleanly on SIGTERM; one operation at a time per item;
job JSON in Azure's shapes."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

MiB = 1024 * 1024
CODE = "UserErrorBackupOperationInProgress"


def _lab(vmvault, tmp_path: Path) -> Path:
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "app-os.raw").write_bytes(os.urandom(MiB))
    (lab / "app.vm.json").write_text(
        json.dumps(
            {
                "name": "app",
                "disks": [
                    {"lun": -1, "name": "app-os", "path": "app-os.raw", "type": "standard_ssd"}
                ],
            }
        )
    )
    vmvault("vault", "create", "--name", "v1")
    vmvault("policy", "create", "--vault-name", "v1", "--name", "std", "--sub-type", "Standard")
    vmvault("policy", "create", "--vault-name", "v1", "--name", "enh", "--sub-type", "Enhanced")
    vmvault("source", "add", "--name", "lab", "--type", "files", "--path", str(lab))
    vmvault(
        "protection", "enable-for-vm", "--vault-name", "v1", "--vm", "app", "--policy-name", "std"
    )
    return lab


class Background:
    """`vmvault ARGS...` running in the background, its stderr lines in a queue."""

    def __init__(self, home: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VMVAULT_")}
        env["VMVAULT_HOME"] = str(home)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vmvault", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout  # no queue.get(timeout): it hangs under faketime
        while not any(text in line for line in self.seen):
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                assert time.monotonic() < deadline, f"no {text!r} in {self.seen}"
                time.sleep(0.02)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_serve_starts_a_queued_job_without_waiting_for_its_tick(
    vmvault, vmvault_json, home: Path, tmp_path: Path
) -> None:
    _lab(vmvault, tmp_path)
    serve = Background(home, "serve", "--tick", "3600", "--recompress-budget", "0")
    try:
        serve.wait_for("scheduler pass:")  # the first pass ran; the next is an hour away
        job = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "app")
        # `job wait` only watches while serve runs (it runs nothing itself); it would time
        # out (120 s) if the job waited for the next scheduler pass
        done = vmvault_json("job", "wait", "--vault-name", "v1", "--name", job["name"])
        assert done["properties"]["status"] == "Completed"
        assert serve.terminate() == 0
    finally:
        serve.kill()
    assert any(f"job {job['name']} Backup app: Completed" in line for line in serve.seen)
    assert "vmvault serve: stopped" in "".join(serve.seen)
    assert list((home / "run").glob("worker-*.lock")) == []


def test_worker_runs_jobs_and_stops_cleanly_on_sigterm(
    vmvault, vmvault_json, home: Path, tmp_path: Path
) -> None:
    _lab(vmvault, tmp_path)
    worker = Background(home, "worker")
    try:
        worker.wait_for("running jobs")
        assert len(list((home / "run").glob("worker-*.lock"))) == 1
        job = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "app")
        done = vmvault_json("job", "wait", "--vault-name", "v1", "--name", job["name"])
        assert done["properties"]["status"] == "Completed"
        assert worker.terminate() == 0
    finally:
        worker.kill()
    assert "stopped" in worker.seen[-1]
    assert list((home / "run").glob("worker-*.lock")) == []  # no stale lock file


def test_one_operation_at_a_time_per_item(vmvault, vmvault_json, tmp_path: Path) -> None:
    _lab(vmvault, tmp_path)
    first = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "app")
    vmvault_json("job", "wait", "--vault-name", "v1", "--name", first["name"])
    (rp,) = vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "app")
    queued = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "app")

    def refused(*args: str) -> None:
        proc = vmvault(*args, ok=False)
        assert proc.returncode != 0
        assert CODE in proc.stderr and queued["name"] in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr

    refused("protection", "backup-now", "--vault-name", "v1", "--item-name", "app")
    refused("item", "set-policy", "--vault-name", "v1", "--name", "app", "--policy-name", "enh")
    refused(
        "protection", "migrate", "--vault-name", "v1", "--item-name", "app",
        "--policy-name", "enh", "--yes",
    )  # fmt: skip
    refused(
        "restore", "restore-vm", "--vault-name", "v1", "--item-name", "app",
        "--rp-name", rp["name"], "--replace-existing",
    )  # fmt: skip
    vmvault_json("job", "stop", "--vault-name", "v1", "--name", queued["name"])
    migration = vmvault_json(
        "item", "set-policy", "--vault-name", "v1", "--name", "app", "--policy-name", "enh"
    )
    queued = migration  # now the queued migration blocks the others
    refused("item", "set-policy", "--vault-name", "v1", "--name", "app", "--policy-name", "std")
    refused("protection", "backup-now", "--vault-name", "v1", "--item-name", "app")
    done = vmvault_json("job", "wait", "--vault-name", "v1", "--name", migration["name"])
    assert done["properties"]["status"] == "Completed"
    bag = done["properties"]["extendedInfo"]["propertyBag"]
    assert bag["targetPolicy"] == "enh" and bag["previousPolicy"] == "std"
    assert all(isinstance(v, str) for v in bag.values())


def test_ctrl_c_of_a_foreground_job_wait_cancels_its_job(
    vmvault, vmvault_json, home: Path, tmp_path: Path
) -> None:
    lab = _lab(vmvault, tmp_path)
    with open(lab / "app-os.raw", "wb") as f:  # big enough to be stopped half way
        for _ in range(64):
            f.write(os.urandom(4 * MiB))
    backup = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "app")
    vmvault_json("job", "wait", "--vault-name", "v1", "--name", backup["name"])
    (rp,) = vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "app")
    out = tmp_path / "out"
    job = vmvault_json(
        "restore", "restore-disks", "--vault-name", "v1", "--item-name", "app",
        "--rp-name", rp["name"], "--target-dir", str(out), "--source-tier", "Vault",
    )  # fmt: skip
    waiting = Background(home, "job", "wait", "--vault-name", "v1", "--name", job["name"])
    try:
        with sqlite3.connect(home / "catalog.sqlite3") as db:
            while not db.execute(  # the restore wrote its first chunks
                "SELECT bytes_done FROM jobs WHERE id = ?", (job["name"],)
            ).fetchone()[0]:
                assert waiting.proc.poll() is None
                time.sleep(0.01)
        waiting.proc.send_signal(signal.SIGINT)
        assert waiting.proc.wait(timeout=60) != 0
    finally:
        waiting.kill()
    shown = vmvault_json("job", "show", "--vault-name", "v1", "--name", job["name"])
    assert shown["properties"]["status"] == "Cancelled"  # at once, not after its lease
    assert "Ctrl+C" in shown["properties"]["extendedInfo"]["dynamicErrorMessage"]
    assert list(out.iterdir()) == []
    assert list((home / "run").glob("worker-*.lock")) == []
