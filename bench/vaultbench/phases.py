"""vmvault's timed phases, each run in a child process of the benchmark."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaultbench.common import ITEM, LUN
from vaultbench.images import open_reader
from vmvault.storage.local import LocalStorage
from vmvault.vault.backup import DiskSource, Progress, backup_point
from vmvault.vault.disks import Extent
from vmvault.vault.repository import Vault
from vmvault.vault.restore import restore_disk
from vmvault.vault.settle import recompress


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
