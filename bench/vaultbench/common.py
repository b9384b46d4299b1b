"""Constants, the benchmark's scales and targets, and running timed child processes."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MiB, GiB, GB = 1 << 20, 1 << 30, 10**9
# The benchmark's entry script: its children run it again with --phase.
SCRIPT = Path(__file__).resolve().parents[1] / "bench_vault.py"
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
