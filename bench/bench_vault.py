"""Vault benchmark against restic (GitHub issue 3): full, incremental, hinted, restore, size, RSS.

Builds (once, cached) an 8 GiB sparse raw image with ext4 filled with ~5 GB of real files, and a
second image with ~500 MB of new files added; then measures vmvault and Debian's restic on the
same images, page cache dropped before every timed phase. Needs root (loop mounts, drop_caches).

Run: sudo .venv/bin/python bench/bench_vault.py [--quick] [--workdir DIR] [--json PATH]

Every timed phase is one child process (``--phase`` below for vmvault, the ``restic`` command),
timed from fork to exit, its peak RSS taken by GNU time: the two tools are measured alike.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zstandard

from vmvault.storage.local import LocalStorage
from vmvault.vault.backup import DiskSource, Progress, backup_point
from vmvault.vault.crypto import KeyRing
from vmvault.vault.disks import DiskReader, Extent
from vmvault.vault.format import DEFAULT_CHUNK_SIZE
from vmvault.vault.readers import open_disk
from vmvault.vault.repository import Vault
from vmvault.vault.restore import restore_disk
from vmvault.vault.settle import recompress

MiB, GiB, GB = 1 << 20, 1 << 30, 10**9
BUILD_VERSION = 1  # bump to invalidate cached images
ITEM, LUN = "bench-vm", -1
PASSPHRASE = "vmvault-bench-passphrase"
GNU_TIME = "/usr/bin/time"  # Debian package "time"
HINT_BLOCK = 64 * 1024  # granularity of the stand-in dirty bitmap
BASE_SOURCES = ["/usr/lib", "/usr/share", "/usr/include", "/usr/libexec", "/usr/bin"]
# New content for the incremental: a new executable and downloaded packages, neither already in
# the image (so neither tool can deduplicate it); generated files make up any shortfall.
CHANGE_SOURCES = ["/opt/tf-plugins", "/var/cache/apt/archives"]
TARGETS = {
    "full_speedup": 4.0,
    "full_gbps": 1.0,
    "incr_speedup": 5.0,
    "hinted_s": 2.0,
    "restore_speedup": 3.0,
    "size_ratio": 1.25,
    "rss_mib": 512.0,
}


@dataclass(frozen=True)
class Scale:
    name: str
    image_size: int
    fill_bytes: int  # filesystem "used" to reach
    change_bytes: int  # new file bytes in the second image
    space_needed: int  # bytes of free space a run needs in the work dir


FULL = Scale("full", 8 * GiB, 5 * GB, 500 * 10**6, 25 * GB)
QUICK = Scale("quick", 1 * GiB, 600 * 10**6, 60 * 10**6, 5 * GB)


class BenchError(Exception):
    """A benchmark step failed; the message says which and why."""


@dataclass
class Measured:
    seconds: float
    max_rss: int  # bytes
    stdout: str
    cpu_seconds: float  # user + system CPU time: the work done, whatever the parallelism
    host: dict[str, float]  # the whole machine's CPU seconds meanwhile (``host_cpu``)

    @property
    def others_cpu_seconds(self) -> float:
        """CPU time the rest of the host used meanwhile: other containers on this kernel, and
        kernel threads working for the phase (writeback of what it wrote)."""
        return max(0.0, self.host["busy"] - self.cpu_seconds)


def host_cpu() -> dict[str, float]:
    """Seconds of CPU time of the whole machine since boot, from the first line of /proc/stat:
    busy (user, nice, system, irq, softirq), iowait and steal (time the hypervisor took)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, iowait, irq, softirq, steal = fields
    hz = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq
    return {"busy": busy / hz, "iowait": iowait / hz, "steal": steal / hz}


