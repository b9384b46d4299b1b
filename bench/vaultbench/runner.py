"""One run of the benchmark: vmvault and restic side by side on the same images."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaultbench.common import (
    GB,
    HINT_BLOCK,
    ITEM,
    LUN,
    PASSPHRASE,
    SCRIPT,
    Measured,
    MiB,
    Scale,
    drop_caches,
    measure,
    sh,
)
from vaultbench.images import changed_extents, file_sha256, tree_bytes
from vmvault.storage.local import LocalStorage
from vmvault.vault.format import DEFAULT_CHUNK_SIZE
from vmvault.vault.repository import Vault


class Bench:
    def __init__(self, args: argparse.Namespace, scale: Scale, d: Path) -> None:
        self.args, self.scale, self.d = args, scale, d
        self.run = d / "run"
        self.vault, self.vault_h = self.run / "vault", self.run / "vault-hinted"
        self.repo, self.src = self.run / "restic-repo", self.run / "restic-src"
        self.logs = self.run / "logs"
        self.dropped = True
        self.env = {
            **os.environ,
            "VMVAULT_BENCH_PASSPHRASE": PASSPHRASE,
            "RESTIC_REPOSITORY": str(self.repo),
            "RESTIC_PASSWORD": PASSPHRASE,
            "RESTIC_CACHE_DIR": str(self.run / "restic-cache"),
        }

    def plain(self, *cmd: str) -> str:
        """An untimed helper command (restic init, restic cat config)."""
        done = subprocess.run(cmd, env=self.env, check=True, capture_output=True, text=True)
        return done.stdout

    def timed(self, label: str, cmd: Sequence[str | Path], cwd: Path | None = None) -> Measured:
        self.dropped = drop_caches() and self.dropped
        self.warm_programs()
        print(f"  {label} ...", end="", flush=True)
        m = measure([str(c) for c in cmd], self.logs / label, env=self.env, cwd=cwd)
        print(
            f" {m.seconds:.2f} s ({m.cpu_seconds:.2f} CPU-s), peak RSS {m.max_rss / MiB:.0f} MiB; "
            f"meanwhile other processes {m.others_cpu_seconds:.1f} CPU-s, steal "
            f"{m.host['steal']:.1f} s, iowait {m.host['iowait']:.1f} s",
            flush=True,
        )
        return m

    def warm_programs(self) -> None:
        """After dropping the page cache, load both programs again (not their data): the figures
        are of the data path, not of loading the Python modules or the restic binary cold."""
        restic = shutil.which("restic")
        if restic:
            Path(restic).read_bytes()
        cmd = [sys.executable, str(SCRIPT), "--phase", "warm"]
        subprocess.run(cmd, check=True, env=self.env)

    def vmvault(self, label: str, phase: str, **opts: object) -> tuple[Measured, dict[str, Any]]:
        result = self.logs / f"{label}.json"
        cmd = [
            sys.executable,
            str(SCRIPT),
            "--phase",
            phase,
            "--result",
            str(result),
        ]
        if self.args.workers:
            cmd += ["--workers", str(self.args.workers)]
        for level in ("compression_level", "ingest_level"):
            if getattr(self.args, level) is not None:
                cmd += [f"--{level.replace('_', '-')}", str(getattr(self.args, level))]
        for key, value in opts.items():
            if value is not None:
                cmd += [f"--{key.replace('_', '-')}", str(value)]
        m = self.timed(label, cmd)
        return m, json.loads(result.read_text())

    def restic(self, label: str, *args: str | Path) -> tuple[Measured, dict[str, Any]]:
        m = self.timed(label, ["restic", "--json", *args], cwd=self.src)
        summary: dict[str, Any] = {}
        for line in m.stdout.splitlines():
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if isinstance(doc, dict) and doc.get("message_type") == "summary":
                    summary = doc
        return m, summary

    def execute(self, base: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
        disk1, disk2, skip_restic = self.d / "disk.raw", self.d / "disk2.raw", self.args.skip_restic
        shutil.rmtree(self.run, ignore_errors=True)
        self.logs.mkdir(parents=True)
        self.src.mkdir()
        res: dict[str, Any] = {"vmvault": {}, "restic": {}}
        vm, rs = res["vmvault"], res["restic"]
        chunk_size = self.args.chunk_size or DEFAULT_CHUNK_SIZE
        Vault.create(
            LocalStorage(self.vault),
            datetime.now(UTC),
            passphrase=PASSPHRASE,
            chunk_size=chunk_size,
        )
        if not skip_restic:
            self.plain("restic", "init", "-q")
            rs["repo_config"] = json.loads(self.plain("restic", "cat", "config"))
            os.link(disk1, self.src / "disk.raw")  # restic keys by path: one path, two images

        print("full backup", flush=True)
        vm["full"] = self.vmvault(
            "vmvault-full", "backup", vault=self.vault, image=disk1, point="full"
        )
        if not skip_restic:
            rs["full"] = self.restic("restic-full", "backup", "--host", "bench", "disk.raw")
            os.link(disk2, self.src / "disk.raw.new")
            os.replace(self.src / "disk.raw.new", self.src / "disk.raw")
        # The hinted run gets its own vault as it was after the full backup (hard links: chunk
        # files are immutable), so it must store the new chunks itself like the unhinted run.
        sh("cp", "-al", self.vault, self.vault_h)

        print("incremental backup, no hints", flush=True)
        vm["incr"] = self.vmvault(
            "vmvault-incr", "backup", vault=self.vault, image=disk2, point="incr", previous="full"
        )
        if not skip_restic:
            rs["incr"] = self.restic("restic-incr", "backup", "--host", "bench", "disk.raw")

        print("changed extents (dirty-bitmap stand-in, not part of any timed figure)", flush=True)
        drop_caches()
        start = time.perf_counter()
        hints = changed_extents(disk1, disk2)
        res["hints"] = {
            "seconds": time.perf_counter() - start,
            "extents": len(hints),
            "bytes": sum(e.length for e in hints),
            "block": HINT_BLOCK,
        }
        print(
            f"  {len(hints)} extents, {res['hints']['bytes'] / GB:.3f} GB changed, "
            f"{res['hints']['seconds']:.1f} s",
            flush=True,
        )
        hint_file = self.run / "hints.json"
        hint_file.write_text(json.dumps({"extents": [[e.offset, e.length] for e in hints]}))
        print("incremental backup with changed-extent hints (vmvault only)", flush=True)
        vm["hinted"] = self.vmvault(
            "vmvault-hinted",
            "backup",
            vault=self.vault_h,
            image=disk2,
            point="incr-hinted",
            previous="full",
            hints=hint_file,
        )
        vm["hinted_index_matches"] = self.same_index()

        # What `vmvault serve` does between jobs: settle the chunks both backups stored at the
        # fast ingest level. The restore below reads the settled vault, as later restores do.
        vm["size_ingested"] = tree_bytes(self.vault)
        print("recompression of the new chunks (background work, vmvault only)", flush=True)
        vm["recompress"] = self.vmvault("vmvault-recompress", "recompress", vault=self.vault)

        print("restore of the incremental point", flush=True)
        target = self.run / "restore-vmvault.raw"
        vm["restore"] = self.vmvault(
            "vmvault-restore", "restore", vault=self.vault, point="incr", target=target
        )
        vm["restored"] = self.verify(target, changed["sha256"])
        if not skip_restic:
            out = self.run / "restore-restic"
            rs["restore"] = self.restic("restic-restore", "restore", "latest", "--target", out)
            found = next(out.rglob("disk.raw"))
            rs["restored"] = self.verify(found, changed["sha256"])
            shutil.rmtree(out)
        vm["size"] = tree_bytes(self.vault)
        rs["size"] = tree_bytes(self.repo) if not skip_restic else None
        res["caches_dropped"] = self.dropped
        return res

    def same_index(self) -> bool:
        """The hinted point must name exactly the chunks the unhinted one does (same keys)."""
        a = Vault.open(LocalStorage(self.vault), PASSPHRASE)
        h = Vault.open(LocalStorage(self.vault_h), PASSPHRASE)
        ia = a.read_index(a.read_manifest(ITEM, "incr"), LUN)
        ih = h.read_index(h.read_manifest(ITEM, "incr-hinted"), LUN)
        return ia.ids == ih.ids

    def verify(self, path: Path, sha256: str) -> dict[str, Any]:
        st = path.stat()
        digest = file_sha256(path)
        info = {"bit_exact": digest == sha256, "size": st.st_size, "allocated": st.st_blocks * 512}
        print(
            f"  {path.name}: bit-exact {info['bit_exact']}, allocated "
            f"{info['allocated'] / GB:.2f} GB of {st.st_size / GB:.2f} GB",
            flush=True,
        )
        if not self.args.keep:
            path.unlink()
        return info
