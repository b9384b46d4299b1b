"""Issue 9 §4: ``az backup``'s own forms work as the README shows them (``--diskslist 0 1``,
``--retain-until 31-12-2026``, ``job list --end-date`` through that day), every command takes
``--output``, help reads whole at 80 columns, and a filesystem without reflinks is warned
about when a VM is protected."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

MiB = 1024 * 1024


def _lab(folder: Path, data_disks: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    disks = [{"lun": -1, "name": "web01-os", "path": "web01-os.raw", "type": "premium_ssd"}]
    disks += [
        {"lun": lun, "name": f"web01-data{lun}", "path": f"web01-data{lun}.raw",
         "type": "standard_ssd"}
        for lun in range(data_disks)
    ]  # fmt: skip
    for disk in disks:
        with open(folder / str(disk["path"]), "wb") as f:
            f.truncate(8 * MiB)
            f.seek(MiB)
            f.write(os.urandom(2 * MiB))
    doc = {"name": "web01", "managed": True, "os_type": "Linux", "disks": disks}
    (folder / "web01.vm.json").write_text(json.dumps(doc))
    return folder


def _setup(vmvault, lab: Path) -> None:
    vmvault("vault", "create", "--name", "v1")
    vmvault("policy", "create", "--vault-name", "v1", "--name", "enh", "--sub-type", "Enhanced")
    vmvault("source", "add", "--name", "lab", "--path", str(lab))


def _enable(vmvault, *extra: str) -> subprocess.CompletedProcess[str]:
    return vmvault("protection", "enable-for-vm", "--vault-name", "v1", "--vm", "lab/web01",
                   "--policy-name", "enh", *extra)  # fmt: skip


def _luns(disks: list[dict]) -> list[int]:
    return [d["lun"] for d in disks]


@pytest.mark.parametrize(
    ("form", "included"),
    [
        (("include", "0", "1"), [-1, 0, 1]),  # az: space separated
        (("include", "0,2"), [-1, 0, 2]),
        (("exclude", "1", "--diskslist", "2"), [-1, 0]),  # repeated, as Click takes it
    ],
)
def test_diskslist_as_az_writes_it(vmvault, tmp_path: Path, form, included) -> None:
    _setup(vmvault, _lab(tmp_path / "lab"))
    setting, *luns = form
    item = json.loads(
        _enable(vmvault, "--disk-list-setting", setting, "--diskslist", *luns, "-o", "json").stdout
    )
    assert _luns(item["properties"]["includedDisks"]) == included


def _backup(vmvault, vmvault_json, *extra: str) -> dict:
    job = vmvault_json("protection", "backup-now", "--vault-name", "v1", "--item-name", "web01",
                       *extra)  # fmt: skip
    vmvault("job", "wait", "--vault-name", "v1", "--name", job["name"])
    points = vmvault_json("recoverypoint", "list", "--vault-name", "v1", "--item-name", "web01")
    return points[0]


def _vault_expiry(point: dict) -> str:
    tiers = point["properties"]["recoveryPointTierDetails"]
    return next(t["extendedInfo"]["expiryTime"] for t in tiers if t["type"] == "HardenedRP")


def test_retain_until_and_restore_diskslist(vmvault, vmvault_json, tmp_path: Path) -> None:
    _setup(vmvault, _lab(tmp_path / "lab"))
    _enable(vmvault)
    bad = vmvault("protection", "backup-now", "--vault-name", "v1", "--item-name", "web01",
                  "--retain-until", "31-13-2099", ok=False)  # fmt: skip
    assert bad.returncode == 1 and "31-12-2026 (d-m-Y)" in bad.stderr
    point = _backup(vmvault, vmvault_json, "--retain-until", "31-12-2099")  # az's d-m-Y
    assert _vault_expiry(point).startswith("2099-12-31T00:00:00")
    target = tmp_path / "restored"
    job = vmvault_json("restore", "restore-disks", "--vault-name", "v1", "--item-name", "web01",
                       "--rp-name", point["name"], "--target-dir", str(target),
                       "--diskslist", "0", "2")  # fmt: skip
    vmvault("job", "wait", "--vault-name", "v1", "--name", job["name"])
    assert sorted(p.name for p in target.iterdir()) == ["web01-data0.raw", "web01-data2.raw"]


def test_job_list_end_date_includes_that_day(vmvault, vmvault_json, tmp_path: Path) -> None:
    _setup(vmvault, _lab(tmp_path / "lab"))
    _enable(vmvault)  # records a ConfigureBackup job, queued now
    (job,) = vmvault_json("job", "list", "--vault-name", "v1")
    day = datetime.fromisoformat(job["properties"]["startTime"].replace("Z", "+00:00")).date()

    def names(*filters: str) -> list[str]:
        return [j["name"] for j in vmvault_json("job", "list", "--vault-name", "v1", *filters)]

    az_day = f"{day:%d-%m-%Y}"
    before = day - timedelta(days=1)
    assert names("--end-date", day.isoformat()) == [job["name"]]
    assert names("--end-date", az_day) == [job["name"]]
    assert names("--start-date", az_day, "--end-date", az_day) == [job["name"]]
    assert names("--end-date", f"{before:%d-%m-%Y}") == []
    assert names("--start-date", (day + timedelta(days=1)).isoformat()) == []
    assert isinstance(date.fromisoformat(day.isoformat()), date)


def _help(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "vmvault", *args, "--help"],
                          capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _commands(text: str) -> list[str]:
    return re.findall(r"^  ([a-z][a-z-]*)\s", text.split("Commands:")[1], re.M)


def test_every_command_takes_output_and_its_help_reads_whole() -> None:
    top = _help()
    leaves: list[tuple[str, ...]] = []
    for name in _commands(top):
        text = _help(name)
        if "Commands:" in text:
            leaves += [(name, sub) for sub in _commands(text)]
            helps = [text]
        else:
            leaves.append((name,))
            helps = []
        for listing in [top, *helps]:
            for line in listing.split("Commands:")[1].splitlines():
                assert not line.rstrip().endswith(("...", "…")), line  # summaries whole
    assert ("version",) in leaves and ("job", "wait") in leaves and len(leaves) > 30
    for leaf in leaves:
        text = _help(*leaf)
        assert "--output" in text, leaf
        assert "<bool>" not in text and "…" not in text, (leaf, text)
        assert all(len(line) <= 80 for line in text.splitlines()), (leaf, text)
        options = [line for line in text.splitlines() if line.lstrip().startswith("-")]
        assert all("--" in line for line in options), (leaf, options)


def test_version_output(vmvault, vmvault_json) -> None:
    assert vmvault_json("version")["version"]
    assert "Version" in vmvault("version", "--output", "table").stdout


def _allocated(folder: Path, names: list[str]) -> int:
    return sum(os.stat(folder / n).st_blocks * 512 for n in names)


def test_no_reflink_filesystem_warns_of_full_copies(vmvault, tmp_path: Path) -> None:
    lab = _lab(tmp_path / "lab", data_disks=1)  # tmp_path: this machine's ext4, no reflinks
    _setup(vmvault, lab)
    proc = _enable(vmvault)
    json.loads(proc.stdout)  # the warning stays off stdout
    (warning,) = proc.stderr.strip().splitlines()
    assert warning.startswith("WARNING: ") and "full copy" in warning
    # Enhanced default: every 4 hours over 24 hours (6 a day), 7 instant-restore days.
    assert "keeps 42 snapshot(s) over its 7 instant-restore day(s)" in warning
    per = _allocated(lab, ["web01-os.raw", "web01-data0.raw"])
    assert f"({per / MiB:.1f} MiB)" in warning and f"about {42 * per / MiB:.1f} MiB" in warning


def test_reflink_filesystem_has_no_warning(vmvault, xfs: Path) -> None:
    lab = _lab(xfs / "lab-nowarn", data_disks=1)
    _setup(vmvault, lab)
    proc = _enable(vmvault)
    assert proc.stderr == ""


def test_bad_choices_outside_policies_have_no_policy_code(vmvault, tmp_path: Path) -> None:
    _setup(vmvault, _lab(tmp_path / "lab", data_disks=1))
    for args in (
        ("protection", "enable-for-vm", "--vault-name", "v1", "--vm", "lab/web01",
         "--policy-name", "enh", "--disk-list-setting", "sideways", "--diskslist", "0"),
        ("item", "list", "--vault-name", "v1", "--policy-sub-type", "Deluxe"),
    ):  # fmt: skip
        proc = vmvault(*args, ok=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith("ERROR: (UserErrorInvalidInput) "), proc.stderr
        assert "allowed values are" in proc.stderr
