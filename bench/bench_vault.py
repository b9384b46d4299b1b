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
import dataclasses
import json
import os
import platform
import random
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zstandard

from vaultbench.common import FULL, GB, GNU_TIME, QUICK, BenchError, MiB, sh
from vaultbench.images import ensure_images, tree_allocated
from vaultbench.phases import phase_backup, phase_recompress, phase_restore
from vaultbench.report import best_of, print_report, summarize, to_jsonable
from vaultbench.runner import Bench
from vmvault.vault.crypto import KeyRing


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
