"""CLI start-up benchmark: wall time of short `vmvault` commands, from fork to exit.

Each command runs N times against a fresh VMVAULT_HOME holding one vault and one policy; the
commands are interleaved round by round, so a burst of load on a shared machine hits them all
alike. Reported per command: min and median wall time (the min is the figure to compare: the
machine is shared and noise only ever adds time), with the load average before and after.

Floors measured in the same run explain what no change to vmvault can remove: the interpreter
(`python -c pass`), Typer's import, a one-command Typer app (Typer 0.2x builds a pydantic
TypeAdapter per option it parses), SQLAlchemy's import, and a Typer command that only imports
SQLAlchemy's ORM (the floor of every command that reads the catalog).

Run:  .venv/bin/python bench/bench_cli.py [--runs 20] [--json bench/results/cli.json]
      .venv/bin/python bench/bench_cli.py --src /tmp/old/src    # another checkout's vmvault
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VAULT, POLICY = "bench-vault", "bench-daily"
COMMANDS = {
    "vmvault --help": ["--help"],
    "vmvault version": ["version"],
    "vmvault vault list": ["vault", "list"],
    f"vmvault policy list --vault-name {VAULT}": ["policy", "list", "--vault-name", VAULT],
}
TARGETED = ("vmvault --help", "vmvault vault list")  # issue 9: each at most --target seconds
TYPER_APP = """\
import typer
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
@app.command()
def hello(name: str = typer.Option("x", "--name")) -> None:
    typer.echo(name)
@app.command()
def orm() -> None:
    import sqlalchemy.orm  # what any command reading the catalog imports at least
app()
"""


def _vmvault_argv(python: str) -> list[str]:
    """The installed `vmvault` script next to ``python`` (what users run), else ``-m``."""
    script = Path(python).with_name("vmvault")
    return [python, str(script)] if script.is_file() else [python, "-m", "vmvault"]


def _floors(python: str, typer_app: Path) -> dict[str, list[str]]:
    return {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import typer'": [python, "-c", "import typer"],
        "typer app, one command with one option": [python, str(typer_app), "hello"],
        "typer app, one command importing sqlalchemy.orm": [python, str(typer_app), "orm"],
        "python -c 'import sqlalchemy'": [python, "-c", "import sqlalchemy"],
        "python -c 'import sqlalchemy.orm'": [python, "-c", "import sqlalchemy.orm"],
    }


def _run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def _prepare(vmvault: list[str], env: dict[str, str]) -> None:
    """One vault and one policy in the fresh home (the catalog is created and migrated)."""
    _run([*vmvault, "vault", "create", "--name", VAULT], env)
    _run([*vmvault, "policy", "create", "--vault-name", VAULT, "--name", POLICY], env)


def measure(runs: int, python: str, src: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vmvault-bench-cli-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VMVAULT_")}
        env["VMVAULT_HOME"] = str(Path(tmp) / "home")
        if src:
            env["PYTHONPATH"] = str(Path(src).resolve())
        typer_app = Path(tmp) / "typer_app.py"
        typer_app.write_text(TYPER_APP, encoding="utf-8")
        vmvault = _vmvault_argv(python)
        _prepare(vmvault, env)
        cases = {name: [*vmvault, *args] for name, args in COMMANDS.items()}
        cases.update(_floors(python, typer_app))
        for argv in cases.values():  # warm the page cache and the bytecode caches
            _run(argv, env)
        load_before = os.getloadavg()
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, argv in cases.items():
                times[name].append(_run(argv, env))
        load_after = os.getloadavg()
    return {
        "runs": runs,
        "python": sys.version.split()[0],
        "src": src or "installed",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "commands": {n: _summary(times[n]) for n in COMMANDS},
        "floors": {n: _summary(times[n]) for n in cases if n not in COMMANDS},
    }


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "min_s": round(min(values), 4),
        "median_s": round(statistics.median(values), 4),
        "max_s": round(max(values), 4),
        "all_s": [round(v, 4) for v in values],
    }


def report(result: dict[str, Any], target: float) -> list[str]:
    return [
        f"{'':52} {'min':>8} {'median':>8}",
        *_rows(result["commands"], target),
        "floors (same run):",
        *_rows(result["floors"], None),
        f"runs: {result['runs']} each, interleaved; load average before "
        f"{result['load_average_before']}, after {result['load_average_after']} "
        f"({result['machine']['cpus']} CPUs)",
    ]


def _rows(table: dict[str, dict[str, Any]], target: float | None) -> list[str]:
    out = []
    for name, s in table.items():
        verdict = ""
        if target is not None and name in TARGETED:
            ok = s["min_s"] <= target
            verdict = f"  target <= {target:.2f} s: {'PASS' if ok else 'FAIL'}"
        out.append(f"  {name:50} {s['min_s']:7.3f}s {s['median_s']:7.3f}s{verdict}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    parser.add_argument("--target", type=float, default=0.25, help="seconds (default 0.25)")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the venv")
    parser.add_argument("--src", help="import vmvault from this folder (PYTHONPATH) instead")
    parser.add_argument("--json", default="bench/results/cli.json", help="where to write JSON")
    args = parser.parse_args()
    result = measure(args.runs, args.python, args.src)
    result["target_s"] = args.target
    print("\n".join(report(result, args.target)))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
