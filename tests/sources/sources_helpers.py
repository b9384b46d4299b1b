"""Builders for the sources tests: sparse disk images, manifests, a process holding a file."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

MiB = 1 << 20

# The example manifest, disks included (raw OS disk, qcow2 data disk).
EXAMPLE = """\
name: web01
managed: true            # false = an unmanaged/classic VM
trusted_launch: false
os_type: Linux
disks:
  - {lun: -1, name: web01-os, path: web01-os.raw, type: premium_ssd}
  - {lun: 0, name: web01-data0, path: web01-data0.qcow2, type: ultra_ssd, shared: false, data_access_auth: false}
"""  # noqa: E501 - the issue's text, verbatim


def write_image(path: Path, size: int, writes: dict[int, bytes]) -> Path:
    """A sparse raw image of ``size`` with ``writes`` (offset -> bytes) and holes elsewhere."""
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in writes.items():
            f.seek(offset)
            f.write(data)
    return path


def pattern(n: int, seed: int) -> bytes:
    """``n`` deterministic, incompressible-looking bytes."""
    block = hashlib.sha256(str(seed).encode()).digest()
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(block + counter.to_bytes(8, "little")).digest()
        counter += 1
    return bytes(out[:n])


def make_qcow2(path: Path, size: int, writes: dict[int, bytes]) -> Path:
    """A qcow2 image with the content of a raw image built by ``write_image``."""
    raw = write_image(path.with_suffix(".src.raw"), size, writes)
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(path)])
    raw.unlink()
    return path


def make_vm(root: Path, name: str, luns: Sequence[int] = (-1, 0), *, size: int = 4 * MiB,
            qcow2_luns: Sequence[int] = (), seed: int = 0) -> Path:  # fmt: skip
    """A manifest ``<name>.vm.yaml`` and its disks (``<name>-lun<N>.raw|qcow2``) in ``root``.
    Each disk holds a little distinct data at a few offsets and holes elsewhere."""
    lines = [f"name: {name}", "disks:"]
    for lun in luns:
        ext = "qcow2" if lun in qcow2_luns else "raw"
        disk = f"{name}-{'os' if lun == -1 else f'data{lun}'}"
        writes = {0: pattern(4096, seed + lun), size // 2: pattern(8192, seed + lun + 100)}
        if ext == "qcow2":
            make_qcow2(root / f"{disk}.{ext}", size, writes)
        else:
            write_image(root / f"{disk}.{ext}", size, writes)
        lines.append(f"  - {{lun: {lun}, name: {disk}, path: {disk}.{ext}, type: standard_ssd}}")
    manifest = root / f"{name}.vm.yaml"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 * MiB), b""):
            h.update(block)
    return h.hexdigest()


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a tool; a failure raises with its output (the tests fail, never skip)."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result


@contextmanager
def held_open(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A child process holding ``path`` open (as a running QEMU holds its disks)."""
    code = "import sys,time\nf=open(sys.argv[1],'rb')\nprint('open',flush=True)\ntime.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)
