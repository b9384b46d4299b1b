"""Checking a vault: every referenced chunk exists, and (``read_data``) decrypts and hashes to
its id. Each problem names the object and the recovery points and disks it breaks."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from vmvault.vault import format as fmt
from vmvault.vault.backup import default_workers
from vmvault.vault.crypto import ZERO_ID
from vmvault.vault.errors import VaultError
from vmvault.vault.repository import Vault


@dataclass(frozen=True)
class Problem:
    kind: str  # "manifest", "index", "missing-chunk", "corrupt-chunk"
    object: str
    message: str
    breaks: tuple[str, ...] = ()  # "item/point disk LUN (name)"


@dataclass
class CheckReport:
    points: int = 0
    chunks: int = 0
    problems: list[Problem] = field(default_factory=list)

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


def check_vault(
    vault: Vault, *, read_data: bool = False, workers: int | None = None
) -> CheckReport:
    report = CheckReport()
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
    if read_data:

        def verify(cid: bytes) -> Problem | None:
            try:
                vault.get_chunk(cid)
            except VaultError as exc:
                return Problem("corrupt-chunk", fmt.chunk_name(cid), str(exc), tuple(refs[cid]))
            return None

        with ThreadPoolExecutor(workers or default_workers()) as pool:
            found = pool.map(verify, sorted(set(refs) & present))
            report.problems.extend(p for p in found if p is not None)
    return report


def _is_chunk(name: str) -> bool:
    tail = name.rsplit("/", 1)[-1]
    return len(tail) == 64 and all(c in "0123456789abcdef" for c in tail)