# -- child processes ---------------------------------------------------------------------------
def measure(
    cmd: Sequence[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Measured:
    """Run ``cmd`` to completion under GNU time: wall time from fork to exit, and peak RSS.

    Not ``wait4`` from here: Linux counts a child's RSS before ``exec`` (a copy of this
    process) in its ``ru_maxrss``; GNU time's own footprint is a couple of MiB."""
    out_path, err_path, rss_path = (log.with_suffix(s) for s in (".out", ".err", ".rss"))
    timed = [GNU_TIME, "-f", "%M %U %S", "-o", str(rss_path), *cmd]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start, before = time.perf_counter(), host_cpu()
        code = subprocess.run(timed, stdout=out, stderr=err, env=env, cwd=cwd).returncode
        seconds, after = time.perf_counter() - start, host_cpu()
    if code != 0:
        tail = err_path.read_text(errors="replace")[-2000:]
        raise BenchError(f"{' '.join(cmd)} exited with {code}:\n{tail}")
    rss_kib, user, system = rss_path.read_text().split()[-3:]
    stdout = out_path.read_text(errors="replace")
    host = {k: after[k] - before[k] for k in after}
    return Measured(seconds, int(rss_kib) * 1024, stdout, float(user) + float(system), host)


def sh(*cmd: str | Path) -> str:
    try:
        done = subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"{' '.join(map(str, cmd))} failed: {exc.stderr.strip()}") from None
    return done.stdout


def drop_caches() -> bool:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


# -- images ------------------------------------------------------------------------------------
def open_reader(path: Path) -> DiskReader:
    return open_disk(path, "raw")


def allocated(path: Path) -> list[Extent]:
    with open_reader(path) as reader:
        return list(reader.allocated())


def file_sha256(path: Path) -> str:
    h, block = hashlib.sha256(), 8 * MiB
    with path.open("rb", buffering=0) as f:
        while data := f.read(block):
            h.update(data)
    return h.hexdigest()


def tree_bytes(root: Path) -> int:
    """Sum of apparent file sizes under ``root`` (directories not counted)."""
    return sum((Path(d) / f).lstat().st_size for d, _, files in os.walk(root) for f in files)


def tree_allocated(root: Path) -> int:
    return sum(
        (Path(d) / f).lstat().st_blocks * 512 for d, _, files in os.walk(root) for f in files
    )


@contextlib.contextmanager
def mounted(image: Path, mnt: Path) -> Iterator[Path]:
    """Loop-mount ``image`` on ``mnt``; always unmounted and detached, even on Ctrl+C (which
    may land between ``losetup`` attaching a device and printing its name)."""
    mnt.mkdir(exist_ok=True)
    try:
        loop = sh("losetup", "--find", "--show", image).strip()
        sh("mount", loop, mnt)
        yield mnt
    finally:
        os.sync()
        release(image, mnt)


def release(image: Path, mnt: Path) -> None:
    """Unmount ``mnt`` and detach every loop device of ``image`` (also what a killed run left)."""
    for attempt in range(5):
        if not (mnt.is_dir() and os.path.ismount(mnt)):
            break
        try:
            sh("umount", mnt)
        except BenchError:
            if attempt == 4:
                raise
            time.sleep(1)
    if image.exists():
        for line in sh("losetup", "-j", image).splitlines():
            sh("losetup", "-d", line.split(":", 1)[0])


def fs_used(mnt: Path) -> int:
    st = os.statvfs(mnt)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def copy_budget(src: Path, dst: Path, budget: int, *, truncate: bool) -> int:
    """Copy ``src``'s files in sorted order into ``dst`` until ``budget`` bytes are copied.

    With ``truncate`` the last file is cut so the total is the budget exactly."""
    copied = 0
    for root, dirs, files in os.walk(src):
        dirs.sort()
        target = dst / os.path.relpath(root, src)
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            if copied >= budget:
                return copied
            s, d = Path(root) / name, target / name
            if s.is_symlink():
                d.symlink_to(os.readlink(s))
                continue
            if not s.is_file():
                continue
            size = s.stat().st_size
            if truncate and copied + size > budget:
                with s.open("rb") as fi, d.open("wb") as fo:
                    fo.write(fi.read(budget - copied))
                return budget
            shutil.copy2(s, d)
            copied += size
    return copied


def generate_files(dst: Path, budget: int) -> int:
    """Files of half random, half compressible text: only when the real sources fall short."""
    dst.mkdir(parents=True, exist_ok=True)
    made, n = 0, 0
    while made < budget:
        size = min(4 * MiB, budget - made)
        text = b"".join(b"record %08d value %d ok\n" % (i, i * 7919 % 1000) for i in range(size))
        (dst / f"gen-{n:05d}.dat").write_bytes(os.urandom(size // 2) + text[: size - size // 2])
        made, n = made + size, n + 1
    return made


def build_base(scale: Scale, image: Path, mnt: Path) -> dict[str, Any]:
    print(
        f"building {image}: {scale.image_size / GiB:.0f} GiB sparse ext4, "
        f"~{scale.fill_bytes / GB:.1f} GB of files",
        flush=True,
    )
    start = time.perf_counter()
    image.unlink(missing_ok=True)
    sh("truncate", "-s", str(scale.image_size), image)
    sh("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", image)
    copied: list[str] = []
    with mounted(image, mnt):
        for src in [*BASE_SOURCES, "/usr/lib"]:
            remaining = scale.fill_bytes - fs_used(mnt)
            if remaining <= 0:
                break
            name = Path(src).name if src not in copied else f"{Path(src).name}-copy2"
            if not Path(src).is_dir():
                continue
            if tree_bytes(Path(src)) <= remaining:
                sh("cp", "-a", src, mnt / name)
            else:
                copy_budget(Path(src), mnt / name, remaining, truncate=False)
            copied.append(src)
        os.sync()
        used = fs_used(mnt)
    print(f"  filesystem used: {used / GB:.2f} GB from {', '.join(copied)}", flush=True)
    return {
        "version": BUILD_VERSION,
        "scale": scale.name,
        "image_size": scale.image_size,
        "fs_used": used,
        "sources": copied,
        "allocated": sum(e.length for e in allocated(image)),
        "build_seconds": round(time.perf_counter() - start, 1),
    }


def build_changed(scale: Scale, base: Path, image: Path, mnt: Path) -> dict[str, Any]:
    print(
        f"building {image}: copy of {base.name} + ~{scale.change_bytes / GB:.2f} GB of new files",
        flush=True,
    )
    start = time.perf_counter()
    image.unlink(missing_ok=True)
    sh("cp", "--reflink=auto", "--sparse=always", base, image)
    sources = [s for s in CHANGE_SOURCES if Path(s).is_dir()]
    with mounted(image, mnt):
        before = fs_used(mnt)
        added, used_sources = 0, []
        for k, src in enumerate(sources):
            share = (scale.change_bytes - added) // (len(sources) - k)
            added += copy_budget(Path(src), mnt / "new" / Path(src).name, share, truncate=True)
            used_sources.append(src)
        if added < scale.change_bytes:
            added += generate_files(mnt / "new" / "generated", scale.change_bytes - added)
            used_sources.append("generated")
        os.sync()
        growth = fs_used(mnt) - before
    print(
        f"  added {added / GB:.3f} GB of files ({', '.join(used_sources)}); "
        f"fs used +{growth / GB:.3f} GB",
        flush=True,
    )
    return {
        "version": BUILD_VERSION,
        "added_bytes": added,
        "fs_growth": growth,
        "sources": used_sources,
        "sha256": file_sha256(image),
        "allocated": sum(e.length for e in allocated(image)),
        "build_seconds": round(time.perf_counter() - start, 1),
    }


def ensure_images(scale: Scale, d: Path, rebuild: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    disk1, disk2, mnt = d / "disk.raw", d / "disk2.raw", d / "mnt"
    m1, m2 = d / "disk.json", d / "disk2.json"
    release(disk1, mnt)
    release(disk2, mnt)

    def cached(marker: Path, image: Path) -> dict[str, Any] | None:
        if rebuild or not marker.exists() or not image.exists():
            return None
        info: dict[str, Any] = json.loads(marker.read_text())
        return info if info.get("version") == BUILD_VERSION else None

    base = cached(m1, disk1)
    if base is None:
        m1.unlink(missing_ok=True)
        m2.unlink(missing_ok=True)
        base = build_base(scale, disk1, mnt)
        m1.write_text(json.dumps(base, indent=1))
    else:
        print(f"reusing {disk1} (fs used {base['fs_used'] / GB:.2f} GB; --rebuild to redo)")
    changed = cached(m2, disk2)
    if changed is None:
        changed = build_changed(scale, disk1, disk2, mnt)
        m2.write_text(json.dumps(changed, indent=1))
    else:
        print(f"reusing {disk2} (+{changed['added_bytes'] / GB:.3f} GB of files)")
    return base, changed


def changed_extents(a: Path, b: Path, block: int = HINT_BLOCK) -> list[Extent]:
    """The ``block``-granular ranges where ``b`` differs from ``a`` (a dirty-bitmap stand-in).

    Only ranges allocated in either image are compared; elsewhere both read as zeros."""
    spans = sorted(
        (e.offset // block * block, -(-e.end // block) * block)
        for e in [*allocated(a), *allocated(b)]
    )
    out: list[Extent] = []
    window = 64 * block
    with a.open("rb", buffering=0) as fa, b.open("rb", buffering=0) as fb:
        pos = 0
        for start, end in spans:
            for off in range(max(start, pos), end, window):
                n = min(window, end - off)
                da, db = os.pread(fa.fileno(), n, off), os.pread(fb.fileno(), n, off)
                if da == db:
                    continue
                for k in range(0, max(len(da), len(db)), block):
                    if da[k : k + block] != db[k : k + block]:
                        if out and out[-1].end == off + k:
                            out[-1] = Extent(out[-1].offset, out[-1].length + block)
                        else:
                            out.append(Extent(off + k, block))
            pos = max(pos, end)
    return out


# -- vmvault child phases ----------------------------------------------------------------------
def open_vault(args: argparse.Namespace) -> Vault:
    vault = Vault.open(LocalStorage(args.vault), os.environ["VMVAULT_BENCH_PASSPHRASE"])
    levels = {
        "compression_level": args.compression_level,  # the settled level
        "ingest_level": args.ingest_level,
    }
    changed = {k: v for k, v in levels.items() if v is not None}
    if changed:  # KeyRing is frozen: replace it with the levels changed
        vault.keys = dataclasses.replace(vault.keys, **changed)
    return vault


def phase_backup(args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    vault = open_vault(args)
    previous = vault.read_manifest(ITEM, args.previous) if args.previous else None
    hints = None
    if args.hints:
        hints = [Extent(o, n) for o, n in json.loads(Path(args.hints).read_text())["extents"]]
    progress = Progress()
    with open_reader(args.image) as reader:
        began = time.perf_counter()
        manifest = backup_point(
            vault,
            ITEM,
            args.point,
            datetime.now(UTC),
            [DiskSource(LUN, "os", reader, changed=hints)],
            previous=previous,
            workers=args.workers,
            progress=progress,
        )
        seconds = time.perf_counter() - began
    disk = manifest.disks[0]
    return {
        "backup_seconds": seconds,
        "open_seconds": began - start,
        "read_bytes": progress.read_bytes,
        "data_chunks": disk.data_chunks,
        "new_chunks": disk.new_chunks,
        "stored_bytes": disk.stored_bytes,
        "compression_level": vault.keys.compression_level,
        "ingest_level": vault.keys.ingest_level,
    }


def phase_recompress(args: argparse.Namespace) -> dict[str, Any]:
    vault = open_vault(args)
    began = time.perf_counter()
    report = recompress(vault, datetime.now(UTC), workers=args.workers)
    return {
        "recompress_seconds": time.perf_counter() - began,
        "chunks": report.chunks,
        "rewritten": report.rewritten,
        "bytes_before": report.bytes_before,
        "bytes_after": report.bytes_after,
        "problems": report.problems,
    }


def phase_restore(args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    vault = open_vault(args)
    manifest = vault.read_manifest(ITEM, args.point)
    began = time.perf_counter()
    done = restore_disk(vault, manifest, LUN, Path(args.target), workers=args.workers)
    return {
        "restore_seconds": time.perf_counter() - began,
        "open_seconds": began - start,
        "data_chunks": done.data_chunks,
    }


# -- the benchmark -----------------------------------------------------------------------------
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
        cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", "warm"]
        subprocess.run(cmd, check=True, env=self.env)

    def vmvault(self, label: str, phase: str, **opts: object) -> tuple[Measured, dict[str, Any]]:
        result = self.logs / f"{label}.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
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


# -- report ------------------------------------------------------------------------------------
PHASES = ("full", "incr", "hinted", "recompress", "restore")


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each phase's fastest run (the least disturbed by other work on a shared host); checks
    must hold in every run. Every run's wall times are kept under ``all_seconds``."""
    tools = ("vmvault", "restic")
    res = {**runs[-1], "vmvault": dict(runs[-1]["vmvault"]), "restic": dict(runs[-1]["restic"])}
    res["all_seconds"] = {
        tool: {p: [round(r[tool][p][0].seconds, 2) for r in runs] for p in PHASES if p in res[tool]}
        for tool in tools
    }
    for tool in tools:
        for phase in res["all_seconds"][tool]:
            res[tool][phase] = min((r[tool][phase] for r in runs), key=lambda t: t[0].seconds)
        if "restored" in res[tool]:
            exact = all(r[tool]["restored"]["bit_exact"] for r in runs)
            res[tool]["restored"] = {**res[tool]["restored"], "bit_exact": exact}
    res["vmvault"]["hinted_index_matches"] = all(r["vmvault"]["hinted_index_matches"] for r in runs)
    return res


def summarize(res: dict[str, Any], base: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
    vm, rs = res["vmvault"], res["restic"]
    alloc1, alloc2, hint_bytes = base["allocated"], changed["allocated"], res["hints"]["bytes"]
    rows: dict[str, dict[str, Any]] = {}
    for phase, data in (
        ("full", alloc1),
        ("incr", alloc2),
        ("hinted", hint_bytes),
        ("recompress", None),
        ("restore", alloc2),
    ):
        m, inner = vm[phase]
        key = {"restore": "restore_seconds", "recompress": "recompress_seconds"}.get(
            phase, "backup_seconds"
        )
        if data is None:  # recompression: the bytes it read from the vault
            data = inner["bytes_before"]
        row = {
            "vmvault_s": m.seconds,
            "vmvault_inner_s": inner[key],
            "vmvault_gbps": data / m.seconds / GB,
            "vmvault_rss": m.max_rss,
            "vmvault_cpu_s": m.cpu_seconds,
            "vmvault_others_cpu_s": m.others_cpu_seconds,
            "vmvault_detail": inner,
        }
        other = {"hinted": "incr"}.get(phase, phase)
        if other in rs:
            rm, summary = rs[other]
            row |= {
                "restic_s": rm.seconds,
                "restic_gbps": data / rm.seconds / GB,
                "restic_rss": rm.max_rss,
                "restic_cpu_s": rm.cpu_seconds,
                "restic_others_cpu_s": rm.others_cpu_seconds,
                "speedup": rm.seconds / m.seconds,
                "cpu_speedup": rm.cpu_seconds / m.cpu_seconds,
                "restic_detail": summary,
            }
        rows[phase] = row
    size_ratio = vm["size"] / rs["size"] if rs.get("size") else None
    peak = max(r["vmvault_rss"] for r in rows.values())
    restored = vm["restored"]
    checks = {
        "full_speedup": (rows["full"].get("speedup"), ">=", TARGETS["full_speedup"]),
        "full_gbps": (rows["full"]["vmvault_gbps"], ">=", TARGETS["full_gbps"]),
        "incr_speedup": (rows["incr"].get("speedup"), ">=", TARGETS["incr_speedup"]),
        "hinted_s": (rows["hinted"]["vmvault_s"], "<", TARGETS["hinted_s"]),
        "restore_speedup": (rows["restore"].get("speedup"), ">=", TARGETS["restore_speedup"]),
        "restore_sparse": (restored["allocated"] / restored["size"], "<", 0.9),
        "size_ratio": (size_ratio, "<=", TARGETS["size_ratio"]),
        "rss_mib": (peak / MiB, "<", TARGETS["rss_mib"]),
    }
    targets = {}
    for name, (value, op, limit) in checks.items():
        ok = (
            None
            if value is None
            else (value >= limit if op == ">=" else value <= limit if op == "<=" else value < limit)
        )
        targets[name] = {
            "value": value,
            "op": op,
            "limit": limit,
            "result": "n/a" if ok is None else "PASS" if ok else "FAIL",
        }
    correct = {
        "vmvault_restore_bit_exact": restored["bit_exact"],
        "restic_restore_bit_exact": rs.get("restored", {}).get("bit_exact"),
        "hinted_index_matches_unhinted": vm["hinted_index_matches"],
    }
    return {
        "phases": rows,
        "sizes": {
            "vmvault": vm["size"],
            "vmvault_before_recompression": vm["size_ingested"],
            "restic": rs.get("size"),
            "ratio": size_ratio,
        },
        "peak_rss_vmvault": peak,
        "vmvault_compression_levels": sorted(
            {rows[p]["vmvault_detail"]["compression_level"] for p in ("full", "incr", "hinted")}
        ),
        "vmvault_ingest_levels": sorted(
            {rows[p]["vmvault_detail"]["ingest_level"] for p in ("full", "incr", "hinted")}
        ),
        "targets": targets,
        "correctness": correct,
        "hints": res["hints"],
        "caches_dropped": res["caches_dropped"],
        "restic_repo_config": rs.get("repo_config"),
        "runs": len(next(iter(res["all_seconds"]["vmvault"].values()))),
        "all_seconds": res["all_seconds"],
    }


def fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def print_report(s: dict[str, Any], base: dict[str, Any], changed: dict[str, Any]) -> None:
    names = {
        "full": "full backup",
        "incr": "incremental, no hints",
        "hinted": "incremental, hints*",
        "recompress": "recompression**",
        "restore": "restore",
    }
    print(
        f"\nimage: {base['image_size'] / GiB:.0f} GiB, allocated {base['allocated'] / GB:.2f} GB"
        f" (fs used {base['fs_used'] / GB:.2f} GB); change +{changed['added_bytes'] / GB:.3f} "
        f"GB of files, {s['hints']['bytes'] / GB:.3f} GB of 64 KiB blocks differ; vmvault zstd "
        f"ingest level {', '.join(map(str, s['vmvault_ingest_levels']))}, settled level "
        f"{', '.join(map(str, s['vmvault_compression_levels']))}, encrypted like restic"
    )
    print(
        f"{'phase':<22}{'vmvault s':>10}{'restic s':>9}{'restic/vmv':>11}{'vmv GB/s':>9}"
        f"{'vmv CPU-s':>10}{'restic CPU-s':>13}{'CPU ratio':>10}{'vmv RSS':>9}{'restic RSS':>11}"
        f"{'others CPU-s':>13}  in-proc s"
    )
    for phase, r in s["phases"].items():
        restic_rss = r["restic_rss"] / MiB if "restic_rss" in r else None
        print(
            f"{names[phase]:<22}{r['vmvault_s']:>10.2f}{fmt(r.get('restic_s'), '>9.2f')}"
            f"{fmt(r.get('speedup'), '>10.2f', 'x')}{r['vmvault_gbps']:>9.3f}"
            f"{r['vmvault_cpu_s']:>10.2f}{fmt(r.get('restic_cpu_s'), '>13.2f')}"
            f"{fmt(r.get('cpu_speedup'), '>9.2f', 'x')}{r['vmvault_rss'] / MiB:>6.0f}MiB"
            f"{fmt(restic_rss, '>8.0f', 'MiB')}"
            f"{r['vmvault_others_cpu_s']:>6.1f} /{fmt(r.get('restic_others_cpu_s'), '>5.1f')}"
            f"  {r['vmvault_inner_s']:.2f}"
        )
    print(
        "* restic has no changed-block hints: its columns repeat its incremental. CPU ratio: "
        "restic CPU-s / vmvault CPU-s. others: CPU-s the rest of the host used meanwhile "
        "(vmvault / restic phase)\n** background work of `vmvault serve` after backups: "
        "chunks stored at the ingest level rewritten at the settled level (GB/s: of vault bytes "
        "read); not a restic phase"
    )
    sz = s["sizes"]
    print(
        f"repository size: vmvault {sz['vmvault'] / GB:.3f} GB (settled; "
        f"{sz['vmvault_before_recompression'] / GB:.3f} GB before recompression), restic "
        f"{fmt(sz['restic'] and sz['restic'] / GB, '.3f')} GB, vmvault/restic "
        f"{fmt(sz['ratio'], '.3f')}"
    )
    print(
        f"correctness: {s['correctness']}; page cache dropped before each phase: "
        f"{s['caches_dropped']}"
    )
    if s["runs"] > 1:
        print(f"best of {s['runs']} runs; all wall times: {s['all_seconds']}")
    print("targets:")
    for name, t in s["targets"].items():
        print(f"  {t['result']:<5} {name:<16} {fmt(t['value'], '.3f')} {t['op']} {t['limit']}")


def to_jsonable(value: Any) -> Any:
    if isinstance(value, Measured):
        return {
            "seconds": value.seconds,
            "max_rss": value.max_rss,
            "cpu_seconds": value.cpu_seconds,
        }
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def cpu_calibration() -> dict[str, float]:
    """zstd level 3 over 16 MiB of pseudo-text, in one thread and in two at once: how much
    compression this machine does, and how much a second thread adds (runs on shared hosts
    vary; this lets two results files be compared)."""
    rng = random.Random(3)
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 9))) for _ in range(4096)]
    sample = b" ".join(rng.choices(words, k=3 * MiB))[: 16 * MiB]

    def one() -> float:
        start = time.perf_counter()
        zstandard.ZstdCompressor(level=3).compress(sample)
        return time.perf_counter() - start

    single = min(one() for _ in range(3))
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: one(), range(4)))
    double = (time.perf_counter() - start) / 2
    return {
        "load_average_1min": os.getloadavg()[0],
        "zstd3_mb_s_1_thread": len(sample) / single / 1e6,
        "zstd3_mb_s_2_threads": 2 * len(sample) / double / 1e6,
        "two_thread_scaling": single / double * 2,
    }


def environment(args: argparse.Namespace) -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "restic": sh("restic", "version").strip(),
        "reader": "vmvault.vault.readers.open_disk(path, 'raw')",
        "workers": args.workers,
        "compression_level": (
            KeyRing().compression_level
            if args.compression_level is None
            else args.compression_level
        ),
        "chunk_size": args.chunk_size,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", type=Path, default=Path("/var/tmp/vmvault-bench"))
    p.add_argument("--json", type=Path, help="default bench/results/vault[-quick].json")
    p.add_argument("--rebuild", action="store_true", help="rebuild the cached images")
    p.add_argument("--quick", action="store_true", help="1 GiB image, ~600 MB files, ~60 MB change")
    p.add_argument("--workers", type=int, help="vmvault worker threads (default: the library's)")
    p.add_argument("--compression-level", type=int, help="vmvault settled zstd level")
    p.add_argument("--ingest-level", type=int, help="vmvault zstd level backups store at")
    p.add_argument("--chunk-size", type=int, help="vmvault chunk size (default: 4 MiB)")
    p.add_argument("--skip-restic", action="store_true", help="vmvault only (for tuning runs)")
    p.add_argument("--keep", action="store_true", help="keep restored images")
    p.add_argument(
        "--repeat", type=int, default=1, help="run N times, report each phase's fastest run"
    )
    # internal: one vmvault phase in a child process
    for name in ("phase", "result", "vault", "image", "point", "previous", "hints", "target"):
        p.add_argument(f"--{name}", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase == "warm":  # importing this module was the point
        return 0
    if args.phase:
        phases = {"backup": phase_backup, "restore": phase_restore, "recompress": phase_recompress}
        result = phases[args.phase](args)
        Path(args.result).write_text(json.dumps(result))
        return 0
    scale = QUICK if args.quick else FULL
    if os.geteuid() != 0:
        raise SystemExit("bench_vault needs root: it loop-mounts images and drops the page cache")
    tools = ("restic", "mkfs.ext4", "losetup", "mount", GNU_TIME)
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        raise SystemExit(
            f"missing tools: {', '.join(missing)} (apt-get install restic e2fsprogs mount time)"
        )
    d = args.workdir / scale.name
    d.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(d).free + tree_allocated(d)  # cached images and old runs count
    if free < scale.space_needed:
        raise SystemExit(
            f"{d} has {free / GB:.1f} GB free (counting its old contents); the "
            f"{scale.name} run needs {scale.space_needed / GB:.0f} GB: use --workdir"
        )
    try:
        base, changed = ensure_images(scale, d, args.rebuild)
        calibration = {"before": cpu_calibration()}
        runs = []
        for n in range(args.repeat):
            if args.repeat > 1:
                print(f"== run {n + 1} of {args.repeat}", flush=True)
            runs.append(Bench(args, scale, d).execute(base, changed))
        res = best_of(runs)
        calibration["after"] = cpu_calibration()
    except BenchError as exc:
        raise SystemExit(f"bench failed: {exc}") from None
    except KeyboardInterrupt:  # mounts and loop devices were released on the way out
        print("\ninterrupted", file=sys.stderr)
        return 130
    summary = summarize(res, base, changed)
    print_report(summary, base, changed)
    for when, cal in calibration.items():
        print(
            f"cpu {when}: zstd-3 {cal['zstd3_mb_s_1_thread']:.0f} MB/s in 1 thread, "
            f"{cal['zstd3_mb_s_2_threads']:.0f} MB/s in 2 (scaling {cal['two_thread_scaling']:.2f})"
        )
    out = args.json or Path(__file__).parent / "results" / f"vault{'-quick' * args.quick}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "scale": dataclasses.asdict(scale),
        "environment": environment(args),
        "cpu_calibration": calibration,
        "images": {"base": base, "changed": changed},
        **summary,
    }
    out.write_text(json.dumps(to_jsonable(doc), indent=1) + "\n")
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
