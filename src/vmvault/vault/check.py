"""Checking a vault: every referenced chunk exists, and (``read_data``) decrypts and hashes to
its id. Each problem names the object and the recovery points and disks it breaks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from vmvault.vault import format as fmt
from vmvault.vault.backup import default_workers
from vmvault.vault.crypto import ZERO_ID
from vmvault.vault.errors import VaultError
from vmvault.vault.repository import PointRef, Vault


@dataclass(frozen=True)
class Problem:
    # "manifest", "index", "missing-chunk", "corrupt-chunk", "damaged-chunk",
    # "missing-point", "uncatalogued-point"
    kind: str
    object: str
    message: str
    breaks: tuple[str, ...] = ()  # "item/point disk LUN (name)"


@dataclass
class CheckReport:
    points: int = 0
    chunks: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # chunks rewritten by a repair

    @property
    def ok(self) -> bool:
        return not self.problems


def references(vault: Vault, report: CheckReport) -> dict[bytes, list[str]]:
    """Chunk id -> the points and disks that use it; unreadable manifests/indexes reported."""
    refs: dict[bytes, list[str]] = defaultdict(list)
    for ref in vault.points():
        report.points += 1
        name = fmt.manifest_name(ref.item, ref.point)
        try:
            manifest = vault.read_manifest(ref.item, ref.point)
        except VaultError as exc:
            report.problems.append(
                Problem("manifest", name, str(exc), (f"{ref.item}/{ref.point}",))
            )
            continue
        for disk in manifest.disks:
            where = f"{ref.item}/{ref.point} disk {disk.lun} ({disk.name})"
            try:
                index = vault.read_index(manifest, disk.lun)
            except VaultError as exc:
                report.problems.append(Problem("index", disk.index, str(exc), (where,)))
                continue
            for cid in set(index.ids) - {ZERO_ID}:
                refs[cid].append(where)
    return refs


def point_differences(vault: Vault, expected: Collection[PointRef]) -> list[Problem]:
    """Points the catalog lists (``expected``) that the vault lacks, and the reverse."""
    present = set(vault.points())
    problems = [
        Problem(
            "missing-point",
            fmt.manifest_name(ref.item, ref.point),
            f"recovery point {ref.item}/{ref.point} is in the catalog but its manifest is "
            "missing from the vault",
            (f"{ref.item}/{ref.point}",),
        )
        for ref in sorted(set(expected) - present)
    ]
    problems += [
        Problem(
            "uncatalogued-point",
            fmt.manifest_name(ref.item, ref.point),
            f"recovery point {ref.item}/{ref.point} is in the vault but not in the catalog",
            (f"{ref.item}/{ref.point}",),
        )
        for ref in sorted(present - set(expected))
    ]
    return problems


def check_vault(
    vault: Vault,
    *,
    read_data: bool = False,
    workers: int | None = None,
    expected: Collection[PointRef] | None = None,
) -> CheckReport:
    """Check the vault; ``expected``: the points the catalog lists (differences are problems).

    Chunks found damaged are recorded (``Vault.mark_damaged``); a chunk recorded as damaged
    is reported until a good copy replaces it, and with ``read_data`` a recorded chunk that
    now opens and hashes to its id has its record cleared. Writes nothing else."""
    report = CheckReport()
    if expected is not None:
        report.problems.extend(point_differences(vault, expected))
    refs = references(vault, report)
    present = {bytes.fromhex(n.rsplit("/", 1)[1]) for n in vault.chunk_names() if _is_chunk(n)}
    report.chunks = len(refs)
    for cid in sorted(set(refs) - present):
        report.problems.append(
            Problem(
                "missing-chunk",
                fmt.chunk_name(cid),
                f"chunk {cid.hex()} is missing",
                tuple(refs[cid]),
            )
        )
    damaged = vault.damaged_chunks() & present
    if read_data:

        def verify(cid: bytes) -> Problem | None:
            try:
                vault.get_chunk(cid)
            except VaultError as exc:
                return Problem("corrupt-chunk", fmt.chunk_name(cid), str(exc), tuple(refs[cid]))
            if cid in damaged:
                vault.clear_damaged(cid)  # replaced by a good copy since it was recorded
            return None

        with ThreadPoolExecutor(workers or default_workers()) as pool:
            found = pool.map(verify, sorted(set(refs) & present))
            report.problems.extend(p for p in found if p is not None)
        return report
    for cid in sorted(damaged & set(refs)):
        report.problems.append(
            Problem(
                "damaged-chunk",
                fmt.chunk_name(cid),
                f"chunk {cid.hex()} was found damaged and no good copy has replaced it yet",
                tuple(refs[cid]),
            )
        )
    return report


CHUNK_PROBLEMS = ("missing-chunk", "corrupt-chunk", "damaged-chunk")


def broken_chunks(report: CheckReport) -> set[bytes]:
    """The ids of the chunks the report finds missing, corrupt or recorded as damaged."""
    return {
        bytes.fromhex(p.object.rsplit("/", 1)[1])
        for p in report.problems
        if p.kind in CHUNK_PROBLEMS
    }


def _is_chunk(name: str) -> bool:
    tail = name.rsplit("/", 1)[-1]
    return len(tail) == 64 and all(c in "0123456789abcdef" for c in tail)
