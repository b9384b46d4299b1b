"""The reference images: real files in ext4 in a sparse raw image, and a changed copy."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vaultbench.common import (
    BASE_SOURCES,
    BUILD_VERSION,
    CHANGE_SOURCES,
    GB,
    HINT_BLOCK,
    BenchError,
    GiB,
    MiB,
    Scale,
    sh,
)
from vmvault.vault.disks import DiskReader, Extent
from vmvault.vault.readers import open_disk


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
