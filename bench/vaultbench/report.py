"""Summaries, targets and the printed report of the benchmark."""

from __future__ import annotations

from typing import Any

from vaultbench.common import GB, TARGETS, GiB, Measured, MiB

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
